//! `RUN --mount=…`: the comma-separated `key=value` list, read the way BuildKit reads it, into one
//! typed value per mount type with the defaults BuildKit fills in.
//!
//! BuildKit reads a mount twice: once when the instruction is parsed (only refusing `from=$X`),
//! and once per build with every value expanded. [`MountSpec`] keeps the text for the second
//! reading; [`MountSpec::parse`] does it with whatever expansion the caller supplies.

/// A `--mount` flag as written, before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub raw: String,
}

/// One mount of a `RUN`, fully typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Bind(BindMount),
    Cache(CacheMount),
    Tmpfs(TmpfsMount),
    Secret(SecretMount),
    Ssh(SshMount),
}

/// `type=bind` (the default type): a read-only view of the context or of another stage/image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Where it appears; relative paths are relative to the working directory.
    pub target: String,
    /// Path inside `from` (the build context when `from` is absent); empty means its root.
    pub source: String,
    /// A stage name or index, or an image reference.
    pub from: Option<String>,
    /// Read-only unless `rw`/`readwrite` is given (BuildKit's default for bind mounts).
    pub readonly: bool,
}

/// `type=cache`: a directory kept between builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    pub target: String,
    /// The cache's identity; BuildKit defaults it to the cleaned target path.
    pub id: String,
    pub from: Option<String>,
    pub source: String,
    pub readonly: bool,
    pub sharing: Sharing,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// How concurrent builds share one cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    #[default]
    Shared,
    Private,
    Locked,
}

/// `type=tmpfs`: an in-memory filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    pub target: String,
    /// `size=64m`: a limit in bytes (BuildKit's binary units).
    pub size: Option<u64>,
    pub readonly: bool,
}

/// `type=secret`: a secret as a file (and/or an environment variable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// From `id`, else `source`/`src`, else the base name of `target`.
    pub id: String,
    /// The file; `/run/secrets/<id>` unless `env` asks for an environment variable only.
    pub target: Option<String>,
    pub env: Option<String>,
    /// Fail the build when the secret is not provided (otherwise the mount is skipped).
    pub required: bool,
    /// File mode; BuildKit uses 0400 when only uid/gid are given.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// `type=ssh`: an SSH agent socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMount {
    /// `default` unless given.
    pub id: String,
    /// The socket path; BuildKit picks one (and sets `SSH_AUTH_SOCK`) when absent.
    pub target: Option<String>,
    pub required: bool,
    /// Socket mode; BuildKit uses 0600 when only uid/gid are given.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Bind => "bind",
            Type::Cache => "cache",
            Type::Tmpfs => "tmpfs",
            Type::Secret => "secret",
            Type::Ssh => "ssh",
        }
    }
}

const ALL_KEYS: &str = "type, from, source, src, target, dst, destination, readonly, ro, readwrite, rw, id, sharing, required, size, mode, uid, gid, env";

