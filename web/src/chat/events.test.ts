import { describe, expect, it } from 'vitest';
import { applyEvent, emptyChat, toolDiff, toolSummary } from './events';
import { renderMarkdown } from './markdown';

describe('chat events', () => {
  it('pairs tool calls with their results and sums usage', () => {
    let state = emptyChat();
    state = applyEvent(state, { type: 'system', subtype: 'init', session_id: 's1' });
    state = applyEvent(state, { type: 'assistant', message: { content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } }] } });
    state = applyEvent(state, { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 't1', content: 'a.txt' }] } });
    state = applyEvent(state, { type: 'assistant', message: { content: [{ type: 'text', text: 'done' }] } });
    state = applyEvent(state, { type: 'result', usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 3 } });
    expect(state.sessionId).toBe('s1');
    expect(state.items).toEqual([
      { kind: 'tool', id: 't1', name: 'Bash', input: { command: 'ls' }, result: 'a.txt', isError: false },
      { kind: 'assistant', text: 'done' },
    ]);
    expect(state.usage).toEqual({ input: 15, output: 3 });
  });

  it('summarises and diffs tool input', () => {
    expect(toolSummary('Bash', { command: 'git status' })).toBe('git status');
    expect(toolSummary('Read', { file_path: '/workspace/a.rs' })).toBe('/workspace/a.rs');
    expect(toolDiff('Edit', { old_string: 'a', new_string: 'b' })).toEqual(['- a', '+ b']);
    expect(toolDiff('Bash', {})).toBeNull();
  });
});

describe('markdown', () => {
  it('never passes raw HTML or script links through', () => {
    const html = renderMarkdown('<img src=x onerror=alert(1)> [x](javascript:alert(1))');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('javascript:');
  });

  it('highlights code', () => {
    expect(renderMarkdown('```rust\nfn main() {}\n```')).toContain('hljs language-rust');
  });
});
