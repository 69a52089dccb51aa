//! Shell-style word expansion, as BuildKit's `shell.Lex` does it.
//!
//! One pass over the word, left to right, with no regular expressions: `$NAME`, `${NAME}` and
//! the `${NAME<op>word}` forms (`:-` `-` `:+` `+` `:?` `?` `#` `##` `%` `%%` `/` `//`), single
//! quotes (literal), double quotes (expansion; the escape character only escapes `"`, `$` and
//! itself) and the escape character (`\` or `` ` ``) outside quotes.
//!
//! Behaviour follows BuildKit exactly, quirks included, because a Dockerfile must mean the same
//! thing to berth as to `docker build`:
//! - `$` not followed by a name stays literal; unset variables expand to nothing; positional
//!   (`$1`, `${10}`) and special (`$@ $* $# $? $- $$ $! $0`) parameters are ordinary names that
//!   are never set.
//! - In `#`/`%`/`/` patterns `*` and `?` are wildcards that do not cross a newline, the escape
//!   character is kept so `\*`, `\?`, `\\` are literal, and `[` is literal (no bracket
//!   expressions). `//` replacements read `$0` as the matched text, like Go's `ReplaceAllString`.
//! - [`Lexer::words`] splits on unquoted whitespace, including whitespace from a variable's
//!   value; an operator form (`${V:-…}`, `${V#…}`, …) drops the partial word written before it.
//!
//! Deliberate differences: nesting deeper than [`MAX_NESTING`] is an error (BuildKit has no
//! limit, Dockerfiles never come close), and names use Rust's Unicode letter/number classes
//! where Go uses its own (identical for ASCII).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

/// Where variables come from: one snapshot of the environment per instruction.
pub trait Vars {
    fn get(&self, name: &str) -> Option<&str>;
}

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpandError {
    pub message: String,
}

/// How deep `${…}` and quotes may nest inside one another before expansion gives up.
pub const MAX_NESTING: usize = 128;

/// How much expansion may add to a word: the longest result one
/// `${name//pattern/replacement}` may give, and how much longer than its own text a whole word
/// may grow. Replacements nested in replacements multiply the length at every level, and
/// `ARG`/`ENV` values built from earlier values double at every instruction (BuildKit's
/// expansion would grow without bound until memory runs out); no real Dockerfile word comes
/// near this.
pub const MAX_EXPANDED: usize = 1 << 20;

/// Expands one word (quotes removed, escapes applied), as BuildKit's `ProcessWord`.
pub fn expand_word(word: &str, vars: &dyn Vars, escape: char) -> Result<String, ExpandError> {
    Lexer::new(escape).word(word, vars)
}

/// Expands and splits into words on unquoted whitespace, as BuildKit's `ProcessWords`.
pub fn expand_words(word: &str, vars: &dyn Vars, escape: char) -> Result<Vec<String>, ExpandError> {
    Lexer::new(escape).words(word, vars)
}

/// No variables at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVars;

impl Vars for NoVars {
    fn get(&self, _: &str) -> Option<&str> {
        None
    }
}

impl<V: Vars + ?Sized> Vars for &V {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

/// A list of `(name, value)` pairs; a later pair overrides an earlier one, as in `ENV` order.
impl Vars for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Vars for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Vars::get(self.as_slice(), name)
    }
}

impl Vars for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

impl<const N: usize> Vars for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        Vars::get(self.as_slice(), name)
    }
}

impl<S: BuildHasher> Vars for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Vars for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// One variable a word looked up while it was expanded, as [`Lexer::word_reporting`] reports
/// it: what the linter needs to find undefined variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup<'a> {
    pub name: &'a str,
    /// Whether the variable was set (possibly to the empty string).
    pub set: bool,
    /// Whether the word says what to use when the variable is unset — `${NAME-word}`,
    /// `${NAME:-word}`, `${NAME+word}`, `${NAME:+word}` — so an unset one is no mistake.
    pub guarded: bool,
}

