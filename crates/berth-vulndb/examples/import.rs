//! Imports advisory paths into a database under a directory and reports time and size:
//! `cargo run --release -p berth-vulndb --example import -- DB_DIR PATH...`.

use std::path::Path;
use std::time::Instant;

use berth_vulndb::Database;

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
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
    let start = Instant::now();
    let file = db.save(dir)?;
    let saved = start.elapsed();
    let start = Instant::now();
    let loaded = Database::open(dir)?;
    println!(
        "save {:.0} ms, {} bytes; open {:.0} ms, {} advisories",
        saved.as_secs_f64() * 1000.0,
        std::fs::metadata(&file)?.len(),
        start.elapsed().as_secs_f64() * 1000.0,
        loaded.advisories().count()
    );
    Ok(())
}
