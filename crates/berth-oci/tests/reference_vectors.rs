//! Reference vectors: what Docker accepts, how it normalises it, and what it rejects and why.

use berth_oci::Reference;

/// (input, canonical form, familiar form when it differs from what the test derives)
const ACCEPTED: &[(&str, &str, Option<&str>)] = &[
    (
        "nginx",
        "docker.io/library/nginx:latest",
        Some("nginx:latest"),
    ),
    (
        "nginx:1.25",
        "docker.io/library/nginx:1.25",
        Some("nginx:1.25"),
    ),
    (
        "library/nginx",
        "docker.io/library/nginx:latest",
        Some("nginx:latest"),
    ),
    (
        "docker.io/nginx",
        "docker.io/library/nginx:latest",
        Some("nginx:latest"),
    ),
    (
        "docker.io/library/nginx",
        "docker.io/library/nginx:latest",
        Some("nginx:latest"),
    ),
    (
        "index.docker.io/nginx",
        "docker.io/library/nginx:latest",
        Some("nginx:latest"),
    ),
    (
        "index.docker.io/user/app",
        "docker.io/user/app:latest",
        Some("user/app:latest"),
    ),
    (
        "user/app",
        "docker.io/user/app:latest",
        Some("user/app:latest"),
    ),
    ("user/app:v1", "docker.io/user/app:v1", Some("user/app:v1")),
    (
        "docker.io/library/a/b",
        "docker.io/library/a/b:latest",
        Some("library/a/b:latest"),
    ),
    (
        "localhost/x",
        "localhost/x:latest",
        Some("localhost/x:latest"),
    ),
    (
        "localhost:5000/x",
        "localhost:5000/x:latest",
        Some("localhost:5000/x:latest"),
    ),
    (
        "host:5000/x",
        "host:5000/x:latest",
        Some("host:5000/x:latest"),
    ),
    (
        "127.0.0.1:5000/team/app:1.0",
        "127.0.0.1:5000/team/app:1.0",
        None,
    ),
    ("ghcr.io/owner/repo", "ghcr.io/owner/repo:latest", None),
    ("quay.io/a/b/c/d:tag", "quay.io/a/b/c/d:tag", None),
    ("[::1]:5000/x", "[::1]:5000/x:latest", None),
    ("[fe80::1]/x:t", "[fe80::1]/x:t", None),
    ("UPPER/x", "UPPER/x:latest", None),
    (
        "Registry.Example.com/x",
        "Registry.Example.com/x:latest",
        None,
    ),
    (
        "my-registry.local:443/a-b/c_d:t",
        "my-registry.local:443/a-b/c_d:t",
        None,
    ),
    ("a.b/c", "a.b/c:latest", None),
    (
        "docker.io/a.b/c",
        "docker.io/a.b/c:latest",
        Some("docker.io/a.b/c:latest"),
    ),
    (
        "docker.io/localhost/x",
        "docker.io/localhost/x:latest",
        Some("docker.io/localhost/x:latest"),
    ),
    (
        "x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "docker.io/library/x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Some("x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ),
    (
        "x:tag@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "docker.io/library/x:tag@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Some("x:tag@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ),
    (
        "host:5000/x:tag@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "host:5000/x:tag@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        None,
    ),
    (
        "x@sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        "docker.io/library/x@sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        None,
    ),
    ("a/b__c", "docker.io/a/b__c:latest", None),
    ("a/b.c", "docker.io/a/b.c:latest", None),
    ("a/b---c", "docker.io/a/b---c:latest", None),
    ("a/b_c.d-e", "docker.io/a/b_c.d-e:latest", None),
    ("a0/9z", "docker.io/a0/9z:latest", None),
    ("x:_", "docker.io/library/x:_", None),
    (
        "x:Tag.With-Caps_1",
        "docker.io/library/x:Tag.With-Caps_1",
        None,
    ),
    (
        "x:tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt",
        "docker.io/library/x:tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt",
        None,
    ),
    (
        "a/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "docker.io/a/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:latest",
        None,
    ),
    ("localhost:5000", "docker.io/library/localhost:5000", None),
    ("123", "docker.io/library/123:latest", None),
    (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "docker.io/library/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85:latest",
        None,
    ),
];

/// (input, part of the error message)
const REJECTED: &[(&str, &str)] = &[
    ("", "empty"),
    ("UPPER/X", "must be lowercase"),
    ("Nginx", "must be lowercase"),
    ("user/App", "must be lowercase"),
    ("x:tag@sha256:abc", "expected 64 lowercase hex digits"),
    (
        "x@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "lowercase",
    ),
    (
        "x@md5:e3b0c44298fc1c149afbf4c8996fb924",
        "unsupported digest algorithm",
    ),
    ("x@", "expected ALGORITHM:HEX"),
    ("x@sha256", "expected ALGORITHM:HEX"),
    (
        "a/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "256 characters long",
    ),
    (
        "x:ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt",
        "129 characters long",
    ),
    ("x:", "is empty"),
    ("x:-tag", "must start with"),
    ("x:.tag", "must start with"),
    ("x:t@g", "expected ALGORITHM:HEX"),
    ("x:t!g", "only letters"),
    ("x:tag:more", "only letters"),
    ("a//b", "is empty"),
    ("/a", "is empty"),
    ("a/", "is empty"),
    ("host:5000/", "is empty"),
    ("a/-b", "must start and end"),
    ("a/b-", "must start and end"),
    ("a/b..c", "single '.'"),
    ("a/b___c", "single '.'"),
    ("a/b_.c", "single '.'"),
    ("a/b c", "single '.'"),
    ("a/b:c d", "only letters"),
    ("host:port/x", "port that is not a number"),
    ("host:/x", "port that is not a number"),
    ("-host.com/x", "not a valid host name"),
    ("host-.com/x", "not a valid host name"),
    ("ho_st.com/x", "not a valid host name"),
    ("a..b.com/x", "not a valid host name"),
    ("[::1/x", "unclosed"),
    ("[zz::1]:5000/x", "invalid IPv6"),
    (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "image ID",
    ),
    (
        "x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "expected 64",
    ),
    ("émoji/x", "must start and end"),
];

#[test]
fn accepted_references_normalise_like_docker() {
    for (input, canonical, familiar) in ACCEPTED {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
        assert_eq!(r.to_string(), *canonical, "canonical form of {input:?}");
        if let Some(f) = familiar {
            assert_eq!(r.familiar(), *f, "familiar form of {input:?}");
        }
        // The canonical form parses back to the same reference.
        assert_eq!(
            Reference::parse(canonical).unwrap(),
            r,
            "re-parse of {canonical:?}"
        );
    }
}

#[test]
fn rejected_references_say_what_is_wrong() {
    for (input, why) in REJECTED {
        let err = match Reference::parse(input) {
            Ok(r) => panic!("{input:?} should be rejected, parsed as {r}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(why),
            "{input:?}: error {err:?} should mention {why:?}"
        );
        assert!(err.starts_with("invalid"), "{input:?}: {err}");
    }
}

#[test]
fn there_are_enough_vectors() {
    assert!(ACCEPTED.len() + REJECTED.len() >= 60);
}
