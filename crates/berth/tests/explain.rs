//! Attribution end to end: a multi-stage image berth builds on a Debian-like base (busybox
//! with an os-release and a dpkg database), where one package comes from the base, one is
//! added by a RUN, one is copied from the build stage and one is upgraded by a later RUN.
//! `berth sbom --format berth-json` names for each the layer, history entry, Dockerfile line
//! and stage; `berth scan --explain` explains findings from a small tracker feed by the
//! instruction to change; and `berth scan --diff` after a base upgrade shows what it fixed and
//! introduced, gating on the latter.
//!
//! Needs root (namespaces, overlay mounts), as CI runs it.

use std::fs;
use std::path::Path;

use berth_vulndb::Database;
use serde_json::Value;
use test_support::{Berth, json};

const OS_RELEASE: &str = "\
PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
ID=debian
VERSION_ID=\"12\"
VERSION_CODENAME=bookworm
";

fn stanza(name: &str, source: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nSource: {source}\nVersion: {version}\n\n"
    )
}

/// The two bases: the second ships a newer libssl3 and a new libxml2.
fn base_status(newer: bool) -> String {
    let mut status = stanza("libfoo1", "foo", "1.0-1");
    status += &match newer {
        false => stanza("libssl3", "openssl", "3.0.11-1~deb12u1"),
        true => stanza("libssl3", "openssl", "3.0.15-1~deb12u1"),
    };
    if newer {
        status += &stanza("libxml2", "libxml2", "2.9.14+dfsg-1.3");
    }
    status
}

/// Line numbers matter: the test names them.
fn dockerfile(base: &str) -> String {
    format!(
        "\
FROM {base} AS build
RUN mkdir -p /out/var/lib/dpkg/status.d && printf 'Package: tool\\nStatus: install ok installed\\nArchitecture: amd64\\nVersion: 2.1-1\\n' > /out/var/lib/dpkg/status.d/tool
FROM {base}
ENV LANG=C.UTF-8
RUN printf 'Package: curl\\nStatus: install ok installed\\nArchitecture: amd64\\nVersion: 7.88.1-10\\n\\n' >> /var/lib/dpkg/status
COPY --from=build /out/ /
RUN sed -i 's/^Version: 1.0-1$/Version: 1.1-1/' /var/lib/dpkg/status
"
    )
}

/// The Debian tracker's feed, as `berth db import` reads it.
const FEED: &str = r#"{
  "openssl": {"CVE-2024-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "3.0.15-1~deb12u1", "urgency": "high"}}}},
  "foo": {"CVE-2024-0002": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.2-1", "urgency": "medium"}}}},
  "curl": {"CVE-2024-0003": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "7.88.1-10+deb12u5", "urgency": "medium"}}}},
  "tool": {"CVE-2024-0004": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}}},
  "libxml2": {"CVE-2024-0005": {"releases": {"bookworm": {"status": "open", "urgency": "medium"}}}}
}"#;

/// Imports busybox with an os-release and a dpkg database as `name`.
fn import_base(b: &Berth, dir: &Path, name: &str, status: &str) {
    let rootfs = dir.join(name.replace(':', "-"));
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::copy(test_support::busybox(), rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "mkdir", "printf", "sed"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    fs::create_dir_all(rootfs.join("etc")).unwrap();
    fs::write(rootfs.join("etc/os-release"), OS_RELEASE).unwrap();
    fs::create_dir_all(rootfs.join("var/lib/dpkg")).unwrap();
    fs::write(rootfs.join("var/lib/dpkg/status"), status).unwrap();
    fs::create_dir_all(rootfs.join("tmp")).unwrap();
    let source = rootfs.to_str().unwrap();
    b.ok(&["import", "-q", "--source-date-epoch", "0", source, name]);
}

fn build(b: &Berth, dir: &Path, base: &str, tag: &str) {
    let ctx = dir.join(format!("ctx-{}", tag.replace(':', "-")));
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile(base)).unwrap();
    let ctx = ctx.to_str().unwrap();
    let file = format!("{ctx}/Dockerfile");
    b.ok(&[
        "build",
        "-q",
        "--network",
        "none",
        "-f",
        &file,
        "-t",
        tag,
        ctx,
    ]);
}

/// `berth sbom --format berth-json`'s packages by name.
fn sbom_packages(b: &Berth, image: &str) -> Vec<(String, Value)> {
    let doc = json(&b.ok(&["sbom", "--format", "berth-json", image]));
    let packages = doc["packages"].as_array().unwrap();
    packages
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p.clone()))
        .collect()
}

