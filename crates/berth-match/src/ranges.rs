//! Whether a version is inside an OSV `affected[]` entry, evaluated as the OSV schema says:
//! each range's events sorted in the range's version order, walked in turn (`introduced`
//! opens, `fixed` closes at, `last_affected` closes after), cut off at the `limit`s; or the
//! version is one of those listed.

use std::cmp::Ordering;

use berth_version::{Ecosystem, Version, parse};
use berth_vulndb::{Event, Range, RangeKind};

/// An affected version, and the version that fixes it when a range names one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub fixed: Option<String>,
}

/// Why an entry could not be evaluated: said, never guessed.
pub(crate) type Unreadable = String;

/// Whether `installed` is affected per `ranges` and `listed`, `ecosystem` being the OSV
/// ecosystem the entry names.
pub(crate) fn affects(
    ecosystem: &str,
    ranges: &[Range],
    listed: &[String],
    installed: &str,
) -> Result<Option<Hit>, Unreadable> {
    let own_order = Ecosystem::for_osv(ecosystem);
    let mut hit: Option<Hit> = None;
    for range in ranges {
        let order = match range.kind {
            // Go module versions are SemVer with Go's extras (`v`, `+incompatible`).
            RangeKind::SemVer if own_order == Some(Ecosystem::Go) => Ecosystem::Go,
            RangeKind::SemVer => Ecosystem::SemVer,
            RangeKind::Ecosystem => own_order
                .ok_or_else(|| format!("berth knows no version order for {ecosystem:?}"))?,
        };
        if let Some(found) = in_range(order, &range.events, installed)? {
            // Of two ranges that both hold the version, the one that names a fix says more.
            if hit.as_ref().is_none_or(|h| h.fixed.is_none()) {
                hit = Some(found);
            }
        }
    }
    if hit.is_none() && is_listed(own_order, listed, installed) {
        hit = Some(Hit { fixed: None });
    }
    Ok(hit)
}

fn in_range(
    order: Ecosystem,
    events: &[Event],
    installed: &str,
) -> Result<Option<Hit>, Unreadable> {
    let version = parse(order, installed).map_err(|e| format!("installed version: {e}"))?;
    // `None` is the `introduced: "0"` that opens a range before every version.
    let mut sorted: Vec<(Option<Version>, &Event)> = Vec::with_capacity(events.len());
    for event in events {
        let text = event_version(event);
        let at = match (event, text) {
            (Event::Introduced(_), "0") => None,
            _ => Some(parse(order, text).map_err(|e| format!("range event: {e}"))?),
        };
        sorted.push((at, event));
    }
    sorted.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
    });

    let limits: Vec<&Version> = sorted
        .iter()
        .filter(|(_, e)| matches!(e, Event::Limit(_)))
        .filter_map(|(at, _)| at.as_ref())
        .collect();
    if !limits.is_empty() && !limits.iter().any(|limit| version < **limit) {
        return Ok(None);
    }
    let mut affected = false;
    for (at, event) in &sorted {
        match (event, at) {
            (Event::Introduced(_), None) => affected = true,
            (Event::Introduced(_), Some(at)) if version >= *at => affected = true,
            (Event::Fixed(_), Some(at)) if version >= *at => affected = false,
            (Event::LastAffected(_), Some(at)) if version > *at => affected = false,
            _ => {}
        }
    }
    if !affected {
        return Ok(None);
    }
    let fixed = sorted.iter().find_map(|(at, event)| match (event, at) {
        (Event::Fixed(text), Some(at)) if *at > version => Some(text.clone()),
        _ => None,
    });
    Ok(Some(Hit { fixed }))
}

fn event_version(event: &Event) -> &str {
    match event {
        Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
    }
}

/// Whether `installed` is one of the listed versions: equal in the ecosystem's order where
/// both read, else equal as text.
fn is_listed(order: Option<Ecosystem>, listed: &[String], installed: &str) -> bool {
    let parsed = order.and_then(|o| parse(o, installed).ok());
    listed.iter().any(|v| {
        v == installed
            || match (&parsed, order) {
                (Some(installed), Some(order)) => parse(order, v).is_ok_and(|v| v == *installed),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(kind: RangeKind, events: &[Event]) -> Range {
        Range {
            kind,
            events: events.to_vec(),
        }
    }

    fn check(range: &Range, installed: &str) -> Option<Option<String>> {
        affects("PyPI", std::slice::from_ref(range), &[], installed)
            .unwrap()
            .map(|h| h.fixed)
    }

    #[test]
    fn events_are_sorted_before_the_walk() {
        let r = range(
            RangeKind::Ecosystem,
            &[
                Event::Fixed("2.0".into()),
                Event::Introduced("1.5".into()),
                Event::Fixed("1.2".into()),
                Event::Introduced("0".into()),
            ],
        );
        assert_eq!(check(&r, "1.0"), Some(Some("1.2".into())));
        assert_eq!(check(&r, "1.2"), None);
        assert_eq!(check(&r, "1.5"), Some(Some("2.0".into())));
        assert_eq!(check(&r, "2.0"), None);
    }

    #[test]
    fn last_affected_includes_itself_and_limit_cuts_off() {
        let last = range(
            RangeKind::Ecosystem,
            &[
                Event::Introduced("1.0".into()),
                Event::LastAffected("1.4".into()),
            ],
        );
        assert_eq!(check(&last, "1.4"), Some(None));
        assert_eq!(check(&last, "1.4.post1"), None);
        assert_eq!(check(&last, "0.9"), None);
        let limited = range(
            RangeKind::Ecosystem,
            &[Event::Introduced("0".into()), Event::Limit("3.0".into())],
        );
        assert_eq!(check(&limited, "2.9"), Some(None));
        assert_eq!(check(&limited, "3.0"), None);
    }

    #[test]
    fn unreadable_versions_are_said_not_guessed() {
        let r = range(
            RangeKind::SemVer,
            &[Event::Introduced("0".into()), Event::Fixed("1.x".into())],
        );
        let err = affects("npm", &[r], &[], "1.0.0").unwrap_err();
        assert!(err.contains("1.x"), "{err}");
        let r = range(RangeKind::Ecosystem, &[Event::Introduced("0".into())]);
        let err = affects("Hackage", &[r], &[], "1.0").unwrap_err();
        assert!(err.contains("Hackage"), "{err}");
    }
}
