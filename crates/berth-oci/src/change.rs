//! Config changes given as Dockerfile instructions, as `docker import --change` and
//! `docker commit --change` take them: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, SHELL,
//! STOPSIGNAL, USER, VOLUME and WORKDIR.
//!
//! Variables (`$V`, `${V}`, `${V:-w}`, `${V:+w}`) expand against the image's environment as
//! Dockerfile instructions do.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::ContainerConfig;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid change {change:?}: {why}")]
pub struct ChangeError {
    pub change: String,
    pub why: String,
}

/// Applies one instruction to `config`.
pub fn apply(config: &mut ContainerConfig, change: &str) -> Result<(), ChangeError> {
    let fail = |why: &str| ChangeError {
        change: change.to_string(),
        why: why.to_string(),
    };
    let trimmed = change.trim();
    let (keyword, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((k, r)) => (k, r.trim()),
        None => (trimmed, ""),
    };
    let keyword = keyword.to_ascii_uppercase();
    if rest.is_empty() {
        return Err(fail(&format!("{keyword} needs an argument")));
    }
    let env = env_map(config);
    match keyword.as_str() {
        "CMD" => config.cmd = Some(command(config, rest).map_err(|w| fail(&w))?),
        "ENTRYPOINT" => config.entrypoint = Some(command(config, rest).map_err(|w| fail(&w))?),
        "SHELL" => {
            let shell = json_array(rest)
                .ok_or_else(|| fail("SHELL takes a JSON array, such as [\"/bin/bash\", \"-c\"]"))?;
            if shell.is_empty() {
                return Err(fail("SHELL needs at least one element"));
            }
            config.shell = Some(shell);
        }
        "ENV" => {
            for (k, v) in pairs(rest, &env, "ENV").map_err(|w| fail(&w))? {
                set_env(config, &k, &v);
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs(rest, &env, "LABEL").map_err(|w| fail(&w))? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for word in words(rest, &env).map_err(|w| fail(&w))? {
                ports.insert(
                    port(&word).map_err(|w| fail(&w))?,
                    Value::Object(Default::default()),
                );
            }
        }
        "VOLUME" => {
            let list = match json_array(rest) {
                Some(list) => list,
                None => words(rest, &env).map_err(|w| fail(&w))?,
            };
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in list {
                if v.is_empty() {
                    return Err(fail("VOLUME paths can't be empty"));
                }
                volumes.insert(v, Value::Object(Default::default()));
            }
        }
        "USER" => config.user = Some(single(rest, &env).map_err(|w| fail(&w))?),
        "STOPSIGNAL" => config.stop_signal = Some(single(rest, &env).map_err(|w| fail(&w))?),
        "WORKDIR" => {
            let dir = single(rest, &env).map_err(|w| fail(&w))?;
            let base = config.working_dir.clone().unwrap_or_else(|| "/".into());
            config.working_dir = Some(if dir.starts_with('/') {
                dir
            } else {
                format!("{}/{}", base.trim_end_matches('/'), dir)
            });
        }
        "ONBUILD" => {
            let (inner, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let inner = inner.to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(fail(&format!("ONBUILD can't trigger {inner}")));
            }
            config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(format!("{inner} {}", args.trim()).trim_end().to_string());
        }
        other => {
            return Err(fail(&format!(
                "{other} can't be applied to an image config; use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR"
            )));
        }
    }
    Ok(())
}

fn env_map(config: &ContainerConfig) -> BTreeMap<String, String> {
    config
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn set_env(config: &mut ContainerConfig, key: &str, value: &str) {
    let env = config.env.get_or_insert_with(Vec::new);
    let entry = format!("{key}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').is_some_and(|(k, _)| k == key))
    {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// Exec form (JSON array) or shell form (run by the image's shell, `/bin/sh -c` by default).
fn command(config: &ContainerConfig, rest: &str) -> Result<Vec<String>, String> {
    if let Some(list) = json_array(rest) {
        return Ok(list);
    }
    let mut cmd = config
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    cmd.push(rest.to_string());
    Ok(cmd)
}

/// A JSON array of strings, or `None` if `s` isn't one (then it's shell form).
fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str(s).ok()
}

fn single(rest: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let w = words(rest, env)?;
    match w.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("expected one value, found {}", w.len())),
    }
}

/// `key=value …` pairs, or the legacy single `key value…` form.
fn pairs(
    rest: &str,
    env: &BTreeMap<String, String>,
    what: &str,
) -> Result<Vec<(String, String)>, String> {
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        // Legacy form: the first word is the key, everything after it the value.
        let (key, value) = rest.split_once(char::is_whitespace).ok_or(format!(
            "{what} needs KEY=VALUE (or the legacy KEY VALUE form)"
        ))?;
        return Ok(vec![(key.to_string(), expand(value.trim(), env)?)]);
    }
    words(rest, env)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{what} needs KEY=VALUE pairs; {w:?} isn't one")),
        })
        .collect()
}

