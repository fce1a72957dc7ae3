import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { translate } from '../i18n';
import { describeStartError, isAbortError, queuePosition, QueueTimeoutError, QUEUE_RETRY_MS, retryWhileQueued, startWorkspace } from './queue';

const queued = (position: number) => new ApiError(503, 'queued', 'wait', { position, estimate_secs: null });

/** A start function that fails with each error of `failures` in turn, then returns 'started'. */
function scripted(failures: Error[]) {
  const calls: number[] = [];
  const start = async () => {
    calls.push(Date.now());
    const failure = failures[calls.length - 1];
    if (failure) throw failure;
    return 'started';
  };
  return { start, calls };
}

describe('retryWhileQueued', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries every 3 s while queued', async () => {
    const { start, calls } = scripted([queued(2), queued(1)]);
    const positions: number[] = [];
    const result = retryWhileQueued(start, { onQueued: (p) => positions.push(p) });
    await vi.advanceTimersByTimeAsync(QUEUE_RETRY_MS * 2);
    await expect(result).resolves.toBe('started');
    expect(positions).toEqual([2, 1]);
    expect(calls).toEqual([0, QUEUE_RETRY_MS, QUEUE_RETRY_MS * 2]);
  });

  it('waits the full interval before asking again', async () => {
    const { start, calls } = scripted([queued(1)]);
    void retryWhileQueued(start, { onQueued: () => {} });
    await vi.advanceTimersByTimeAsync(QUEUE_RETRY_MS - 1);
    expect(calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.length).toBe(2);
  });

  it('raises other errors at once', async () => {
    const failure = new ApiError(503, 'engine_unavailable', 'the container engine is not reachable');
    const { start, calls } = scripted([failure]);
    await expect(retryWhileQueued(start, { onQueued: () => {} })).rejects.toBe(failure);
    expect(calls.length).toBe(1);
  });

  it('gives up after the maximum attempts', async () => {
    const { start, calls } = scripted(Array.from({ length: 10 }, () => queued(1)));
    const result = retryWhileQueued(start, { onQueued: () => {}, maxAttempts: 4 }).catch((e) => e);
    await vi.advanceTimersByTimeAsync(QUEUE_RETRY_MS * 10);
    const error = await result;
    expect(error).toBeInstanceOf(QueueTimeoutError);
    expect(error.attempts).toBe(4);
    expect(error.waitedMs).toBe(QUEUE_RETRY_MS * 3);
    expect(calls.length).toBe(4);
  });

  it('stops asking once aborted between attempts', async () => {
    const { start, calls } = scripted([queued(1), queued(1)]);
    const controller = new AbortController();
    const result = retryWhileQueued(start, { onQueued: () => {}, signal: controller.signal }).catch((e) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    controller.abort();
    expect(isAbortError(await result)).toBe(true);
    await vi.advanceTimersByTimeAsync(QUEUE_RETRY_MS * 10);
    expect(calls.length).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drops a response after the abort', async () => {
    const controller = new AbortController();
    const positions: number[] = [];
    const start = async () => {
      controller.abort();
      throw queued(3);
    };
    const error = await retryWhileQueued(start, { onQueued: (p) => positions.push(p), signal: controller.signal }).catch((e) => e);
    expect(isAbortError(error)).toBe(true);
    expect(positions).toEqual([]);
  });

  it('does not start when already aborted', async () => {
    const { start, calls } = scripted([]);
    const controller = new AbortController();
    controller.abort();
    const error = await retryWhileQueued(start, { onQueued: () => {}, signal: controller.signal }).catch((e) => e);
    expect(isAbortError(error)).toBe(true);
    expect(calls.length).toBe(0);
  });
});

describe('startWorkspace', () => {
  it('posts to the start endpoint', async () => {
    const requests: string[] = [];
    const api = {
      request: async <T>(method: string, path: string) => {
        requests.push(`${method} ${path}`);
        return { state: 'running' } as T;
      },
    };
    await expect(startWorkspace(api, { onQueued: () => {} })).resolves.toEqual({ state: 'running' });
    expect(requests).toEqual(['POST /api/workspace/start']);
  });
});

describe('queuePosition', () => {
  it('reads the position of a queued error', () => {
    expect(queuePosition(queued(4))).toBe(4);
  });

  it('ignores other errors', () => {
    expect(queuePosition(new ApiError(503, 'engine_error', 'x', { position: 4 }))).toBeNull();
    expect(queuePosition(new Error('queued'))).toBeNull();
    expect(queuePosition(new ApiError(503, 'queued', 'x', {}))).toBeNull();
  });
});

describe('describeStartError', () => {
  const t = (key: Parameters<typeof translate>[1], params?: Record<string, string | number>) => translate('en', key, params);

  it('names the minutes waited', () => {
    expect(describeStartError(new QueueTimeoutError(200, 600_000), t)).toContain('after 10 min');
  });

  it('keeps the hub message', () => {
    expect(describeStartError(new ApiError(503, 'image_missing', 'the image is missing'), t)).toBe('the image is missing');
  });

  it('reports a network failure', () => {
    expect(describeStartError(new TypeError('Failed to fetch'), t)).toBe(translate('en', 'error.network'));
  });
});
