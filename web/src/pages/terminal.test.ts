import { h } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { Terminal } from './terminal';
import { advance, renderWithApp } from './testing';

// xterm draws on a canvas, which jsdom lacks, and the page's queue handling needs none of it.
vi.mock('@xterm/xterm', () => ({
  Terminal: class {
    cols = 80;
    rows = 24;
    loadAddon() {}
    open() {}
    write() {}
    focus() {}
    dispose() {}
    onData() {
      return { dispose() {} };
    }
  },
}));
vi.mock('@xterm/addon-fit', () => ({ FitAddon: class { fit() {} } }));

/** A WebSocket that lets the test play the hub. */
class FakeSocket {
  static readonly OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = FakeSocket.OPEN;
  binaryType = 'blob';
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor() {
    FakeSocket.all.push(this);
  }
  send() {}
  close() {
    this.readyState = 3;
  }
}

/** Renders the Terminal page. `starts` lists the responses to POST /api/workspace/start. */
async function renderPage(starts: unknown[]) {
  let startCount = 0;
  const api = {
    accessToken: async () => 'token',
    request: async () => {
      startCount += 1;
      const response = starts.shift();
      if (response instanceof Error) throw response;
      return response ?? { state: 'running' };
    },
  };
  const { host, unmount } = await renderWithApp(api, h(Terminal, {}));
  await advance(0);
  // The hub queues the socket's start, then closes it.
  const queueSocket = async (socket: FakeSocket, position: number) => {
    await act(async () => {
      socket.onmessage?.({ data: JSON.stringify({ type: 'error', code: 'queued', message: 'hub says: queued', position }) });
      socket.readyState = 3;
      socket.onclose?.();
    });
    await advance(0);
  };
  return { host, queueSocket, startCount: () => startCount, unmount };
}

const queued = (position: number) => new ApiError(503, 'queued', 'wait', { position });

describe('Terminal page', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.stubGlobal('ResizeObserver', class { observe() {} disconnect() {} });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    document.body.innerHTML = '';
  });

  it('connects again once admitted', async () => {
    const page = await renderPage([queued(2), { state: 'running' }]);
    expect(FakeSocket.all.length).toBe(1);
    await page.queueSocket(FakeSocket.all[0], 3);
    expect(page.host.textContent).toContain('number 2 in the queue');
    expect(page.host.textContent).toContain('Connecting');
    expect(page.host.textContent).not.toContain('Reconnect');

    await advance(3_000);
    expect(page.startCount()).toBe(2);
    expect(FakeSocket.all.length).toBe(2);
    await page.unmount();
  });

  it('stops waiting when the page is left', async () => {
    const page = await renderPage([queued(1), queued(1), queued(1)]);
    await page.queueSocket(FakeSocket.all[0], 1);
    expect(page.startCount()).toBe(1);
    await page.unmount();
    await advance(30_000);
    expect(page.startCount()).toBe(1);
    expect(FakeSocket.all.length).toBe(1);
  });

  it('shows a failed start and offers to reconnect', async () => {
    const page = await renderPage([new ApiError(503, 'image_missing', 'the workspace image is missing')]);
    await page.queueSocket(FakeSocket.all[0], 1);
    expect(page.host.textContent).toContain('the workspace image is missing');
    expect(page.host.textContent).toContain('Reconnect');
    expect(FakeSocket.all.length).toBe(1);
    await page.unmount();
  });
});
