//! Platforms (`os/arch[/variant]`): parsing, normalisation and choosing the best match from an index.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::descriptor::Descriptor;

/// A platform as it appears in descriptors and image configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    pub architecture: String,
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
    pub features: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "invalid platform {0:?}: expected OS/ARCH[/VARIANT], such as linux/amd64 or linux/arm64/v8"
    )]
    Format(String),
    #[error("invalid platform {input:?}: {part:?} may only hold letters, digits, '.', '_' and '-'")]
    Part { input: String, part: String },
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
            ..Platform::default()
        }
        .normalized()
    }

    /// The platform berth itself runs on, normalised.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch, None)
    }

    /// Parses `os/arch[/variant]`, `os` or `arch` (the missing part taken from the host), and
    /// normalises the result.
    pub fn parse(input: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = input.split('/').collect();
        for part in &parts {
            if part.is_empty() {
                return Err(PlatformError::Format(input.to_string()));
            }
            if !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err(PlatformError::Part {
                    input: input.to_string(),
                    part: part.to_string(),
                });
            }
        }
        let host = Platform::host();
        let p = match parts.as_slice() {
            [one] if is_known_os(&one.to_lowercase()) => {
                Platform::new(one, &host.architecture, None)
            }
            [one] => Platform::new(&host.os, one, None),
            [os, arch] => Platform::new(os, arch, None),
            [os, arch, variant] => Platform::new(os, arch, Some(variant)),
            _ => return Err(PlatformError::Format(input.to_string())),
        };
        Ok(p)
    }

    /// Normalises spellings (`x86_64`→`amd64`, `aarch64`→`arm64`, `armhf`→`arm/v7`) and fills in
    /// default variants (`arm64`→`v8`, `arm`→`v7`), so equal platforms compare equal.
    pub fn normalized(mut self) -> Platform {
        self.os = match self.os.to_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            os => os.to_string(),
        };
        let arch = self.architecture.to_lowercase();
        // Variants are spelled `v8`; `8`, `8.0` and `v8.0` mean the same.
        let variant = self.variant.take().map(|v| {
            let v = versioned(v.to_lowercase());
            match v.strip_suffix(".0") {
                Some(major) if !major.contains('.') => major.to_string(),
                _ => v,
            }
        });
        let (arch, variant) = match arch.as_str() {
            "x86_64" | "x86-64" | "amd64" => ("amd64", variant.filter(|v| v != "v1")),
            "i386" | "i686" | "386" | "x86" => ("386", None),
            "aarch64" | "arm64" => ("arm64", Some(variant.unwrap_or_else(|| "v8".to_string()))),
            "armhf" => ("arm", Some("v7".to_string())),
            "armel" => ("arm", Some("v6".to_string())),
            "arm" => ("arm", Some(variant.unwrap_or_else(|| "v7".to_string()))),
            _ => {
                self.architecture = arch;
                self.variant = variant;
                return self;
            }
        };
        self.architecture = arch.to_string();
        self.variant = variant;
        self
    }

    /// How well `self`, as a wanted platform, is served by `candidate`; `None` if it can't run.
    /// Higher is better: an exact variant beats an older compatible one.
    fn score(&self, candidate: &Platform) -> Option<u32> {
        let want = self.clone().normalized();
        let have = candidate.clone().normalized();
        if want.os != have.os || want.architecture != have.architecture {
            return None;
        }
        if want.variant == have.variant {
            return Some(100);
        }
        // An older variant of the same architecture runs on a newer CPU: arm/v7 runs v6 and v5,
        // amd64/v3 runs v2 and v1.
        let level = |v: &Option<String>| -> u32 {
            v.as_deref()
                .and_then(|v| v.trim_start_matches('v').split('.').next()?.parse().ok())
                .unwrap_or(if want.architecture == "amd64" { 1 } else { 0 })
        };
        let (w, h) = (level(&want.variant), level(&have.variant));
        (h < w).then(|| 50 + h)
    }

    /// Picks the entry of an index that best fits this platform. Entries without a platform
    /// match anything, but rank below real matches; `unknown/unknown` entries (build
    /// attestations) never match.
    pub fn select<'a>(&self, manifests: &'a [Descriptor]) -> Option<&'a Descriptor> {
        let mut best: Option<(u32, &Descriptor)> = None;
        for d in manifests {
            let score = match &d.platform {
                Some(p) if p.os == "unknown" => None,
                Some(p) => self.score(p),
                None => Some(1),
            };
            if let Some(s) = score {
                if best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, d));
                }
            }
        }
        best.map(|(_, d)| d)
    }
}

fn versioned(v: String) -> String {
    if v.starts_with('v') {
        v
    } else {
        format!("v{v}")
    }
}

fn is_known_os(s: &str) -> bool {
    matches!(
        s,
        "linux"
            | "windows"
            | "darwin"
            | "macos"
            | "freebsd"
            | "netbsd"
            | "openbsd"
            | "solaris"
            | "illumos"
            | "aix"
            | "android"
            | "ios"
            | "plan9"
            | "js"
            | "wasip1"
    )
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::media_type::OCI_MANIFEST;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/arm64").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/aarch64").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/x86_64").to_string(), "linux/amd64");
        assert_eq!(p("Linux/AMD64").to_string(), "linux/amd64");
        assert_eq!(p("linux/armhf").to_string(), "linux/arm/v7");
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert_eq!(p("linux/arm/6").to_string(), "linux/arm/v6");
        assert_eq!(p("linux/arm64/8.0").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/arm64/v8.2").to_string(), "linux/arm64/v8.2");
        assert_eq!(p("linux/amd64/v1").to_string(), "linux/amd64");
        assert_eq!(p("linux/amd64/3").to_string(), "linux/amd64/v3");
        assert_eq!(p("linux/i386").to_string(), "linux/386");
        assert_eq!(p("linux/riscv64").to_string(), "linux/riscv64");
        assert_eq!(p("linux").os, "linux");
        assert_eq!(p("arm64").architecture, "arm64");
        for bad in ["", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn entry(platform: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::new(OCI_MANIFEST, Digest::sha256(&[n]), 1);
        d.platform = platform.map(|s| {
            let mut parts = s.split('/');
            let os = parts.next().unwrap();
            let arch = parts.next().unwrap();
            Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: parts.next().map(Into::into),
                ..Default::default()
            }
        });
        d
    }

    #[test]
    fn selects_best_match() {
        let index = vec![
            entry(Some("linux/amd64"), 0),
            entry(Some("linux/arm/v6"), 1),
            entry(Some("linux/arm/v7"), 2),
            entry(Some("linux/arm64"), 3),
            entry(Some("unknown/unknown"), 4),
        ];
        let pick = |want: &str| p(want).select(&index).map(|d| d.digest.clone());
        assert_eq!(pick("linux/amd64"), Some(index[0].digest.clone()));
        assert_eq!(pick("linux/arm/v7"), Some(index[2].digest.clone()));
        assert_eq!(pick("linux/arm/v6"), Some(index[1].digest.clone()));
        assert_eq!(pick("linux/arm/v8"), Some(index[2].digest.clone()));
        assert_eq!(pick("linux/arm/v5"), None);
        assert_eq!(pick("linux/arm64/v8"), Some(index[3].digest.clone()));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("windows/amd64"), None);

        let untyped = vec![entry(None, 9)];
        assert_eq!(
            p("linux/s390x").select(&untyped).unwrap().digest,
            untyped[0].digest
        );
    }

    #[test]
    fn host_is_normalised() {
        let h = Platform::host();
        assert_eq!(h.clone().normalized(), h);
        assert_eq!(h.os, std::env::consts::OS);
    }
}
