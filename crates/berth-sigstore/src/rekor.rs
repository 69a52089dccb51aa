//! The Rekor bundle cosign puts beside a legacy signature (the layer annotation
//! `dev.sigstore.cosign/bundle`): the log's signed entry timestamp (SET) over the entry it
//! recorded, as Rekor's API returned it. It says what a sigstore bundle's transparency-log
//! entry says with an inclusion promise and no proof, so it is read into one
//! ([`TransparencyLogEntry`]) and verified the same way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::bundle::{InclusionPromise, KindVersion, LogId, TransparencyLogEntry};

/// The layer annotation holding it.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The layer annotation holding the signing certificate (PEM) of a keyless signature.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";

#[derive(Debug, thiserror::Error)]
#[error("the Rekor bundle annotation does not read: {0}")]
pub struct RekorBundleError(String);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RekorBundle {
    signed_entry_timestamp: String,
    payload: Payload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// The kind and version an entry body declares.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BodyKind {
    kind: String,
    api_version: String,
}

/// The transparency-log entry a Rekor bundle annotation describes.
pub fn entry_of(annotation: &str) -> Result<TransparencyLogEntry, RekorBundleError> {
    let bundle: RekorBundle =
        serde_json::from_str(annotation).map_err(|e| RekorBundleError(e.to_string()))?;
    let decode = |what: &str, text: &str| {
        STANDARD
            .decode(text)
            .map_err(|e| RekorBundleError(format!("{what} is not base64: {e}")))
    };
    let body = decode("Payload.body", &bundle.payload.body)?;
    let kind: BodyKind = serde_json::from_slice(&body)
        .map_err(|e| RekorBundleError(format!("Payload.body is no log entry: {e}")))?;
    let key_id = hex::decode(&bundle.payload.log_id)
        .map_err(|e| RekorBundleError(format!("Payload.logID is not hex: {e}")))?;
    Ok(TransparencyLogEntry {
        log_index: bundle.payload.log_index,
        log_id: LogId { key_id },
        kind_version: KindVersion {
            kind: kind.kind,
            version: kind.api_version,
        },
        integrated_time: bundle.payload.integrated_time,
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: decode("SignedEntryTimestamp", &bundle.signed_entry_timestamp)?,
        }),
        inclusion_proof: None,
        canonicalized_body: body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_annotation_reads_into_an_entry_with_a_promise_and_refusals_name_the_field() {
        let body = r#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#;
        let annotation = format!(
            r#"{{"SignedEntryTimestamp":"AQID","Payload":{{"body":"{}","integratedTime":1700000000,"logIndex":42,"logID":"c0d2"}}}}"#,
            STANDARD.encode(body)
        );
        let entry = entry_of(&annotation).unwrap();
        assert_eq!(entry.log_index, 42);
        assert_eq!(entry.integrated_time, 1_700_000_000);
        assert_eq!(entry.log_id.key_id, [0xc0, 0xd2]);
        assert_eq!(entry.kind_version.kind, "hashedrekord");
        assert_eq!(entry.kind_version.version, "0.0.1");
        assert_eq!(entry.canonicalized_body, body.as_bytes());
        assert_eq!(
            entry.inclusion_promise.unwrap().signed_entry_timestamp,
            [1, 2, 3]
        );
        for (bad, says) in [
            ("{}".to_string(), "missing field"),
            (
                annotation.replace("AQID", "!!"),
                "SignedEntryTimestamp is not base64",
            ),
            (annotation.replace("c0d2", "zz"), "logID is not hex"),
        ] {
            let e = entry_of(&bad).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