/// Every key as BuildKit collects it, before the per-type checks and defaults.
struct Fields {
    kind: Type,
    from: Option<String>,
    source: String,
    target: String,
    readonly: Option<bool>,
    size: Option<u64>,
    id: String,
    sharing: Option<Sharing>,
    required: bool,
    env: Option<String>,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl MountSpec {
    /// Checks what BuildKit checks before any expansion: `from` takes no variables. When the
    /// text holds no `$` at all, it is also read fully now, so mistakes show at parse time.
    pub(crate) fn check(&self) -> Result<(), String> {
        for field in split_csv(&self.raw)? {
            if let Some((key, value)) = field.split_once('=') {
                if key.eq_ignore_ascii_case("from") {
                    if let Some(i) = value.find('$') {
                        if i != value.len() - 1 {
                            return Err("'from' doesn't support variable expansion, define alias stage instead".into());
                        }
                    }
                }
            }
        }
        if !self.raw.contains('$') {
            self.parse(&mut |v| Ok(v.to_string()))?;
        }
        Ok(())
    }

    /// The `from=` value as written (it takes no variables), if any.
    pub fn from_value(&self) -> Option<String> {
        split_csv(&self.raw)
            .ok()?
            .into_iter()
            .rev()
            .find_map(|field| {
                let (key, value) = field.split_once('=')?;
                key.eq_ignore_ascii_case("from").then(|| value.to_string())
            })
    }

    /// Reads the mount, passing every value through `expand` first.
    pub fn parse(
        &self,
        expand: &mut dyn FnMut(&str) -> Result<String, String>,
    ) -> Result<Mount, String> {
        let fields = read_fields(&self.raw, expand)?;
        typed(fields)
    }
}

fn read_fields(
    raw: &str,
    expand: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Fields, String> {
    let mut f = Fields {
        kind: Type::Bind,
        from: None,
        source: String::new(),
        target: String::new(),
        readonly: None,
        size: None,
        id: String::new(),
        sharing: None,
        required: false,
        env: None,
        mode: None,
        uid: None,
        gid: None,
    };
    for field in split_csv(raw)? {
        let Some((key, value)) = field.split_once('=') else {
            match field.to_ascii_lowercase().as_str() {
                "readonly" | "ro" => f.readonly = Some(true),
                "readwrite" | "rw" => f.readonly = Some(false),
                "required" if matches!(f.kind, Type::Secret | Type::Ssh) => f.required = true,
                "required" => return Err(unexpected_for_type("required", f.kind)),
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let key = key.to_ascii_lowercase();
        let value = expand(value)?;
        match key.as_str() {
            "type" => {
                f.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => Type::Bind,
                    "cache" => Type::Cache,
                    "tmpfs" => Type::Tmpfs,
                    "secret" => Type::Secret,
                    "ssh" => Type::Ssh,
                    _ => {
                        return Err(format!(
                            "unsupported mount type {value:?} (use bind, cache, tmpfs, secret or ssh)"
                        ));
                    }
                }
            }
            "from" => f.from = Some(value),
            "source" | "src" => f.source = value,
            "target" | "dst" | "destination" => f.target = value,
            "readonly" | "ro" => f.readonly = Some(parse_bool(&key, &value)?),
            "readwrite" | "rw" => f.readonly = Some(!parse_bool(&key, &value)?),
            "required" if matches!(f.kind, Type::Secret | Type::Ssh) => {
                f.required = parse_bool(&key, &value)?
            }
            "required" => return Err(unexpected_for_type("required", f.kind)),
            "size" if f.kind == Type::Tmpfs => {
                f.size = Some(
                    ram_in_bytes(&value)
                        .ok_or_else(|| format!("invalid value for size: {value}"))?,
                )
            }
            "size" => return Err(unexpected_for_type("size", f.kind)),
            "id" => f.id = value,
            "sharing" => {
                f.sharing = Some(match value.to_ascii_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => {
                        return Err(format!(
                            "unsupported sharing value {value:?} (use shared, private or locked)"
                        ));
                    }
                })
            }
            "mode" => {
                f.mode = Some(
                    u32::from_str_radix(&value, 8)
                        .ok()
                        .filter(|_| !value.starts_with('+'))
                        .ok_or_else(|| format!("invalid value {value} for mode"))?,
                )
            }
            "uid" => f.uid = Some(parse_id(&value, "uid")?),
            "gid" => f.gid = Some(parse_id(&value, "gid")?),
            "env" => f.env = Some(value),
            _ => {
                return Err(format!(
                    "unexpected key '{key}' in '{field}' (valid keys: {ALL_KEYS})"
                ));
            }
        }
    }
    Ok(f)
}

fn typed(f: Fields) -> Result<Mount, String> {
    let file_info = matches!(f.kind, Type::Secret | Type::Ssh | Type::Cache);
    if !file_info {
        for (name, set) in [
            ("mode", f.mode.is_some()),
            ("uid", f.uid.is_some()),
            ("gid", f.gid.is_some()),
        ] {
            if set {
                return Err(format!(
                    "{name} not allowed for {:?} type mounts",
                    f.kind.name()
                ));
            }
        }
    }
    if f.sharing.is_some() && f.kind != Type::Cache {
        if f.kind == Type::Secret {
            return Err("secret mount should not define sharing".into());
        }
        return Err(format!(
            "invalid cache sharing set for {} mount",
            f.kind.name()
        ));
    }
    Ok(match f.kind {
        Type::Bind => Mount::Bind(BindMount {
            target: f.target,
            source: f.source,
            from: f.from,
            readonly: f.readonly.unwrap_or(true),
        }),
        Type::Cache => Mount::Cache(CacheMount {
            id: if f.id.is_empty() {
                clean_path(&f.target)
            } else {
                f.id
            },
            target: f.target,
            from: f.from,
            source: f.source,
            readonly: f.readonly.unwrap_or(false),
            sharing: f.sharing.unwrap_or_default(),
            mode: f.mode,
            uid: f.uid,
            gid: f.gid,
        }),
        Type::Tmpfs => Mount::Tmpfs(TmpfsMount {
            target: f.target,
            size: f.size,
            readonly: f.readonly.unwrap_or(false),
        }),
        Type::Secret => {
            if f.from.is_some() {
                return Err("secret mount should not have a from".into());
            }
            if f.source.is_empty() && f.target.is_empty() && f.id.is_empty() {
                return Err("invalid secret mount: one of id, source or target is required".into());
            }
            if !f.source.is_empty() && !f.id.is_empty() {
                return Err("both source and id can't be set on a secret mount".into());
            }
            let id = if !f.source.is_empty() {
                f.source
            } else if !f.id.is_empty() {
                f.id
            } else {
                base_name(&f.target).to_string()
            };
            let target = match (&f.env, f.target.is_empty()) {
                (_, false) => Some(f.target),
                (None, true) => Some(format!("/run/secrets/{}", base_name(&id))),
                (Some(_), true) => None,
            };
            Mount::Secret(SecretMount {
                id,
                target,
                env: f.env,
                required: f.required,
                mode: f.mode,
                uid: f.uid,
                gid: f.gid,
            })
        }
        Type::Ssh => {
            if !f.source.is_empty() {
                return Err("ssh does not support source".into());
            }
            Mount::Ssh(SshMount {
                id: if f.id.is_empty() {
                    "default".into()
                } else {
                    f.id
                },
                target: (!f.target.is_empty()).then_some(f.target),
                required: f.required,
                mode: f.mode,
                uid: f.uid,
                gid: f.gid,
            })
        }
    })
}

fn unexpected_for_type(key: &str, kind: Type) -> String {
    format!("unexpected key '{key}' for mount type '{}'", kind.name())
}

/// Go's `strconv.ParseBool`, which BuildKit uses for mount options.
fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {value}")),
    }
}

