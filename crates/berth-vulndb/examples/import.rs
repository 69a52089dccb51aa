//! Imports advisory paths (files, directories, zips) into a database under a directory and
//! reports time and size, then what opening it and one lookup cost:
//! `cargo run --release -p berth-vulndb --example import -- DB_DIR PATH...`.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_vulndb::Database;

/// Opens are timed this many times; the median is reported.
const OPENS: usize = 21;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, paths) = args.split_first().ok_or("usage: import DB_DIR PATH...")?;
    let dir = Path::new(dir);
    let mut db = Database::new();
    for path in paths {
        let start = Instant::now();
        let source = db.import(path, Path::new(path))?;
        println!(
            "import {path}: {} advisories, {} withdrawn, {} not reported, {:.0} ms",
            source.advisories,
            source.withdrawn,
            source.not_reported,
            ms(start.elapsed())
        );
    }
    let start = Instant::now();
    let file = db.save(dir)?;
    println!(
        "save {:.0} ms, {} bytes",
        ms(start.elapsed()),
        std::fs::metadata(&file)?.len()
    );
    // The package with the most advisories: the lookup a scan pays most for.
    let advisories = db.advisories()?;
    let (ecosystem, name) = advisories
        .iter()
        .flat_map(|a| &a.affected)
        .map(|f| (f.ecosystem.as_str(), f.name.as_str()))
        .max_by_key(|(e, n)| db.lookup(e, n).map_or(0, |hits| hits.len()))
        .ok_or("no advisories imported")?;
    let mut opens = Vec::new();
    let mut hits = 0;
    for _ in 0..OPENS {
        let start = Instant::now();
        let loaded = Database::open(dir)?;
        hits = loaded.lookup(ecosystem, name)?.len();
        opens.push(start.elapsed());
    }
    opens.sort();
    println!(
        "open + lookup {ecosystem}/{name} ({hits} advisories): {:.2} ms (median of {OPENS})",
        ms(opens[OPENS / 2])
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
