//! Finding heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) on an instruction's line.
//!
//! BuildKit splits the whole line into shell words (quotes and escapes kept, `$` expressions
//! left as written) and takes every word of the form `[digits]<<[-][spaces]delimiter` as a
//! heredoc. A line the shell lexer cannot split (an unterminated quote, a bad `${`) has no
//! heredocs. The delimiter is then read as a shell word once more: quotes removed, escapes
//! applied; if quoting was involved, the body is not expanded.

use std::iter::Peekable;
use std::str::Chars;

/// A heredoc marker found on a line, its body not yet read.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Marker {
    pub(super) name: String,
    pub(super) expand: bool,
    pub(super) chomp: bool,
}

/// The markers on `line`, in order. An error is a delimiter BuildKit refuses.
pub(super) fn markers(line: &str) -> Result<Vec<Marker>, String> {
    if !line.contains("<<") {
        return Ok(Vec::new());
    }
    let Some(words) = shell_words(line, true, true) else {
        return Ok(Vec::new());
    };
    let mut markers = Vec::new();
    for word in words {
        if let Some(marker) = marker(&word)? {
            markers.push(marker);
        }
    }
    Ok(markers)
}

/// One word as a heredoc marker: `^(\d*)<<(-?)\s*([^<]*)$`, the last part one shell word.
fn marker(word: &str) -> Result<Option<Marker>, String> {
    let Some(rest) = word
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("<<")
    else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(['\t', '\n', '\u{0c}', '\r', ' ']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let bad = || format!("invalid heredoc delimiter {rest:?}: a quote is not closed");
    let words = shell_words(rest, false, false).ok_or_else(bad)?;
    // Several words (`<<EOF sh` inside one quoted word) are not a delimiter.
    let Ok([name]) = <[String; 1]>::try_from(words) else {
        return Ok(None);
    };
    let raw = shell_words(rest, true, false).ok_or_else(bad)?;
    let [raw] = <[String; 1]>::try_from(raw)
        .map_err(|_| format!("invalid heredoc delimiter {rest:?}: it does not read as one word"))?;
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    Ok(Some(Marker {
        expand: quotes(&name) == quotes(&raw),
        name,
        chomp,
    }))
}

/// Nesting of `${…}` the lexer follows before giving up (BuildKit has no limit; this keeps
/// hostile input from exhausting the stack).
const MAX_NESTING: usize = 64;

/// Splits `text` into shell words as BuildKit's lexer does with an empty environment and unset
/// variables left as written. `None` when the text does not lex (the caller treats that as
/// "no heredocs" or as a bad delimiter).
fn shell_words(text: &str, raw_quotes: bool, raw_escapes: bool) -> Option<Vec<String>> {
    let mut lexer = Lexer {
        chars: text.chars().peekable(),
        raw_quotes,
        raw_escapes,
        nesting: 0,
    };
    let (_, words) = lexer.process_until(None, raw_escapes)?;
    Some(words)
}

struct Lexer<'a> {
    chars: Peekable<Chars<'a>>,
    raw_quotes: bool,
    raw_escapes: bool,
    nesting: usize,
}

/// Words being collected: characters from `$` expansions split on whitespace, quoted text and
/// escaped characters never do.
#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.buf.push(c);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_str(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}

