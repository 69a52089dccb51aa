#!/usr/bin/env python3
"""Writes a Trivy vulnerability database from Debian security tracker JSON feeds and OSV records.

    write.py CACHE_DIR TRACKER.json|OSV_DIR [TRACKER.json|OSV_DIR ...]

makes CACHE_DIR/db/trivy.db (BoltDB) and CACHE_DIR/db/metadata.json, which Trivy reads with
`--cache-dir CACHE_DIR --skip-db-update`. The inputs are the files berth-vulndb imports, so
Trivy and berth judge the same advisories: Trivy is the oracle berth's matcher is checked
against (crates/berth/tests/trivy.rs).

Trivy's own database is built by trivy-db from the tracker's annotations (`<no-dsa>`,
`<postponed>`...); the JSON feed spells the same verdicts per release. Each one is stored the
way trivy-db's Debian source stores the annotation it stands for:

| feed                                  | annotation       | stored                         |
|---------------------------------------|------------------|--------------------------------|
| resolved, fixed_version V             | fixed V          | FixedVersion V                 |
| resolved, fixed_version 0             | <not-affected>   | nothing                        |
| undetermined                          | <undetermined>   | nothing                        |
| open, urgency end-of-life             | <end-of-life>    | Status end_of_life             |
| open, nodsa, nodsa_reason postponed   | <postponed>      | Status fix_deferred            |
| open, nodsa, nodsa_reason ignored     | <ignored>        | Status will_not_fix            |
| open, nodsa, no reason                | <no-dsa>         | Status affected                |
| open                                  | <unfixed>        | Status affected                |

and the release's urgency becomes the package's severity as trivy-db maps it (`unimportant`
is LOW there). Releases whose major version is not known here (sid, stale ones) are skipped,
as trivy-db skips codenames its distribution list does not give a version for.

The bucket layout (trivy-db `pkg/db`): `debian <major>` → source package → vulnerability id →
advisory JSON; `vulnerability` → id → details (the tracker's description as the title);
`data-source` → `debian <major>` → where the advisories come from.

A directory is read as OSV records (every `.json`, `.yaml`, `.yml` under it; withdrawn ones
skipped) for the language ecosystems, stored as trivy-db's OSV-based sources store them: a
bucket `<ecosystem>::<source>` (`pip::`, `npm::`, `maven::`, `go::`, `cargo::`; Trivy reads
every bucket with the ecosystem's prefix) → package name (PyPI's lower case with `-` for `_`
and `.`) → the record's id → `VulnerableVersions` (per range `>=introduced, <fixed` or
`<=last_affected`; each listed version `=V` when there is no range) and `PatchedVersions`
(the fixed versions); `GIT` ranges are not read.
"""

import datetime
import json
import os
import struct
import sys

try:
    import boltdb
except ImportError:
    sys.exit("the Python package boltdb is missing: run scripts/install-test-deps")

