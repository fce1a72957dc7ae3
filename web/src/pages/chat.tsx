import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from '../app';
import { applyEvent, ChatState, emptyChat, Item, toolDiff, toolSummary } from '../chat/events';
import { renderMarkdown } from '../chat/markdown';
import { protocols, reconnectDelay, socketUrl } from '../socket';
import { describeStartError, isAbortError, startWorkspace } from '../workspace/queue';

interface Options {
  models: string[];
  permission_modes: string[];
  default_permission_mode: string;
}

interface SessionSummary {
  id: string;
  title: string;
  last_activity: string | null;
}

const DRAFT_KEY = 'cchub.draft';
const RUN_KEY = 'cchub.run';

/** The last prompt this page sent, kept so it can be sent again after a wait in the admission queue. */
interface SentPrompt {
  message: Record<string, string>;
  /** The run the hub started for it, from the `started` reply. */
  runId: string | null;
  /** Set once the prompt was sent again, so a second `queued` run ends the waiting. */
  resent: boolean;
}

function ToolCard({ item }: { item: Extract<Item, { kind: 'tool' }> }) {
  const diff = toolDiff(item.name, item.input);
  return (
    <details class={`tool${item.isError ? ' failed' : ''}`} data-testid="tool-card">
      <summary>
        <strong>{item.name}</strong> <code>{toolSummary(item.name, item.input)}</code>
      </summary>
      {diff && <pre class="diff">{diff.map((line) => <div class={line.startsWith('-') ? 'del' : 'add'}>{line}</div>)}</pre>}
      {item.result !== undefined && <pre class="result">{item.result}</pre>}
    </details>
  );
}

