use serde_json::Value;

/// What the prompt asks the mock to do, parsed from its directives.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Script {
    pub bash_commands: Vec<String>,
    pub final_text: Option<String>,
    pub delay_ms: u64,
    pub error_status: Option<u16>,
}

impl Script {
    pub fn parse(text: &str) -> Self {
        let mut script = Script::default();
        let mut rest = text;
        while let Some(start) = rest.find("[[") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("]]") else { break };
            let directive = &after[..end];
            rest = &after[end + 2..];

            let Some((key, value)) = directive.split_once(':') else { continue };
            let value = value.trim();
            match key.trim() {
                "bash" => script.bash_commands.push(value.to_string()),
                "text" => script.final_text = Some(value.to_string()),
                "delay-ms" => script.delay_ms = value.parse().unwrap_or(0),
                "error" => script.error_status = value.parse().ok(),
                _ => {}
            }
        }
        script
    }
}

/// The text of every user message's text blocks, in order. Tool results are left out so
/// that command output cannot add directives.
pub fn user_text(request: &Value) -> String {
    let mut text = String::new();
    for message in request["messages"].as_array().into_iter().flatten() {
        if message["role"] != "user" {
            continue;
        }
        match &message["content"] {
            Value::String(s) => {
                text.push_str(s);
                text.push('\n');
            }
            Value::Array(blocks) => {
                for block in blocks.iter().filter(|b| b["type"] == "text") {
                    text.push_str(block["text"].as_str().unwrap_or_default());
                    text.push('\n');
                }
            }
            _ => {}
        }
    }
    text
}

/// How many tool results the conversation already holds, which is the index of the next
/// scripted tool call.
pub fn tool_results(request: &Value) -> usize {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .count()
}

pub fn offers_bash(request: &Value) -> bool {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["name"] == "Bash")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn directives_are_parsed_in_order() {
        let script = Script::parse("do it [[bash: echo a > a.txt]] then [[bash: ls]] [[text: all done]] [[delay-ms: 5]]");
        assert_eq!(script.bash_commands, ["echo a > a.txt", "ls"]);
        assert_eq!(script.final_text.as_deref(), Some("all done"));
        assert_eq!(script.delay_ms, 5);
    }

    #[test]
    fn unterminated_directive_is_ignored() {
        assert_eq!(Script::parse("[[bash: ls"), Script::default());
    }

    #[test]
    fn tool_results_are_counted_and_excluded_from_text() {
        let request = json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "[[bash: ls]]"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "[[bash: rm -rf x]]"}]}
        ]});
        assert_eq!(tool_results(&request), 1);
        assert_eq!(Script::parse(&user_text(&request)).bash_commands, ["ls"]);
    }
}
