import { h } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { Workspace } from './workspace';
import { advance, renderWithApp } from './testing';

// The app module imports every page, and xterm's canvas code cannot load in jsdom.
vi.mock('./terminal', () => ({ Terminal: () => null }));

const status = (state: string) => ({ state, tier: 'free', restart_required: false, limits: null });
const usage = { running: false, cpu_cores: 0, memory_bytes: 0, pids: 0, disk_used_bytes: 0, disk_total_bytes: 0 };

/** Renders the Workspace page with `handle` returning the response body (or throwing) for each method and path. */
async function renderPage(handle: (method: string, path: string) => unknown) {
  const requests: string[] = [];
  const api = {
    request: async (method: string, path: string) => {
      requests.push(`${method} ${path}`);
      return handle(method, path);
    },
  };
  const { host, unmount } = await renderWithApp(api, h(Workspace, {}));
  await advance(0);
  const button = (id: string) => host.querySelector(`[data-testid=${id}]`) as HTMLButtonElement;
  return { host, requests, button, unmount };
}

describe('Workspace page', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    document.body.innerHTML = '';
  });

  it('enables Stop for a paused workspace', async () => {
    const page = await renderPage((method, path) => {
      if (path === '/api/workspace/usage') return usage;
      if (method === 'POST') return status('exited');
      return status('paused');
    });
    expect(page.button('stop').disabled).toBe(false);
    await act(async () => page.button('stop').click());
    expect(page.requests).toContain('POST /api/workspace/stop');
    await page.unmount();
  });

  it('disables Stop for a stopped workspace', async () => {
    const page = await renderPage((_method, path) => (path === '/api/workspace/usage' ? usage : status('exited')));
    expect(page.button('stop').disabled).toBe(true);
    await page.unmount();
  });

  it('stops asking while queued once the page is left', async () => {
    const page = await renderPage((method, path) => {
      if (path === '/api/workspace/usage') return usage;
      if (method === 'POST') throw new ApiError(503, 'queued', 'wait', { position: 2 });
      return status('exited');
    });
    await act(async () => page.button('start').click());
    await advance(0);
    expect(page.host.textContent).toContain('number 2 in the queue');
    const starts = () => page.requests.filter((r) => r === 'POST /api/workspace/start').length;
    await advance(3_000);
    expect(starts()).toBe(2);
    await page.unmount();
    await advance(30_000);
    expect(starts()).toBe(2);
  });

  it('leaves the queue with Stop', async () => {
    const page = await renderPage((method, path) => {
      if (path === '/api/workspace/usage') return usage;
      if (path === '/api/workspace/start') throw new ApiError(503, 'queued', 'wait', { position: 1 });
      return status('exited');
    });
    await act(async () => page.button('start').click());
    await advance(0);
    expect(page.button('stop').disabled).toBe(false);
    await act(async () => page.button('stop').click());
    await advance(30_000);
    expect(page.requests.filter((r) => r.startsWith('POST'))).toEqual(['POST /api/workspace/start', 'POST /api/workspace/stop']);
    expect(page.host.textContent).not.toContain('in the queue');
    await page.unmount();
  });
});