impl Lexer<'_> {
    /// Reads up to `stop` (consumed) or the end. Returns the text read and its words.
    fn process_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Option<(String, Vec<String>)> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.process_until_inner(stop);
        self.raw_escapes = saved;
        result
    }

    fn process_until_inner(&mut self, stop: Option<char>) -> Option<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(&c) = self.chars.peek() {
            if Some(c) == stop {
                self.chars.next();
                return Some((result, words.finish()));
            }
            match c {
                '$' => {
                    let text = self.dollar()?;
                    result.push_str(&text);
                    words.add_str(&text);
                }
                '<' => {
                    let text = self.possible_heredoc();
                    result.push_str(&text);
                    words.add_raw_str(&text);
                }
                '\'' => {
                    let text = self.single_quoted()?;
                    result.push_str(&text);
                    words.add_raw_str(&text);
                }
                '"' => {
                    let text = self.double_quoted()?;
                    result.push_str(&text);
                    words.add_raw_str(&text);
                }
                '\\' => {
                    self.chars.next();
                    if self.raw_escapes {
                        words.add_raw_char(c);
                        result.push(c);
                    }
                    let Some(escaped) = self.chars.next() else {
                        break;
                    };
                    words.add_raw_char(escaped);
                    result.push(escaped);
                }
                _ => {
                    self.chars.next();
                    words.add_char(c);
                    result.push(c);
                }
            }
        }
        if stop.is_some() {
            return None;
        }
        Some((result, words.finish()))
    }

    fn single_quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        self.chars.next();
        if self.raw_quotes {
            out.push('\'');
        }
        loop {
            match self.chars.next()? {
                '\'' => {
                    if self.raw_quotes {
                        out.push('\'');
                    }
                    return Some(out);
                }
                c => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        self.chars.next();
        if self.raw_quotes {
            out.push('"');
        }
        loop {
            match *self.chars.peek()? {
                '"' => {
                    self.chars.next();
                    if self.raw_quotes {
                        out.push('"');
                    }
                    return Some(out);
                }
                '$' => {
                    let text = self.dollar()?;
                    out.push_str(&text);
                }
                c => {
                    self.chars.next();
                    let mut c = c;
                    if c == '\\' {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.chars.peek() {
                            None => continue,
                            Some('"' | '$' | '\\') => c = self.chars.next()?,
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    /// `$name`, `${name}`, `${name:-word}`, `${name/pattern/replacement}`… With no variables
    /// set and unset ones kept, each comes back as written; only malformed ones fail.
    fn dollar(&mut self) -> Option<String> {
        self.chars.next();
        if self.chars.peek() != Some(&'{') {
            return Some(format!("${}", self.name()));
        }
        self.chars.next();
        match self.chars.peek() {
            None | Some('{' | '}' | ':') => return None,
            Some(_) => {}
        }
        let name = self.name();
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return None;
        }
        let result = self.dollar_rest(&name);
        self.nesting -= 1;
        result
    }

    fn dollar_rest(&mut self, name: &str) -> Option<String> {
        match self.chars.next()? {
            '}' => Some(format!("${{{name}}}")),
            ':' => {
                let modifier = self.chars.next()?;
                if modifier == '#' || modifier == '%' {
                    return None;
                }
                let (word, _) = self.process_until(Some('}'), false)?;
                Some(format!("${{{name}:{modifier}{word}}}"))
            }
            modifier @ ('+' | '-' | '?' | '#' | '%') => {
                let raw = modifier == '#' || modifier == '%';
                let (word, _) = self.process_until(Some('}'), raw)?;
                Some(format!("${{{name}{modifier}{word}}}"))
            }
            '/' => {
                if self.chars.peek() == Some(&'/') {
                    self.chars.next();
                }
                let (pattern, _) = self.process_until(Some('/'), true)?;
                let (replacement, _) = self.process_until(Some('}'), true)?;
                Some(format!("${{{name}/{pattern}/{replacement}}}"))
            }
            _ => None,
        }
    }

    /// A variable name: digits, one special parameter, or letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(&c) = self.chars.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(&d) = self.chars.peek().filter(|d| d.is_ascii_digit()) {
                    name.push(d);
                    self.chars.next();
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.chars.next();
                name.push(c);
                return name;
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.chars.next();
            name.push(c);
        }
        name
    }

    /// `<<` glues to the spaces after it, so `<< EOF` stays one word.
    fn possible_heredoc(&mut self) -> String {
        self.chars.next();
        if self.chars.peek() != Some(&'<') {
            return "<".to_string();
        }
        self.chars.next();
        let mut out = "<<".to_string();
        while let Some(&c) = self.chars.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            out.push(c);
            self.chars.next();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<(String, bool, bool)> {
        markers(line)
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.expand, m.chomp))
            .collect()
    }

    fn one(name: &str, expand: bool, chomp: bool) -> Vec<(String, bool, bool)> {
        vec![(name.to_string(), expand, chomp)]
    }

    #[test]
    fn marker_forms() {
        assert_eq!(names("RUN <<EOF"), one("EOF", true, false));
        assert_eq!(names("RUN <<-EOF"), one("EOF", true, true));
        assert_eq!(names("RUN <<'EOF'"), one("EOF", false, false));
        assert_eq!(names("RUN <<\"EOF\" cat"), one("EOF", false, false));
        assert_eq!(names("RUN 3<<EOF"), one("EOF", true, false));
        assert_eq!(names("RUN <<  EOF  > foo"), one("EOF", true, false));
        assert_eq!(names("RUN << -EOF"), one("-EOF", true, false));
        assert_eq!(names("RUN <<eo'f'"), one("eof", false, false));
        assert_eq!(names("RUN <<eo\\'f"), one("eo'f", true, false));
        assert_eq!(names("RUN <<'e'o\\'f"), one("eo'f", false, false));
        assert_eq!(names("RUN <<'one two'"), one("one two", false, false));
        assert_eq!(names("RUN <<$EOF"), one("$EOF", true, false));
        assert_eq!(names("COPY <<A <<B /d").len(), 2);
    }

    #[test]
    fn not_markers() {
        for line in [
            "RUN '<<EOF'",
            "RUN \"<<EOF\"",
            "RUN cat<<EOF",
            "RUN <<- EOF",
            "RUN <<",
            "RUN <<<EOF",
            "RUN <<EOF 'unterminated",
            "RUN echo ${} <<EOF",
        ] {
            assert_eq!(names(line), vec![], "{line}");
        }
    }

    #[test]
    fn deep_dollar_nesting_gives_up() {
        let line = format!("RUN <<EOF {}", "${a:-".repeat(10_000));
        assert_eq!(names(&line), vec![]);
    }
}
