//! Where each history entry of a built image came from in its Dockerfile: the build record.
//!
//! The image config must stay byte for byte what BuildKit writes, so none of this goes into
//! the config: the builder keeps a [`BuildRecord`] beside the image (the store files it under
//! the config's digest) and hands it to whoever describes the build (a provenance attestation,
//! `berth scan --explain`). It is JSON (`schema: berth-build-record/1`) so that both can carry
//! it as it is.

use serde::{Deserialize, Serialize};

/// The `schema` of a serialised [`BuildRecord`].
pub const SCHEMA: &str = "berth-build-record/1";

/// Where the history of one built image came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub schema: String,
    /// The Dockerfile as the build was given it: relative to the context, absolute, or `-`
    /// for standard input.
    pub dockerfile: String,
    /// One per entry of the image config's `history`, in the same order.
    pub history: Vec<Origin>,
}

/// The stage an instruction belongs to: its position among the Dockerfile's stages, and its
/// name when it has one (`AS build`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRef {
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Display for StageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.index),
        }
    }
}

/// Where files an instruction adds came from, when not from the instruction itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Source {
    /// An image: the base a `FROM` names, or the image of `COPY --from=IMAGE`.
    Image { reference: String },
    /// An earlier stage, as `COPY --from=STAGE` names it.
    Stage(StageRef),
}

/// The instruction one history entry came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    pub stage: StageRef,
    /// The instruction's first and last line in the Dockerfile (1-based, inclusive).
    pub start_line: usize,
    pub end_line: usize,
    /// The instruction as written (its first line).
    pub instruction: String,
    /// For an entry the base image brought (the history of the image a `FROM` names), that
    /// image, and the `FROM` line above; for `COPY --from`, the stage or image it copies from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

impl Origin {
    /// Whether the entry is one of the base image's own, brought by the `FROM` line.
    pub fn is_base(&self) -> bool {
        matches!(self.source, Some(Source::Image { .. })) && self.keyword() == "FROM"
    }

    /// The instruction's keyword, upper case (`RUN`, `COPY`…).
    pub fn keyword(&self) -> String {
        self.instruction
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase()
    }
}

impl BuildRecord {
    pub fn new(dockerfile: String, history: Vec<Origin>) -> BuildRecord {
        BuildRecord {
            schema: SCHEMA.to_string(),
            dockerfile,
            history,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a build record serialises")
    }

    /// Reads a record written by [`BuildRecord::to_json`]; a schema this version does not
    /// know is an error naming it.
    pub fn from_json(text: &str) -> Result<BuildRecord, String> {
        let record: BuildRecord = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if record.schema != SCHEMA {
            return Err(format!(
                "schema {:?}, this berth reads {SCHEMA:?}",
                record.schema
            ));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let record = BuildRecord::new(
            "Dockerfile".into(),
            vec![
                Origin {
                    stage: StageRef {
                        index: 1,
                        name: None,
                    },
                    start_line: 5,
                    end_line: 5,
                    instruction: "FROM debian:bookworm".into(),
                    source: Some(Source::Image {
                        reference: "debian:bookworm".into(),
                    }),
                },
                Origin {
                    stage: StageRef {
                        index: 1,
                        name: None,
                    },
                    start_line: 7,
                    end_line: 8,
                    instruction: "COPY --from=build /out /".into(),
                    source: Some(Source::Stage(StageRef {
                        index: 0,
                        name: Some("build".into()),
                    })),
                },
            ],
        );
        let json = record.to_json();
        assert_eq!(BuildRecord::from_json(&json), Ok(record.clone()));
        assert!(record.history[0].is_base());
        assert!(!record.history[1].is_base());
        let other = json.replace(SCHEMA, "berth-build-record/9");
        assert!(BuildRecord::from_json(&other).unwrap_err().contains("/9"));
    }
}