/// A word expanded together with the variable names it looked up (BuildKit's
/// `ProcessWordWithMatches`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    pub value: String,
    /// Names that were looked up and set (possibly to the empty string).
    pub matched: BTreeSet<String>,
    /// Names that were looked up and unset.
    pub unmatched: BTreeSet<String>,
}

/// The lexer's settings; BuildKit flips these for a few call sites.
///
/// - [`Lexer::new`]: every instruction's words (`ProcessWord`/`ProcessWords`).
/// - [`Lexer::heredoc_content`]: bodies of `COPY`/`ADD` heredocs whose delimiter is unquoted —
///   quotes are ordinary characters there and the escape is always `\`.
/// - `raw_quotes` + `raw_escapes` + `skip_unset_env` with no variables: finding heredoc
///   delimiters in a line without changing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    /// The escape character: `\`, or `` ` `` under `# escape=``.
    pub escape: char,
    /// Keep the quote characters in the output (their contents are processed as usual).
    pub raw_quotes: bool,
    /// Keep escape characters in the output (what they escape still loses its meaning).
    pub raw_escapes: bool,
    /// Treat `'` and `"` as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as written (`$X`, `${X}`, `${X:-w}`…).
    pub skip_unset_env: bool,
}

impl Lexer {
    pub const fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// The lexer BuildKit uses for the contents of an expanding `COPY`/`ADD` heredoc.
    pub const fn heredoc_content() -> Self {
        Lexer {
            skip_process_quotes: true,
            ..Lexer::new('\\')
        }
    }

    /// Expands one word into one string (BuildKit's `ProcessWord`).
    pub fn word(&self, word: &str, vars: &dyn Vars) -> Result<String, ExpandError> {
        if !self.has_special(word) {
            return Ok(word.to_owned());
        }
        Ok(self.run(word, vars, false)?.value)
    }

    /// Expands and splits on unquoted whitespace (BuildKit's `ProcessWords`).
    pub fn words(&self, word: &str, vars: &dyn Vars) -> Result<Vec<String>, ExpandError> {
        let mut run = Run::new(*self, word, vars, true, None);
        run.top_level().map_err(|m| wrap(word, m))?;
        Ok(run.words.map(Words::finish).unwrap_or_default())
    }

    /// Expands one word and reports which variables it looked up.
    pub fn word_tracked(&self, word: &str, vars: &dyn Vars) -> Result<Expansion, ExpandError> {
        let mut matched = BTreeSet::new();
        let mut unmatched = BTreeSet::new();
        let value = self.word_reporting(word, vars, &mut |lookup| {
            let seen = if lookup.set {
                &mut matched
            } else {
                &mut unmatched
            };
            if !seen.contains(lookup.name) {
                seen.insert(lookup.name.to_owned());
            }
        })?;
        Ok(Expansion {
            value,
            matched,
            unmatched,
        })
    }

    /// Expands one word, calling `on_lookup` for every variable it looks up, in order (names
    /// in the word of an operator form included, whether or not that word is used). Lookups
    /// made before an error are reported too.
    pub fn word_reporting(
        &self,
        word: &str,
        vars: &dyn Vars,
        on_lookup: &mut dyn FnMut(Lookup<'_>),
    ) -> Result<String, ExpandError> {
        let mut run = Run::new(*self, word, vars, false, Some(on_lookup));
        run.top_level().map_err(|m| wrap(word, m))
    }

    fn run(&self, word: &str, vars: &dyn Vars, words: bool) -> Result<Expansion, ExpandError> {
        let mut run = Run::new(*self, word, vars, words, None);
        let value = run.top_level().map_err(|m| wrap(word, m))?;
        Ok(Expansion {
            value,
            ..Expansion::default()
        })
    }

    /// Whether anything in `word` could change it; most words are plain text.
    fn has_special(&self, word: &str) -> bool {
        word.starts_with('\u{feff}')
            || word
                .chars()
                .any(|c| c == '$' || c == self.escape || c == '\'' || c == '"')
    }
}

fn wrap(word: &str, message: String) -> ExpandError {
    ExpandError {
        message: format!("failed to process {word:?}: {message}"),
    }
}

const MISSING_BRACE: &str = "syntax error: missing '}'";

/// One expansion in progress: a cursor over the word plus what the caller asked to collect.
struct Run<'w, 'v, 'c> {
    lexer: Lexer,
    src: &'w str,
    pos: usize,
    vars: &'v dyn Vars,
    depth: usize,
    /// Words being split at the top level (only for [`Lexer::words`]).
    words: Option<Words>,
    /// Told of every variable looked up (only for [`Lexer::word_reporting`]).
    on_lookup: Option<&'c mut dyn FnMut(Lookup<'_>)>,
}

