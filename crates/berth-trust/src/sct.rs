//! The signed certificate timestamps Fulcio embeds in its certificates: a certificate-
//! transparency log's promise to publish the certificate, which is what lets anyone find
//! every certificate issued for their identity. As cosign does by default, berth requires
//! one SCT from a CT log of the trusted root that verifies (RFC 6962, 3.2: the log signed the
//! precertificate, i.e. the certificate without its SCT list, and its issuer's key hash).

use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::Encode as _;
use x509_cert::der::oid::AssociatedOid as _;
use x509_cert::ext::pkix::sct::{
    HashAlgorithm, SignatureAlgorithm, SignedCertificateTimestamp, SignedCertificateTimestampList,
};

use crate::TrustError;
use crate::root::TrustedRoot;
use crate::signature::Hash;

/// Checks that some SCT of `leaf` verifies with a CT log of the root valid at the SCT's time.
/// `issuer` is the certificate that signed `leaf`.
pub fn verify(
    leaf: &Certificate,
    issuer: &Certificate,
    root: &TrustedRoot,
) -> Result<(), TrustError> {
    let no_sct = |why: &str| TrustError::SctUnverified(why.to_string());
    let extensions = leaf.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let list = extensions
        .iter()
        .find(|e| e.extn_id == SignedCertificateTimestampList::OID)
        .ok_or_else(|| no_sct("the certificate embeds no SCT"))?;
    let scts = x509_cert::der::Decode::from_der(list.extn_value.as_bytes())
        .map_err(|_| ())
        .and_then(|list: SignedCertificateTimestampList| list.parse_timestamps().map_err(|_| ()))
        .map_err(|()| no_sct("the SCT list does not parse"))?;
    let signed_part = precertificate(leaf, issuer).map_err(|e| no_sct(&e))?;
    let verified = scts
        .iter()
        .filter_map(|s| s.parse_timestamp().ok())
        .any(|sct| {
            root.ctlogs.iter().any(|log| {
                log.key_id == sct.log_id.key_id
                    && chrono::DateTime::from_timestamp_millis(sct.timestamp as i64)
                        .is_some_and(|time| log.valid_for.contains(time))
                    && verifies(&sct, &signed_part, log)
            })
        });
    if verified {
        Ok(())
    } else {
        Err(no_sct(
            "no SCT verifies with a certificate-transparency log of the trusted root",
        ))
    }
}

/// The precertificate part of what an SCT signs: the issuer's key hash, then the leaf's TBS
/// certificate without the SCT list, with a 3-byte length.
fn precertificate(leaf: &Certificate, issuer: &Certificate) -> Result<Vec<u8>, String> {
    let issuer_key = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    let mut tbs = leaf.tbs_certificate.clone();
    if let Some(extensions) = tbs.extensions.as_mut() {
        extensions.retain(|e| e.extn_id != SignedCertificateTimestampList::OID);
    }
    let tbs = tbs.to_der().map_err(|e| e.to_string())?;
    let len = u32::try_from(tbs.len())
        .ok()
        .filter(|&n| n < 1 << 24)
        .ok_or("the certificate is too large for an SCT")?;
    let mut out = Sha256::digest(&issuer_key).to_vec();
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&tbs);
    Ok(out)
}

/// RFC 6962's `digitally-signed` structure of a precertificate entry, and its signature.
fn verifies(
    sct: &SignedCertificateTimestamp,
    precert: &[u8],
    log: &crate::root::TransparencyLog,
) -> bool {
    let algorithm = &sct.signature.algorithm;
    let hash = match (&algorithm.hash, &algorithm.signature) {
        (HashAlgorithm::Sha256, SignatureAlgorithm::Ecdsa) => Hash::Sha256,
        (HashAlgorithm::Sha384, SignatureAlgorithm::Ecdsa) => Hash::Sha384,
        _ => return false,
    };
    let extensions = sct.extensions.as_slice();
    let Ok(extensions_len) = u16::try_from(extensions.len()) else {
        return false;
    };
    let mut signed = vec![0u8, 0u8]; // version v1, signature type certificate_timestamp
    signed.extend_from_slice(&sct.timestamp.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes()); // entry type precert_entry
    signed.extend_from_slice(precert);
    signed.extend_from_slice(&extensions_len.to_be_bytes());
    signed.extend_from_slice(extensions);
    log.key
        .verifies(hash, &signed, sct.signature.signature.as_slice())
}
