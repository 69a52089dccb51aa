//! Layer compression for builds: parallel gzip gives the same bytes on any number of cores,
//! and every compressed layer decompresses to the tar its diffID names.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use berth_layer::{
    Entries, LayerCompression, NoChunks, ParallelGzip, TarOptions, WrittenLayer, from_dir,
    write_gzip_layer, write_layer, write_tar,
};
use berth_oci::Digest;

/// Text-like bytes that compress about 2:1, from a fixed seed.
fn semi_compressible(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for b in state.to_le_bytes() {
            out.push(b"etaoinshrdlucmfwypvbgkqjxz  \n0123456789ABCDEF"[(b % 45) as usize]);
        }
    }
    out.truncate(len);
    out
}

fn tree(root: &Path, files: usize, size: usize) {
    fs::create_dir_all(root.join("data")).unwrap();
    for i in 0..files {
        fs::write(
            root.join(format!("data/f{i:03}")),
            semi_compressible(size, i as u64 * 2 + 1),
        )
        .unwrap();
    }
    fs::write(root.join("zeros"), vec![0u8; 3 << 20]).unwrap();
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn parallel(data: &[u8], threads: usize) -> Vec<u8> {
    let mut gz = ParallelGzip::new(Vec::new(), threads);
    // Uneven writes: block boundaries must not depend on them.
    for piece in data.chunks(65_537) {
        gz.write_all(piece).unwrap();
    }
    gz.finish().unwrap()
}

/// `entries` as a layer in memory, with nothing to reuse.
fn layer(entries: &Entries, compression: LayerCompression) -> (Vec<u8>, WrittenLayer) {
    let opts = TarOptions::default();
    write_layer(entries, &opts, compression, Vec::new(), &|_| {}, &NoChunks).unwrap()
}

#[test]
fn parallel_gzip_is_identical_on_one_and_four_threads() {
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), 6, 1 << 20);
    let entries = from_dir(src.path()).unwrap();
    let (tar, stats) = write_tar(&entries, &TarOptions::default(), Vec::new()).unwrap();

    let one = parallel(&tar, 1);
    let four = parallel(&tar, 4);
    assert_eq!(Digest::sha256(&one), Digest::sha256(&four));
    assert_eq!(one, parallel(&tar, 3), "and across runs and other counts");
    assert_eq!(gunzip(&one), tar);
    assert!(
        one.len() < tar.len() / 2,
        "compresses: {} of {}",
        one.len(),
        tar.len()
    );

    // write_layer (all cores, chunks ending at entries) gives the same bytes every time, and
    // the diffID of the tar inside.
    let (layer, written) = layer(&entries, LayerCompression::Gzip);
    assert_eq!(layer, self::layer(&entries, LayerCompression::Gzip).0);
    assert_eq!(written.stats, stats);
    assert_eq!(gunzip(&layer), tar);
    assert_eq!(Digest::sha256(&gunzip(&layer)), written.stats.diff_id);
}

#[test]
fn zstd_layers_are_reproducible_and_decompress_to_the_diff_id() {
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), 3, 300_000);
    let entries = from_dir(src.path()).unwrap();
    let (a, written) = layer(&entries, LayerCompression::Zstd);
    let stats = written.stats;
    let (b, _) = layer(&entries, LayerCompression::Zstd);
    assert_eq!(a, b);
    assert_eq!(&a[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
    let tar = zstd::decode_all(a.as_slice()).unwrap();
    assert_eq!(Digest::sha256(&tar), stats.diff_id);
    assert_eq!(tar.len() as u64, stats.size);
}

#[test]
fn an_empty_layer_compresses_to_a_valid_stream() {
    let src = tempfile::tempdir().unwrap();
    let entries = from_dir(src.path()).unwrap();
    for compression in [LayerCompression::Gzip, LayerCompression::Zstd] {
        let (out, written) = layer(&entries, compression);
        let stats = written.stats;
        let tar = match compression {
            LayerCompression::Gzip => gunzip(&out),
            LayerCompression::Zstd => zstd::decode_all(out.as_slice()).unwrap(),
        };
        assert_eq!(tar, vec![0u8; 1024]);
        assert_eq!(Digest::sha256(&tar), stats.diff_id);
    }
}

/// Throughput on ~100 MiB: `cargo test -p berth-layer --release --test compress -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark"]
fn measure_throughput() {
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), 97, 1 << 20);
    let entries = from_dir(src.path()).unwrap();
    let mib = entries.content_size() as f64 / (1 << 20) as f64;
    let line = |name: &str, run: &dyn Fn() -> usize| {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let out = run();
        let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        eprintln!(
            "{name}: {:.0} MiB/s wall, {:.0} MiB per CPU-second ({mib:.0} MiB -> {:.1} MiB)",
            mib / secs,
            mib / cpu,
            out as f64 / (1 << 20) as f64
        );
    };
    let opts = TarOptions::default();
    line("write_gzip_layer (serial)", &|| {
        write_gzip_layer(&entries, &opts, Vec::new(), &|_| {})
            .unwrap()
            .0
            .len()
    });
    line("write_layer gzip (all cores)", &|| {
        write_layer(
            &entries,
            &opts,
            LayerCompression::Gzip,
            Vec::new(),
            &|_| {},
            &NoChunks,
        )
        .unwrap()
        .0
        .len()
    });
    line("ParallelGzip, 1 thread", &|| {
        let gz = ParallelGzip::new(Vec::new(), 1);
        let (gz, _) = write_tar(&entries, &opts, gz).unwrap();
        gz.finish().unwrap().len()
    });
    line("write_layer zstd", &|| {
        write_layer(
            &entries,
            &opts,
            LayerCompression::Zstd,
            Vec::new(),
            &|_| {},
            &NoChunks,
        )
        .unwrap()
        .0
        .len()
    });
}

/// User and system CPU time of this process so far, all threads.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
