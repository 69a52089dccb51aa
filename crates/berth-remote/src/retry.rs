//! When a request to a registry is worth another try, and how long to wait before it: one
//! policy for every request the client makes (the API, the `/v2/` ping, the token service).

use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{Response, StatusCode};

/// Longest pause the backoff grows to.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Longest `Retry-After` honoured: a registry asking for more is waited on for this long.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

/// How a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries after the first, for answers and failures worth retrying.
    pub retries: u32,
    /// The pause before the first retry; it doubles each time, up to 5 s, with some jitter.
    /// A `Retry-After` the registry sends takes its place.
    pub backoff: Duration,
    /// Which failures to reach the registry are worth another try.
    pub failures: Failures,
}

/// Failures to get an answer that a retry may mend. Answers worth retrying are the same for
/// every request: 408, 429, 500, 502, 503 and 504.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failures {
    /// Connecting, timeouts, a request or body cut off: the network's passing troubles.
    Transient,
    /// Only not reaching the server (connecting, timeouts): a server that answers, but not in
    /// HTTP (it speaks TLS, say), won't change its mind.
    Unreached,
    /// None: the first failure is final (another way to reach the registry is next).
    None,
}

impl Default for RetryPolicy {
    /// Five retries from 200 ms: 200 ms, 400 ms, 800 ms, 1.6 s, 3.2 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 5,
            backoff: Duration::from_millis(200),
            failures: Failures::Transient,
        }
    }
}

impl RetryPolicy {
    /// How long to wait before trying again after attempt `attempt` (0 for the first) came to
    /// `outcome`; `None` when the outcome is final.
    pub fn pause(
        &self,
        attempt: u32,
        outcome: &Result<Response, reqwest::Error>,
    ) -> Option<Duration> {
        if attempt >= self.retries {
            return None;
        }
        match outcome {
            Ok(r) if worth_retrying(r.status()) => {
                Some(retry_after(r.headers()).unwrap_or_else(|| self.backoff(attempt)))
            }
            Ok(_) => None,
            Err(e) => self.retries_failure(e).then(|| self.backoff(attempt)),
        }
    }

    /// How long to wait before asking again for a body that broke off (a dropped connection,
    /// a stall past the read timeout) after attempt `attempt`; `None` when it is final.
    pub fn body_pause(&self, attempt: u32) -> Option<Duration> {
        (attempt < self.retries && self.failures == Failures::Transient)
            .then(|| self.backoff(attempt))
    }

    fn retries_failure(&self, e: &reqwest::Error) -> bool {
        // A certificate the client refuses stays refused.
        let certificate = || error_chain(e).to_lowercase().contains("certificate");
        match self.failures {
            Failures::Transient => {
                (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body())
                    && !certificate()
            }
            Failures::Unreached => (e.is_connect() || e.is_timeout()) && !certificate(),
            Failures::None => false,
        }
    }

    /// `backoff` doubled `attempt` times, at most [`BACKOFF_MAX`], plus up to a quarter more
    /// so clients don't retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff
            .saturating_mul(1u32 << attempt.min(10))
            .min(BACKOFF_MAX);
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() % 100)
            .unwrap_or(0);
        exp + exp * jitter / 400
    }
}

/// Answers a retry may change.
fn worth_retrying(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (capped at a minute); HTTP dates are taken as one second.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs = v.parse::<u64>().unwrap_or(1);
    Some(Duration::from_secs(secs).min(RETRY_AFTER_MAX))
}

/// An error and its sources, each said once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backs_off_doubling_up_to_a_cap() {
        let policy = RetryPolicy::default();
        assert!(policy.backoff(0) >= Duration::from_millis(200));
        assert!(policy.backoff(0) < Duration::from_millis(260));
        assert!(policy.backoff(2) >= Duration::from_millis(800));
        assert!(policy.backoff(20) >= BACKOFF_MAX);
        assert!(policy.backoff(20) <= Duration::from_secs(7));
    }

    #[test]
    fn reads_retry_after_in_seconds_capped_at_a_minute() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&h), Some(RETRY_AFTER_MAX));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(1)));
    }

    #[test]
    fn retries_only_answers_a_retry_may_change() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(worth_retrying(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 201, 400, 401, 403, 404, 405, 416, 501] {
            assert!(!worth_retrying(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
