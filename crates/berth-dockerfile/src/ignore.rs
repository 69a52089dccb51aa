//! `.dockerignore` and `COPY --exclude`, matched as moby's pattern matcher does.
//!
//! Reading ([`Patterns::parse`]) follows moby's ignore-file reader: a byte-order mark is
//! dropped, a line whose first byte is `#` is a comment, lines are trimmed, blank lines
//! skipped, `!` marks an exception, and each pattern is cleaned like Go's `filepath.Clean` with
//! one leading `/` removed. Matching ([`Patterns::excludes`]) follows `MatchesOrParentMatches`:
//! patterns apply in order, the last one that matches the path or one of its parent
//! directories decides, and an exception re-includes.
//!
//! Pattern syntax is Go's `filepath.Match` (`*` and `?` never match `/`, `[a-z]`, `[^a-z]`,
//! `\` escapes; `[!a]` is a class holding `!`, not a negation) plus `**`, which matches any
//! number of directories. Where moby's translation to a regular expression lets regex syntax
//! leak through (`\d` as a digit class, `*` inside brackets, `[[:alpha:]]`), berth keeps the
//! `filepath.Match` meaning; a reversed range like `[z-a]`, which moby only rejects when it
//! first matches a path, is rejected when read.

use std::borrow::Cow;

/// A pattern list that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    #[error(
        "line {line}: illegal exclusion pattern \"!\": a `!` must be followed by the path to re-include, e.g. `!keep.txt`"
    )]
    LoneExclamation { line: usize },
    #[error("line {line}: syntax error in pattern {pattern:?}: {reason}")]
    BadPattern {
        line: usize,
        pattern: String,
        reason: String,
    },
}

/// An ordered list of ignore patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    patterns: Vec<Pattern>,
    has_exceptions: bool,
}

/// One cleaned pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    exception: bool,
    line: usize,
    matcher: Matcher,
}

impl Pattern {
    /// The cleaned pattern, without its leading `!`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is a `!` exception that re-includes what it matches.
    pub fn is_exception(&self) -> bool {
        self.exception
    }

    /// The 1-based line (or list position) it came from.
    pub fn line(&self) -> usize {
        self.line
    }

    fn matches(&self, path: &str) -> bool {
        self.matcher.matches(path)
    }
}

impl Patterns {
    /// Reads the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<Patterns, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Patterns::default();
        for (index, line) in lines(text).enumerate() {
            // Only a `#` in the very first byte makes a comment: "  # x" is a pattern.
            if line.starts_with('#') {
                continue;
            }
            let line_no = index + 1;
            let entry = line.trim();
            if entry.is_empty() {
                continue;
            }
            let (exception, body) = match entry.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, entry),
            };
            let mut normalized = String::with_capacity(entry.len());
            if exception {
                normalized.push('!');
            }
            if !body.is_empty() {
                let cleaned = clean(body);
                let relative = match cleaned.strip_prefix('/') {
                    Some(rest) if !rest.is_empty() => rest,
                    _ => cleaned.as_ref(),
                };
                normalized.push_str(relative);
            }
            patterns.push(&normalized, line_no)?;
        }
        Ok(patterns)
    }

    /// Takes patterns as given on a command line or by `COPY --exclude`: no comments, and a
    /// leading `/` is kept (such a pattern never matches a relative path). Errors give the
    /// 1-based position as the line.
    pub fn from_list<S: AsRef<str>>(list: &[S]) -> Result<Patterns, IgnoreError> {
        let mut patterns = Patterns::default();
        for (index, entry) in list.iter().enumerate() {
            patterns.push(entry.as_ref(), index + 1)?;
        }
        Ok(patterns)
    }

    /// moby's `New` for one entry: trim, clean, split off `!`, check the syntax.
    fn push(&mut self, entry: &str, line: usize) -> Result<(), IgnoreError> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Ok(());
        }
        let cleaned = clean(entry);
        let (exception, text) = match cleaned.strip_prefix('!') {
            Some("") => return Err(IgnoreError::LoneExclamation { line }),
            Some(rest) => (true, rest),
            None => (false, cleaned.as_ref()),
        };
        let matcher = Matcher::compile(text).map_err(|reason| IgnoreError::BadPattern {
            line,
            pattern: text.to_owned(),
            reason,
        })?;
        self.has_exceptions |= exception;
        self.patterns.push(Pattern {
            text: text.to_owned(),
            exception,
            line,
            matcher,
        });
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Pattern> {
        self.patterns.iter()
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is a `!` exception.
    pub fn has_exceptions(&self) -> bool {
        self.has_exceptions
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    /// The context root itself is never excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let path = normalize(path);
        if path == "." || path.is_empty() {
            return false;
        }
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // An exclusion can't change an excluded path, nor an exception an included one.
            if pattern.exception != excluded {
                continue;
            }
            if pattern.matches(&path) || parents.iter().any(|dir| pattern.matches(dir)) {
                excluded = !pattern.exception;
            }
        }
        excluded
    }

    /// For an excluded directory: whether something under it might be re-included, so a walker
    /// must descend instead of skipping the whole tree. Mirrors BuildKit's walker: without
    /// exceptions nothing comes back; an exception with wildcards might match anywhere; a
    /// literal exception only helps directories on its own path.
    pub fn may_include_under(&self, dir: &str) -> bool {
        if !self.has_exceptions {
            return false;
        }
        let dir = normalize(dir);
        let exceptions = self.patterns.iter().filter(|p| p.exception);
        let mut literal = Vec::new();
        for pattern in exceptions {
            let text = pattern.text.as_str();
            let text = text.strip_suffix("/**").unwrap_or(text);
            let text = text.strip_suffix("/*").unwrap_or(text);
            if text.contains(['*', '[', ']', '?', '^', '\\']) {
                return true;
            }
            literal.push(text);
        }
        literal.iter().any(|text| {
            text.len() > dir.len()
                && text.starts_with(dir.as_ref())
                && text.as_bytes()[dir.len()] == b'/'
                || *text == dir
        })
    }
}

