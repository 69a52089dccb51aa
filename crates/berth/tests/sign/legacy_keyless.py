"""A legacy keyless signature as cosign (before bundles) pushed it, made with a sigstore
instance of this script's own, so that berth's keyless verification of `.sig` layers can be
checked against an implementation of the formats that is not berth's (Python's
`cryptography`): a Fulcio-like CA issuing a short-lived code-signing certificate with an SCT
from a CT log, a Rekor-like log's signed entry timestamp over a `hashedrekord` entry, and the
trusted root naming the three.

Usage: legacy_keyless.py REGISTRY REPO DIGEST OUT_DIR IDENTITY ISSUER [--tamper-set]

Writes OUT_DIR/trusted_root.json and OUT_DIR/other_root.json (a root of another, unrelated
instance), and pushes the tag `sha256-<hex>.sig` of REPO in REGISTRY (plain HTTP) with one
simple-signing layer for DIGEST, annotated as cosign annotates it. `--tamper-set` flips a bit
of the SET before pushing.
"""

import base64
import datetime
import hashlib
import json
import os
import struct
import sys
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
ISSUER_V1_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def b64(data):
    return base64.b64encode(data).decode()


def spki_der(key):
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def der_length(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_utf8(text):
    raw = text.encode()
    return b"\x0c" + der_length(len(raw)) + raw


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class Instance:
    """A CA, a CT log and a transparency log, each an ECDSA P-256 key."""

    def __init__(self, now):
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "berth.test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "berth-test-fulcio"),
            ]
        )
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(self.ca_key, hashes.SHA256())
        )

    def trusted_root(self, now):
        start = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

        def log(key, url):
            der = spki_der(key)
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(der),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": b64(hashlib.sha256(der).digest())},
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(self.rekor_key, "https://rekor.berth.test")],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "berth.test", "commonName": "berth-test-fulcio"},
                    "uri": "https://fulcio.berth.test",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": b64(self.ca.public_bytes(serialization.Encoding.DER))}
                        ]
                    },
                    "validFor": {"start": start},
                }
            ],
            "ctlogs": [log(self.ct_key, "https://ctfe.berth.test")],
        }

    def issue(self, now, identity, issuer):
        """A leaf for `identity` vouched for by `issuer`, with an SCT: its key and certificate."""
        key = ec.generate_private_key(ec.SECP256R1())

        def builder():
            return (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(self.ca.subject)
                .public_key(key.public_key())
                .serial_number(4242)
                .not_valid_before(now - datetime.timedelta(minutes=1))
                .not_valid_after(now + datetime.timedelta(minutes=10))
                .add_extension(
                    x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                    critical=True,
                )
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
                )
                .add_extension(
                    x509.SubjectAlternativeName([x509.RFC822Name(identity)]), critical=True
                )
                .add_extension(
                    x509.UnrecognizedExtension(ISSUER_V1_OID, issuer.encode()), critical=False
                )
                .add_extension(
                    x509.UnrecognizedExtension(ISSUER_V2_OID, der_utf8(issuer)), critical=False
                )
            )

        # The precertificate: the certificate without its SCT list, which the CT log signs
        # (RFC 6962, 3.2), with the hash of the issuer's key.
        precert = builder().sign(self.ca_key, hashes.SHA256())
        tbs = precert.tbs_certificate_bytes
        timestamp = int(now.timestamp() * 1000)
        signed = (
            b"\x00\x00"
            + struct.pack(">Q", timestamp)
            + b"\x00\x01"
            + hashlib.sha256(spki_der(self.ca_key)).digest()
            + len(tbs).to_bytes(3, "big")
            + tbs
            + b"\x00\x00"
        )
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (
            b"\x00"
            + hashlib.sha256(spki_der(self.ct_key)).digest()
            + struct.pack(">Q", timestamp)
            + b"\x00\x00"
            + b"\x04\x03"
            + struct.pack(">H", len(signature))
            + signature
        )
        listed = struct.pack(">H", len(sct)) + sct
        tls_list = struct.pack(">H", len(listed)) + listed
        octets = b"\x04" + der_length(len(tls_list)) + tls_list
        cert = (
            builder()
            .add_extension(x509.UnrecognizedExtension(SCT_LIST_OID, octets), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        assert cert.tbs_certificate_bytes != tbs
        return key, cert

    def log(self, now, payload, signature, cert_pem):
        """Rekor's bundle for a hashedrekord entry of `signature` over `payload`."""
        body = canonical(
            {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {
                        "hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
                    },
                    "signature": {
                        "content": b64(signature),
                        "publicKey": {"content": b64(cert_pem)},
                    },
                },
            }
        )
        promised = {
            "body": b64(body),
            "integratedTime": int(now.timestamp()),
            "logIndex": 7,
            "logID": hashlib.sha256(spki_der(self.rekor_key)).hexdigest(),
        }
        set_ = self.rekor_key.sign(canonical(promised), ec.ECDSA(hashes.SHA256()))
        return {"SignedEntryTimestamp": b64(set_), "Payload": promised}


def push(registry, repo, tag, payload, annotations):
    base = f"http://{registry}/v2/{repo}"

    def blob(data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = urllib.request.Request(f"{base}/blobs/uploads/", method="POST", data=b"")
        with urllib.request.urlopen(start) as r:
            location = r.headers["Location"]
        if location.startswith("/"):
            location = f"http://{registry}{location}"
        sep = "&" if "?" in location else "?"
        put = urllib.request.Request(f"{location}{sep}digest={digest}", method="PUT", data=data)
        put.add_header("Content-Type", "application/octet-stream")
        urllib.request.urlopen(put).close()
        return digest

    config = canonical({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}})
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": blob(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": blob(payload),
                "size": len(payload),
                "annotations": annotations,
            }
        ],
    }
    put = urllib.request.Request(
        f"{base}/manifests/{tag}", method="PUT", data=json.dumps(manifest).encode()
    )
    put.add_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    urllib.request.urlopen(put).close()


def main():
    registry, repo, digest, out, identity, issuer = sys.argv[1:7]
    tamper = "--tamper-set" in sys.argv[7:]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    instance = Instance(now)
    key, cert = instance.issue(now, identity, issuer)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    chain_pem = instance.ca.public_bytes(serialization.Encoding.PEM)
    payload = canonical(
        {
            "critical": {
                "identity": {"docker-reference": f"{registry}/{repo}"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    bundle = instance.log(now, payload, signature, cert_pem)
    if tamper:
        raw = bytearray(base64.b64decode(bundle["SignedEntryTimestamp"]))
        raw[-1] ^= 1
        bundle["SignedEntryTimestamp"] = b64(bytes(raw))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "trusted_root.json"), "w") as f:
        json.dump(instance.trusted_root(now), f)
    with open(os.path.join(out, "other_root.json"), "w") as f:
        json.dump(Instance(now).trusted_root(now), f)
    push(
        registry,
        repo,
        digest.replace(":", "-") + ".sig",
        payload,
        {
            "dev.cosignproject.cosign/signature": b64(signature),
            "dev.sigstore.cosign/certificate": cert_pem.decode(),
            "dev.sigstore.cosign/chain": chain_pem.decode(),
            "dev.sigstore.cosign/bundle": json.dumps(bundle),
        },
    )


if __name__ == "__main__":
    main()
