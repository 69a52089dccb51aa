//! The image configuration: what a container runs with, the layers' diff IDs, and history.
//!
//! Every field Docker writes has a typed home here; anything else (Docker's `container_config`,
//! `docker_version`, a future spec field) is kept in `extra` maps, so a read-modify-write never
//! drops what berth doesn't know.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Digest;
use crate::platform::Platform;

/// The largest image config berth writes or reads: containers/image's `MaxConfigBodySize`
/// (4 MiB), the limit Podman, skopeo and CRI-O read every config under. Checked when a config
/// is written ([`ImageConfig::to_bytes_within_limit`]), so berth never makes an image that its
/// own `inspect`, `history` and `save`, or another tool, would refuse to read.
pub const MAX_CONFIG_SIZE: usize = 4 << 20;

/// An image config that would be larger than [`MAX_CONFIG_SIZE`], and what made it so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the image config would be {size} bytes, above the {} MiB limit that berth, Podman and skopeo read configs under: {cause}",
    MAX_CONFIG_SIZE >> 20
)]
pub struct ConfigTooLarge {
    pub size: usize,
    /// The largest part of the config, as a user wrote it: "40000 LABELs take 21000000 bytes".
    pub cause: String,
}

/// An OCI / Docker image configuration (`application/vnd.oci.image.config.v1+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ImageConfig {
    /// RFC 3339 time the image was created, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a container started from the image runs with. Docker's field spelling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Keys like `80/tcp`; values are always `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Docker's HEALTHCHECK settings; durations in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", command]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for RootFs {
    fn default() -> RootFs {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// One step of how the image was made. Steps with `empty_layer` added no layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("config serialises")
    }

    /// The bytes of a config berth is about to store, refused past [`MAX_CONFIG_SIZE`] with
    /// the part (labels, environment, history…) that made it large.
    pub fn to_bytes_within_limit(&self) -> Result<Vec<u8>, ConfigTooLarge> {
        let bytes = self.to_bytes();
        if bytes.len() <= MAX_CONFIG_SIZE {
            return Ok(bytes);
        }
        Err(ConfigTooLarge {
            size: bytes.len(),
            cause: self.largest_part(),
        })
    }

    /// The part of the config that takes the most bytes, counted as its instructions wrote it.
    fn largest_part(&self) -> String {
        fn size(value: &impl Serialize) -> usize {
            serde_json::to_vec(value).map_or(0, |v| v.len())
        }
        let c = self.config.clone().unwrap_or_default();
        let parts = [
            (
                c.labels.as_ref().map_or(0, |l| l.len()),
                "LABELs",
                size(&c.labels),
            ),
            (
                c.env.as_ref().map_or(0, |e| e.len()),
                "ENV variables",
                size(&c.env),
            ),
            (
                c.on_build.as_ref().map_or(0, |o| o.len()),
                "ONBUILD triggers",
                size(&c.on_build),
            ),
            (
                c.exposed_ports.as_ref().map_or(0, |p| p.len()),
                "EXPOSEd ports",
                size(&c.exposed_ports),
            ),
            (
                c.volumes.as_ref().map_or(0, |v| v.len()),
                "VOLUMEs",
                size(&c.volumes),
            ),
            (self.history.len(), "history entries", size(&self.history)),
            (
                self.rootfs.diff_ids.len(),
                "layers",
                size(&self.rootfs.diff_ids),
            ),
        ];
        match parts.into_iter().max_by_key(|&(_, _, bytes)| bytes) {
            Some((count, what, bytes)) if bytes > MAX_CONFIG_SIZE / 2 => {
                format!("{count} {what} take {bytes} bytes of it")
            }
            // No one part dominates: the command line, entrypoint, or fields of other tools.
            _ => "no single kind of instruction dominates; it holds many large values".to_string(),
        }
    }

    /// The platform this image runs on, normalised.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            variant: self.variant.clone(),
            ..Platform::default()
        }
        .normalized()
    }

    pub fn set_platform(&mut self, p: &Platform) {
        self.architecture = p.architecture.clone();
        self.os = p.os.clone();
        self.variant = p.variant.clone();
        self.os_version = p.os_version.clone();
        self.os_features = p.os_features.clone();
    }

    /// Pairs each history step with the index of the layer it made, if any.
    pub fn history_with_layers(&self) -> Vec<(&History, Option<usize>)> {
        let mut next = 0;
        self.history
            .iter()
            .map(|h| {
                if h.empty_layer {
                    (h, None)
                } else {
                    next += 1;
                    (h, Some(next - 1))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config as `docker build` writes it, with fields berth has no type for.
    const DOCKER_CONFIG: &str = r#"{"architecture":"amd64","config":{"Hostname":"","User":"app","ExposedPorts":{"80/tcp":{}},"Env":["PATH=/usr/bin"],"Entrypoint":["/entry"],"Cmd":["serve"],"Volumes":{"/data":{}},"WorkingDir":"/app","Labels":{"a":"b"},"StopSignal":"SIGQUIT","Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3},"OnBuild":["RUN x"],"Shell":["/bin/bash","-c"],"ArgsEscaped":true},"container":"abc","container_config":{"Cmd":["/bin/sh"]},"created":"2024-01-02T03:04:05.123456789Z","docker_version":"24.0.7","history":[{"created":"2024-01-02T03:04:05Z","created_by":"ADD file in /"},{"created_by":"CMD [\"serve\"]","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;

    #[test]
    fn a_config_past_the_limit_is_refused_naming_what_made_it_large() {
        let mut c = ImageConfig::parse(DOCKER_CONFIG.as_bytes()).unwrap();
        let labels = c.config.as_mut().unwrap().labels.get_or_insert_default();
        for i in 0..40_000 {
            labels.insert(format!("label.{i:05}"), "v".repeat(100));
        }
        let err = c.to_bytes_within_limit().unwrap_err();
        assert!(err.size > MAX_CONFIG_SIZE, "{err}");
        assert!(err.cause.starts_with("40001 LABELs take "), "{err}");
        assert!(err.to_string().contains("above the 4 MiB limit"), "{err}");
        // Under the limit, the bytes are the config's own.
        let small = ImageConfig::parse(DOCKER_CONFIG.as_bytes()).unwrap();
        assert_eq!(small.to_bytes_within_limit().unwrap(), small.to_bytes());
    }

    #[test]
    fn a_config_exactly_at_the_limit_is_written() {
        let mut c = ImageConfig::default();
        let empty = c.to_bytes().len();
        c.author = Some(String::new());
        let overhead = c.to_bytes().len() - empty;
        c.author = Some("a".repeat(MAX_CONFIG_SIZE - empty - overhead));
        assert_eq!(c.to_bytes_within_limit().unwrap().len(), MAX_CONFIG_SIZE);
        c.author.as_mut().unwrap().push('a');
        let err = c.to_bytes_within_limit().unwrap_err();
        assert!(err.cause.contains("no single kind"), "{err}");
    }

    #[test]
    fn reads_every_docker_field() {
        let c = ImageConfig::parse(DOCKER_CONFIG.as_bytes()).unwrap();
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.user.as_deref(), Some("app"));
        assert!(cc.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
        assert_eq!(cc.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(
            cc.healthcheck.as_ref().unwrap().interval,
            Some(30_000_000_000)
        );
        assert_eq!(cc.shell.as_ref().unwrap()[0], "/bin/bash");
        assert_eq!(cc.args_escaped, Some(true));
        assert_eq!(cc.on_build.as_ref().unwrap().len(), 1);
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        let pairs = c.history_with_layers();
        assert_eq!(pairs[0].1, Some(0));
        assert_eq!(pairs[1].1, None);
    }

    #[test]
    fn unknown_fields_survive_read_modify_write() {
        let mut c = ImageConfig::parse(DOCKER_CONFIG.as_bytes()).unwrap();
        c.config.as_mut().unwrap().user = Some("root".into());
        let v: Value = serde_json::from_slice(&c.to_bytes()).unwrap();
        assert_eq!(v["docker_version"], "24.0.7");
        assert_eq!(v["container"], "abc");
        assert_eq!(v["container_config"]["Cmd"][0], "/bin/sh");
        assert_eq!(v["config"]["Hostname"], "");
        assert_eq!(v["config"]["User"], "root");
        assert_eq!(v["created"], "2024-01-02T03:04:05.123456789Z");
        assert_eq!(v["history"][1]["empty_layer"], true);
        assert!(v["history"][0].get("empty_layer").is_none());
    }
}
