import { h } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { Chat } from './chat';
import { advance, renderWithApp } from './testing';

// The app module imports every page, and xterm's canvas code cannot load in jsdom.
vi.mock('./terminal', () => ({ Terminal: () => null }));

/** A WebSocket that records what the page sends and lets the test play the hub. */
class FakeSocket {
  static readonly OPEN = 1;
  static last: FakeSocket | null = null;
  readyState = FakeSocket.OPEN;
  sent: any[] = [];
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor() {
    FakeSocket.last = this;
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  receive(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

/** Renders the Chat page. `starts` lists the responses to POST /api/workspace/start, each an Error to throw or a body. */
async function renderPage(starts: unknown[]) {
  const requests: string[] = [];
  const api = {
    accessToken: async () => 'token',
    request: async (method: string, path: string) => {
      requests.push(`${method} ${path}`);
      if (path === '/api/options') return { models: [], permission_modes: ['default'], default_permission_mode: 'default' };
      if (path === '/api/sessions') return { sessions: [] };
      const response = starts.shift();
      if (response instanceof Error) throw response;
      return response ?? { state: 'running' };
    },
  };
  const { host, unmount } = await renderWithApp(api, h(Chat, {}));
  await advance(0);
  const socket = FakeSocket.last!;
  const hub = async (...messages: unknown[]) => {
    await act(async () => {
      for (const message of messages) socket.receive(message);
    });
    await advance(0);
  };
  const sendPrompt = async (text: string) => {
    const area = host.querySelector('[data-testid=prompt]') as HTMLTextAreaElement;
    await act(async () => {
      area.value = text;
      area.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await act(async () => (host.querySelector('[data-testid=send]') as HTMLButtonElement).click());
  };
  const startCount = () => requests.filter((r) => r === 'POST /api/workspace/start').length;
  return { host, socket, hub, sendPrompt, startCount, unmount };
}

const queued = (position: number) => new ApiError(503, 'queued', 'wait', { position });
const queuedRun = (runId: string) => [
  { type: 'started', run_id: runId },
  { type: 'error', code: 'queued', message: 'hub says: queued', run_id: runId, seq: 1 },
  { type: 'done', exit_code: -1, aborted: false, run_id: runId, seq: 2 },
];

describe('Chat page', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', FakeSocket);
    Element.prototype.scrollIntoView = () => {};
    localStorage.clear();
    sessionStorage.clear();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    document.body.innerHTML = '';
  });

  it('sends a queued prompt again once admitted', async () => {
    const page = await renderPage([queued(2), { state: 'running' }]);
    await page.hub({ type: 'ready' });
    await page.sendPrompt('hello');
    await page.hub(...queuedRun('r1'));
    expect(page.host.textContent).toContain('number 2 in the queue');
    expect(page.host.textContent).not.toContain('hub says: queued');
    expect(page.socket.sent.filter((m) => m.type === 'prompt').length).toBe(1);

    await advance(3_000);
    const prompts = page.socket.sent.filter((m) => m.type === 'prompt');
    expect(prompts).toEqual([prompts[0], prompts[0]]);
    expect(page.host.textContent).not.toContain('in the queue');
    await page.unmount();
  });

  it('sends again only once', async () => {
    const page = await renderPage([{ state: 'running' }]);
    await page.hub({ type: 'ready' });
    await page.sendPrompt('hello');
    await page.hub(...queuedRun('r1'));
    await page.hub(...queuedRun('r2'));
    await advance(30_000);
    expect(page.socket.sent.filter((m) => m.type === 'prompt').length).toBe(2);
    expect(page.startCount()).toBe(1);
    expect(page.host.textContent).toContain('hub says: queued');
    await page.unmount();
  });

  it('stops waiting when the page is left', async () => {
    const page = await renderPage([queued(1), queued(1), queued(1), queued(1)]);
    await page.hub({ type: 'ready' });
    await page.sendPrompt('hello');
    await page.hub(...queuedRun('r1'));
    expect(page.startCount()).toBe(1);
    await page.unmount();
    await advance(30_000);
    expect(page.startCount()).toBe(1);
  });

  it('stops waiting with the stop button', async () => {
    const page = await renderPage([queued(1), { state: 'running' }]);
    await page.hub({ type: 'ready' });
    await page.sendPrompt('hello');
    await page.hub(...queuedRun('r1'));
    await act(async () => (page.host.querySelector('[data-testid=stop-run]') as HTMLButtonElement).click());
    await advance(30_000);
    expect(page.startCount()).toBe(1);
    expect(page.socket.sent.filter((m) => m.type === 'prompt').length).toBe(1);
    expect(page.host.textContent).toContain('The run was stopped.');
    await page.unmount();
  });
});