export function Chat() {
  const { api, lang, t } = useApp();
  const [chat, setChat] = useState<ChatState>(emptyChat());
  const [draft, setDraft] = useState(localStorage.getItem(DRAFT_KEY) ?? '');
  const [runId, setRunId] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);
  const [options, setOptions] = useState<Options | null>(null);
  const [model, setModel] = useState('');
  const [mode, setMode] = useState('');
  const [sessions, setSessions] = useState<SessionSummary[]>([]);
  const [search, setSearch] = useState('');
  const socket = useRef<WebSocket | null>(null);
  const lastSeq = useRef(0);
  const composing = useRef(false);
  const abortRequested = useRef(false);
  const bottom = useRef<HTMLDivElement>(null);
  const sentPrompt = useRef<SentPrompt | null>(null);
  const queue = useRef<AbortController | null>(null);
  /** The queue position while the page waits for the workspace, 0 before the first response. */
  const [queued, setQueued] = useState<number | null>(null);

  const loadSessions = () =>
    api
      .request<{ sessions: SessionSummary[] }>('GET', '/api/sessions')
      .then((body) => setSessions(body.sessions))
      .catch(() => undefined);

  useEffect(() => {
    api.request<Options>('GET', '/api/options').then((o) => {
      setOptions(o);
      setMode(o.default_permission_mode);
    });
    void loadSessions();
    let stopped = false;
    let attempt = 0;
    const connect = async () => {
      const token = await api.accessToken();
      if (!token || stopped) return;
      const ws = new WebSocket(socketUrl('/ws/chat'), protocols(token));
      socket.current = ws;
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data as string);
        if (typeof message.seq === 'number') lastSeq.current = message.seq;
        switch (message.type) {
          case 'ready': {
            attempt = 0;
            setConnected(true);
            // After a network drop, follow the run that was going on.
            const saved = sessionStorage.getItem(RUN_KEY);
            if (saved) ws.send(JSON.stringify({ type: 'attach', run_id: saved, after_seq: lastSeq.current }));
            break;
          }
          case 'started':
            abortRequested.current = false;
            if (sentPrompt.current && sentPrompt.current.runId === null) sentPrompt.current.runId = message.run_id;
            setRunId(message.run_id);
            sessionStorage.setItem(RUN_KEY, message.run_id);
            lastSeq.current = 0;
            break;
          case 'event':
            setChat((state) => applyEvent(state, message.event));
            break;
          case 'done':
            setRunId(null);
            sessionStorage.removeItem(RUN_KEY);
            // A stop that came before the agent started ends the run without the flag.
            if (message.aborted || abortRequested.current) setChat((state) => ({ ...state, items: [...state.items, { kind: 'notice', text: t('chat.aborted') }] }));
            void loadSessions();
            break;
          case 'error':
            if (message.code === 'queued' && isQueuedPrompt(message.run_id)) {
              void waitRef.current();
              break;
            }
            if (message.code === 'run_not_found') sessionStorage.removeItem(RUN_KEY);
            setChat((state) => ({ ...state, items: [...state.items, { kind: 'error', text: message.message }] }));
            break;
          case 'notice':
            setChat((state) => ({ ...state, items: [...state.items, { kind: 'notice', text: message.message }] }));
            break;
        }
      };
      ws.onclose = () => {
        setConnected(false);
        if (stopped) return;
        setTimeout(() => void connect(), reconnectDelay(attempt));
        attempt += 1;
      };
    };
    void connect();
    return () => {
      stopped = true;
      queue.current?.abort();
      socket.current?.close();
    };
  }, []);

  // A run fails with `queued` when the host is at capacity. Only the page's own latest
  // prompt is sent again, and only once, so the retry stays bounded.
  const isQueuedPrompt = (runId: unknown) => {
    const sent = sentPrompt.current;
    return sent !== null && !sent.resent && typeof runId === 'string' && sent.runId === runId;
  };

  // Waits for a place through POST /api/workspace/start, as the Workspace page does, and
  // then sends the prompt again.
  const waitThenResend = async () => {
    const sent = sentPrompt.current;
    if (!sent) return;
    queue.current?.abort();
    const controller = new AbortController();
    queue.current = controller;
    setQueued(0);
    try {
      await startWorkspace(api, { signal: controller.signal, onQueued: setQueued });
    } catch (e) {
      if (isAbortError(e)) return;
      setChat((state) => ({ ...state, items: [...state.items, { kind: 'error', text: describeStartError(e, t) }] }));
      return;
    } finally {
      if (queue.current === controller) {
        queue.current = null;
        setQueued(null);
      }
    }
    const ws = socket.current;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      changeDraft(sent.message.text);
      setChat((state) => ({ ...state, items: [...state.items, { kind: 'error', text: t('chat.notSent') }] }));
      return;
    }
    sentPrompt.current = { ...sent, runId: null, resent: true };
    ws.send(JSON.stringify(sent.message));
  };
  const waitRef = useRef(waitThenResend);
  waitRef.current = waitThenResend;

  // Ends the wait without sending the prompt. The hub drops the queue place 15 s later.
  const endWait = () => {
    queue.current?.abort();
    queue.current = null;
    sentPrompt.current = null;
    setQueued(null);
  };
  const cancelWait = () => {
    endWait();
    setChat((state) => ({ ...state, items: [...state.items, { kind: 'notice', text: t('chat.aborted') }] }));
  };

  useEffect(() => bottom.current?.scrollIntoView({ block: 'end' }), [chat.items.length]);

  // Saved on every keystroke, so a reload right after typing keeps it.
  const changeDraft = (text: string) => {
    localStorage.setItem(DRAFT_KEY, text);
    setDraft(text);
  };

  const send = () => {
    const text = draft.trim();
    if (!text || !socket.current || socket.current.readyState !== WebSocket.OPEN || runId || queued !== null) return;
    const prompt: Record<string, string> = { type: 'prompt', text };
    if (chat.sessionId) prompt.session_id = chat.sessionId;
    if (model) prompt.model = model;
    if (mode) prompt.permission_mode = mode;
    socket.current.send(JSON.stringify(prompt));
    sentPrompt.current = { message: prompt, runId: null, resent: false };
    setChat((state) => ({ ...state, items: [...state.items, { kind: 'user', text }] }));
    changeDraft('');
  };

  const onKeyDown = (event: KeyboardEvent) => {
    // An input method's Enter confirms the composition; it must not send.
    if (event.key !== 'Enter' || event.shiftKey || composing.current || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    send();
  };

  const open = async (id: string) => {
    endWait();
    const body = await api.request<{ messages: any[] }>('GET', `/api/sessions/${id}/messages`);
    let state: ChatState = { ...emptyChat(), sessionId: id };
    for (const entry of body.messages) {
      const content = entry.message?.content;
      if (entry.role === 'user') {
        const text = typeof content === 'string' ? content : (content ?? []).filter((b: any) => b.type === 'text').map((b: any) => b.text).join('\n');
        if (text) state = { ...state, items: [...state.items, { kind: 'user', text }] };
      }
      state = applyEvent(state, { type: entry.role, message: entry.message });
    }
    setChat({ ...state, sessionId: id });
  };

  const newChat = () => {
    endWait();
    socket.current?.send(JSON.stringify({ type: 'new_session' }));
    setChat(emptyChat());
  };

  const matching = sessions.filter((s) => s.title.toLowerCase().includes(search.toLowerCase()));
  const number = (value: number) => new Intl.NumberFormat(lang).format(value);
  const date = (text: string | null) => (text ? new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'short' }).format(new Date(text)) : '');

  return (
    <section class="chat-page">
      <aside class="sessions">
        <button type="button" onClick={newChat}>
          {t('chat.new')}
        </button>
        <input type="search" placeholder={t('chat.search')} aria-label={t('chat.search')} value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        <ul>
          {matching.map((s) => (
            <li key={s.id}>
              <button type="button" class={s.id === chat.sessionId ? 'current' : ''} data-testid="session" onClick={() => void open(s.id)}>
                <span>{s.title || s.id}</span>
                <small>{date(s.last_activity)}</small>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <div class="conversation">
        <div class="messages" data-testid="messages">
          {chat.items.map((item) =>
            item.kind === 'tool' ? (
              <ToolCard item={item} />
            ) : item.kind === 'assistant' ? (
              <div class="assistant" data-testid="assistant" dangerouslySetInnerHTML={{ __html: renderMarkdown(item.text) }} />
            ) : (
              <div class={item.kind}>{item.text}</div>
            ),
          )}
          {queued !== null && queued > 0 && (
            <div class="notice" data-testid="queued">
              {t('chat.queued', { position: queued })}
            </div>
          )}
          <div ref={bottom} />
        </div>
        <div class="composer">
          <textarea
            data-testid="prompt"
            rows={3}
            value={draft}
            placeholder={t('chat.placeholder')}
            onInput={(e) => changeDraft((e.target as HTMLTextAreaElement).value)}
            onKeyDown={onKeyDown}
            onCompositionStart={() => (composing.current = true)}
            onCompositionEnd={() => (composing.current = false)}
          />
          <div class="composer-bar">
            <select aria-label={t('chat.model')} value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
              <option value="">{t('chat.defaultModel')}</option>
              {options?.models.map((m) => <option value={m}>{m}</option>)}
            </select>
            <select aria-label={t('chat.mode')} value={mode} onChange={(e) => setMode((e.target as HTMLSelectElement).value)}>
              {options?.permission_modes.map((m) => <option value={m}>{m}</option>)}
            </select>
            <span class="usage" data-testid="usage">
              {t('chat.usage', { input: number(chat.usage.input), output: number(chat.usage.output) })}
            </span>
            <span class="status">{connected ? '' : t('terminal.connecting')}</span>
            {runId ? (
              <button type="button" data-testid="stop-run" onClick={() => {
                  abortRequested.current = true;
                  socket.current?.send(JSON.stringify({ type: 'abort', run_id: runId }));
                }}>
                {t('chat.stop')}
              </button>
            ) : queued !== null ? (
              <button type="button" data-testid="stop-run" onClick={cancelWait}>
                {t('chat.stop')}
              </button>
            ) : (
              <button type="button" data-testid="send" disabled={!connected || !draft.trim()} onClick={send}>
                {t('chat.send')}
              </button>
            )}
          </div>
        </div>
      </div>
    </section>
  );
}
