// The hub's REST API with the session's tokens. A 401 refreshes the access token once
// and repeats the request. Refreshes run one at a time, because the hub rotates refresh
// tokens and treats a reused one as theft, which would end every session.

export interface User {
  id: number;
  username: string;
  role: 'admin' | 'user';
  tier: string;
  disabled: boolean;
}

export interface Session {
  access: string;
  refresh: string;
  /** Milliseconds since the epoch when the access token expires. */
  expiresAt: number;
  user: User;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const STORAGE_KEY = 'cchub.session';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

type Fetch = typeof fetch;

export class Api {
  private session: Session | null;
  private refreshing: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  onSignedOut: () => void = () => {};

  constructor(
    private readonly fetcher: Fetch = (...args) => fetch(...args),
    private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined = globalThis.localStorage,
    private readonly now: () => number = Date.now,
  ) {
    this.session = this.load();
  }

  get user(): User | null {
    return this.session?.user ?? null;
  }

  async login(username: string, password: string): Promise<User> {
    const body = await this.send('POST', '/api/auth/login', { username, password }, null);
    this.store(body);
    return this.session!.user;
  }

  async logout(): Promise<void> {
    const refresh = this.session?.refresh;
    this.clear();
    if (refresh) {
      await this.send('POST', '/api/auth/logout', { refresh_token: refresh }, null).catch(() => undefined);
    }
  }

  /** Sends an authenticated request; throws ApiError with the hub's code and message. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (!this.session) throw new ApiError(401, 'signed_out', 'sign in first');
    if (this.session.expiresAt - this.now() < REFRESH_MARGIN_MS) await this.refresh();
    try {
      return (await this.send(method, path, body, this.session?.access ?? null)) as T;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || !(await this.refresh())) throw error;
      return (await this.send(method, path, body, this.session?.access ?? null)) as T;
    }
  }

  /** Downloads `path` with the session's token; returns the body as a Blob. */
  async download(path: string): Promise<Blob> {
    const token = await this.accessToken();
    const response = await this.fetcher(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!response.ok) {
      const error = (await response.json().catch(() => ({})))?.error ?? {};
      throw new ApiError(response.status, error.code ?? 'http_error', error.message ?? `HTTP ${response.status}`);
    }
    return response.blob();
  }

  /** Uploads `files` into `folder`, reporting progress from 0 to 1. */
  async upload(folder: string, files: File[], onProgress: (share: number) => void): Promise<void> {
    const token = await this.accessToken();
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    await new Promise<void>((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open('POST', `/api/files/upload?path=${encodeURIComponent(folder)}`);
      if (token) request.setRequestHeader('authorization', `Bearer ${token}`);
      request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
      request.onload = () => {
        if (request.status < 300) return resolve();
        const error = (() => {
          try {
            return JSON.parse(request.responseText).error ?? {};
          } catch {
            return {};
          }
        })();
        reject(new ApiError(request.status, error.code ?? 'http_error', error.message ?? `HTTP ${request.status}`));
      };
      request.onerror = () => reject(new ApiError(0, 'network', 'the upload failed'));
      request.send(form);
    });
  }

  /** Returns the current access token, for the WebSocket subprotocol. */
  async accessToken(): Promise<string | null> {
    if (this.session && this.session.expiresAt - this.now() < REFRESH_MARGIN_MS) await this.refresh();
    return this.session?.access ?? null;
  }

  /** Exchanges the refresh token for new tokens; returns false and signs out when it fails. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const refresh = this.session?.refresh;
    if (!refresh) return false;
    try {
      this.store(await this.send('POST', '/api/auth/refresh', { refresh_token: refresh }, null));
      return true;
    } catch (error) {
      // A network failure keeps the session for the next try; a refused token ends it.
      if (error instanceof ApiError && error.status === 401) {
        this.clear();
        this.onSignedOut();
      }
      return false;
    }
  }

  private async send(method: string, path: string, body: unknown, token: string | null): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await this.fetcher(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = parsed?.error ?? {};
      const { code, message, ...detail } = error;
      throw new ApiError(response.status, code ?? 'http_error', message ?? `HTTP ${response.status}`, detail);
    }
    return parsed;
  }

  private store(body: any): void {
    this.session = {
      access: body.access_token,
      refresh: body.refresh_token,
      expiresAt: this.now() + body.expires_in * 1000,
      user: body.user,
    };
    this.storage?.setItem(STORAGE_KEY, JSON.stringify(this.session));
    this.schedule();
  }

  private load(): Session | null {
    try {
      const saved = this.storage?.getItem(STORAGE_KEY);
      return saved ? (JSON.parse(saved) as Session) : null;
    } catch {
      return null;
    }
  }

  private clear(): void {
    this.session = null;
    this.storage?.removeItem(STORAGE_KEY);
    if (this.timer) clearTimeout(this.timer);
  }

  /** Refreshes ahead of expiry while the page is open, so an active user stays signed in. */
  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.session || typeof setTimeout === 'undefined') return;
    const wait = Math.max(this.session.expiresAt - this.now() - REFRESH_MARGIN_MS, 5_000);
    this.timer = setTimeout(() => void this.refresh(), wait);
  }
}