impl<'w, 'v, 'c> Run<'w, 'v, 'c> {
    fn new(
        lexer: Lexer,
        src: &'w str,
        vars: &'v dyn Vars,
        words: bool,
        on_lookup: Option<&'c mut dyn FnMut(Lookup<'_>)>,
    ) -> Self {
        // Go's text/scanner skips a byte-order mark at the very start of its input.
        let pos = if src.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        Run {
            lexer,
            src,
            pos,
            vars,
            depth: 0,
            words: words.then(Words::default),
            on_lookup,
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn top_level(&mut self) -> Result<String, String> {
        let mut out = String::with_capacity(self.src.len());
        self.until(None, self.lexer.raw_escapes, &mut out)?;
        Ok(out)
    }

    /// The word part of an operator form, up to the unescaped `stop`, expanded.
    fn nested(&mut self, stop: char, raw_escapes: bool) -> Result<String, String> {
        // BuildKit shares one word buffer between all levels, so every operator form throws
        // away the word being built around it; matching that keeps `words` identical.
        if let Some(words) = self.words.as_mut() {
            words.current.clear();
        }
        self.enter()?;
        let mut out = String::new();
        let result = self.until(Some(stop), raw_escapes, &mut out);
        self.depth -= 1;
        result.map(|()| out)
    }

    fn enter(&mut self) -> Result<(), String> {
        if self.depth >= MAX_NESTING {
            return Err(format!("expansions nested more than {MAX_NESTING} deep"));
        }
        self.depth += 1;
        Ok(())
    }

    /// Processes characters until `stop` (consumed) or the end of the word.
    fn until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
        out: &mut String,
    ) -> Result<(), String> {
        let top = stop.is_none() && self.depth == 0;
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.bump();
                return Ok(());
            }
            let start = out.len();
            match c {
                '$' => {
                    self.dollar(out)?;
                    if top {
                        self.split_into_words(start, out);
                    }
                    continue;
                }
                '<' => {
                    self.heredoc_marker(out);
                }
                '\'' if !self.lexer.skip_process_quotes => self.single_quote(out)?,
                '"' if !self.lexer.skip_process_quotes => self.double_quote(raw_escapes, out)?,
                _ => {
                    self.bump();
                    if c != self.lexer.escape {
                        out.push(c);
                        if top {
                            self.split_into_words(start, out);
                        }
                        continue;
                    }
                    if raw_escapes {
                        out.push(c);
                    }
                    // A trailing escape character is dropped (kept when escapes are raw).
                    let Some(escaped) = self.bump() else {
                        if top {
                            if let Some(words) = self.words.as_mut() {
                                words.current.push_str(&out[start..]);
                            }
                        }
                        break;
                    };
                    out.push(escaped);
                }
            }
            if top {
                if let Some(words) = self.words.as_mut() {
                    words.current.push_str(&out[start..]);
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok(()),
        }
    }

    /// Adds text that splits on whitespace (plain characters, variable values) to the words.
    fn split_into_words(&mut self, start: usize, out: &str) {
        if let Some(words) = self.words.as_mut() {
            words.push_splitting(&out[start..]);
        }
    }

    /// `<<` plus the blanks after it stay glued to the next word, as in BuildKit, so heredoc
    /// markers like `<< EOF` survive word splitting.
    fn heredoc_marker(&mut self, out: &mut String) {
        self.bump();
        out.push('<');
        if self.peek() != Some('<') {
            return;
        }
        self.bump();
        out.push('<');
        while let Some(c @ (' ' | '\t' | '\r')) = self.peek() {
            self.bump();
            out.push(c);
        }
    }

    fn single_quote(&mut self, out: &mut String) -> Result<(), String> {
        self.bump();
        if self.lexer.raw_quotes {
            out.push('\'');
        }
        loop {
            match self.bump() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(());
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self, raw_escapes: bool, out: &mut String) -> Result<(), String> {
        self.bump();
        if self.lexer.raw_quotes {
            out.push('"');
        }
        self.enter()?;
        let result = loop {
            match self.peek() {
                None => {
                    break Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.bump();
                    if self.lexer.raw_quotes {
                        out.push('"');
                    }
                    break Ok(());
                }
                Some('$') => {
                    if let Err(e) = self.dollar(out) {
                        break Err(e);
                    }
                }
                Some(c) => {
                    self.bump();
                    let mut c = c;
                    if c == self.lexer.escape {
                        if raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            // Loops back to the unterminated-quote error.
                            None => continue,
                            Some(next)
                                if next == '"' || next == '$' || next == self.lexer.escape =>
                            {
                                self.bump();
                                c = next;
                            }
                            // Any other escape character stays as written.
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        };
        self.depth -= 1;
        result
    }

    /// A name after `$` or `${`: a run of digits, one special-parameter character, or letters,
    /// digits and `_`.
    fn name(&mut self) -> &'w str {
        let src = self.src;
        let start = self.pos;
        match self.peek() {
            Some(c) if is_digit(c) => {
                while self.peek().is_some_and(is_digit) {
                    self.bump();
                }
            }
            Some('@' | '*' | '#' | '?' | '-' | '$' | '!') => {
                self.bump();
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| c == '_' || is_letter(c) || is_digit(c))
                {
                    self.bump();
                }
            }
        }
        &src[start..self.pos]
    }

    /// The value of `name`; `guarded` when the word has a fallback for it being unset.
    fn lookup(&mut self, name: &str, guarded: bool) -> Option<&'v str> {
        let value = self.vars.get(name);
        if let Some(on_lookup) = self.on_lookup.as_mut() {
            on_lookup(Lookup {
                name,
                set: value.is_some(),
                guarded,
            });
        }
        value
    }

    /// `$NAME` or `${…}`, with the cursor on the `$`.
    fn dollar(&mut self, out: &mut String) -> Result<(), String> {
        self.bump();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                out.push('$');
                return Ok(());
            }
            match self.lookup(name, false) {
                Some(value) => out.push_str(value),
                None if self.lexer.skip_unset_env => {
                    out.push('$');
                    out.push_str(name);
                }
                None => {}
            }
            return self.bounded(out);
        }
        self.bump();
        match self.peek() {
            None => return Err(MISSING_BRACE.into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        match self.bump() {
            Some('}') => {
                match self.lookup(name, false) {
                    Some(value) => out.push_str(value),
                    None if self.lexer.skip_unset_env => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                    None => {}
                }
                self.bounded(out)
            }
            Some(':') => {
                let op = self.bump();
                self.modifier(name, op, true, out)?;
                self.bounded(out)
            }
            Some(op @ ('+' | '-' | '?' | '#' | '%')) => {
                self.modifier(name, Some(op), false, out)?;
                self.bounded(out)
            }
            Some('/') => self.replace(name, out),
            Some(op) => Err(format!("unsupported modifier ({op}) in substitution")),
            None => Err(MISSING_BRACE.into()),
        }
    }

    /// `${NAME op word}` and `${NAME:op word}`, with the cursor after `op`.
    fn modifier(
        &mut self,
        name: &str,
        op: Option<char>,
        colon: bool,
        out: &mut String,
    ) -> Result<(), String> {
        let op_text = || {
            let mut s = String::new();
            if colon {
                s.push(':');
            }
            s.extend(op);
            s
        };
        let is_pattern = matches!(op, Some('#' | '%'));
        if colon && is_pattern {
            return Err(format!(
                "unsupported modifier ({}) in substitution",
                op_text()
            ));
        }
        let word = self
            .nested('}', is_pattern)
            .map_err(|e| self.at_end_or(MISSING_BRACE, e))?;
        let value = self.lookup(name, matches!(op, Some('-' | '+')));
        if value.is_none() && self.lexer.skip_unset_env {
            out.push_str("${");
            out.push_str(name);
            out.push_str(&op_text());
            out.push_str(&word);
            out.push('}');
            return Ok(());
        }
        let unset_or_null = match value {
            None => true,
            Some(v) => colon && v.is_empty(),
        };
        match op {
            Some('-') => out.push_str(if unset_or_null {
                &word
            } else {
                value.unwrap_or_default()
            }),
            Some('+') => {
                if !unset_or_null {
                    out.push_str(&word);
                }
            }
            Some('?') => {
                let default = match value {
                    None => "is not allowed to be unset",
                    Some("") if colon => "is not allowed to be empty",
                    Some(v) => {
                        out.push_str(v);
                        return Ok(());
                    }
                };
                let message = if word.is_empty() { default } else { &word };
                return Err(format!("{name}: {message}"));
            }
            Some(op @ ('#' | '%')) => {
                let value = value.unwrap_or_default();
                let (greedy, pattern) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let trimmed = if op == '#' {
                    trim_prefix(pattern, value, greedy)
                } else {
                    trim_suffix(pattern, value, greedy)
                };
                match trimmed {
                    Ok(Trimmed::Prefix(cut)) => out.push_str(&value[cut..]),
                    Ok(Trimmed::Suffix(kept)) => out.push_str(&value[..kept]),
                    Err(e) => {
                        return Err(format!("invalid pattern ({pattern}) in substitution: {e}"));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "unsupported modifier ({}) in substitution",
                    op_text()
                ));
            }
        }
        Ok(())
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`, cursor after the `/`.
    fn replace(&mut self, name: &str, out: &mut String) -> Result<(), String> {
        let all = self.peek() == Some('/');
        if all {
            self.bump();
        }
        let pattern = self
            .nested('/', true)
            .map_err(|e| self.at_end_or("syntax error: missing '/' in ${}", e))?;
        let replacement = self
            .nested('}', true)
            .map_err(|e| self.at_end_or(MISSING_BRACE, e))?;
        let value = self.lookup(name, false);
        if value.is_none() && self.lexer.skip_unset_env {
            out.push_str(&format!("${{{name}/{pattern}/{replacement}}}"));
            return Ok(());
        }
        let value = value.unwrap_or_default();
        let tokens = compile(&pattern)
            .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
        let mut search = Search::new(&tokens, value, true);
        let before = out.len();
        if all {
            replace_all(&mut search, value, &replacement, out);
        } else if let Some((start, end)) = search.find(0) {
            out.push_str(&value[..start]);
            out.push_str(&replacement);
            out.push_str(&value[end..]);
        } else {
            out.push_str(value);
        }
        if out.len() - before > MAX_EXPANDED {
            return Err(format!(
                "the substitution in ${{{name}/…}} gives more than {} MiB; nested replacements multiply the length at every level",
                MAX_EXPANDED >> 20
            ));
        }
        Ok(())
    }

    /// Refuses a word whose variables made it more than [`MAX_EXPANDED`] longer than its own
    /// text: checked after every variable is put in, so a value that doubles at each `ARG`
    /// stops at about 1 MiB instead of growing until memory runs out.
    fn bounded(&self, out: &str) -> Result<(), String> {
        if out.len() > self.src.len().saturating_add(MAX_EXPANDED) {
            return Err(format!(
                "its variables expand to more than {} MiB; values built from earlier values (ARG B=$A$A) double at every instruction",
                MAX_EXPANDED >> 20
            ));
        }
        Ok(())
    }

    /// Errors met at the end of the word all mean the closing delimiter is missing.
    fn at_end_or(&self, at_end: &str, other: String) -> String {
        if self.peek().is_none() {
            at_end.to_owned()
        } else {
            other
        }
    }
}

/// Go's `unicode.IsDigit`, approximated by Rust's numeric class beyond ASCII.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// Go's `unicode.IsLetter`, approximated by Rust's alphabetic class beyond ASCII.
fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (!c.is_ascii() && c.is_alphabetic())
}

/// Words split so far plus the one being built.
#[derive(Default)]
struct Words {
    done: Vec<String>,
    current: String,
}

impl Words {
    fn push_splitting(&mut self, text: &str) {
        for c in text.chars() {
            if c.is_whitespace() {
                self.flush();
            } else {
                self.current.push(c);
            }
        }
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.flush();
        self.done
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns of `#`, `%` and `/`.
//
// BuildKit turns them into Go regular expressions (`*` → `.*` or `.*?`, `?` → `.`, everything
// else literal) and takes Go's leftmost-first match. The matcher below walks the same choices
// in the same order, remembering failed states so no pattern can make it exponential.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character other than a newline.
    One,
    /// `*`: any run of characters without a newline.
    Many,
}

/// Reads a pattern: `\` escapes `*`, `?` and `\`; before `}` or `/` it is dropped; before
/// anything else it is an error.
fn compile(pattern: &str) -> Result<Vec<Token>, String> {
    let pattern = pattern.strip_prefix('\u{feff}').unwrap_or(pattern);
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => Token::Many,
            '?' => Token::One,
            '\\' => match chars.peek() {
                Some('}' | '/') => continue,
                _ => match chars.next() {
                    Some(e @ ('*' | '?' | '\\')) => Token::Literal(e),
                    Some(e) => return Err(format!("invalid escape '\\{e}'")),
                    None => return Err("invalid escape '\\' at the end of the pattern".into()),
                },
            },
            c => Token::Literal(c),
        });
    }
    Ok(tokens)
}

