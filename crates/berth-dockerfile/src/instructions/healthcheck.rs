//! `HEALTHCHECK`: its type word, its options and Go's duration syntax (`1m30s`, `500ms`), which
//! is what Docker users write and what BuildKit accepts.

use std::time::Duration;

use super::flags::{self, Kind};
use super::{Check, HealthTest, Healthcheck};
use crate::ast::{self, Args};

pub(super) fn parse(ins: &ast::Instruction) -> Result<Healthcheck, String> {
    let Args::Healthcheck { kind, command } = &ins.args else {
        return Err(
            "HEALTHCHECK requires at least one argument, such as: HEALTHCHECK CMD curl -f http://localhost/ or HEALTHCHECK NONE"
                .into(),
        );
    };
    let kind = kind.to_ascii_uppercase();
    if kind == "NONE" {
        if !matches!(**command, Args::Empty) {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        flags::parse("HEALTHCHECK NONE", &ins.flags, &[])?;
        return Ok(Healthcheck::None);
    }
    let flags = flags::parse(
        "HEALTHCHECK",
        &ins.flags,
        &[
            ("interval", Kind::String),
            ("timeout", Kind::String),
            ("start-period", Kind::String),
            ("start-interval", Kind::String),
            ("retries", Kind::String),
        ],
    )?;
    if kind != "CMD" {
        return Err(format!(
            "Unknown type {kind:?} in HEALTHCHECK (try CMD, or NONE to disable the check)"
        ));
    }
    let test = match &**command {
        Args::Json(items) if !items.is_empty() => HealthTest::Cmd(items.clone()),
        Args::Shell(s) if !s.is_empty() => HealthTest::CmdShell(s.clone()),
        _ => return Err("Missing command after HEALTHCHECK CMD".into()),
    };
    let interval = |name: &str| match flags.string(name) {
        Some(v) => interval(name, &v),
        None => Ok(Duration::ZERO),
    };
    let retries = match flags.string("retries").filter(|r| !r.is_empty()) {
        None => 0,
        Some(r) => {
            let n: i64 = r
                .parse()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| format!("--retries must be a whole number, not {r:?}"))?;
            u32::try_from(n).map_err(|_| format!("--retries cannot be negative ({n})"))?
        }
    };
    Ok(Healthcheck::Check(Check {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    }))
}

/// BuildKit's `parseOptInterval`: empty or zero means "default"; anything else must be at least
/// one millisecond.
fn interval(name: &str, value: &str) -> Result<Duration, String> {
    if value.is_empty() {
        return Ok(Duration::ZERO);
    }
    let nanos = go_duration(value).ok_or_else(|| {
        format!(
            "invalid duration {value:?} for --{name}: expected a number and a unit (ns, us, ms, \
             s, m, h), such as 30s or 1m30s"
        )
    })?;
    if nanos == 0 {
        return Ok(Duration::ZERO);
    }
    if nanos < 1_000_000 {
        return Err(format!("Interval {name:?} cannot be less than 1ms"));
    }
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("--{name} {value:?} is too long"))
}

/// Go's `time.ParseDuration`, in nanoseconds (negative allowed, as Go allows it).
pub(crate) fn go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_end];
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let nanos = total.round() as i128;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn durations() {
        assert_eq!(go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(go_duration("500ms"), Some(500_000_000));
        assert_eq!(go_duration("0"), Some(0));
        assert_eq!(go_duration("-1s"), Some(-1_000_000_000));
        for bad in ["", "5", "1x", "s", "1m30", "."] {
            assert_eq!(go_duration(bad), None, "{bad:?}");
        }
    }
}
