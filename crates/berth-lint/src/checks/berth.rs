//! berth's own rules: cache busting, cleanup that comes too late, secrets in the image, a
//! context without `.dockerignore`, users Kubernetes can't verify, missing health checks,
//! unverified downloads.

use std::collections::HashSet;

use berth_dockerfile::ast::{Args, Keyword};

use crate::facts::{self, Facts};
use crate::rule::{Origin, Rule, Severity, Sink};
use crate::shell::Command;

macro_rules! rule {
    ($id:literal, $hadolint:expr, $sev:ident, $summary:literal, $explanation:literal, $check:path) => {
        Rule {
            id: $id,
            hadolint: $hadolint,
            severity: Severity::$sev,
            origin: Origin::Berth,
            summary: $summary,
            explanation: $explanation,
            experimental: false,
            check: $check,
        }
    };
}

pub(crate) static RULES: &[Rule] = &[
    rule!(
        "InstallAfterCopyAll",
        None,
        Warning,
        "Dependencies are installed after COPY . ., so every source change reinstalls them",
        "A layer is rebuilt when anything copied before it changes. After `COPY . .`, a dependency install (`npm ci`, `pip install -r`, `go mod download`, `bundle install`…) reruns on every edit of any file. Fix: copy only the manifests first, install, then copy the rest: `COPY package.json package-lock.json ./`, `RUN npm ci`, `COPY . .`.",
        install_after_copy_all
    ),
    rule!(
        "CleanupInSeparateRun",
        None,
        Warning,
        "Package cache cleanup in a different RUN than the install does not make the image smaller",
        "Layers only add: deleting `/var/lib/apt/lists`, `/var/cache/apk` or pip's cache in a later `RUN` hides the files but the earlier layer still ships them. Fix: clean up in the same `RUN` as the install (`apt-get update && apt-get install -y … && rm -rf /var/lib/apt/lists/*`), or use a cache mount.",
        cleanup_in_separate_run
    ),
    rule!(
        "SecretCopied",
        None,
        Error,
        "A file that usually holds a secret is copied into the image",
        "Keys and credentials (`id_rsa`, `.env`, `*.pem`, `*.key`, `.npmrc`, `.pypirc`, `.netrc`, `credentials`, `.git-credentials`, `.docker/config.json`…) copied into a layer stay in the image forever, even if a later step deletes them, and anyone who can pull it can read them. Fix: use a secret mount for the step that needs it (`RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci`) and list such files in `.dockerignore`.",
        secret_copied
    ),
    rule!(
        "DockerignoreMissing",
        None,
        Warning,
        "The build context holds .git or node_modules and has no .dockerignore",
        "Without `.dockerignore`, `COPY . .` sends and copies the whole context: the `.git` history (often with secrets in old commits), `node_modules` built for the host, and more, making builds slow and images large. Fix: add a `.dockerignore` next to the Dockerfile listing at least `.git` and `node_modules`. (Checked for files on disk: the context is the Dockerfile's directory.)",
        dockerignore_missing
    ),
    rule!(
        "UserNotNumeric",
        Some("DL3066"),
        Info,
        "USER names a user by name only; use a numeric uid",
        "Kubernetes' `runAsNonRoot` can only verify a numeric user: with `USER app` the pod is refused (\"image has non-numeric user\"), and the name may resolve to another uid on another base. Fix: `USER 10001` (or `USER 10001:10001`), creating the user with that uid earlier (`adduser -u 10001 …`). A user given by a declared `ARG` is accepted.",
        user_not_numeric
    ),
    rule!(
        "HealthcheckMissing",
        None,
        Info,
        "The image serves a port but has no HEALTHCHECK",
        "The final stage exposes a port, so the image is a service, but nothing tells the runtime how to know it is healthy: a hung server keeps receiving traffic. Fix: add a `HEALTHCHECK CMD …` that probes the service (`HEALTHCHECK CMD wget -qO- http://localhost:8080/health || exit 1`), or `HEALTHCHECK NONE` to say none is wanted. (A health check the base image defines is not visible to berth.)",
        healthcheck_missing
    ),
    rule!(
        "AddUrlWithoutChecksum",
        None,
        Warning,
        "ADD of a remote URL without --checksum",
        "`ADD https://…` downloads whatever the server returns at build time: a compromised or changed file goes into the image unnoticed. Fix: `ADD --checksum=sha256:… https://…`, or download in a `RUN` and verify with `sha256sum -c`.",
        add_url_without_checksum
    ),
];

