//! `berth db` end to end: import files, directories and zips; update from feeds served on
//! 127.0.0.1 with conditional GETs (an unchanged feed is not downloaded again), a failing
//! source that leaves the database as it was, and status as a table and as JSON.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use test_support::{Berth, corpus, free_port};

/// A static file server that sends `ETag` and `Last-Modified` and answers `If-None-Match`
/// and `If-Modified-Since` with 304, as the feeds' servers do.
const SERVER: &str = r#"
import email.utils, http.server, os, sys
class Feeds(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(sys.argv[1], self.path.lstrip("/"))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        st = os.stat(path)
        etag = '"%d-%d"' % (st.st_mtime_ns, st.st_size)
        modified = email.utils.formatdate(st.st_mtime, usegmt=True)
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)
        self.send_header("Content-Length", str(st.st_size))
        self.end_headers()
        with open(path, "rb") as f:
            self.wfile.write(f.read())
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Feeds).serve_forever()
"#;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `dir` on 127.0.0.1; returns the server and its base URL.
fn serve(dir: &Path) -> (Server, String) {
    test_support::require("python3");
    let port = free_port();
    let child = Command::new("python3")
        .args(["-c", SERVER])
        .arg(dir)
        .arg(port.to_string())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the feed server did not start");
}

/// A zip of the files under `dir`, as OSV publishes an ecosystem (deflated, one record an
/// entry).
fn zip(dir: &Path, zip: &Path) {
    test_support::run_ok(
        Command::new("python3")
            .args([
                "-c",
                "import os, sys, zipfile\n\
         with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   for name in sorted(os.listdir(sys.argv[1])):\n\
         \x20       z.write(os.path.join(sys.argv[1], name), name)\n",
            ])
            .arg(dir)
            .arg(zip),
    );
}

fn status(b: &Berth, db: &str) -> Value {
    serde_json::from_str(&b.ok(&["db", "status", "--db", db, "--format", "json"])).unwrap()
}

fn source<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name} in {status}"))
}

