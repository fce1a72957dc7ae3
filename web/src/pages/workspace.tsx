import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useApp } from '../app';
import { formatBytes, Key } from '../i18n';
import { describeStartError, isAbortError, startWorkspace } from '../workspace/queue';

interface Status {
  state: string;
  tier: string;
  restart_required: boolean;
  limits: { cpu: number; memory_bytes: number; disk_bytes: number; pids: number } | null;
  usage?: { tokens: number; budget_tokens: number | null };
}

interface Usage {
  running: boolean;
  cpu_cores: number;
  memory_bytes: number;
  pids: number;
  disk_used_bytes: number;
  disk_total_bytes: number;
}

function Bar({ label, value, max, text }: { label: string; value: number; max: number; text: string }) {
  const share = max > 0 ? Math.min(value / max, 1) : 0;
  return (
    <div class="meter">
      <span>
        {label}: {text}
      </span>
      <progress aria-label={label} max={1} value={share} class={share > 0.9 ? 'high' : undefined} />
    </div>
  );
}

/** How often the page polls the workspace's state. */
const POLL_MS = 5_000;
/** States in which POST /api/workspace/stop stops the container. */
const STOPPABLE = new Set(['running', 'paused', 'restarting']);

export function Workspace() {
  const { api, lang, t } = useApp();
  const [status, setStatus] = useState<Status | null>(null);
  const [queued, setQueued] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [live, setLive] = useState<Usage | null>(null);
  const queue = useRef<AbortController | null>(null);

  const load = async () => {
    try {
      setStatus(await api.request<Status>('GET', '/api/workspace'));
      setError(null);
      setLive(await api.request<Usage>('GET', '/api/workspace/usage'));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('error.network'));
    }
  };

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, []);

  // Unmounting the page or pressing Stop ends the wait in the admission queue.
  useEffect(() => () => queue.current?.abort(), []);

  const start = async () => {
    queue.current?.abort();
    const controller = new AbortController();
    queue.current = controller;
    setBusy(true);
    setError(null);
    try {
      setStatus(await startWorkspace<Status>(api, { signal: controller.signal, onQueued: setQueued }));
    } catch (e) {
      if (!isAbortError(e)) setError(describeStartError(e, t));
    } finally {
      if (queue.current === controller) {
        queue.current = null;
        setQueued(null);
        setBusy(false);
      }
    }
  };

  // The hub also stops a paused or restarting container, and a stop while queued leaves
  // the queue.
  const stop = async () => {
    queue.current?.abort();
    queue.current = null;
    setQueued(null);
    setBusy(true);
    try {
      setStatus(await api.request<Status>('POST', '/api/workspace/stop'));
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('error.network'));
    } finally {
      setBusy(false);
    }
  };

  const stateKey = `state.${status?.state ?? 'absent'}` as Key;
  const number = (value: number) => new Intl.NumberFormat(lang).format(value);
  const usage = status?.usage;
  const share = usage && usage.budget_tokens ? Math.min(usage.tokens / usage.budget_tokens, 1) : 0;
  const canStop = queued !== null || (!busy && STOPPABLE.has(status?.state ?? 'absent'));

  return (
    <section class="card">
      <h1>{t('workspace.title')}</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {queued !== null && <p class="notice">{t('workspace.queued', { position: queued })}</p>}
      {status && (
        <>
          <dl class="facts">
            <dt>{t('workspace.state')}</dt>
            <dd data-testid="state">{t(stateKey)}</dd>
            <dt>{t('workspace.tier')}</dt>
            <dd data-testid="tier">{status.tier}</dd>
            {status.limits && (
              <>
                <dt>{t('workspace.cpu')}</dt>
                <dd>{t('workspace.cores', { value: number(status.limits.cpu) })}</dd>
                <dt>{t('workspace.memory')}</dt>
                <dd data-testid="memory">{formatBytes(lang, status.limits.memory_bytes)}</dd>
                <dt>{t('workspace.disk')}</dt>
                <dd>{formatBytes(lang, status.limits.disk_bytes)}</dd>
                <dt>{t('workspace.pids')}</dt>
                <dd data-testid="pids">{number(status.limits.pids)}</dd>
              </>
            )}
          </dl>
          {live && status.limits && (
            <div data-testid="live-usage">
              <Bar label={t('workspace.cpu')} value={live.cpu_cores} max={status.limits.cpu} text={`${number(Math.round(live.cpu_cores * 100) / 100)} / ${t('workspace.cores', { value: number(status.limits.cpu) })}`} />
              <Bar label={t('workspace.memory')} value={live.memory_bytes} max={status.limits.memory_bytes} text={`${formatBytes(lang, live.memory_bytes)} / ${formatBytes(lang, status.limits.memory_bytes)}`} />
              <Bar
                label={t('workspace.disk')}
                value={live.disk_used_bytes}
                max={live.disk_total_bytes || status.limits.disk_bytes}
                text={`${formatBytes(lang, live.disk_used_bytes)} / ${formatBytes(lang, live.disk_total_bytes || status.limits.disk_bytes)}`}
              />
            </div>
          )}
          {usage && (
            <div class="meter">
              <span>
                {t('workspace.tokens')}: {number(usage.tokens)} / {usage.budget_tokens === null ? t('workspace.unlimited') : number(usage.budget_tokens)}
              </span>
              <progress max={1} value={share} />
            </div>
          )}
          {status.restart_required && <p class="notice">{t('workspace.restartRequired')}</p>}
          <div class="actions">
            <button type="button" data-testid="start" disabled={busy || status.state === 'running'} onClick={() => void start()}>
              {t('workspace.start')}
            </button>
            <button type="button" data-testid="stop" disabled={!canStop} onClick={() => void stop()}>
              {t('workspace.stop')}
            </button>
          </div>
        </>
      )}
    </section>
  );
}
