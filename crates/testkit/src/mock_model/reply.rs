use serde_json::{json, Value};

use super::script::{offers_bash, tool_results, user_text, Script};

/// One content block of the reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    ToolUse { id: String, command: String },
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub model: String,
    pub block: Block,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub delay_ms: u64,
}

impl Reply {
    pub fn plan(request: &Value, message_number: u64) -> Reply {
        let script = Script::parse(&user_text(request));
        let step = tool_results(request);
        let block = match script.bash_commands.get(step) {
            Some(command) if offers_bash(request) => Block::ToolUse {
                id: format!("toolu_mock_{message_number:06}_{step}"),
                command: command.clone(),
            },
            _ => Block::Text(script.final_text.unwrap_or_else(|| "Mock reply.".to_string())),
        };
        let output_tokens = match &block {
            Block::Text(text) => text.len() as u64 / 4 + 1,
            Block::ToolUse { command, .. } => command.len() as u64 / 4 + 10,
        };
        Reply {
            model: request["model"].as_str().unwrap_or("claude-mock").to_string(),
            block,
            input_tokens: request.to_string().len() as u64 / 4 + 1,
            output_tokens,
            delay_ms: script.delay_ms,
        }
    }

    fn stop_reason(&self) -> &'static str {
        match self.block {
            Block::Text(_) => "end_turn",
            Block::ToolUse { .. } => "tool_use",
        }
    }

    fn content_json(&self) -> Value {
        match &self.block {
            Block::Text(text) => json!({"type": "text", "text": text}),
            Block::ToolUse { id, command } => json!({
                "type": "tool_use", "id": id, "name": "Bash",
                "input": {"command": command, "description": "Run a scripted command"}
            }),
        }
    }

    /// The whole reply as one non-streaming Messages API response.
    pub fn message_json(&self, id: &str) -> Value {
        json!({
            "id": id, "type": "message", "role": "assistant", "model": self.model,
            "content": [self.content_json()],
            "stop_reason": self.stop_reason(), "stop_sequence": null,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        })
    }

    /// The reply as the (event name, data) pairs of a streaming response.
    pub fn stream_events(&self, id: &str) -> Vec<(&'static str, Value)> {
        let mut events = vec![
            ("message_start", json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": self.input_tokens, "output_tokens": 1}
            }})),
            ("ping", json!({"type": "ping"})),
        ];
        match &self.block {
            Block::Text(text) => {
                events.push(("content_block_start", json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}})));
                for piece in split_in_pieces(text, 3) {
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": piece}})));
                }
            }
            Block::ToolUse { id, command } => {
                events.push(("content_block_start", json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "tool_use", "id": id, "name": "Bash", "input": {}}})));
                let input = json!({"command": command, "description": "Run a scripted command"}).to_string();
                for piece in split_in_pieces(&input, 2) {
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "input_json_delta", "partial_json": piece}})));
                }
            }
        }
        events.push(("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
        events.push(("message_delta", json!({"type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
            "usage": {"output_tokens": self.output_tokens}})));
        events.push(("message_stop", json!({"type": "message_stop"})));
        events
    }
}

/// Splits `text` into at most `pieces` parts on character boundaries.
fn split_in_pieces(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let size = chars.len().div_ceil(pieces);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_directive_becomes_tool_use_only_when_bash_is_offered() {
        let with_tools = json!({"model": "m", "tools": [{"name": "Bash"}],
            "messages": [{"role": "user", "content": "[[bash: touch x]]"}]});
        let without_tools = json!({"model": "m", "messages": [{"role": "user", "content": "[[bash: touch x]]"}]});
        assert!(matches!(Reply::plan(&with_tools, 1).block, Block::ToolUse { .. }));
        assert!(matches!(Reply::plan(&without_tools, 1).block, Block::Text(_)));
    }

    #[test]
    fn stream_reassembles_to_the_text() {
        let request = json!({"model": "m", "messages": [{"role": "user", "content": "[[text: 你好, world]]"}]});
        let reply = Reply::plan(&request, 1);
        let text: String = reply
            .stream_events("msg")
            .iter()
            .filter_map(|(_, data)| data["delta"]["text"].as_str().map(str::to_string))
            .collect();
        assert_eq!(text, "你好, world");
    }
}
