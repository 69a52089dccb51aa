//! The last lines of a command's output, kept for the build's error message.

use std::collections::VecDeque;

use crate::spec::TAIL_LINES;

/// Longest line kept, in bytes; longer lines keep their end.
const MAX_LINE: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Tail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl Tail {
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        while let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..nl]);
            self.end_line();
            bytes = &bytes[nl + 1..];
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() > 2 * MAX_LINE {
            self.partial.drain(..self.partial.len() - MAX_LINE);
        }
    }

    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            self.end_line();
        }
        self.lines.into()
    }

    fn end_line(&mut self) {
        let bytes = std::mem::take(&mut self.partial);
        let bytes = &bytes[bytes.len().saturating_sub(MAX_LINE)..];
        let text = String::from_utf8_lossy(bytes);
        // A progress bar redraws its line after '\r'; what was shown last is what counts.
        let shown = text
            .split('\r')
            .rev()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(shown.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_across_chunks() {
        let mut t = Tail::default();
        for i in 0..15 {
            t.push(format!("line {i}\n").as_bytes());
        }
        t.push(b"par");
        t.push(b"tial 10%\r100%");
        let lines = t.finish();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 6");
        assert_eq!(lines[9], "100%");
    }
}