enum Trimmed {
    /// Remove this many leading bytes.
    Prefix(usize),
    /// Keep this many leading bytes.
    Suffix(usize),
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<Trimmed, String> {
    let tokens = compile(pattern)?;
    let end = Search::new(&tokens, value, greedy).at(0).unwrap_or(0);
    Ok(Trimmed::Prefix(end))
}

/// The shortest or longest matching suffix: BuildKit reverses pattern and value and trims a
/// prefix, so this does too (the reversal keeps `\x` pairs in order).
fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<Trimmed, String> {
    let tokens = compile(&reverse_pattern(pattern))?;
    let reversed: String = value.chars().rev().collect();
    let cut = Search::new(&tokens, &reversed, greedy).at(0).unwrap_or(0);
    Ok(Trimmed::Suffix(value.len() - cut))
}

fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut units: Vec<&[char]> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let width = if chars[i] == '\\' && i + 1 < chars.len() {
            2
        } else {
            1
        };
        units.push(&chars[i..i + width]);
        i += width;
    }
    units.iter().rev().flat_map(|unit| unit.iter()).collect()
}

/// Go's `ReplaceAllString`: successive non-overlapping matches, an empty match right after a
/// match is skipped, and the replacement is a template where `$0`/`${0}` is the match.
fn replace_all(search: &mut Search<'_>, value: &str, template: &str, out: &mut String) {
    let mut last_end = 0;
    let mut from = 0;
    while from <= value.len() {
        let Some((start, end)) = search.find(from) else {
            break;
        };
        out.push_str(&value[last_end..start]);
        if end > last_end || start == 0 {
            expand_template(template, &value[start..end], out);
        }
        last_end = end;
        let width = value[from..].chars().next().map_or(1, char::len_utf8);
        from = if from + width > end {
            from + width
        } else {
            end
        };
    }
    out.push_str(&value[last_end..]);
}

