//! Build progress as BuildKit shows it: numbered steps, `CACHED`, command output with its
//! time offset, `DONE 1.2s`; or one JSON object per event.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use berth_build::{Event, Events};

use crate::cli::Progress;

pub struct Renderer {
    mode: Progress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When each step started, for output offsets.
    started: HashMap<usize, Instant>,
    /// Output not yet ended by a newline, per step.
    partial: HashMap<usize, Vec<u8>>,
}

impl Renderer {
    pub fn new(mode: Progress) -> Renderer {
        Renderer {
            mode,
            state: Mutex::new(State::default()),
        }
    }

    /// Flushes any output line left unterminated.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let steps: Vec<usize> = state.partial.keys().copied().collect();
        for step in steps {
            self.flush_step(&mut state, step);
        }
    }

    /// Prints the unterminated rest of a step's output, if any.
    fn flush_step(&self, state: &mut State, step: usize) {
        if let Some(rest) = state.partial.remove(&step).filter(|r| !r.is_empty()) {
            let offset = state.offset(step);
            self.line(step, offset, &rest);
        }
    }

    /// A status line, coloured (ANSI `colour`) on a terminal.
    fn status(&self, text: &str, colour: &str) {
        if self.mode == Progress::Tty {
            eprintln!("\x1b[{colour}m{text}\x1b[0m");
        } else {
            eprintln!("{text}");
        }
    }

    fn line(&self, step: usize, offset: f64, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches('\r');
        match self.mode {
            Progress::Tty => eprintln!("\x1b[2m#{step} {offset:.3}\x1b[0m {text}"),
            _ => eprintln!("#{step} {offset:.3} {text}"),
        }
    }
}

impl State {
    fn offset(&self, step: usize) -> f64 {
        self.started
            .get(&step)
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0)
    }
}

impl Events for Renderer {
    fn emit(&self, event: Event) {
        match self.mode {
            Progress::Quiet => {}
            Progress::Json => json(&event),
            Progress::Auto | Progress::Plain | Progress::Tty => self.text(event),
        }
    }
}

impl Renderer {
    fn text(&self, event: Event) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Started { step, name } => {
                state.started.insert(step, Instant::now());
                self.status(&format!("#{step} {name}"), "1");
            }
            Event::Cached { step } => self.status(&format!("#{step} CACHED"), "34"),
            Event::Output { step, bytes } => {
                let mut buf = state.partial.remove(&step).unwrap_or_default();
                buf.extend_from_slice(&bytes);
                let offset = state.offset(step);
                let mut rest: &[u8] = &buf;
                while let Some(i) = rest.iter().position(|b| *b == b'\n') {
                    self.line(step, offset, &rest[..i]);
                    rest = &rest[i + 1..];
                }
                state.partial.insert(step, rest.to_vec());
            }
            Event::Done { step, elapsed } => {
                self.flush_step(&mut state, step);
                let text = format!("#{step} DONE {:.1}s", elapsed.as_secs_f64());
                self.status(&text, "32");
            }
            Event::Failed { step, elapsed } => {
                self.flush_step(&mut state, step);
                let text = format!("#{step} ERROR after {:.1}s", elapsed.as_secs_f64());
                self.status(&text, "31");
            }
            Event::Warning { message } => eprintln!("WARNING: {message}"),
        }
        let _ = std::io::stderr().flush();
    }
}

/// One JSON object per event on standard output.
fn json(event: &Event) {
    let v = match event {
        Event::Started { step, name } => {
            serde_json::json!({"event": "started", "step": step, "name": name})
        }
        Event::Cached { step } => serde_json::json!({"event": "cached", "step": step}),
        Event::Output { step, bytes } => serde_json::json!({
            "event": "output", "step": step, "data": String::from_utf8_lossy(bytes),
        }),
        Event::Done { step, elapsed } => serde_json::json!({
            "event": "done", "step": step, "seconds": elapsed.as_secs_f64(),
        }),
        Event::Failed { step, elapsed } => serde_json::json!({
            "event": "failed", "step": step, "seconds": elapsed.as_secs_f64(),
        }),
        Event::Warning { message } => serde_json::json!({"event": "warning", "message": message}),
    };
    println!("{v}");
}
