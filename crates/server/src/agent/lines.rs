/// Splits a byte stream into lines as chunks arrive: lines of any length up to `max`,
/// a partial line held until its newline comes.
pub struct LineSplitter {
    buffer: Vec<u8>,
    max: usize,
    /// Set while the rest of an over-long line is being dropped.
    skipping: bool,
}

/// One result of [`LineSplitter::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Complete(Vec<u8>),
    /// A line exceeded the maximum; its bytes were dropped.
    TooLong,
}

impl LineSplitter {
    pub fn new(max: usize) -> Self {
        Self {
            buffer: Vec::new(),
            max,
            skipping: false,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        while let Some(newline) = chunk.iter().position(|&b| b == b'\n') {
            let (head, rest) = chunk.split_at(newline);
            chunk = &rest[1..];
            if self.skipping {
                self.skipping = false;
                continue;
            }
            if self.buffer.len() + head.len() > self.max {
                self.buffer.clear();
                lines.push(Line::TooLong);
                continue;
            }
            self.buffer.extend_from_slice(head);
            lines.push(Line::Complete(std::mem::take(&mut self.buffer)));
        }
        if !self.skipping {
            if self.buffer.len() + chunk.len() > self.max {
                self.buffer.clear();
                self.skipping = true;
                lines.push(Line::TooLong);
            } else {
                self.buffer.extend_from_slice(chunk);
            }
        }
        lines
    }

    /// The unterminated last line, if any, when the stream ends.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        self.skipping = false;
        (!self.buffer.is_empty()).then(|| std::mem::take(&mut self.buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(lines: Vec<Line>) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| match l {
                Line::Complete(bytes) => String::from_utf8(bytes).unwrap(),
                Line::TooLong => "<too long>".into(),
            })
            .collect()
    }

    #[test]
    fn holds_partial_lines() {
        let mut splitter = LineSplitter::new(1024);
        assert!(complete(splitter.push(b"{\"a\":")).is_empty());
        assert_eq!(complete(splitter.push(b"1}\n{\"b\":2}\n{\"c\"")), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(complete(splitter.push(b":3}\n")), ["{\"c\":3}"]);
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn long_lines_across_many_chunks() {
        let mut splitter = LineSplitter::new(10 << 20);
        let line = "x".repeat(3 << 20);
        let mut out = Vec::new();
        for chunk in line.as_bytes().chunks(8192) {
            out.extend(complete(splitter.push(chunk)));
        }
        out.extend(complete(splitter.push(b"\n")));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 3 << 20);
    }

    #[test]
    fn multibyte_characters_split_across_chunks() {
        let mut splitter = LineSplitter::new(1024);
        let text = "你好\n".as_bytes();
        assert!(splitter.push(&text[..2]).is_empty());
        assert_eq!(complete(splitter.push(&text[2..])), ["你好"]);
    }

    #[test]
    fn over_long_line_is_dropped_and_the_next_survives() {
        let mut splitter = LineSplitter::new(8);
        assert_eq!(complete(splitter.push(b"0123456789")), ["<too long>"]);
        assert_eq!(complete(splitter.push(b"abc\nok\n")), ["ok"]);
    }

    #[test]
    fn unterminated_tail_is_returned() {
        let mut splitter = LineSplitter::new(64);
        splitter.push(b"tail");
        assert_eq!(splitter.finish(), Some(b"tail".to_vec()));
    }
}
