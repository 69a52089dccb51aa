//! The in-toto statement: what an attestation says (its predicate) about which artifacts (its
//! subjects, named by digest).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The statement type berth writes.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The older statement type cosign 2 wrote; read, never written.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// An in-toto statement (v1 written; v0.1 read too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: serde_json::Value,
}

/// An artifact a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Algorithm (`sha256`) → lowercase hex.
    pub digest: BTreeMap<String, String>,
    /// What the signer said about the subject: cosign 3 puts `cosign sign -a` annotations
    /// here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Statement {
    /// A v1 statement about one subject.
    pub fn new(subject: Subject, predicate_type: &str, predicate: serde_json::Value) -> Self {
        Statement {
            statement_type: STATEMENT_V1.to_string(),
            subject: vec![subject],
            predicate_type: predicate_type.to_string(),
            predicate,
        }
    }

    /// Whether the statement type is one berth understands.
    pub fn is_known_type(&self) -> bool {
        self.statement_type == STATEMENT_V1 || self.statement_type == STATEMENT_V01
    }

    /// Whether some subject names this `sha256` digest (lowercase hex, no prefix).
    pub fn covers_sha256(&self, hex: &str) -> bool {
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
    }
}

impl Subject {
    /// A subject named `name` with a `sha256` digest (lowercase hex, no prefix).
    pub fn sha256(name: &str, hex: &str) -> Self {
        Subject {
            name: name.to_string(),
            digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]),
            annotations: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cosign_v01_statements_and_checks_the_subject() {
        let text = r#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cosign.sigstore.dev/attestation/v1","subject":[{"name":"r/repo","digest":{"sha256":"ab"}}],"predicate":{"Data":"x"}}"#;
        let st: Statement = serde_json::from_str(text).unwrap();
        assert!(st.is_known_type());
        assert!(st.covers_sha256("ab"));
        assert!(!st.covers_sha256("cd"));
    }

    #[test]
    fn writes_v1_with_the_type_first() {
        let st = Statement::new(
            Subject::sha256("r", "ab"),
            "https://slsa.dev/provenance/v1",
            serde_json::json!({}),
        );
        let text = serde_json::to_string(&st).unwrap();
        assert!(text.starts_with(r#"{"_type":"https://in-toto.io/Statement/v1","subject""#));
    }
}