/// Which ignore file applies: `<Dockerfile>.dockerignore` beside the Dockerfile wins over the
/// context's `.dockerignore`, as in BuildKit; even an empty Dockerfile-specific file wins.
/// `exists` answers for paths as BuildKit looks them up: the first relative to where the
/// Dockerfile name is resolved, `.dockerignore` relative to the context root.
pub fn ignore_file_for(dockerfile_name: &str, exists: impl Fn(&str) -> bool) -> Option<String> {
    let dockerfile = if dockerfile_name.is_empty() {
        "Dockerfile"
    } else {
        dockerfile_name
    };
    let specific = format!("{dockerfile}.dockerignore");
    if exists(&specific) {
        return Some(specific);
    }
    exists(".dockerignore").then(|| ".dockerignore".to_owned())
}

/// Lines as Go's line scanner yields them: split on `\n`, one trailing `\r` dropped, no empty
/// line after a final newline.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let none = text.is_empty();
    body.split('\n')
        .filter(move |_| !none)
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
}

/// A path as the matcher wants it: cleaned, relative.
fn normalize(path: &str) -> Cow<'_, str> {
    let cleaned = clean(path);
    match cleaned {
        Cow::Borrowed(p) => Cow::Borrowed(p.trim_start_matches('/')),
        Cow::Owned(p) => Cow::Owned(p.trim_start_matches('/').to_owned()),
    }
}

/// Go's `filepath.Clean` for `/`-separated paths; borrows when the path is already clean.
pub fn clean(path: &str) -> Cow<'_, str> {
    if is_clean(path) {
        return Cow::Borrowed(path);
    }
    let rooted = path.starts_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.last().is_some_and(|last| *last != "..") {
                    segments.pop();
                } else if !rooted {
                    segments.push("..");
                }
            }
            other => segments.push(other),
        }
    }
    let joined = segments.join("/");
    Cow::Owned(match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    })
}

