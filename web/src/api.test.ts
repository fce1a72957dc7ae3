import { describe, expect, it } from 'vitest';
import { Api, ApiError } from './api';

function memoryStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
}

const user = { id: 1, username: 'ada', role: 'user', tier: 'free', disabled: false };

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

describe('Api', () => {
  it('refreshes once on 401 and repeats the request', async () => {
    const calls: string[] = [];
    let refreshes = 0;
    const fetcher = async (path: RequestInfo | URL, init?: RequestInit) => {
      const auth = (init?.headers as Record<string, string>)?.authorization ?? '';
      calls.push(`${init?.method} ${path} ${auth}`);
      if (path === '/api/auth/login') return json(200, { access_token: 'a1', refresh_token: 'r1', expires_in: 900, user });
      if (path === '/api/auth/refresh') {
        refreshes += 1;
        return json(200, { access_token: 'a2', refresh_token: 'r2', expires_in: 900, user });
      }
      return auth === 'Bearer a2' ? json(200, { ok: true }) : json(401, { error: { code: 'invalid_token', message: 'expired' } });
    };
    const api = new Api(fetcher as typeof fetch, memoryStorage());
    await api.login('ada', 'secret');
    // Two requests fail at once; the refresh token is still used only once.
    const [first, second] = await Promise.all([api.request('GET', '/api/me'), api.request('GET', '/api/me')]);
    expect(first).toEqual({ ok: true });
    expect(second).toEqual({ ok: true });
    expect(refreshes).toBe(1);
  });

  it('signs out when the refresh token is refused', async () => {
    let signedOut = false;
    const fetcher = async (path: RequestInfo | URL) => {
      if (path === '/api/auth/login') return json(200, { access_token: 'a1', refresh_token: 'r1', expires_in: 900, user });
      return json(401, { error: { code: 'invalid_refresh_token', message: 'sign in again' } });
    };
    const api = new Api(fetcher as typeof fetch, memoryStorage());
    api.onSignedOut = () => {
      signedOut = true;
    };
    await api.login('ada', 'secret');
    await expect(api.request('GET', '/api/me')).rejects.toBeInstanceOf(ApiError);
    expect(signedOut).toBe(true);
    expect(api.user).toBeNull();
  });

  it('keeps the hub error code, message and detail', async () => {
    const fetcher = async (path: RequestInfo | URL) => {
      if (path === '/api/auth/login') return json(200, { access_token: 'a1', refresh_token: 'r1', expires_in: 900, user });
      return json(503, { error: { code: 'queued', message: 'wait', position: 2 } });
    };
    const api = new Api(fetcher as typeof fetch, memoryStorage());
    await api.login('ada', 'secret');
    const error = (await api.request('POST', '/api/workspace/start').catch((e) => e)) as ApiError;
    expect(error.code).toBe('queued');
    expect(error.detail.position).toBe(2);
  });
});
