//! Values BuildKit checks only once they are expanded: `EXPOSE` port specs and `STOPSIGNAL`.

/// One `EXPOSE` word (`80`, `53/udp`, `8000-8002/tcp`) as the image config keys it: one
/// `port/proto` per port, ranges spelled out, the protocol lowercased.
pub(super) fn ports(spec: &str) -> Result<Vec<String>, String> {
    // `ip:host:container` parses (BuildKit lints it) but only the container part is exposed.
    let container = spec.rsplit(':').next().unwrap_or(spec);
    let (range, proto) = match container.split_once('/') {
        Some((range, proto)) => (range, proto.to_ascii_lowercase()),
        None => (container, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid port {spec:?}: unknown protocol {proto:?} (use tcp, udp or sctp)"
        ));
    }
    let number = |s: &str| -> Result<u32, String> {
        s.parse::<u32>()
            .ok()
            .filter(|p| *p <= 65535)
            .ok_or_else(|| {
                format!("invalid port {spec:?}: expected a port number 0-65535, found {s:?}")
            })
    };
    let (start, end) = match range.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let p = number(range)?;
            (p, p)
        }
    };
    if end < start {
        return Err(format!(
            "invalid port range: {range} (the end is below the start)"
        ));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// Linux signal names, as moby's `signal.ParseSignal` knows them.
const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "UNUSED", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// `STOPSIGNAL`: a number, a name with or without `SIG`, or `RTMIN+n`/`RTMAX-n`.
pub(super) fn check_signal(sig: &str) -> Result<(), String> {
    if let Ok(n) = sig.parse::<u32>() {
        return if n == 0 {
            Err(format!("invalid signal: {sig}"))
        } else {
            Ok(())
        };
    }
    let name = sig.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let realtime = |prefix: &str, sep: char| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(sep)
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n <= 15)
        })
    };
    if SIGNALS.contains(&name) || realtime("RTMIN", '+') || realtime("RTMAX", '-') {
        Ok(())
    } else {
        Err(format!(
            "invalid signal: {sig} (use a name such as SIGTERM or SIGINT, or a number)"
        ))
    }
}