fn is_clean(path: &str) -> bool {
    if path.is_empty() {
        return false;
    }
    if path == "/" {
        return true;
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    if path == "." {
        return true;
    }
    let rooted = body.len() != path.len();
    let mut seen_name = false;
    for segment in body.split('/') {
        match segment {
            "" | "." => return false,
            ".." if rooted || seen_name => return false,
            ".." => {}
            _ => seen_name = true,
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Matching one pattern. moby picks one of four strategies per pattern; the literal ones compare
// the pattern text itself, which matters for a few odd patterns (`**foo` is a plain suffix).

#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Exact(String),
    /// `foo/**` and `foo**`: the text before the trailing `**`.
    Prefix(String),
    /// Patterns starting with `**` and otherwise literal: the text after it.
    Suffix(String),
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters but `/`.
    Segment,
    /// `?`: one character but `/`.
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**/` or `**` mid-pattern: nothing, or anything ending in `/` (no newline).
    Dirs,
    /// A trailing `**`: anything without a newline.
    Rest,
}

#[derive(PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    Glob,
}

impl Matcher {
    fn compile(pattern: &str) -> Result<Matcher, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::with_capacity(chars.len());
        let mut kind = Kind::Exact;
        let mut at = 0;
        let mut first = true;
        while at < chars.len() {
            let c = chars[at];
            at += 1;
            match c {
                '*' if chars.get(at) == Some(&'*') => {
                    at += 1;
                    if chars.get(at) == Some(&'/') {
                        at += 1;
                    }
                    if at == chars.len() {
                        if kind == Kind::Exact {
                            kind = Kind::Prefix;
                        } else {
                            tokens.push(Token::Rest);
                            kind = Kind::Glob;
                        }
                    } else {
                        tokens.push(Token::Dirs);
                        kind = Kind::Glob;
                    }
                    if first {
                        kind = Kind::Suffix;
                    }
                }
                '*' => {
                    tokens.push(Token::Segment);
                    kind = Kind::Glob;
                }
                '?' => {
                    tokens.push(Token::One);
                    kind = Kind::Glob;
                }
                '\\' => {
                    let Some(&escaped) = chars.get(at) else {
                        return Err(
                            "a trailing `\\` escapes nothing; write `\\\\` for a backslash".into(),
                        );
                    };
                    at += 1;
                    tokens.push(Token::Literal(escaped));
                    kind = Kind::Glob;
                }
                '[' => {
                    let (class, next) = parse_class(&chars, at)?;
                    tokens.push(class);
                    at = next;
                    kind = Kind::Glob;
                }
                ']' => {
                    tokens.push(Token::Literal(']'));
                    kind = Kind::Glob;
                }
                c => tokens.push(Token::Literal(c)),
            }
            first = false;
        }
        Ok(match kind {
            Kind::Exact => Matcher::Exact(pattern.to_owned()),
            Kind::Prefix => Matcher::Prefix(pattern[..pattern.len() - 2].to_owned()),
            Kind::Suffix => Matcher::Suffix(pattern[2..].to_owned()),
            Kind::Glob => Matcher::Glob(tokens),
        })
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Exact(text) => path == text,
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || suffix.strip_prefix('/') == Some(path)
            }
            Matcher::Glob(tokens) => glob_matches(tokens, path),
        }
    }
}

/// `[...]` after its `[`, with `filepath.Match`'s rules: optional `^`, at least one char or
/// range, `-` and `]` only escaped (or `]` as the closer), `\` escapes.
fn parse_class(chars: &[char], mut at: usize) -> Result<(Token, usize), String> {
    let unterminated = || "a `[` class is not closed with `]`".to_owned();
    let negated = chars.get(at) == Some(&'^');
    if negated {
        at += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(at) == Some(&']') && !ranges.is_empty() {
            return Ok((Token::Class { negated, ranges }, at + 1));
        }
        let (lo, next) = class_char(chars, at).ok_or_else(unterminated)?;
        at = next;
        let mut hi = lo;
        if chars.get(at) == Some(&'-') {
            let (h, next) = class_char(chars, at + 1).ok_or_else(unterminated)?;
            hi = h;
            at = next;
        }
        if lo > hi {
            return Err(format!(
                "the range {lo}-{hi} in `[...]` is reversed; write {hi}-{lo}"
            ));
        }
        ranges.push((lo, hi));
    }
}

/// One character of a class; `None` where `filepath.Match` reports a bad pattern.
fn class_char(chars: &[char], mut at: usize) -> Option<(char, usize)> {
    match chars.get(at)? {
        '-' | ']' => return None,
        '\\' => at += 1,
        _ => {}
    }
    let c = *chars.get(at)?;
    // Something must follow: at least the closing `]`.
    (at + 1 < chars.len()).then_some((c, at + 1))
}

/// Whole-path match of the tokens, one pass over the path with the set of live positions.
/// `Dirs` needs a second set: once it has consumed a character it may only be left through a
/// `/`, while on entry it may also be skipped.
fn glob_matches(tokens: &[Token], path: &str) -> bool {
    let n = tokens.len();
    let mut live = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    let mut inside = vec![false; n];
    let mut next_inside = vec![false; n];
    live[0] = true;
    close(tokens, &mut live);
    for c in path.chars() {
        next.iter_mut().for_each(|s| *s = false);
        next_inside.iter_mut().for_each(|s| *s = false);
        let mut any = false;
        for (i, token) in tokens.iter().enumerate() {
            if !live[i] && !inside[i] {
                continue;
            }
            let (stay, advance) = match token {
                Token::Literal(l) => (false, c == *l),
                Token::One => (false, c != '/'),
                Token::Class { negated, ranges } => {
                    let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    (false, inside != *negated)
                }
                Token::Segment => (c != '/', false),
                Token::Rest => (c != '\n', false),
                Token::Dirs => {
                    next_inside[i] |= c != '\n';
                    any |= c != '\n';
                    (false, c == '/')
                }
            };
            next[i] |= stay;
            next[i + 1] |= advance;
            any |= stay || advance;
        }
        if !any {
            return false;
        }
        close(tokens, &mut next);
        std::mem::swap(&mut live, &mut next);
        std::mem::swap(&mut inside, &mut next_inside);
    }
    live[n]
}

/// Tokens that can match nothing pass their position on.
fn close(tokens: &[Token], live: &mut [bool]) {
    for (i, token) in tokens.iter().enumerate() {
        if live[i] && matches!(token, Token::Segment | Token::Rest | Token::Dirs) {
            live[i + 1] = true;
        }
    }
}
