import { describe, expect, it } from 'vitest';
import { protocols, reconnectDelay, socketUrl } from './socket';

describe('socket', () => {
  it('maps the page origin to a WebSocket URL', () => {
    expect(socketUrl('/ws/shell', 'http://127.0.0.1:3001')).toBe('ws://127.0.0.1:3001/ws/shell');
    expect(socketUrl('/ws/chat', 'https://hub.example.com')).toBe('wss://hub.example.com/ws/chat');
  });

  it('carries the token in the subprotocol', () => {
    expect(protocols('abc')).toEqual(['cchub', 'cchub.token.abc']);
  });

  it('backs off up to ten seconds', () => {
    expect([0, 1, 2, 3, 4, 9].map(reconnectDelay)).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
  });
});