/// Go's `Regexp.Expand` for a pattern with no groups: `$$` is `$`, `$0`/`${0}` the match,
/// any other well-formed `$name`/`${name}` nothing, and a malformed `$` itself.
fn expand_template(template: &str, matched: &str, out: &mut String) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (braced, body) = match rest.strip_prefix('{') {
            Some(body) => (true, body),
            None => (false, rest),
        };
        let name_len: usize = body
            .chars()
            .take_while(|&c| c == '_' || is_letter(c) || is_digit(c))
            .map(char::len_utf8)
            .sum();
        let closed = !braced || body[name_len..].starts_with('}');
        if name_len == 0 || !closed {
            out.push('$');
            continue;
        }
        if &body[..name_len] == "0" {
            out.push_str(matched);
        }
        rest = &body[name_len + usize::from(braced)..];
    }
    out.push_str(rest);
}

/// Leftmost-first matching of pattern tokens against one text.
struct Search<'p> {
    tokens: &'p [Token],
    text: &'p str,
    greedy: bool,
    /// States `(token, byte position)` known not to lead to a match, column per position.
    failed: Vec<u64>,
    stack: Vec<(usize, usize)>,
}

impl<'p> Search<'p> {
    fn new(tokens: &'p [Token], text: &'p str, greedy: bool) -> Self {
        let states = (tokens.len() + 1) * (text.len() + 1);
        Search {
            tokens,
            text,
            greedy,
            failed: vec![0; states.div_ceil(64)],
            stack: Vec::new(),
        }
    }

