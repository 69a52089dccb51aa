//! Whom to trust: the signer identity and OIDC issuer a keyless signature must carry. Both are
//! required, as cosign 2 and later require `--certificate-identity[-regexp]` and
//! `--certificate-oidc-issuer[-regexp]`: a certificate from the right CA proves only that
//! *someone* signed.

use regex::Regex;

/// How one value of the certificate must look.
#[derive(Debug, Clone)]
pub enum Match {
    /// Equal, byte for byte (`--certificate-identity`, `--certificate-oidc-issuer`).
    Exact(String),
    /// Matched by a regular expression (`--certificate-identity-regexp`,
    /// `--certificate-oidc-issuer-regexp`). Like cosign's and sigstore-go's, the expression
    /// is not anchored: it matches if it matches anywhere, so write `^…$` to match whole.
    Regex(Regex),
}

impl Match {
    pub fn exact(value: &str) -> Match {
        Match::Exact(value.to_string())
    }

    /// A regular-expression match; a malformed expression is an error naming it.
    pub fn regex(pattern: &str) -> Result<Match, regex::Error> {
        Regex::new(pattern).map(Match::Regex)
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Match::Exact(expected) => expected == value,
            Match::Regex(re) => re.is_match(value),
        }
    }
}

impl std::fmt::Display for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Match::Exact(value) => write!(f, "{value:?}"),
            Match::Regex(re) => write!(f, "a match of /{}/", re.as_str()),
        }
    }
}

/// The signer a bundle must name to be trusted.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The certificate's subject alternative name (email or URI).
    pub identity: Match,
    /// The OIDC issuer in Fulcio's issuer extension.
    pub issuer: Match,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_are_unanchored_as_cosigns_are() {
        let m = Match::regex("@example\\.com").unwrap();
        assert!(m.matches("alice@example.com"));
        assert!(m.matches("alice@example.com.evil"));
        let whole = Match::regex("^[a-z]+@example\\.com$").unwrap();
        assert!(!whole.matches("alice@example.com.evil"));
        assert!(!Match::exact("alice@example.com").matches("alice@example.co"));
        assert!(Match::regex("(").is_err());
    }
}
