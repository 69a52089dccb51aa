//! The exec form's JSON array, read as Go's `encoding/json` reads it into `[]any`.
//!
//! BuildKit decides between exec form and shell form by trying this: text that is not valid
//! JSON (single quotes, a missing bracket, trailing junk) is shell form, but a valid array
//! holding anything other than strings is an error.

/// What the text after the keyword turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum JsonArray {
    /// A valid JSON array of strings.
    Strings(Vec<String>),
    /// A valid JSON array with a non-string element; `index` is 1-based.
    NotStrings { index: usize, found: &'static str },
    /// Not a JSON array at all: shell form.
    NotJson,
}

/// Go's `encoding/json` refuses nesting deeper than this.
const MAX_DEPTH: usize = 10_000;

pub(super) fn parse_array(text: &str) -> JsonArray {
    let text = text.trim_start_matches(char::is_whitespace);
    if !text.starts_with('[') {
        return JsonArray::NotJson;
    }
    let mut reader = Reader {
        bytes: text.as_bytes(),
        pos: 1,
    };
    reader.array().unwrap_or(JsonArray::NotJson)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Invalid JSON: the caller falls back to shell form.
struct Invalid;

#[derive(Clone, Copy)]
enum Container {
    Array,
    Object,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Result<(), Invalid> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// The top-level array, its opening `[` already read.
    fn array(&mut self) -> Result<JsonArray, Invalid> {
        let mut strings = Vec::new();
        let mut not_string: Option<(usize, &'static str)> = None;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() == Some(b'"') {
                    strings.push(self.string()?);
                } else {
                    let found = self.skip_value()?;
                    if not_string.is_none() {
                        not_string = Some((strings.len() + 1, found));
                    }
                    strings.push(String::new());
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(Invalid),
                }
            }
        }
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(Invalid);
        }
        Ok(match not_string {
            Some((index, found)) => JsonArray::NotStrings { index, found },
            None => JsonArray::Strings(strings),
        })
    }

    /// Skips one non-string value (nested values included) and names its kind. Iterative, so
    /// deep nesting cannot overflow the stack.
    fn skip_value(&mut self) -> Result<&'static str, Invalid> {
        let found = match self.peek() {
            Some(b'[') => "an array",
            Some(b'{') => "an object",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            _ => "a number",
        };
        let mut stack: Vec<Container> = Vec::new();
        loop {
            // Read one value; containers push and go on to their first element.
            self.skip_ws();
            match self.peek().ok_or(Invalid)? {
                b'[' => {
                    self.open(&stack)?;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        stack.push(Container::Array);
                        continue;
                    }
                }
                b'{' => {
                    self.open(&stack)?;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        stack.push(Container::Object);
                        self.object_key()?;
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // After a value: close containers or move to the next element.
            loop {
                let Some(&top) = stack.last() else {
                    return Ok(found);
                };
                self.skip_ws();
                match (top, self.peek()) {
                    (_, Some(b',')) => {
                        self.pos += 1;
                        if let Container::Object = top {
                            self.skip_ws();
                            self.object_key()?;
                        }
                        break;
                    }
                    (Container::Array, Some(b']')) | (Container::Object, Some(b'}')) => {
                        self.pos += 1;
                        stack.pop();
                    }
                    _ => return Err(Invalid),
                }
            }
        }
    }

    /// Steps into a container, refusing one nested deeper than Go allows. The top-level array
    /// is level 1, so the new container sits at level `stack.len() + 2`.
    fn open(&mut self, stack: &[Container]) -> Result<(), Invalid> {
        if stack.len() + 2 > MAX_DEPTH {
            return Err(Invalid);
        }
        self.pos += 1;
        self.skip_ws();
        Ok(())
    }

    /// `"key" :` inside an object.
    fn object_key(&mut self) -> Result<(), Invalid> {
        if self.peek() != Some(b'"') {
            return Err(Invalid);
        }
        self.string()?;
        self.skip_ws();
        self.eat(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), Invalid> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), Invalid> {
        let start = self.pos;
        self.digits();
        if self.pos == start {
            return Err(Invalid);
        }
        Ok(())
    }

    /// A string, its opening quote at `pos`, decoded as Go decodes it: escapes applied, a lone
    /// UTF-16 surrogate becoming U+FFFD.
    fn string(&mut self) -> Result<String, Invalid> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The scanned run lies between ASCII bytes, so it is whole UTF-8.
            out.push_str(std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|_| Invalid)?);
            match self.peek().ok_or(Invalid)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.pos += 1;
                    let escaped = self.peek().ok_or(Invalid)?;
                    self.pos += 1;
                    match escaped {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{08}'),
                        b'f' => out.push('\u{0c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(Invalid),
                    }
                }
                _ => return Err(Invalid),
            }
        }
    }

    /// The rest of a `\uXXXX` escape (and its low surrogate, if any).
    fn unicode_escape(&mut self) -> Result<char, Invalid> {
        let unit = self.hex4()?;
        if !(0xD800..0xE000).contains(&unit) {
            return char::from_u32(unit).ok_or(Invalid);
        }
        // A high surrogate pairs with an immediately following `\u` low surrogate.
        if (0xD800..0xDC00).contains(&unit) && self.bytes[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            if let Ok(low) = self.hex4() {
                if (0xDC00..0xE000).contains(&low) {
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    return char::from_u32(c).ok_or(Invalid);
                }
            }
            // Not a pair: the second escape is read on its own.
            self.pos = save;
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    fn hex4(&mut self) -> Result<u32, Invalid> {
        let digits = self.bytes.get(self.pos..self.pos + 4).ok_or(Invalid)?;
        let mut value = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(Invalid)?;
            value = value * 16 + v;
        }
        self.pos += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::{JsonArray, parse_array};

    fn strings(v: &[&str]) -> JsonArray {
        JsonArray::Strings(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn arrays() {
        assert_eq!(parse_array("[]"), strings(&[]));
        assert_eq!(parse_array(" [ \"a\" ,\t\"b\" ] "), strings(&["a", "b"]));
        assert_eq!(
            parse_array(r#"["\u0000\ud83d\ude00\ud800x\/"]"#),
            strings(&["\0😀\u{fffd}x/"])
        );
        assert_eq!(
            parse_array(r#"["a", ["b"]]"#),
            JsonArray::NotStrings {
                index: 2,
                found: "an array"
            }
        );
        assert_eq!(
            parse_array(r#"[1.5e3, "a"]"#),
            JsonArray::NotStrings {
                index: 1,
                found: "a number"
            }
        );
        assert_eq!(
            parse_array(r#"["a", {"k": [1, {"x": null}]}]"#),
            JsonArray::NotStrings {
                index: 2,
                found: "an object"
            }
        );
    }

    #[test]
    fn not_json() {
        for text in [
            "['a']",
            "[\"a\"",
            "[\"a]",
            "[\"a\",]",
            "[01]",
            "[\"a\"] x",
            "[\"\t\"]",
            "[-]",
            "[1.]",
            "[\"\\x\"]",
            "[\"\\u12\"]",
            "[tru]",
            "[{\"a\" 1}]",
            "[{1:2}]",
            "a",
            "",
        ] {
            assert_eq!(parse_array(text), JsonArray::NotJson, "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_not_json_and_does_not_overflow() {
        let deep = format!("[{}{}]", "[".repeat(20_000), "]".repeat(20_000));
        assert_eq!(parse_array(&deep), JsonArray::NotJson);
        // Go allows 10000 levels, the top-level array included.
        let limit = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            parse_array(&limit),
            JsonArray::NotStrings {
                index: 1,
                found: "an array"
            }
        );
        let over = format!("{}{}", "[".repeat(10_001), "]".repeat(10_001));
        assert_eq!(parse_array(&over), JsonArray::NotJson);
    }
}
