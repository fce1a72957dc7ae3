// Waiting in the hub's admission queue. When the host is at capacity, a workspace start
// fails with 503 `queued` and the user's position. The hub keeps that place only while
// the client asks again within 15 s (TICKET_TTL in crates/server/src/workspace/admission.rs),
// so every page that starts the workspace retries on a timer until the hub admits it.

import { Api, ApiError } from '../api';
import { Key } from '../i18n';

/** Wait between two attempts, the Retry-After that the hub sends with `queued`. */
export const QUEUE_RETRY_MS = 3_000;
/** Attempts before a page stops waiting: 200 attempts 3 s apart take about 10 minutes. */
export const MAX_QUEUE_ATTEMPTS = 200;

/** Raised when the hub still queues the start after the maximum number of attempts. */
export class QueueTimeoutError extends Error {
  constructor(readonly attempts: number, readonly waitedMs: number) {
    super(`the workspace was still queued after ${attempts} attempts`);
    this.name = 'QueueTimeoutError';
  }
}

export interface QueueOptions {
  /** Called with the 1-based queue position after every `queued` response. */
  onQueued: (position: number) => void;
  /** Aborting it ends the wait with an AbortError, also between two attempts. */
  signal?: AbortSignal;
  retryMs?: number;
  maxAttempts?: number;
}

/** Returns the queue position of a 503 `queued` error, or null for any other error. */
export function queuePosition(error: unknown): number | null {
  if (!(error instanceof ApiError) || error.code !== 'queued') return null;
  const position = Number(error.detail.position);
  return Number.isInteger(position) && position > 0 ? position : null;
}

/** Returns whether `error` comes from an aborted AbortSignal. */
export function isAbortError(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'AbortError';
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('the wait for the workspace was cancelled', 'AbortError');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `start` until it succeeds, waiting `retryMs` after each `queued` error.
 * Any other error ends the wait at once. After `maxAttempts` queued responses it raises
 * QueueTimeoutError, and the hub drops the place 15 s later.
 */
export async function retryWhileQueued<T>(start: () => Promise<T>, options: QueueOptions): Promise<T> {
  const { onQueued, signal, retryMs = QUEUE_RETRY_MS, maxAttempts = MAX_QUEUE_ATTEMPTS } = options;
  const began = Date.now();
  for (let attempt = 1; ; attempt += 1) {
    if (signal?.aborted) throw abortError(signal);
    let result: T;
    try {
      result = await start();
    } catch (error) {
      const position = queuePosition(error);
      if (position === null) throw error;
      // The request cannot be cancelled, so its response may arrive after the abort.
      if (signal?.aborted) throw abortError(signal);
      onQueued(position);
      if (attempt >= maxAttempts) throw new QueueTimeoutError(attempt, Date.now() - began);
      await sleep(retryMs, signal);
      continue;
    }
    if (signal?.aborted) throw abortError(signal);
    return result;
  }
}

/** Starts (or resumes) the user's workspace with POST /api/workspace/start, waiting in the queue if needed. */
export function startWorkspace<T>(api: Pick<Api, 'request'>, options: QueueOptions): Promise<T> {
  return retryWhileQueued(() => api.request<T>('POST', '/api/workspace/start'), options);
}

/** Returns the message to show for a failed start: the hub's message, or a translated one. */
export function describeStartError(error: unknown, t: (key: Key, params?: Record<string, string | number>) => string): string {
  if (error instanceof QueueTimeoutError) return t('queue.timedOut', { minutes: Math.max(1, Math.round(error.waitedMs / 60_000)) });
  if (error instanceof ApiError) return error.message;
  return t('error.network');
}
