//! Leading `--name[=value]` flags, checked the way BuildKit's `BFlags` checks them: every
//! instruction declares the flags it takes, anything else is refused with the list of valid ones.

use std::collections::BTreeMap;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link`, `--link=true`, `--link=false` (case-insensitive).
    Bool,
    /// `--from=build`: a value is required, the flag may appear once.
    String,
    /// `--exclude=a --exclude=b`: a value is required, the flag may repeat.
    Strings,
}

/// The flags an instruction was given, by name (without `--`).
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Flags {
    /// The last value of a string flag, if given.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.values.get(name).and_then(|v| v.last().cloned())
    }

    /// Every value of a repeatable flag, in order.
    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A boolean flag: `None` when absent, so callers can tell "not given" from "false".
    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.string(name).map(|v| v == "true")
    }
}

/// Checks `written` against the flags `allowed` for `instruction`; the message says what is
/// wrong and, for an unknown flag, which flags the instruction takes.
pub(crate) fn parse(
    instruction: &str,
    written: &[String],
    allowed: &[(&'static str, Kind)],
) -> Result<Flags, String> {
    let mut flags = Flags::default();
    for arg in written {
        if arg == "--" {
            // POSIX: `--` ends the flags (BuildKit follows it too).
            break;
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("flag {arg:?} should start with --"));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(name, kind)) = allowed.iter().find(|(n, _)| *n == name) else {
            return Err(unknown(instruction, name, allowed));
        };
        if kind != Kind::Strings && flags.values.contains_key(name) {
            return Err(format!("duplicate flag specified: --{name}"));
        }
        let value = match (kind, value) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some("")) => return Err(format!("missing a value on flag: --{name}")),
            (Kind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                _ => {
                    return Err(format!(
                        "expecting boolean value for flag --{name}, not: {v}"
                    ));
                }
            },
            (_, None) => return Err(format!("missing a value on flag: --{name}")),
            (_, Some(v)) => v.to_string(),
        };
        flags.values.entry(name).or_default().push(value);
    }
    Ok(flags)
}

fn unknown(instruction: &str, name: &str, allowed: &[(&'static str, Kind)]) -> String {
    if allowed.is_empty() {
        return format!("unknown flag: --{name} ({instruction} takes no flags)");
    }
    let mut names: Vec<String> = allowed.iter().map(|(n, _)| format!("--{n}")).collect();
    names.sort();
    format!(
        "unknown flag: --{name} ({instruction} takes {})",
        names.join(", ")
    )
}
