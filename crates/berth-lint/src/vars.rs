//! Variable references in Dockerfile words (`$NAME`, `${NAME}`, `${NAME:-default}`), read
//! without expanding them, and a small expansion for `FROM` lines under `ARG` defaults.

/// One `$NAME` or `${NAME…}` in a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    pub name: &'a str,
    /// `${NAME:-x}`, `${NAME-x}`, `${NAME:+x}`, `${NAME+x}`: the word stands even when the
    /// variable is unset.
    pub guarded: bool,
    /// What follows the modifier: `x` in `${NAME:-x}`.
    pub alternative: &'a str,
    /// `${NAME:+x}` or `${NAME+x}`: the alternative applies when the variable IS set.
    pub when_set: bool,
    /// Byte range of the whole reference in the word.
    pub span: (usize, usize),
}

/// The references in `word`, outside single quotes and not escaped by `escape`.
pub fn references(word: &str, escape: char) -> Vec<Reference<'_>> {
    let bytes = word.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut single = false;
    let mut double = false;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c == escape && !single {
            i += 1 + word[i + 1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' if !single => {
                if let Some(r) = reference_at(word, i) {
                    i = r.span.1;
                    out.push(r);
                    continue;
                }
            }
            _ => {}
        }
        i += c.len_utf8().max(1);
        while i < bytes.len() && !word.is_char_boundary(i) {
            i += 1;
        }
    }
    out
}

fn reference_at(word: &str, start: usize) -> Option<Reference<'_>> {
    let rest = &word[start + 1..];
    if let Some(inner) = rest.strip_prefix('{') {
        let close = inner.find('}')?;
        let body = &inner[..close];
        let name_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let name = &body[..name_len];
        if name.is_empty() {
            return None;
        }
        let modifier = &body[name_len..];
        let (guarded, when_set, alternative) = if let Some(alt) = modifier.strip_prefix(":-") {
            (true, false, alt)
        } else if let Some(alt) = modifier.strip_prefix(":+") {
            (true, true, alt)
        } else if let Some(alt) = modifier.strip_prefix('-') {
            (true, false, alt)
        } else if let Some(alt) = modifier.strip_prefix('+') {
            (true, true, alt)
        } else {
            (false, false, "")
        };
        return Some(Reference {
            name,
            guarded,
            alternative,
            when_set,
            span: (start, start + 3 + close),
        });
    }
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (len > 0).then(|| Reference {
        name: &rest[..len],
        guarded: false,
        alternative: "",
        when_set: false,
        span: (start, start + 1 + len),
    })
}

/// `word` with each reference replaced by `lookup`'s value (empty when unset), modifiers
/// applied; quotes are left as they are (FROM lines rarely have any).
pub fn expand(word: &str, escape: char, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut last = 0;
    for r in references(word, escape) {
        out.push_str(&word[last..r.span.0]);
        let value = lookup(r.name);
        let text = match (r.guarded, r.when_set, value) {
            (true, true, Some(v)) if !v.is_empty() => r.alternative.to_string(),
            (true, true, _) => String::new(),
            (true, false, Some(v)) if !v.is_empty() => v,
            (true, false, _) => r.alternative.to_string(),
            (false, _, v) => v.unwrap_or_default(),
        };
        out.push_str(&text);
        last = r.span.1;
    }
    out.push_str(&word[last..]);
    out
}

/// The build arguments BuildKit defines in every build.
pub const PREDEFINED_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
    "BUILDKIT_SYNTAX",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "SOURCE_DATE_EPOCH",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references() {
        let refs = references("a$B-${C:-x}\\$D '$E' \"$F\"", '\\');
        let names: Vec<_> = refs.iter().map(|r| (r.name, r.guarded)).collect();
        assert_eq!(names, [("B", false), ("C", true), ("F", false)]);
    }

    #[test]
    fn expands_with_modifiers() {
        let lookup = |n: &str| (n == "V").then(|| "3.12".to_string());
        assert_eq!(
            expand("python:${V}-slim", '\\', &lookup),
            "python:3.12-slim"
        );
        assert_eq!(expand("x:${W:-1}", '\\', &lookup), "x:1");
        assert_eq!(expand("x:$W", '\\', &lookup), "x:");
        assert_eq!(expand("x${V:+-y}", '\\', &lookup), "x-y");
    }
}
