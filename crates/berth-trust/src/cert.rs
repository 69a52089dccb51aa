//! The signing certificate: that it chains to a Fulcio CA of the trusted root and was valid
//! when the log saw the signature, and who it names (the SAN) and which OIDC issuer vouched
//! for that (Fulcio's issuer extension).

use chrono::{DateTime, Utc};
use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, Utf8StringRef};
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::{Decode, Encode as _};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};
use x509_cert::spki::SubjectPublicKeyInfoRef;

use crate::TrustError;
use crate::root::{CertificateAuthority, TrustedRoot};
use crate::signature::{Hash, PublicKey};

/// Fulcio's OIDC issuer extension, its value a DER UTF8String.
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// The first issuer extension, its value the issuer's bytes as they are (no DER).
const ISSUER_LEGACY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// The signer as the certificate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject alternative name: an email address or a URI (a CI workflow).
    pub san: String,
    /// The OIDC issuer that vouched for the SAN.
    pub issuer: String,
}

/// A parsed leaf certificate and its key.
pub struct Leaf {
    pub cert: Certificate,
    pub key: PublicKey,
}

impl Leaf {
    pub fn from_der(der: &[u8]) -> Result<Leaf, TrustError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| TrustError::CertificateUnreadable(e.to_string()))?;
        let key = key_of(&cert).map_err(TrustError::CertificateUnreadable)?;
        Ok(Leaf { cert, key })
    }

    /// The SAN and OIDC issuer; a certificate without either names no one.
    pub fn identity(&self) -> Result<Identity, TrustError> {
        let san = extension::<SubjectAltName>(&self.cert)
            .and_then(|names| {
                names.0.into_iter().find_map(|name| match name {
                    GeneralName::Rfc822Name(email) => Some(email.to_string()),
                    GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                    _ => None,
                })
            })
            .ok_or(TrustError::NoIdentity)?;
        let raw = |oid| {
            extensions(&self.cert)
                .iter()
                .find(|e| e.extn_id == oid)
                .map(|e| e.extn_value.as_bytes())
        };
        let issuer = match (raw(ISSUER_V2), raw(ISSUER_LEGACY)) {
            (Some(v2), _) => Utf8StringRef::from_der(v2)
                .map(|s| s.as_str().to_string())
                .ok(),
            (None, Some(legacy)) => String::from_utf8(legacy.to_vec()).ok(),
            (None, None) => None,
        }
        .ok_or(TrustError::NoIssuer)?;
        Ok(Identity { san, issuer })
    }

    /// Checks the leaf was valid at `time`, is for code signing, and chains to a certificate
    /// authority of the root that was trusted at `time`; returns the certificate that issued
    /// it. Certificates the bundle carries besides the leaf are never trusted: the chain is
    /// built from the root alone.
    pub fn verify_chain<'r>(
        &self,
        root: &'r TrustedRoot,
        time: DateTime<Utc>,
    ) -> Result<&'r Certificate, TrustError> {
        check_validity(&self.cert, time, "the signing certificate")?;
        let untrusted = TrustError::CertificateUntrusted;
        check_critical(&self.cert).map_err(untrusted)?;
        if !extension::<ExtendedKeyUsage>(&self.cert)
            .is_some_and(|eku| eku.0.contains(&CODE_SIGNING))
        {
            return Err(untrusted(
                "the signing certificate is not for code signing (extended key usage)".into(),
            ));
        }
        if !extension::<KeyUsage>(&self.cert).is_some_and(|ku| ku.digital_signature()) {
            return Err(untrusted(
                "the signing certificate's key usage does not allow digital signatures".into(),
            ));
        }
        let mut reasons = Vec::new();
        let mut not_then = None;
        for ca in &root.certificate_authorities {
            match chains_to(&self.cert, ca, time) {
                Ok(issuer) if ca.valid_for.contains(time) => return Ok(issuer),
                // The same CA may be listed again with another validFor: look on.
                Ok(_) => not_then = Some(ca),
                Err(reason) => reasons.push(format!("{}: {reason}", ca.uri)),
            }
        }
        if let Some(ca) = not_then {
            return Err(TrustError::AuthorityNotValidAt {
                authority: ca.uri.clone(),
                time,
            });
        }
        Err(untrusted(if reasons.is_empty() {
            "the trusted root has no certificate authority".to_string()
        } else {
            format!(
                "no certificate authority of the trusted root issued it ({})",
                reasons.join("; ")
            )
        }))
    }
}