/// Commands that install a project's dependencies from its manifest.
fn installs_dependencies(c: &Command) -> bool {
    let first = c.args.first().map(String::as_str);
    match c.name.as_str() {
        "npm" => matches!(first, Some("ci" | "install" | "i")),
        "yarn" => matches!(first, None | Some("install")),
        "pnpm" => matches!(first, Some("install" | "i")),
        "bundle" => first == Some("install"),
        "composer" => first == Some("install"),
        "go" => c
            .args
            .windows(2)
            .any(|w| w[0] == "mod" && w[1] == "download"),
        "cargo" => matches!(first, Some("fetch")),
        "poetry" | "pipenv" | "uv" => {
            matches!(first, Some("install" | "sync"))
                || c.args
                    .windows(2)
                    .any(|w| w[0] == "pip" && w[1] == "install")
        }
        name if name.starts_with("pip") => {
            c.has_arg("install")
                && (c.has_arg("-r") || c.has_arg("--requirement") || c.has_arg("."))
        }
        _ => false,
    }
}

fn copies_everything(inst: &berth_dockerfile::ast::Instruction) -> bool {
    inst.keyword == Keyword::Copy
        && !facts::has_flag(inst, "from")
        && facts::sources(inst)
            .iter()
            .any(|s| matches!(s.as_str(), "." | "./" | "*"))
}

fn install_after_copy_all(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        let mut copied_at = None;
        for inst in &stage.body {
            if copies_everything(inst) {
                copied_at.get_or_insert(inst.lines.start);
                continue;
            }
            let Some(copy_line) = copied_at else {
                continue;
            };
            if inst.keyword != Keyword::Run {
                continue;
            }
            let run = f.runs.iter().find(|r| std::ptr::eq(r.inst, *inst));
            if run.is_some_and(|r| r.script.commands.iter().any(installs_dependencies)) {
                out.report(
                    inst.lines.start,
                    format!(
                        "Dependencies are installed after `COPY . .` (line {copy_line}): every source change reinstalls them; copy the manifest files and install first"
                    ),
                );
            }
        }
    }
}

fn installs_packages(c: &Command) -> bool {
    c.is("apt-get", "install")
        || c.is("apt", "install")
        || c.is("apk", "add")
        || c.is("yum", "install")
        || c.is("dnf", "install")
        || (c.name.starts_with("pip") && c.has_arg("install"))
}

fn cleans_up(c: &Command) -> bool {
    const CACHES: &[&str] = &[
        "/var/lib/apt/lists",
        "/var/cache/apt",
        "/var/cache/apk",
        "/var/cache/yum",
        "/var/cache/dnf",
        "/root/.cache",
        ".cache/pip",
    ];
    (c.name == "rm" && c.args.iter().any(|a| CACHES.iter().any(|p| a.contains(p))))
        || c.is("apt-get", "clean")
        || c.is("apt", "clean")
        || c.is("yum", "clean")
        || c.is("dnf", "clean")
        || c.is_any("apk", &["cache"]) && c.has_arg("clean")
        || (c.name.starts_with("pip") && c.has_arg("cache") && c.has_arg("purge"))
}

fn cleanup_in_separate_run(f: &Facts, out: &mut Sink) {
    let mut installed_in: HashSet<usize> = HashSet::new();
    for run in f.runs.iter().filter(|r| !r.onbuild) {
        let Some(stage) = run.stage else {
            continue;
        };
        let installs = run.script.commands.iter().any(installs_packages);
        let cleans = run.script.commands.iter().any(cleans_up);
        if cleans && !installs && installed_in.contains(&stage) {
            out.report(
                run.inst.lines.start,
                "Cleanup in a separate RUN does not shrink the image: the files stay in the earlier layer; clean up in the RUN that installs",
            );
        }
        if installs {
            installed_in.insert(stage);
        }
    }
}