/// `80`, `80/tcp`, `53/udp`, `8000-8010/tcp` normalised to `PORT/PROTO`.
fn port(word: &str) -> Result<String, String> {
    let (ports, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "EXPOSE protocol {proto:?} must be tcp, udp or sctp"
        ));
    }
    let valid = |p: &str| p.parse::<u16>().is_ok_and(|n| n > 0);
    let ok = match ports.split_once('-') {
        Some((a, b)) => valid(a) && valid(b),
        None => valid(ports),
    };
    if !ok {
        return Err(format!(
            "EXPOSE port {ports:?} must be a number from 1 to 65535"
        ));
    }
    Ok(format!("{ports}/{proto}"))
}

/// Splits shell-like words: whitespace separates, quotes group, backslash escapes,
/// and variables expand outside single quotes.
fn words(s: &str, env: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                let mut raw = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$')) => {
                                raw.push('\\');
                                raw.push(e);
                            }
                            Some(other) => {
                                raw.push('\\');
                                raw.push('\\');
                                raw.push(other);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => raw.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
                cur.push_str(&expand(&raw, env)?);
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '$' => {
                in_word = true;
                let mut var = String::from("$");
                if chars.peek() == Some(&'{') {
                    for c in chars.by_ref() {
                        var.push(c);
                        if c == '}' {
                            break;
                        }
                    }
                } else {
                    while let Some(&c) = chars.peek() {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            var.push(c);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                cur.push_str(&expand(&var, env)?);
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Expands `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`; `\$` is a literal `$`.
fn expand(s: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => body.push(c),
                        None => return Err(format!("unterminated ${{{body}")),
                    }
                }
                let name_end = body
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(body.len());
                let (name, op) = body.split_at(name_end);
                if name.is_empty() {
                    return Err(format!("bad substitution ${{{body}}}"));
                }
                let value = env.get(name);
                let expanded = match op {
                    "" => value.cloned().unwrap_or_default(),
                    _ if op.starts_with(":-") => match value.filter(|v| !v.is_empty()) {
                        Some(v) => v.clone(),
                        None => expand(&op[2..], env)?,
                    },
                    _ if op.starts_with('-') => match value {
                        Some(v) => v.clone(),
                        None => expand(&op[1..], env)?,
                    },
                    _ if op.starts_with(":+") => match value.filter(|v| !v.is_empty()) {
                        Some(_) => expand(&op[2..], env)?,
                        None => String::new(),
                    },
                    _ if op.starts_with('+') => match value {
                        Some(_) => expand(&op[1..], env)?,
                        None => String::new(),
                    },
                    _ => return Err(format!("unsupported substitution ${{{body}}}")),
                };
                out.push_str(&expanded);
            }
            '$' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if name.is_empty() {
                    out.push('$');
                } else {
                    out.push_str(env.get(&name).map_or("", String::as_str));
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> ContainerConfig {
        let mut c = ContainerConfig::default();
        for ch in changes {
            apply(&mut c, ch).unwrap_or_else(|e| panic!("{e}"));
        }
        c
    }

    #[test]
    fn applies_docker_import_changes() {
        let c = applied(&[
            r#"CMD ["echo", "hi"]"#,
            "ENTRYPOINT /bin/run --fast",
            "ENV PATH=/usr/bin:/bin HOME=/root",
            r#"ENV PATH="/opt/bin:$PATH""#,
            "env LEGACY some value",
            r#"LABEL org.example.name="my app" b=2"#,
            "EXPOSE 80 53/udp 8000-8002",
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /cache",
            "USER app:app",
            "WORKDIR /srv",
            "WORKDIR app",
            "STOPSIGNAL SIGTERM",
            "ONBUILD run make",
            r#"SHELL ["/bin/bash", "-c"]"#,
        ]);
        assert_eq!(c.cmd.unwrap(), ["echo", "hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/bin/run --fast"]);
        assert_eq!(
            c.env.unwrap(),
            [
                "PATH=/opt/bin:/usr/bin:/bin",
                "HOME=/root",
                "LEGACY=some value"
            ]
        );
        assert_eq!(c.labels.unwrap()["org.example.name"], "my app");
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000-8002/tcp"]);
        assert_eq!(c.volumes.unwrap().len(), 3);
        assert_eq!(c.user.as_deref(), Some("app:app"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGTERM"));
        assert_eq!(c.on_build.unwrap(), ["RUN make"]);
        assert_eq!(c.shell.unwrap(), ["/bin/bash", "-c"]);
    }

    #[test]
    fn expands_variables() {
        let c = applied(&["ENV A=1 B=", "ENV C=${A:-x}${B:-y}${Z-z}${A:+set}${Z+no}"]);
        assert_eq!(c.env.unwrap()[2], "C=1yzset");
    }

    #[test]
    fn rejects_bad_changes() {
        for (bad, why) in [
            ("RUN echo hi", "can't be applied"),
            ("CMD", "needs an argument"),
            ("EXPOSE 99999", "1 to 65535"),
            ("EXPOSE 80/icmp", "tcp, udp or sctp"),
            ("ENV =x", "KEY=VALUE"),
            ("ENV A=\"open", "unterminated"),
            ("SHELL /bin/bash", "JSON array"),
            ("USER a b", "one value"),
            ("ONBUILD FROM x", "can't trigger"),
        ] {
            let err = apply(&mut ContainerConfig::default(), bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