# trivy-db's Status numbers (pkg/types/status.go), as stored in the database.
AFFECTED, WILL_NOT_FIX, FIX_DEFERRED, END_OF_LIFE = 2, 5, 6, 7
# trivy-db's Severity numbers: UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL.
URGENCY = {
    "unimportant": 1, "low": 1, "low*": 1, "low**": 1,
    "medium": 2, "medium*": 2, "medium**": 2,
    "high": 3, "high*": 3, "high**": 3,
}
MAJOR = {"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}
SOURCE = {
    "ID": "debian",
    "Name": "Debian Security Tracker",
    "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
}


def advisory(where, verdict):
    """The stored advisory for one release's verdict, or None when Trivy stores nothing."""
    status = verdict.get("status")
    if status == "undetermined":
        return None
    if status == "resolved":
        fixed = verdict.get("fixed_version")
        if not fixed:
            sys.exit(f"{where}: status resolved without a fixed_version")
        if fixed == "0":
            return None
        out = {"FixedVersion": fixed}
    elif status == "open":
        reason = verdict.get("nodsa_reason") or ""
        if verdict.get("urgency") == "end-of-life":
            out = {"Status": END_OF_LIFE}
        elif reason == "postponed":
            out = {"Status": FIX_DEFERRED}
        elif reason == "ignored":
            out = {"Status": WILL_NOT_FIX}
        else:
            out = {"Status": AFFECTED}
    else:
        sys.exit(f"{where}: unknown status {status!r}")
    severity = URGENCY.get(verdict.get("urgency") or "", 0)
    if severity:
        out["Severity"] = severity
    return out


def read(paths):
    """(platform, package, id) → advisory, and id → title, from every feed."""
    advisories, titles = {}, {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            feed = json.load(f)
        for package, issues in feed.items():
            for vuln_id, issue in issues.items():
                titles.setdefault(vuln_id, (issue.get("description") or "").strip("()"))
                releases = issue.get("releases") or {}
                for release, verdict in releases.items():
                    major = MAJOR.get(release)
                    if major is None:
                        continue
                    stored = advisory(f"{path}: {package} {vuln_id} {release}", verdict)
                    if stored is not None:
                        advisories[(f"debian {major}", package, vuln_id)] = stored
    return advisories, titles


# OSV's ecosystems as trivy-db names them (its `types.Ecosystem`).
ECOSYSTEMS = {"PyPI": "pip", "npm": "npm", "Maven": "maven", "Go": "go", "crates.io": "cargo"}
OSV_SOURCE = {"ID": "osv", "Name": "OSV", "URL": "https://osv.dev"}


def osv_records(directory):
    """Every OSV record under `directory`, JSON or YAML."""
    for base, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            path = os.path.join(base, name)
            if name.endswith(".json"):
                with open(path, encoding="utf-8") as f:
                    yield json.load(f)
            elif name.endswith((".yaml", ".yml")):
                import yaml  # only the PyPI corpus needs it
                with open(path, encoding="utf-8") as f:
                    yield yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def osv_advisory(affected, lowest):
    """(VulnerableVersions, PatchedVersions) of one `affected[]` entry; `lowest` is the
    ecosystem's constraint for every version (`introduced: "0"` never fixed)."""
    vulnerable, patched = [], []
    for r in affected.get("ranges") or []:
        if r.get("type") not in ("SEMVER", "ECOSYSTEM"):
            continue
        lower, is_open = None, False
        for event in r.get("events") or []:
            ((kind, version),) = event.items()
            if kind == "introduced":
                lower, is_open = (None if version == "0" else f">={version}"), True
            elif kind in ("fixed", "last_affected"):
                upper = f"<{version}" if kind == "fixed" else f"<={version}"
                vulnerable.append(f"{lower}, {upper}" if lower else upper)
                if kind == "fixed":
                    patched.append(version)
                lower, is_open = None, False
        if is_open:  # introduced and never fixed
            vulnerable.append(lower or lowest)
    if not (affected.get("ranges") or []):
        vulnerable = [f"={v}" for v in affected.get("versions") or []]
    return vulnerable, patched


def read_osv(directory):
    """(bucket, package, id) → advisory, and id → details, from one directory of records."""
    advisories, details = {}, {}
    for record in osv_records(directory):
        if record.get("withdrawn"):
            continue
        for affected in record.get("affected") or []:
            package = affected.get("package") or {}
            ecosystem = ECOSYSTEMS.get(package.get("ecosystem"))
            if ecosystem is None:
                continue
            name = package["name"]
            if ecosystem == "pip":
                name = name.lower().replace("_", "-").replace(".", "-")
            # In SemVer a pseudo-version (`v0.0.0-2020…`) sorts before `0`: OSV's `0` is
            # below every version, so the constraint starts at the lowest pre-release.
            lowest = ">=0" if ecosystem in ("pip", "maven") else ">=0.0.0-0"
            vulnerable, patched = osv_advisory(affected, lowest)
            if not vulnerable:
                continue
            key = (f"{ecosystem}::berth osv", name, record["id"])
            stored = advisories.setdefault(key, {"VulnerableVersions": [], "PatchedVersions": []})
            stored["VulnerableVersions"] += vulnerable
            stored["PatchedVersions"] += patched
            details[record["id"]] = {"Title": record.get("summary") or ""}
    return advisories, details


def put(tx, buckets, key, value):
    bucket = tx.bucket(buckets[0].encode()) or tx.create_bucket(buckets[0].encode())
    for name in buckets[1:]:
        bucket = bucket.bucket(name.encode()) or bucket.create_bucket(name.encode())
    bucket.put(key.encode(), json.dumps(value, separators=(",", ":")).encode())


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def seal_meta_pages(path):
    """bbolt refuses a meta page whose checksum (FNV-1a 64 of the meta's fields before it)
    is wrong; the boltdb package writes 0 there."""
    page_header, meta_size, page_size = 16, 64, 4096
    with open(path, "r+b") as f:
        for page in range(2):
            at = page * page_size + page_header
            f.seek(at)
            fields = f.read(meta_size - 8)
            f.seek(at + meta_size - 8)
            f.write(struct.pack("<Q", fnv1a64(fields)))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2])
    cache, inputs = sys.argv[1], sys.argv[2:]
    advisories, titles = read([p for p in inputs if not os.path.isdir(p)])
    language, details = {}, {}
    for directory in (p for p in inputs if os.path.isdir(p)):
        found, described = read_osv(directory)
        language.update(found)
        details.update(described)
    db_dir = os.path.join(cache, "db")
    os.makedirs(db_dir, exist_ok=True)
    path = os.path.join(db_dir, "trivy.db")
    if os.path.exists(path):
        os.remove(path)
    db = boltdb.BoltDB(path)
    with db.update() as tx:
        for (platform, package, vuln_id), stored in sorted(advisories.items()):
            put(tx, [platform, package], vuln_id, stored)
            put(tx, ["vulnerability"], vuln_id, {"Title": titles[vuln_id]} if titles[vuln_id] else {})
            put(tx, ["data-source"], platform, SOURCE)
        for (bucket, package, vuln_id), stored in sorted(language.items()):
            put(tx, [bucket, package], vuln_id, stored)
            put(tx, ["vulnerability"], vuln_id, details[vuln_id])
            put(tx, ["data-source"], bucket, OSV_SOURCE)
    del db  # closes the file (the package's close() would run twice)
    seal_meta_pages(path)
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    with open(os.path.join(db_dir, "metadata.json"), "w", encoding="utf-8") as f:
        json.dump({
            "Version": 2,
            "NextUpdate": stamp(now + datetime.timedelta(days=3650)),
            "UpdatedAt": stamp(now),
            "DownloadedAt": stamp(now),
        }, f)


if __name__ == "__main__":
    main()
