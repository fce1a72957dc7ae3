/// Holds back a UTF-8 sequence cut off at the end of a chunk until the rest arrives, so
/// every frame sent on carries whole characters. Bytes that are not UTF-8 pass through;
/// at most three bytes are ever held.
#[derive(Debug, Default)]
pub struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    /// Returns the bytes that can go out now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(chunk);
        let keep = incomplete_suffix(&data);
        self.pending = data.split_off(data.len() - keep);
        data
    }

    /// Returns whatever is held, when no more input is coming soon.
    pub fn flush(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// Length of an unfinished multi-byte sequence at the end of `bytes`, or 0.
fn incomplete_suffix(bytes: &[u8]) -> usize {
    let start = bytes.len().saturating_sub(3);
    for index in (start..bytes.len()).rev() {
        let byte = bytes[index];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let needed = match byte {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return 0,
        };
        let available = bytes.len() - index;
        return if available < needed { available } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_character_is_joined() {
        let text = "你好".as_bytes();
        let mut carry = Utf8Carry::default();
        let first = carry.push(&text[..4]);
        assert_eq!(first, "你".as_bytes());
        assert!(carry.has_pending());
        let second = carry.push(&text[4..]);
        assert_eq!(second, "好".as_bytes());
        assert!(!carry.has_pending());
    }

    #[test]
    fn every_split_point_yields_valid_text() {
        let text = "a你😀b好\n".repeat(50);
        let bytes = text.as_bytes();
        for size in 1..9 {
            let mut carry = Utf8Carry::default();
            let mut joined = Vec::new();
            for chunk in bytes.chunks(size) {
                let out = carry.push(chunk);
                assert!(std::str::from_utf8(&out).is_ok(), "chunk size {size} produced broken UTF-8");
                joined.extend(out);
            }
            joined.extend(carry.flush());
            assert_eq!(joined, bytes);
        }
    }

    #[test]
    fn binary_passes_through() {
        let mut carry = Utf8Carry::default();
        assert_eq!(carry.push(&[0x00, 0x01, 0xff, 0x80]), vec![0x00, 0x01, 0xff, 0x80]);
        assert_eq!(carry.push(&[0xE4]), Vec::<u8>::new());
        assert_eq!(carry.flush(), vec![0xE4]);
    }
}
