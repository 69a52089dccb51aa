//! One logical line to an [`Instruction`]: the keyword, its leading `--flags`, and the
//! arguments in the shape BuildKit's parser gives that keyword:
//!
//! | keyword | arguments |
//! | --- | --- |
//! | RUN, CMD, ENTRYPOINT, SHELL | [`Args::Json`] or [`Args::Shell`] |
//! | COPY, ADD, VOLUME | [`Args::Json`] or [`Args::Words`] |
//! | FROM, EXPOSE | [`Args::Words`] |
//! | USER, WORKDIR, STOPSIGNAL, MAINTAINER | [`Args::Shell`]: the rest of the line, one string |
//! | ENV, LABEL | [`Args::Pairs`], values as written (quotes and escapes kept) |
//! | ARG | [`Args::Pairs`]: each word split at its first `=`; no `=` gives `value: None` |
//! | HEALTHCHECK | [`Args::Healthcheck`] |
//! | ONBUILD | [`Args::Onbuild`] |
//! | anything else | [`Args::Shell`] (kept for messages; BuildKit ignores it) |
//!
//! Any of them is [`Args::Empty`] when nothing follows the keyword and its flags.

use super::json::{self, JsonArray};
use super::source::{is_space, is_split_space};
use crate::ast::{Args, Instruction, KeyValue, Keyword, Lines};

/// Parses one logical line. Errors are messages; the caller adds the line.
pub(super) fn parse_line(line: &str, escape: char, lines: Lines) -> Result<Instruction, String> {
    let trimmed = line.trim_matches(is_space);
    let (word, after) = match trimmed.find(is_split_space) {
        Some(i) => (
            &trimmed[..i],
            trimmed[i..].trim_start_matches(is_split_space),
        ),
        None => (trimmed, ""),
    };
    let (flags, rest) = extract_flags(after, escape);
    let rest = rest.trim_matches(is_space);
    let keyword = Keyword::parse(word);
    let args = parse_args(&keyword, rest, escape, lines)?;
    Ok(Instruction {
        keyword,
        keyword_as_written: word.to_string(),
        original: line.to_string(),
        flags,
        args,
        heredocs: Vec::new(),
        lines,
    })
}

fn parse_args(keyword: &Keyword, rest: &str, escape: char, lines: Lines) -> Result<Args, String> {
    if rest.is_empty() {
        return Ok(Args::Empty);
    }
    match keyword {
        Keyword::Run | Keyword::Cmd | Keyword::Entrypoint | Keyword::Shell => {
            json_or_shell(keyword, rest)
        }
        Keyword::Copy | Keyword::Add | Keyword::Volume => match json::parse_array(rest) {
            JsonArray::Strings(items) => Ok(Args::Json(items)),
            JsonArray::NotStrings { index, found } => Err(not_strings(keyword, index, found)),
            JsonArray::NotJson => Ok(Args::Words(split_words(rest))),
        },
        Keyword::From | Keyword::Expose => Ok(Args::Words(split_words(rest))),
        Keyword::User
        | Keyword::Workdir
        | Keyword::Stopsignal
        | Keyword::Maintainer
        | Keyword::Unknown(_) => Ok(Args::Shell(rest.to_string())),
        Keyword::Env | Keyword::Label => name_values(keyword, rest, escape),
        Keyword::Arg => Ok(names_or_name_values(rest, escape)),
        Keyword::Healthcheck => healthcheck(rest),
        Keyword::Onbuild => onbuild(rest, escape, lines),
    }
}

fn json_or_shell(keyword: &Keyword, rest: &str) -> Result<Args, String> {
    if rest.is_empty() {
        return Ok(Args::Empty);
    }
    match json::parse_array(rest) {
        JsonArray::Strings(items) => Ok(Args::Json(items)),
        JsonArray::NotStrings { index, found } => Err(not_strings(keyword, index, found)),
        JsonArray::NotJson => Ok(Args::Shell(rest.to_string())),
    }
}

fn not_strings(keyword: &Keyword, index: usize, found: &str) -> String {
    format!(
        "{}: in the JSON array (exec) form every element must be a string, but element {index} \
         is {found}; quote it, or write the command in shell form",
        keyword.as_str().to_ascii_uppercase()
    )
}

/// `HEALTHCHECK [flags] TYPE [command]`: the first word is the type (`CMD`, `NONE`, …), the rest
/// is exec or shell form.
fn healthcheck(rest: &str) -> Result<Args, String> {
    let (kind, command) = match rest.find(is_space) {
        Some(i) => (&rest[..i], rest[i..].trim_start_matches(is_space)),
        None => (rest, ""),
    };
    let command = json_or_shell(&Keyword::Healthcheck, command)?;
    Ok(Args::Healthcheck {
        kind: kind.to_string(),
        command: Box::new(command),
    })
}

