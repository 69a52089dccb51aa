//! Human-readable sizes and times, as Docker prints them.

use chrono::{DateTime, Utc};

/// Decimal units, three significant digits: `4.26MB`, `985kB`, `0B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", significant(value, 3), UNITS[unit])
}

/// Like Go's `%.3g` for the values sizes take: no exponent, no trailing zeros.
fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let s = format!("{value:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `2 days ago`, `About an hour ago`: how long ago `then` was.
pub fn ago(then: DateTime<Utc>) -> String {
    let secs = (Utc::now() - then).num_seconds();
    if secs < 0 {
        return "In the future".into();
    }
    format!("{} ago", duration(secs as u64))
}

/// Go's `units.HumanDuration`.
pub fn duration(secs: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let minutes = secs / 60;
    let hours = secs / 3600;
    let days = hours / 24;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs < 60 => plural(secs, "second"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => plural(minutes, "minute"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => plural(hours, "hour"),
        _ if days < 14 => plural(days, "day"),
        _ if days < 60 => plural(days / 7, "week"),
        _ if days < 730 => plural(days / 30, "month"),
        _ => plural(days / 365, "year"),
    }
}

/// Parses an RFC 3339 time as image configs carry it.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Shortens `s` to `max` characters, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(1000), "1kB");
        assert_eq!(size(4_264_000), "4.26MB");
        assert_eq!(size(985_400), "985kB");
        assert_eq!(size(1_500_000_000), "1.5GB");
        assert_eq!(size(12_345), "12.3kB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(59), "59 seconds");
        assert_eq!(duration(90), "About a minute");
        assert_eq!(duration(3600), "About an hour");
        assert_eq!(duration(5 * 3600), "5 hours");
        assert_eq!(duration(3 * 86400), "3 days");
        assert_eq!(duration(20 * 86400), "2 weeks");
        assert_eq!(duration(90 * 86400), "3 months");
        assert_eq!(duration(800 * 86400), "2 years");
    }

    #[test]
    fn truncates() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