#[test]
fn each_package_and_finding_names_its_instruction_and_a_base_upgrade_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &root);
    import_base(&b, dir.path(), "base:1", &base_status(false));
    import_base(&b, dir.path(), "base:2", &base_status(true));
    build(&b, dir.path(), "base:1", "app:1");
    build(&b, dir.path(), "base:2", "app:2");
    let dockerfile = format!("{}/ctx-app-1/Dockerfile", dir.path().display());

    // The SBOM carries each package's origin. Layers: 0 the base, 1 the RUN that appends
    // curl, 2 the COPY --from=build, 3 the RUN that upgrades libfoo1; the ENV between them is
    // an empty_layer history entry, so layer 1 is history entry 2.
    let packages = sbom_packages(&b, "app:1");
    let origin = |name: &str| {
        let (_, p) = packages.iter().find(|(n, _)| n == name).unwrap();
        p["origin"].clone()
    };
    let at = |name: &str| {
        let o = origin(name);
        let d = &o["step"]["dockerfile"];
        (
            o["layer"]["index"].as_u64().unwrap(),
            o["step"]["history"].as_u64().unwrap(),
            d["startLine"].as_u64().unwrap(),
            d["stage"]["index"].as_u64().unwrap(),
            d["instruction"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(at("libssl3"), (0, 0, 3, 1, "FROM base:1".to_string()));
    assert_eq!(
        origin("libssl3")["step"]["dockerfile"]["source"]["reference"],
        "base:1"
    );
    assert_eq!(
        origin("libssl3")["step"]["dockerfile"]["file"],
        dockerfile.as_str()
    );
    let (layer, history, line, stage, instruction) = at("curl");
    assert_eq!((layer, history, line, stage), (1, 2, 5, 1));
    assert!(
        instruction.starts_with("RUN printf 'Package: curl"),
        "{instruction}"
    );
    let (layer, history, line, stage, instruction) = at("tool");
    assert_eq!((layer, history, line, stage), (2, 3, 6, 1));
    assert_eq!(instruction, "COPY --from=build /out/ /");
    let source = &origin("tool")["step"]["dockerfile"]["source"];
    assert_eq!(
        (source["type"].as_str(), source["name"].as_str()),
        (Some("stage"), Some("build"))
    );
    assert_eq!(source["index"], 0);
    let (layer, history, line, _, instruction) = at("libfoo1");
    assert_eq!((layer, history, line), (3, 4, 7));
    assert!(instruction.starts_with("RUN sed"), "{instruction}");
    let upgraded = &origin("libfoo1")["upgraded"];
    assert_eq!(upgraded["fromVersion"], "1.0-1");
    assert_eq!(upgraded["layer"]["index"], 0);
    assert_eq!(upgraded["step"]["dockerfile"]["startLine"], 3);
    assert_eq!(origin("libssl3")["upgraded"], Value::Null);
    let created_by = origin("curl")["step"]["createdBy"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        created_by.starts_with("RUN /bin/sh -c printf"),
        "{created_by}"
    );

    // The findings, explained by the instruction to change.
    let feed = dir.path().join("tracker.json");
    fs::write(&feed, FEED).unwrap();
    let db_dir = dir.path().join("vulndb");
    let mut db = Database::new();
    db.import("debian", &feed).unwrap();
    db.save(&db_dir).unwrap();
    let db_dir = db_dir.to_str().unwrap();
    let out = b.ok(&["scan", "--db", db_dir, "--explain", "app:1"]);
    let (_, text) = out
        .split_once("\nWhere each finding came from:\n")
        .unwrap_or_else(|| panic!("no explanations after the table:\n{out}"));
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} in:\n{text}"))
            .to_string()
    };
    assert_eq!(
        line("CVE-2024-0001"),
        format!(
            "CVE-2024-0001  FROM base:1 at {dockerfile}:3 brings libssl3 3.0.11-1~deb12u1; fixed in 3.0.15-1~deb12u1: rebuild on a newer base (`--pull` for the current base:1, or a newer tag)"
        )
    );
    assert!(
        line("CVE-2024-0002").contains(&format!(
            "at {dockerfile}:7 (stage 1) upgrades libfoo1 from 1.0-1 (brought by FROM base:1 at {dockerfile}:3) to 1.1-1; fixed in 1.2-1: upgrade libfoo1 to 1.2-1 or later in this step"
        )),
        "{text}"
    );
    assert!(
        line("CVE-2024-0003").contains(&format!(
            "at {dockerfile}:5 (stage 1) installs curl 7.88.1-10; fixed in 7.88.1-10+deb12u5: pin or upgrade curl to 7.88.1-10+deb12u5 or later in this RUN"
        )),
        "{text}"
    );
    assert_eq!(
        line("CVE-2024-0004"),
        format!(
            "CVE-2024-0004  COPY --from=build /out/ / at {dockerfile}:6 (stage 1) copies tool 2.1-1 from stage build; no fixed version (affected): remove tool from stage build if the image does not need it"
        )
    );

    // A rebuild on the newer base: openssl's flaw is fixed, libxml2's introduced; the gate
    // looks at what the rebuild introduced.
    let out = b.run(&[
        "scan",
        "--db",
        db_dir,
        "--diff",
        "app:1",
        "--exit-code",
        "3",
        "app:2",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let rendered = String::from_utf8(out.stdout).unwrap();
    let section = |title: &str| -> Vec<String> {
        let ids = rendered
            .split(title)
            .nth(1)
            .unwrap_or_else(|| panic!("no {title:?} in:\n{rendered}"));
        ids.lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("CVE-")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(section("Fixed:"), ["CVE-2024-0001"]);
    assert_eq!(section("Introduced:"), ["CVE-2024-0005"]);
    assert_eq!(
        section("Unchanged:"),
        // By severity, then package: curl, libfoo1 (both medium), tool.
        ["CVE-2024-0003", "CVE-2024-0002", "CVE-2024-0004"]
    );
    assert!(
        rendered.starts_with("1 fixed, 1 introduced, 3 unchanged\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains("HIGH     CVE-2024-0001  libssl3 3.0.11-1~deb12u1 -> 3.0.15-1~deb12u1\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains("CVE-2024-0005  libxml2 not installed -> 2.9.14+dfsg-1.3 (no fix yet)\n"),
        "{rendered}"
    );
}