#[test]
fn update_downloads_what_changed_and_a_failure_changes_nothing() {
    let (Some(rustsec), Some(debian)) = (corpus("osv-rustsec"), corpus("debian-bookworm")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let feeds = tmp.path().join("feeds");
    fs::create_dir(&feeds).unwrap();
    zip(&rustsec, &feeds.join("rustsec.zip"));
    fs::copy(debian.join("tracker.json"), feeds.join("tracker.json")).unwrap();
    fs::write(feeds.join("garbage.json"), b"{\"hello\": 1}").unwrap();
    let (_server, url) = serve(&feeds);
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &tmp.path().join("root"));
    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();
    let rustsec_url = format!("rustsec={url}/rustsec.zip");
    let tracker_url = format!("debian={url}/tracker.json");
    let update = |extra: &[&str]| {
        let mut args = vec!["db", "update", "--db", db, "--source", &rustsec_url];
        args.extend(["--source", &tracker_url]);
        args.extend(extra);
        b.run(&args)
    };

    let out = update(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rustsec: downloading"), "{stderr}");
    assert!(stderr.contains("rustsec: 1193 advisories"), "{stderr}");
    let first = status(&b, db);
    assert_eq!(first["format"], 2);
    let osv = source(&first, "rustsec");
    assert_eq!(
        (osv["kind"].as_str(), osv["advisories"].as_u64()),
        (Some("osv"), Some(1193))
    );
    assert_eq!(osv["url"], format!("{url}/rustsec.zip"));
    let tracker = source(&first, "debian");
    assert_eq!(tracker["kind"], "debian-tracker");
    assert_eq!(tracker["advisories"], 28);
    assert!(
        tracker["modified"].is_string(),
        "Last-Modified is the feed's date"
    );
    let file = Path::new(db).join("vulndb.bin");
    let saved = fs::read(&file).unwrap();

    // Nothing changed upstream: nothing downloaded, the file untouched.
    let out = update(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("rustsec: not modified") && stderr.contains("debian: not modified"));
    assert!(stderr.contains("all 2 sources are current"), "{stderr}");
    assert_eq!(fs::read(&file).unwrap(), saved);

    // One feed changed: only it is read again.
    fs::write(
        feeds.join("tracker.json"),
        br#"{"pkg": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}}}"#,
    )
    .unwrap();
    let out = update(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("rustsec: not modified") && stderr.contains("debian: downloading"));
    let second = status(&b, db);
    assert_eq!(source(&second, "debian")["advisories"], 1);
    assert_eq!(source(&second, "rustsec")["imported"], osv["imported"]);
    let saved = fs::read(&file).unwrap();

    // A source that is not there, and one that does not read: the database stays as it was.
    for (extra, why) in [
        (format!("missing={url}/nothing.zip"), "404"),
        (
            format!("garbage={url}/garbage.json"),
            "neither an OSV advisory",
        ),
    ] {
        let out = update(&["--source", &extra]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(
            stderr.contains("1 of 3 sources failed")
                && stderr.contains("the database is unchanged"),
            "{stderr}"
        );
        assert_eq!(fs::read(&file).unwrap(), saved);
    }
    // Every source unreachable (an air-gapped machine): the error says how to feed it.
    let out = b.run(&[
        "db",
        "update",
        "--db",
        db,
        "--source",
        "gone=http://127.0.0.1:1/all.zip",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "1 of 1 sources failed (gone); the database is unchanged: where these \
             addresses cannot be reached, name mirrors"
        ) && stderr.contains("berth db import PATH"),
        "{stderr}"
    );
    assert_eq!(fs::read(&file).unwrap(), saved);
    let leftovers: Vec<_> = fs::read_dir(db)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["vulndb.bin"], "no download left behind");

    // Without --source, the sources file beside the database says what to update.
    fs::write(
        Path::new(db).join("sources.toml"),
        format!("[sources]\nrustsec = \"{url}/rustsec.zip\"\ndebian = \"{url}/tracker.json\"\n"),
    )
    .unwrap();
    let out = b.run(&["db", "update", "--db", db]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("all 2 sources are current"), "{stderr}");
}

#[test]
fn import_status_and_refusals() {
    let (Some(go), Some(debian)) = (corpus("osv-go"), corpus("debian-bookworm")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let b = Berth::new(env!("CARGO_BIN_EXE_berth"), &tmp.path().join("root"));

    // No database yet: the way to make one.
    let err = b.fails(&["db", "status"]);
    assert!(
        err.contains("vulndb") && err.contains("berth db update"),
        "{err}"
    );

    // Under the root by default; several paths at once, NAME=PATH names a source.
    let tracker = format!("debian={}", debian.join("tracker.json").display());
    b.ok(&["db", "import", go.to_str().unwrap(), &tracker]);
    let table = b.ok(&["db", "status"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].ends_with("vulndb/vulndb.bin (format 2)"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("SOURCE") && lines[1].contains("AGE"),
        "{table}"
    );
    assert!(
        lines[2].starts_with(go.to_str().unwrap()) && lines[2].contains("4274"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("debian") && lines[3].contains("debian-tracker"),
        "{table}"
    );

    // Importing a source again replaces it.
    b.ok(&["db", "import", &tracker]);
    let json: Value = serde_json::from_str(&b.ok(&["db", "status", "--format", "json"])).unwrap();
    assert_eq!(json["sources"].as_array().unwrap().len(), 2);

    // A bad input names itself and leaves the database alone; a damaged file is refused.
    let bad = tmp.path().join("bad.json");
    fs::write(&bad, b"{").unwrap();
    let err = b.fails(&["db", "import", bad.to_str().unwrap()]);
    assert!(
        err.contains("bad.json") && err.contains("not valid JSON"),
        "{err}"
    );
    let file = tmp.path().join("root/vulndb/vulndb.bin");
    let mut bytes = fs::read(&file).unwrap();
    bytes.truncate(bytes.len() / 2);
    fs::write(&file, &bytes).unwrap();
    let err = b.fails(&["db", "status"]);
    assert!(
        err.contains("vulndb.bin") && err.contains("cut short") && err.contains("berth db update"),
        "{err}"
    );
    // The way out it names works: an import makes the database anew, and says what is lost.
    let out = b.run(&["db", "import", &tracker]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning") && stderr.contains("without the sources it held"));
    let json: Value = serde_json::from_str(&b.ok(&["db", "status", "--format", "json"])).unwrap();
    assert_eq!(json["sources"].as_array().unwrap().len(), 1);
}