/// `ONBUILD TRIGGER …`: the trigger parses as an instruction of its own, on the same lines.
fn onbuild(rest: &str, escape: char, lines: Lines) -> Result<Args, String> {
    let trigger = parse_line(rest, escape, lines)?;
    let refused = match trigger.keyword {
        Keyword::Onbuild => Some("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        Keyword::From => Some("FROM isn't allowed as an ONBUILD trigger"),
        Keyword::Maintainer => Some("MAINTAINER isn't allowed as an ONBUILD trigger"),
        _ => None,
    };
    if let Some(message) = refused {
        return Err(format!(
            "{message}; remove it or give the trigger another instruction"
        ));
    }
    Ok(Args::Onbuild(Box::new(trigger)))
}

/// Splits on runs of `[\t\v\f\r ]`, as BuildKit's whitespace-delimited arguments do. `text` is
/// already trimmed, so no empty words come out.
fn split_words(text: &str) -> Vec<String> {
    text.split(is_split_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Leading `--name[=value]` words. Quotes are removed and escapes applied inside them; a bare
/// `--` ends the flags and is dropped. Returns the flags and the rest of the text.
///
/// BuildKit walks this text byte by byte; berth walks characters, so non-ASCII text in a flag
/// stays as written instead of being re-encoded.
fn extract_flags(text: &str, escape: char) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        // Between words: the next word must start with `--` to be a flag.
        let start = loop {
            match chars.peek() {
                None => return (flags, ""),
                Some(&(_, c)) if is_space(c) => {
                    chars.next();
                }
                Some(&(i, _)) => break i,
            }
        };
        if !text[start..].starts_with("--") {
            return (flags, &text[start..]);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut quoted = false;
        let end = loop {
            let Some((i, c)) = chars.next() else {
                break text.len();
            };
            if quote.is_none() && is_space(c) {
                break i;
            }
            if Some(c) == quote {
                quote = None;
                continue;
            }
            if quote.is_none() && (c == '\'' || c == '"') {
                quote = Some(c);
                quoted = true;
                continue;
            }
            if c == escape {
                match chars.next() {
                    Some((_, next)) => word.push(next),
                    None => {
                        // An escape at the very end is dropped.
                        break text.len();
                    }
                }
                continue;
            }
            word.push(c);
        };
        if word == "--" {
            return (flags, &text[end..]);
        }
        if quoted || !word.is_empty() {
            flags.push(word);
        }
    }
}

/// Splits into words the way BuildKit's `parseWords` does for ENV, LABEL and ARG: whitespace
/// separates words except inside quotes or after the escape character; quotes and escapes
/// are kept in the words, except an escape character ending the text, which is dropped.
fn parse_words(text: &str, escape: char) -> Vec<&str> {
    let mut words = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if is_space(c) {
            chars.next();
            continue;
        }
        let mut quote: Option<char> = None;
        let mut end = text.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if is_space(c) => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                // Nothing is special inside single quotes.
                Some('\'') => {}
                // The escaped character joins the word, whatever it is (the guard consumes
                // it); an escape ending the text is dropped.
                _ if c == escape && chars.next().is_none() => end = i,
                _ => {}
            }
        }
        if end > start {
            words.push(&text[start..end]);
        }
    }
    words
}

/// ENV and LABEL: `key=value …`, or the legacy `KEY name value` (everything after the first
/// word is the value).
fn name_values(keyword: &Keyword, rest: &str, escape: char) -> Result<Args, String> {
    let name = keyword.as_str().to_ascii_uppercase();
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Args::Empty);
    };
    if !first.contains('=') {
        let Some(i) = rest.find(is_split_space) else {
            return Err(format!(
                "{name} {rest} has no value: write `{name} {rest}=value` (or the legacy \
                 `{name} {rest} value`)"
            ));
        };
        let value = rest[i..].trim_start_matches(is_split_space);
        return Ok(Args::Pairs(vec![KeyValue {
            key: rest[..i].to_string(),
            value: Some(value.to_string()),
            separator: "",
        }]));
    }
    let mut pairs = Vec::with_capacity(words.len());
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "{name}: can't find `=` in {word:?}; when one pair uses `=`, every word must be \
                 of the form name=value"
            ));
        };
        pairs.push(KeyValue {
            key: key.to_string(),
            value: Some(value.to_string()),
            separator: "=",
        });
    }
    Ok(Args::Pairs(pairs))
}

/// ARG: `name` or `name=default`, any number of them.
fn names_or_name_values(rest: &str, escape: char) -> Args {
    let pairs = parse_words(rest, escape)
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) => KeyValue {
                key: key.to_string(),
                value: Some(value.to_string()),
                separator: "=",
            },
            None => KeyValue {
                key: word.to_string(),
                value: None,
                separator: "",
            },
        })
        .collect();
    Args::Pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(
            extract_flags("--a=b --c x y", '\\'),
            (vec!["--a=b".into(), "--c".into()], "x y")
        );
        assert_eq!(
            extract_flags("--a=b -- x", '\\'),
            (vec!["--a=b".into()], " x")
        );
        assert_eq!(
            extract_flags("--a=\"b c\" x", '\\'),
            (vec!["--a=b c".into()], "x")
        );
        assert_eq!(
            extract_flags("--a=b\\ c x", '\\'),
            (vec!["--a=b c".into()], "x")
        );
        assert_eq!(extract_flags("--a --", '\\'), (vec!["--a".into()], ""));
        assert_eq!(extract_flags("-a", '\\'), (vec![], "-a"));
        assert_eq!(extract_flags("", '\\'), (vec![], ""));
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        assert_eq!(
            parse_words("a=\"b c\" d\\ e 'f\\' g", '\\'),
            vec!["a=\"b c\"", "d\\ e", "'f\\'", "g"]
        );
        assert_eq!(parse_words("a\\", '\\'), vec!["a"]);
        assert_eq!(parse_words("a\\\\", '\\'), vec!["a\\\\"]);
        assert_eq!(parse_words("  ", '\\'), Vec::<&str>::new());
    }
}
