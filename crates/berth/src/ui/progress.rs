//! Rendering transfer progress: bars on a terminal, one line per step otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use berth_transport::{Event, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Blobs smaller than this get no bar of their own; they finish before one would show.
const BAR_MIN: u64 = 1 << 20;

pub enum Reporter {
    Quiet,
    /// Each event as a JSON line on standard output.
    Json,
    /// One line per finished step on standard error.
    Plain,
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
}

impl Reporter {
    /// For a transfer's output flags.
    pub fn for_output(output: &crate::cli::OutputArgs) -> Reporter {
        if output.json {
            Reporter::Json
        } else {
            Reporter::new(output.quiet)
        }
    }

    /// Bars when standard error is a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Reporter {
        if quiet {
            Reporter::Quiet
        } else if std::io::stderr().is_terminal() {
            Reporter::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Reporter::Plain
        }
    }
}

fn short(d: &berth_oci::Digest) -> String {
    format!("{}:{}", d.algorithm(), d.short())
}

impl Progress for Reporter {
    fn event(&self, event: Event<'_>) {
        match (self, event) {
            (Reporter::Json, event) => {
                if let Some(line) = json_event(&event) {
                    println!("{line}");
                }
            }
            (Reporter::Quiet | Reporter::Plain, Event::Warning { message }) => {
                eprintln!("berth: warning: {message}");
            }
            (Reporter::Quiet, _) => {}
            (Reporter::Plain, Event::BlobDone { digest }) => {
                eprintln!("Copying blob {} done", short(digest));
            }
            (Reporter::Plain, Event::BlobExists { digest, .. }) => {
                eprintln!("Copying blob {} exists", short(digest));
            }
            (Reporter::Plain, Event::BlobMounted { digest, from, .. }) => {
                eprintln!("Copying blob {} mounted from {from}", short(digest));
            }
            (Reporter::Plain, Event::ManifestWritten { digest, .. }) => {
                eprintln!("Writing manifest {} done", short(digest));
            }
            (Reporter::Plain, _) => {}
            (Reporter::Bars { multi, bars }, event) => {
                let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
                match event {
                    Event::BlobStart { digest, size, .. } if size >= BAR_MIN => {
                        let bar = multi.add(ProgressBar::new(size));
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                            )
                            .expect("valid template")
                            .progress_chars("=> "),
                        );
                        bar.set_prefix(short(digest));
                        bars.insert(digest.to_string(), bar);
                    }
                    Event::BlobProgress { digest, bytes } => {
                        if let Some(bar) = bars.get(&digest.to_string()) {
                            bar.set_position(bytes);
                        }
                    }
                    Event::BlobDone { digest } => match bars.remove(&digest.to_string()) {
                        Some(bar) => bar.finish_with_message("done"),
                        None => {
                            let _ = multi.println(format!("{} done", short(digest)));
                        }
                    },
                    Event::BlobExists { digest, .. } => {
                        let _ = multi.println(format!("{} exists", short(digest)));
                    }
                    Event::BlobMounted { digest, from, .. } => {
                        let _ = multi.println(format!("{} mounted from {from}", short(digest)));
                    }
                    Event::ManifestWritten { digest, .. } => {
                        let _ = multi.println(format!("manifest {} written", short(digest)));
                    }
                    Event::Warning { message } => {
                        let _ = multi.println(format!("berth: warning: {message}"));
                    }
                    Event::BlobStart { .. } => {}
                }
            }
        }
    }
}

/// An event as one JSON object; byte counts in flight are left out (too many).
fn json_event(event: &Event<'_>) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match event {
        Event::BlobStart {
            digest,
            size,
            media_type,
        } => {
            json!({ "event": "blob_start", "digest": digest.to_string(), "size": size, "mediaType": media_type })
        }
        Event::BlobDone { digest } => json!({ "event": "blob_done", "digest": digest.to_string() }),
        Event::BlobExists { digest, size } => {
            json!({ "event": "blob_exists", "digest": digest.to_string(), "size": size })
        }
        Event::BlobMounted { digest, size, from } => {
            json!({ "event": "blob_mounted", "digest": digest.to_string(), "size": size, "from": from })
        }
        Event::ManifestWritten { digest, media_type } => {
            json!({ "event": "manifest_written", "digest": digest.to_string(), "mediaType": media_type })
        }
        Event::Warning { message } => json!({ "event": "warning", "message": message }),
        Event::BlobProgress { .. } => return None,
    })
}
