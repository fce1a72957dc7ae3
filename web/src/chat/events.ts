// Turns Claude Code's stream-json events, as the hub relays them, into the items the
// chat shows: text, tool calls with their results, and the run's token usage.

export type Item =
  | { kind: 'user'; text: string }
  | { kind: 'assistant'; text: string }
  | { kind: 'tool'; id: string; name: string; input: Record<string, unknown>; result?: string; isError?: boolean }
  | { kind: 'error'; text: string }
  | { kind: 'notice'; text: string };

export interface Usage {
  input: number;
  output: number;
}

export interface ChatState {
  items: Item[];
  sessionId: string | null;
  usage: Usage;
}

export const emptyChat = (): ChatState => ({ items: [], sessionId: null, usage: { input: 0, output: 0 } });

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join('');
  return '';
}

/** Applies one relayed Claude Code event to the chat state, returning a new state. */
export function applyEvent(state: ChatState, event: any): ChatState {
  const items = [...state.items];
  let { sessionId, usage } = state;
  if (event?.type === 'system' && event.subtype === 'init' && typeof event.session_id === 'string') {
    sessionId = event.session_id;
  } else if (event?.type === 'assistant') {
    for (const block of event.message?.content ?? []) {
      if (block.type === 'text' && block.text) items.push({ kind: 'assistant', text: block.text });
      if (block.type === 'tool_use') items.push({ kind: 'tool', id: block.id, name: block.name, input: block.input ?? {} });
    }
  } else if (event?.type === 'user') {
    for (const block of event.message?.content ?? []) {
      if (block.type !== 'tool_result') continue;
      const index = items.findIndex((item) => item.kind === 'tool' && item.id === block.tool_use_id);
      if (index >= 0) items[index] = { ...(items[index] as Extract<Item, { kind: 'tool' }>), result: resultText(block.content), isError: !!block.is_error };
    }
  } else if (event?.type === 'result') {
    const u = event.usage ?? {};
    const input = (u.input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
    usage = { input: usage.input + input, output: usage.output + (u.output_tokens ?? 0) };
  }
  return { items, sessionId, usage };
}

/** Summarises a tool call in one line: the command, the file path or the pattern. */
export function toolSummary(name: string, input: Record<string, unknown>): string {
  const pick = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : '');
  return pick('command') || pick('file_path') || pick('path') || pick('pattern') || pick('url') || name;
}

/** Returns an Edit or Write call as diff lines: removed with '-', added with '+'. */
export function toolDiff(name: string, input: Record<string, unknown>): string[] | null {
  const lines = (text: unknown) => (typeof text === 'string' ? text.split('\n') : []);
  if (name === 'Edit') return [...lines(input.old_string).map((l) => `- ${l}`), ...lines(input.new_string).map((l) => `+ ${l}`)];
  if (name === 'Write') return lines(input.content).map((l) => `+ ${l}`);
  return null;
}
