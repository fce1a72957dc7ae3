// WebSocket URLs and the hub's subprotocol, which carries the access token because a
// browser cannot set headers on a WebSocket.

/** Returns the ws:// or wss:// URL of `path` on this page's origin. */
export function socketUrl(path: string, origin: string = location.origin): string {
  return origin.replace(/^http/, 'ws') + path;
}

/** Returns the subprotocols that authenticate a socket with `token`. */
export function protocols(token: string): string[] {
  return ['cchub', `cchub.token.${token}`];
}

/** Backoff before reconnect attempt `attempt` (0-based): 1, 2, 4, 8 s, then 10 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(1000 * 2 ** attempt, 10_000);
}
