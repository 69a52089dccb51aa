//! BuildKit's S-expression form of a parsed Dockerfile, one line per instruction:
//! `(copy ["--from=build"] "a" "/b")`, `(env "k" "v" "=")`, `(onbuild (run "x"))`.

use crate::ast::{Args, Dockerfile, Instruction, KeyValue, Keyword};
use crate::go_fmt::quote_into;

pub fn dump(df: &Dockerfile) -> String {
    let mut out = String::new();
    for instruction in &df.instructions {
        out.push('(');
        out.push_str(&node(instruction));
        out.push_str(")\n");
    }
    out
}

fn node(instruction: &Instruction) -> String {
    let mut out = match &instruction.keyword {
        Keyword::Unknown(_) => instruction.keyword_as_written.to_lowercase(),
        known => known.as_str().to_string(),
    };
    if !instruction.flags.is_empty() {
        out.push_str(" [");
        for (i, flag) in instruction.flags.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            quote_into(&mut out, flag);
        }
        out.push(']');
    }
    match &instruction.keyword {
        // BuildKit keeps nothing of an unknown instruction's arguments but one empty node.
        Keyword::Unknown(_) => out.push_str(" \"\""),
        Keyword::Arg => args_as_words(&mut out, &instruction.args),
        _ => args(&mut out, &instruction.args),
    }
    out.trim_matches(char::is_whitespace).to_string()
}

fn args(out: &mut String, args: &Args) {
    match args {
        Args::Empty => {}
        Args::Json(items) | Args::Words(items) => items.iter().for_each(|s| word(out, s)),
        Args::Shell(text) => word(out, text),
        Args::Pairs(pairs) => {
            for KeyValue {
                key,
                value,
                separator,
            } in pairs
            {
                word(out, key);
                word(out, value.as_deref().unwrap_or(""));
                word(out, separator);
            }
        }
        Args::Healthcheck { kind, command } => {
            word(out, kind);
            self::args(out, command);
        }
        Args::Onbuild(trigger) => {
            out.push_str(" (");
            out.push_str(&node(trigger));
            out.push(')');
        }
    }
}

/// ARG prints its words as written: `name` or `name=default`.
fn args_as_words(out: &mut String, args: &Args) {
    let Args::Pairs(pairs) = args else {
        return self::args(out, args);
    };
    for pair in pairs {
        match &pair.value {
            Some(value) => word(out, &format!("{}={value}", pair.key)),
            None => word(out, &pair.key),
        }
    }
}

fn word(out: &mut String, s: &str) {
    out.push(' ');
    quote_into(out, s);
}
