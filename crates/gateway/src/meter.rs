//! Reading the token counts out of a response while it streams through.

use serde_json::Value;

use crate::Usage;

/// Largest non-streaming body kept for reading its `usage`.
const MAX_JSON_BODY: usize = 4 << 20;
/// Longest SSE line kept; event lines carrying usage are short.
const MAX_SSE_LINE: usize = 1 << 20;

/// Watches the bytes of one response and collects its usage.
pub struct Meter {
    streaming: bool,
    buffer: Vec<u8>,
    usage: Usage,
    seen: bool,
}

impl Meter {
    pub fn new(streaming: bool) -> Self {
        Self {
            streaming,
            buffer: Vec::new(),
            usage: Usage::default(),
            seen: false,
        }
    }

    pub fn observe(&mut self, chunk: &[u8]) {
        if !self.streaming {
            if self.buffer.len() + chunk.len() <= MAX_JSON_BODY {
                self.buffer.extend_from_slice(chunk);
            }
            return;
        }
        for &byte in chunk {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.buffer);
                self.sse_line(&line);
            } else if self.buffer.len() < MAX_SSE_LINE {
                self.buffer.push(byte);
            }
        }
    }

    fn sse_line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else { return };
        let Ok(event) = serde_json::from_slice::<Value>(data.trim_ascii()) else { return };
        match event["type"].as_str() {
            // Input and cache counts come with the start; later events repeat them.
            Some("message_start") => self.merge(&event["message"]["usage"]),
            // `output_tokens` in message_delta is the running total for the message.
            Some("message_delta") => self.merge(&event["usage"]),
            _ => {}
        }
    }

    fn merge(&mut self, usage: &Value) {
        let field = |name: &str| usage[name].as_u64();
        if let Some(n) = field("input_tokens") {
            self.usage.input_tokens = n;
            self.seen = true;
        }
        if let Some(n) = field("output_tokens") {
            self.usage.output_tokens = n;
            self.seen = true;
        }
        if let Some(n) = field("cache_creation_input_tokens") {
            self.usage.cache_creation_input_tokens = n;
        }
        if let Some(n) = field("cache_read_input_tokens") {
            self.usage.cache_read_input_tokens = n;
        }
    }

    /// The usage seen, once the response is over (or cut off).
    pub fn finish(mut self) -> Option<Usage> {
        if !self.streaming {
            let body: Value = serde_json::from_slice(&self.buffer).ok()?;
            self.merge(&body["usage"]);
        } else if !self.buffer.is_empty() {
            let line = std::mem::take(&mut self.buffer);
            self.sse_line(&line);
        }
        self.seen.then_some(self.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_usage_is_read_across_chunks() {
        let stream = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":120,\"output_tokens\":1,\"cache_read_input_tokens\":30}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n",
        );
        let mut meter = Meter::new(true);
        for chunk in stream.as_bytes().chunks(7) {
            meter.observe(chunk);
        }
        let usage = meter.finish().unwrap();
        assert_eq!(usage.input_tokens, 120);
        assert_eq!(usage.output_tokens, 42);
        assert_eq!(usage.cache_read_input_tokens, 30);
    }

    #[test]
    fn json_usage_is_read_at_the_end() {
        let mut meter = Meter::new(false);
        meter.observe(br#"{"type":"message","usage":{"input_tokens":7,"#);
        meter.observe(br#""output_tokens":3}}"#);
        let usage = meter.finish().unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (7, 3));
    }

    #[test]
    fn no_usage_means_nothing_recorded() {
        let mut meter = Meter::new(true);
        meter.observe(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        assert_eq!(meter.finish(), None);
    }
}