/// Whether a copied path's file name is one that usually holds a secret.
fn secret_name(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    const NAMES: &[&str] = &[
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        ".env",
        ".npmrc",
        ".pypirc",
        ".netrc",
        "credentials",
        "credentials.json",
        ".git-credentials",
        ".htpasswd",
        "secrets.json",
        "secrets.yaml",
        "secrets.yml",
    ];
    const SUFFIXES: &[&str] = &[".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"];
    let env_file =
        name.starts_with(".env.") && !name.ends_with(".example") && !name.ends_with(".sample");
    NAMES.contains(&name.as_str())
        || env_file
        || SUFFIXES
            .iter()
            .any(|s| name.ends_with(s) && name.len() > s.len())
        || path.ends_with(".docker/config.json")
        || path.ends_with(".aws/credentials")
}

fn secret_copied(f: &Facts, out: &mut Sink) {
    for inst in &f.file.instructions {
        if inst.keyword != Keyword::Copy && inst.keyword != Keyword::Add {
            continue;
        }
        if facts::has_flag(inst, "from") {
            continue;
        }
        for src in facts::sources(inst).iter().filter(|s| secret_name(s)) {
            out.report(
                inst.lines.start,
                format!("'{src}' usually holds a secret and stays in the image; use a secret mount instead"),
            );
        }
    }
}

fn dockerignore_missing(f: &Facts, out: &mut Sink) {
    let ctx = f.context;
    if !ctx.known || ctx.dockerignore.is_some() || ctx.heavy_entries.is_empty() {
        return;
    }
    // BuildKit sends only what the Dockerfile copies; the first copy from the context is
    // where the context starts to matter.
    let first = f.file.instructions.iter().find(|i| {
        (i.keyword == Keyword::Copy || i.keyword == Keyword::Add) && !facts::has_flag(i, "from")
    });
    if let Some(inst) = first {
        out.report(
            inst.lines.start,
            format!(
                "The build context has {} but no .dockerignore: add one listing them",
                ctx.heavy_entries.join(" and ")
            ),
        );
    }
}

fn user_not_numeric(f: &Facts, out: &mut Sink) {
    let mut args: HashSet<&str> = HashSet::new();
    for inst in &f.file.instructions {
        match (&inst.keyword, &inst.args) {
            (Keyword::Arg, Args::Pairs(pairs)) => args.extend(pairs.iter().map(|p| p.key.as_str())),
            (Keyword::User, _) => {
                let user = facts::rest(inst);
                let uid = user.split(':').next().unwrap_or("");
                let numeric = uid.chars().all(|c| c.is_ascii_digit());
                let from_arg = args
                    .iter()
                    .any(|a| uid.contains(&format!("${{{a}}}")) || uid.contains(&format!("${a}")));
                if !numeric && !from_arg {
                    out.report(
                        inst.lines.start,
                        format!("USER '{uid}' is a name: Kubernetes runAsNonRoot cannot verify it; use a numeric uid"),
                    );
                }
            }
            _ => {}
        }
    }
}

fn healthcheck_missing(f: &Facts, out: &mut Sink) {
    let Some(last) = f.stages.last() else {
        return;
    };
    let expose = last
        .body
        .iter()
        .rev()
        .find(|i| i.keyword == Keyword::Expose);
    let healthcheck = last.body.iter().any(|i| i.keyword == Keyword::Healthcheck);
    if let (Some(inst), false) = (expose, healthcheck) {
        out.report(
            inst.lines.start,
            "The final stage exposes a port but has no HEALTHCHECK",
        );
    }
}

fn add_url_without_checksum(f: &Facts, out: &mut Sink) {
    for inst in &f.file.instructions {
        if inst.keyword != Keyword::Add || facts::has_flag(inst, "checksum") {
            continue;
        }
        for src in facts::sources(inst) {
            if src.starts_with("http://") || src.starts_with("https://") {
                out.report(
                    inst.lines.start,
                    format!("ADD of {src} without --checksum: the download is not verified"),
                );
            }
        }
    }
}
