//! The catalogers against Syft 1.18.1 (`syft dir:`, offline), the oracle: on the same trees,
//! berth finds the same packages (type, name, version, purl), and Syft's findings berth does
//! not share are listed here with the reason.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use berth_catalog::{DirFs, catalog};
use test_support::{require, run_ok};

/// type, name, version, purl.
type Row = (String, String, String, String);

/// What Syft finds in `dir`, as rows, for the types berth catalogues; and the other types it
/// found (cataloguers berth does not have yet).
fn syft(dir: &Path) -> (BTreeSet<Row>, BTreeSet<String>) {
    let out = run_ok(
        Command::new("syft")
            .arg(format!("dir:{}", dir.display()))
            .args(["-o", "json", "-q"])
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false"),
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect("syft writes JSON");
    let mut rows = BTreeSet::new();
    let mut others = BTreeSet::new();
    for a in doc["artifacts"].as_array().expect("syft lists artifacts") {
        let field = |k: &str| a[k].as_str().unwrap_or_default().to_string();
        let ty = field("type");
        if ty == "deb" || ty == "apk" {
            rows.insert((ty, field("name"), field("version"), field("purl")));
        } else {
            others.insert(format!("{ty} {} {}", field("name"), field("version")));
        }
    }
    (rows, others)
}

fn berth(dir: &Path) -> BTreeSet<Row> {
    let found = catalog(&DirFs::open(dir).unwrap()).unwrap();
    found
        .packages
        .into_iter()
        .map(|p| {
            (
                p.package_type.to_string(),
                p.name,
                p.version,
                p.purl.unwrap_or_default(),
            )
        })
        .collect()
}

fn row(ty: &str, name: &str, version: &str, purl: &str) -> Row {
    (ty.into(), name.into(), version.into(), purl.into())
}

/// An Alpine tree written from the apk database format (apk-tools' `installed`, the Alpine
/// wiki's "Apk spec"): no Alpine image is reachable here. os-release is a relative symlink,
/// as on Alpine.
fn alpine_tree(dir: &Path) {
    fs::create_dir_all(dir.join("lib/apk/db")).unwrap();
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::create_dir_all(dir.join("usr/lib")).unwrap();
    fs::write(
        dir.join("usr/lib/os-release"),
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    )
    .unwrap();
    symlink("../usr/lib/os-release", dir.join("etc/os-release")).unwrap();
    fs::write(dir.join("lib/apk/db/installed"), ALPINE_INSTALLED).unwrap();
}

const ALPINE_INSTALLED: &str = "\
C:Q1mhsOL/NxR+3ryoSW4UEbVTtjX3gQ=
P:musl
V:1.2.5-r0
A:x86_64
S:411323
I:651264
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1715691016
c:5e8d4ed5ba4bc30bc9d36ad74a0e8e6e6db1d9a3
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1ogJe6NHcVMcfTffO3YP1hDYOUdA=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1Ef8Kj4hKaz4dRNV2/MtcU6oSk/s=
P:libcrypto3
V:3.3.2-r0
A:x86_64
L:Apache-2.0
o:openssl
D:so:libc.musl-x86_64.so.1
F:usr/lib
R:libcrypto.so.3

P:busybox-binsh
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox

P:ca-certificates-bundle
V:20240705-r0
A:x86_64
L:MPL-2.0 AND MIT
o:ca-certificates
";

/// A Debian tree with the entries a status file can hold besides installed packages, and a
/// distroless `status.d` (one file a package, beside its `.md5sums`).
fn dpkg_states_tree(dir: &Path) {
    fs::create_dir_all(dir.join("var/lib/dpkg/status.d")).unwrap();
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(
        dir.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
    fs::write(
        dir.join("var/lib/dpkg/status"),
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\n\
         Version: 3.0.11-1~deb12u1\nDescription: Secure Sockets Layer toolkit\n more\n .\n end\n\n\
         Package: removed-keeps-config\nStatus: deinstall ok config-files\nArchitecture: amd64\n\
         Version: 1.0-1\nConffiles:\n /etc/removed.conf 0123456789abcdef0123456789abcdef\n\n\
         Package: never-installed\nStatus: purge ok not-installed\nArchitecture: amd64\n\n\
         Package: unpacked-only\nStatus: install ok unpacked\nArchitecture: all\n\
         Source: unpacked-src (2.0-1)\nVersion: 2.0-1+b1\n",
    )
    .unwrap();
    fs::write(
        dir.join("var/lib/dpkg/status.d/tzdata"),
        "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nInstalled-Size: 2184\n",
    )
    .unwrap();
    fs::write(
        dir.join("var/lib/dpkg/status.d/tzdata.md5sums"),
        "d41d8cd98f00b204e9800998ecf8427e  usr/share/zoneinfo/UTC\n",
    )
    .unwrap();
}

/// One test for every Syft run (each takes seconds), run side by side.
#[test]
fn finds_what_syft_finds() {
    require("syft");
    let debian = test_support::debian_rootfs();
    let tmp = tempfile::tempdir().unwrap();
    let busybox = tmp.path().join("busybox");
    test_support::busybox_rootfs(&busybox);
    let alpine = tmp.path().join("alpine");
    alpine_tree(&alpine);
    let states = tmp.path().join("dpkg-states");
    dpkg_states_tree(&states);

    let trees = [&debian, &busybox, &alpine, &states];
    let oracle: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = trees.iter().map(|t| s.spawn(|| syft(t))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });

    // Debian bookworm minbase: every package, to the byte of its purl.
    let (want, others) = &oracle[0];
    let got = berth(&debian);
    assert!(want.len() > 80, "syft found {} packages", want.len());
    assert_eq!(&got, want, "Debian minbase");
    assert!(others.is_empty(), "{others:?}");

    // busybox: no package database, so no package. Syft's binary classifier recognises the
    // busybox executable by its version string; berth has no binary cataloguer yet.
    let (want, others) = &oracle[1];
    assert!(berth(&busybox).is_empty());
    assert!(want.is_empty(), "{want:?}");
    assert!(
        others.iter().all(|o| o.starts_with("binary busybox ")),
        "{others:?}"
    );

    // Alpine: the apk database as Syft parses it (os-release through its symlink).
    let (want, others) = &oracle[2];
    let got = berth(&alpine);
    assert_eq!(got.len(), 4);
    assert_eq!(&got, want, "Alpine");
    assert!(others.is_empty(), "{others:?}");
    assert!(got.contains(&row(
        "apk",
        "libcrypto3",
        "3.3.2-r0",
        "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
    )));

    // dpkg states: Syft 1.18.1 also reports a package that was removed (`deinstall ok
    // config-files`: only its configuration is left) and one that was never installed
    // (`purge ok not-installed`, reported at version "UNKNOWN"). Neither has files on disk,
    // so neither is installed: both are Syft's bugs, and the only difference.
    let (want, others) = &oracle[3];
    let got = berth(&states);
    let syft_bugs: BTreeSet<Row> = [
        row(
            "deb",
            "never-installed",
            "UNKNOWN",
            "pkg:deb/debian/never-installed?arch=amd64&distro=debian-12",
        ),
        row(
            "deb",
            "removed-keeps-config",
            "1.0-1",
            "pkg:deb/debian/removed-keeps-config@1.0-1?arch=amd64&distro=debian-12",
        ),
    ]
    .into();
    let want: BTreeSet<Row> = want.difference(&syft_bugs).cloned().collect();
    assert_eq!(
        oracle[3].0.len(),
        want.len() + syft_bugs.len(),
        "{:?}",
        oracle[3].0
    );
    assert_eq!(got, want, "dpkg states");
    assert!(others.is_empty(), "{others:?}");
}