    fn state(&self, token: usize, pos: usize) -> usize {
        pos * (self.tokens.len() + 1) + token
    }

    /// The first match starting at or after `from`.
    fn find(&mut self, from: usize) -> Option<(usize, usize)> {
        let mut start = from;
        loop {
            if let Some(end) = self.at(start) {
                return Some((start, end));
            }
            start += self.text[start..].chars().next()?.len_utf8();
        }
    }

    /// The end of the match starting exactly at `start`, the way a backtracking engine finds
    /// it: stars try longer first when greedy, shorter first otherwise.
    fn at(&mut self, start: usize) -> Option<usize> {
        self.stack.clear();
        self.stack.push((0, start));
        while let Some((token, pos)) = self.stack.pop() {
            if token == self.tokens.len() {
                self.forget_column(pos);
                return Some(pos);
            }
            let state = self.state(token, pos);
            if self.failed[state / 64] & (1 << (state % 64)) != 0 {
                continue;
            }
            self.failed[state / 64] |= 1 << (state % 64);
            let next = self.text[pos..].chars().next();
            let step = next.filter(|&c| c != '\n').map(|c| pos + c.len_utf8());
            match self.tokens[token] {
                Token::Literal(l) => {
                    if next == Some(l) {
                        self.stack.push((token + 1, pos + l.len_utf8()));
                    }
                }
                Token::One => self.stack.extend(step.map(|p| (token + 1, p))),
                Token::Many => {
                    // Pushed last is tried first.
                    let longer = step.map(|p| (token, p));
                    let skip = Some((token + 1, pos));
                    let (first, second) = if self.greedy {
                        (longer, skip)
                    } else {
                        (skip, longer)
                    };
                    self.stack.extend(second);
                    self.stack.extend(first);
                }
            }
        }
        None
    }

    /// States on a successful path were marked as failed; a later search (`//`) may start at
    /// the match's end, so that column is forgotten. Earlier columns are never visited again.
    fn forget_column(&mut self, pos: usize) {
        for token in 0..=self.tokens.len() {
            let state = self.state(token, pos);
            self.failed[state / 64] &= !(1 << (state % 64));
        }
    }
}