fn parse_id(value: &str, name: &str) -> Result<u32, String> {
    if value.starts_with('+') {
        return Err(format!("invalid value {value} for {name}"));
    }
    value
        .parse::<u32>()
        .map_err(|_| format!("invalid value {value} for {name}"))
}

/// docker's `units.RAMInBytes`: `64m`, `1.5g`, `512KiB`, `1024` — binary multiples.
fn ram_in_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return None,
    };
    let bytes = number * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// The fields of one CSV record (Go's `encoding/csv` rules: `"…"` quotes, `""` inside quotes).
fn split_csv(raw: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(format!(
                            "failed to parse csv mounts: unterminated quote in {raw:?}"
                        ));
                    }
                }
            }
            match chars.next() {
                None | Some(',') => {}
                Some(_) => {
                    return Err(format!(
                        "failed to parse csv mounts: extraneous character after closing quote in {raw:?}"
                    ));
                }
            }
            fields.push(field);
            if chars.peek().is_none() && !raw.ends_with(',') {
                return Ok(fields);
            }
            continue;
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => break,
                Some('"') => {
                    return Err(format!(
                        "failed to parse csv mounts: bare \" in non-quoted field in {raw:?}"
                    ));
                }
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
    }
}

fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Go's `path.Clean`, enough for cache ids: collapse `//`, `.`, `..`.
pub(crate) fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields() {
        assert_eq!(split_csv("a=1,b=2").unwrap(), vec!["a=1", "b=2"]);
        assert_eq!(split_csv("\"a=1,2\",b").unwrap(), vec!["a=1,2", "b"]);
        assert_eq!(split_csv("a,").unwrap(), vec!["a", ""]);
        assert!(split_csv("a=\"x").is_err());
    }

    #[test]
    fn sizes_and_paths() {
        assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(ram_in_bytes("1.5GiB"), Some(3 << 29));
        assert_eq!(ram_in_bytes("1024"), Some(1024));
        assert_eq!(ram_in_bytes("lots"), None);
        assert_eq!(clean_path("/root/.cache//go/"), "/root/.cache/go");
        assert_eq!(clean_path("a/../../b"), "../b");
        assert_eq!(base_name("/run/x/"), "x");
    }
}