/// Whether `cert` chains through `ca`'s certificates, each signing the one below, each a CA
/// allowed to sign certificates and valid at `time`, the last one the anchor; returns the
/// certificate that issued `cert`.
fn chains_to<'r>(
    cert: &Certificate,
    ca: &'r CertificateAuthority,
    time: DateTime<Utc>,
) -> Result<&'r Certificate, String> {
    let mut child = cert;
    for (depth, parent) in ca.chain.iter().enumerate() {
        let subject = &parent.tbs_certificate.subject;
        if child.tbs_certificate.issuer != *subject {
            return Err(format!(
                "the issuer {} is not the authority's {subject}",
                child.tbs_certificate.issuer
            ));
        }
        signed_by(child, parent)?;
        if !extension::<BasicConstraints>(parent).is_some_and(|bc| bc.ca) {
            return Err(format!("{subject} is not a CA certificate"));
        }
        if !extension::<KeyUsage>(parent).is_some_and(|ku| ku.key_cert_sign()) {
            return Err(format!(
                "{subject}'s key usage does not allow signing certificates"
            ));
        }
        check_critical(parent)?;
        check_validity(
            parent,
            time,
            &format!("the authority's certificate {depth}"),
        )
        .map_err(|e| e.to_string())?;
        child = parent;
    }
    ca.chain
        .first()
        .ok_or_else(|| "the authority's chain is empty".to_string())
}

fn signed_by(child: &Certificate, parent: &Certificate) -> Result<(), String> {
    let hash = match child.signature_algorithm.oid {
        ECDSA_SHA256 => Hash::Sha256,
        ECDSA_SHA384 => Hash::Sha384,
        other => {
            return Err(format!(
                "signature algorithm {other} is not ECDSA with SHA-256/384"
            ));
        }
    };
    let key = key_of(parent)?;
    let tbs = child.tbs_certificate.to_der().map_err(|e| e.to_string())?;
    let sig = child
        .signature
        .as_bytes()
        .ok_or("the signature is not whole bytes")?;
    if key.verifies(hash, &tbs, sig) {
        Ok(())
    } else {
        Err(format!(
            "the signature by {} does not verify",
            parent.tbs_certificate.subject
        ))
    }
}

fn key_of(cert: &Certificate) -> Result<PublicKey, String> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    let spki = SubjectPublicKeyInfoRef::from_der(&spki).map_err(|e| e.to_string())?;
    PublicKey::from_spki(&spki).map_err(|e| e.to_string())
}

fn extensions(cert: &Certificate) -> &[x509_cert::ext::Extension] {
    cert.tbs_certificate.extensions.as_deref().unwrap_or(&[])
}

/// The certificate's extension of type `E`, if it has one that decodes.
fn extension<'c, E: AssociatedOid + Decode<'c>>(cert: &'c Certificate) -> Option<E> {
    extensions(cert)
        .iter()
        .find(|e| e.extn_id == E::OID)
        .and_then(|e| E::from_der(e.extn_value.as_bytes()).ok())
}

/// A critical extension is one a verifier must understand or refuse the certificate (RFC
/// 5280, 4.2); berth understands these four.
fn check_critical(cert: &Certificate) -> Result<(), String> {
    let understood = [
        KeyUsage::OID,
        BasicConstraints::OID,
        SubjectAltName::OID,
        ExtendedKeyUsage::OID,
    ];
    match extensions(cert)
        .iter()
        .find(|e| e.critical && !understood.contains(&e.extn_id))
    {
        Some(ext) => Err(format!(
            "{} has a critical extension berth does not understand ({})",
            cert.tbs_certificate.subject, ext.extn_id
        )),
        None => Ok(()),
    }
}

fn check_validity(cert: &Certificate, time: DateTime<Utc>, what: &str) -> Result<(), TrustError> {
    let validity = &cert.tbs_certificate.validity;
    let to_time = |t: x509_cert::time::Time| DateTime::<Utc>::from(t.to_system_time());
    let (not_before, not_after) = (to_time(validity.not_before), to_time(validity.not_after));
    if not_before <= time && time <= not_after {
        Ok(())
    } else {
        Err(TrustError::CertificateNotValidAt {
            what: what.to_string(),
            not_before,
            not_after,
            time,
        })
    }
}
