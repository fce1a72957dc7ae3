import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal as Xterm } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { useApp } from '../app';
import { protocols, reconnectDelay, socketUrl } from '../socket';
import { describeStartError, isAbortError, startWorkspace } from '../workspace/queue';

type Status = 'connecting' | 'open' | 'closed';

/** Attempts before the page stops reconnecting by itself. */
const MAX_ATTEMPTS = 6;

export function Terminal() {
  const { api, t } = useApp();
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>('connecting');
  const [message, setMessage] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const term = new Xterm({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current!);
    fit.fit();
    const encoder = new TextEncoder();
    let socket: WebSocket | null = null;
    let attempt = 0;
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | null = null;
    // Set when the hub closes the socket because the workspace waits in the admission queue.
    let queued = false;
    const queue = new AbortController();

    const sendSize = () => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
    };
    const connect = async () => {
      setStatus('connecting');
      const token = await api.accessToken();
      if (!token || stopped) return;
      socket = new WebSocket(socketUrl('/ws/shell'), protocols(token));
      socket.binaryType = 'arraybuffer';
      socket.onmessage = (event) => {
        if (typeof event.data !== 'string') {
          term.write(new Uint8Array(event.data as ArrayBuffer));
          return;
        }
        const data = JSON.parse(event.data);
        if (data.type === 'ready') {
          attempt = 0;
          setStatus('open');
          setMessage(null);
          sendSize();
          term.focus();
        } else if (data.type === 'error' && data.code === 'queued') {
          queued = true;
          setMessage(t('workspace.queued', { position: data.position ?? '?' }));
        } else if (data.type === 'error' || data.type === 'notice') {
          setMessage(data.message);
        } else if (data.type === 'exit') {
          setMessage(t('terminal.exited', { code: data.code ?? '?' }));
          stopped = true;
        }
      };
      socket.onclose = () => {
        if (queued && !stopped) {
          queued = false;
          void waitInQueue();
          return;
        }
        setStatus('closed');
        if (stopped || attempt >= MAX_ATTEMPTS) return;
        retry = setTimeout(() => void connect(), reconnectDelay(attempt));
        attempt += 1;
      };
    };

    // Waits for a place through POST /api/workspace/start, as the Workspace page does, and
    // connects again once the workspace runs.
    const waitInQueue = async () => {
      try {
        await startWorkspace(api, { signal: queue.signal, onQueued: (position) => setMessage(t('workspace.queued', { position })) });
      } catch (e) {
        if (isAbortError(e)) return;
        setStatus('closed');
        setMessage(describeStartError(e, t));
        return;
      }
      attempt = 0;
      void connect();
    };

    const input = term.onData((data) => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    const observer = new ResizeObserver(() => {
      fit.fit();
      sendSize();
    });
    observer.observe(host.current!);
    void connect();

    return () => {
      stopped = true;
      queue.abort();
      if (retry) clearTimeout(retry);
      observer.disconnect();
      input.dispose();
      socket?.close();
      term.dispose();
    };
  }, [generation]);

  return (
    <section class="terminal-page">
      <div class="terminal-bar">
        <span data-testid="terminal-status">{t(`terminal.${status}`)}</span>
        {message && <span class="notice">{message}</span>}
        {status === 'closed' && (
          <button type="button" onClick={() => setGeneration(generation + 1)}>
            {t('terminal.reconnect')}
          </button>
        )}
      </div>
      <div class="terminal" ref={host} data-testid="terminal" />
    </section>
  );
}
