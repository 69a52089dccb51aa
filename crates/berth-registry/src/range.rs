//! The `Range` header of a blob GET: one `bytes=` range is served (206), several ranges or
//! another unit the whole blob (200), a malformed or unsatisfiable `bytes=` range is 416.

/// What a `Range` header asks of a blob.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    /// Serve the whole blob (200): RFC 9110 lets a server ignore a range unit it doesn't know
    /// and a request for several ranges, which clients then take whole as they must.
    Whole,
    /// One `bytes=` range, inclusive, within the blob.
    Part(u64, u64),
    /// A `bytes=` range that is malformed or lies outside the blob (416).
    Unsatisfiable,
}

/// Reads a `Range` header: `bytes=a-b`, `a-` or `-n`, against a blob of `size` bytes.
pub fn parse_range(header: &str, size: u64) -> Range {
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return Range::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Range::Whole;
    }
    match one_range(spec, size) {
        Some((start, end)) => Range::Part(start, end),
        None => Range::Unsatisfiable,
    }
}

fn one_range(spec: &str, size: u64) -> Option<(u64, u64)> {
    if size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 {
                return None;
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Range::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Range::Part(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), Range::Part(50, 99));
        assert_eq!(parse_range("Bytes=1-1", 100), Range::Part(1, 1));
        for bad in ["bytes=100-", "bytes=9-3", "bytes=a-b", "bytes=-0"] {
            assert_eq!(parse_range(bad, 100), Range::Unsatisfiable, "{bad}");
        }
        // Several ranges, or a unit other than bytes: the whole blob.
        for whole in [
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=0-1, 200-300",
            "nonsense",
        ] {
            assert_eq!(parse_range(whole, 100), Range::Whole, "{whole}");
        }
    }
}
