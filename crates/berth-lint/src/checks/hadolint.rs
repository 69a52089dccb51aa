//! hadolint's DL rules that matter, each under a berth name with hadolint's code beside it.
//! They read `RUN` scripts as hadolint does (see [`crate::shell`]), so that both tools find
//! the same things on the same lines.

use std::collections::HashSet;

use berth_dockerfile::ast::{Args, Instruction, Keyword};

use crate::facts::{self, Facts, Run};
use crate::rule::{Origin, Rule, Severity, Sink};
use crate::shell::Command;

macro_rules! rule {
    ($id:literal, $code:literal, $sev:ident, $summary:literal, $explanation:literal, $check:path) => {
        Rule {
            id: $id,
            hadolint: Some($code),
            severity: Severity::$sev,
            origin: Origin::Hadolint,
            summary: $summary,
            explanation: $explanation,
            experimental: false,
            check: $check,
        }
    };
}

pub(crate) static RULES: &[Rule] = &[
    rule!(
        "WorkdirNotAbsolute",
        "DL3000",
        Error,
        "Use absolute WORKDIR",
        "A relative `WORKDIR` depends on the working directory before it, which the base image decides. Fix: use an absolute path (`WORKDIR /app`); a variable (`WORKDIR $HOME/app`) is accepted.",
        dl3000
    ),
    rule!(
        "LastUserRoot",
        "DL3002",
        Warning,
        "Last USER should not be root",
        "A stage whose last `USER` is root runs its container as root, so a compromised process owns the container. Fix: switch to an unprivileged user at the end (`USER 10001`), after the steps that need root.",
        dl3002
    ),
    rule!(
        "CdInRun",
        "DL3003",
        Warning,
        "Use WORKDIR to switch to a directory",
        "`cd` in a `RUN` only lasts for that `RUN`, which makes later steps easy to get wrong. Fix: `WORKDIR /path` before the commands (or, within one script, a subshell).",
        dl3003
    ),
    rule!(
        "SudoInRun",
        "DL3004",
        Error,
        "Do not use sudo as it leads to unpredictable behavior",
        "`sudo` in a build depends on the image's sudoers and a tty, and keeps root privileges around. Fix: run the step as root (`USER root` before it, back to the app user after), or use `gosu`/`su-exec` at run time.",
        dl3004
    ),
    rule!(
        "UntaggedBaseImage",
        "DL3006",
        Warning,
        "Always tag the version of an image explicitly",
        "`FROM debian` means `debian:latest`, which moves: the same Dockerfile builds something else next month. Fix: name a tag (`FROM debian:bookworm`), better a digest too (`FROM debian:bookworm@sha256:…`).",
        dl3006
    ),
    rule!(
        "LatestTag",
        "DL3007",
        Warning,
        "Using latest is prone to errors if the image will ever update",
        "`:latest` changes whenever the publisher pushes, so builds are not reproducible. Fix: pin a release tag (`FROM node:22.11-bookworm`), or add a digest.",
        dl3007
    ),
    rule!(
        "AptGetUnpinned",
        "DL3008",
        Warning,
        "Pin versions in apt-get install",
        "Unpinned packages install whatever the mirror has that day. Fix: `apt-get install -y curl=8.5.0-2` (or install from a `.deb` path), and refresh the pins deliberately.",
        dl3008
    ),
    rule!(
        "AptListsNotDeleted",
        "DL3009",
        Info,
        "Delete the apt lists (/var/lib/apt/lists) after installing something",
        "`apt-get update` leaves tens of megabytes of package lists in the layer. Fix: end the same `RUN` with `rm -rf /var/lib/apt/lists/*`, or use a cache mount (`RUN --mount=type=cache,target=/var/lib/apt/lists …`). Only stages that end up in an image (the last, or one another `FROM` uses) are checked.",
        dl3009
    ),
    rule!(
        "PipUnpinned",
        "DL3013",
        Warning,
        "Pin versions in pip",
        "Unpinned `pip install` takes whatever PyPI has that day. Fix: `pip install requests==2.32.3`, or install from a pinned requirements file (`pip install -r requirements.txt`) or constraints (`-c`).",
        dl3013
    ),
    rule!(
        "AptGetMissingYes",
        "DL3014",
        Warning,
        "Use the -y switch to avoid manual input: apt-get -y install <package>",
        "Without `-y`, `apt-get install` asks for confirmation and the build fails waiting for it. Fix: `apt-get install -y …`.",
        dl3014
    ),
    rule!(
        "AptGetRecommends",
        "DL3015",
        Info,
        "Avoid additional packages by specifying --no-install-recommends",
        "apt installs recommended packages by default, often doubling the image. Fix: `apt-get install -y --no-install-recommends …`.",
        dl3015
    ),
    rule!(
        "NpmUnpinned",
        "DL3016",
        Warning,
        "Pin versions in npm",
        "`npm install pkg` takes the newest release. Fix: `npm install pkg@1.2.3`, or `npm ci` from a lockfile.",
        dl3016
    ),
    rule!(
        "ApkUnpinned",
        "DL3018",
        Warning,
        "Pin versions in apk add",
        "Unpinned `apk add` takes whatever the repository has that day. Fix: `apk add curl=8.5.0-r0` (or `~` for a version prefix).",
        dl3018
    ),
    rule!(
        "ApkCacheKept",
        "DL3019",
        Info,
        "Use the --no-cache switch with apk add",
        "`apk add` without `--no-cache` keeps the index in `/var/cache/apk` in the layer. Fix: `apk add --no-cache …` (no `apk update` needed), or a cache mount on `/var/cache/apk`.",
        dl3019
    ),
    rule!(
        "AddForLocalFiles",
        "DL3020",
        Error,
        "Use COPY instead of ADD for files and folders",
        "`ADD` also unpacks archives and downloads URLs; for plain files that magic only surprises. Fix: `COPY` for files and folders; keep `ADD` for local archives to unpack and URLs.",
        dl3020
    ),
    rule!(
        "CopyFromUnknownStage",
        "DL3022",
        Warning,
        "COPY --from should reference a previously defined FROM alias",
        "`COPY --from=NAME` with a name no earlier stage has is read as an image to pull, which is rarely what was meant. Fix: name an earlier stage (`FROM … AS NAME`), a stage index, or write the image reference in full (`--from=nginx:1.27`).",
        dl3022
    ),
    rule!(
        "PipCacheKept",
        "DL3042",
        Warning,
        "Avoid use of cache directory with pip. Use pip install --no-cache-dir <package>",
        "pip keeps downloaded wheels in `~/.cache/pip`, which ends up in the layer. Fix: `pip install --no-cache-dir …`, `ENV PIP_NO_CACHE_DIR=1`, or a cache mount on `/root/.cache/pip`.",
        dl3042
    ),
    rule!(
        "WgetProgress",
        "DL3047",
        Info,
        "Avoid use of wget without progress bar",
        "wget's default progress output fills the build log with thousands of lines. Fix: `wget --progress=dot:giga URL`, or `-q`/`-nv`.",
        dl3047
    ),
    rule!(
        "ConsecutiveRun",
        "DL3059",
        Info,
        "Multiple consecutive RUN instructions. Consider consolidation",
        "Each `RUN` makes a layer; short consecutive ones add layers and lose the chance to clean up in the same step. Fix: join them with `&&` in one `RUN` (RUNs with different flags, or longer scripts, are not reported).",
        dl3059
    ),
    rule!(
        "PipefailMissing",
        "DL4006",
        Warning,
        "Set the SHELL option -o pipefail before RUN with a pipe in it",
        "`/bin/sh -c 'a | b'` succeeds when `a` fails, so a broken download piped into `tar` or `sh` passes silently. Fix: `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the `RUN` (on Alpine, `/bin/ash`), or `set -o pipefail` where the shell has it.",
        dl4006
    ),
];

/// RUNs: top-level ones, and `ONBUILD RUN`s when hadolint applies the rule to those too.
fn runs<'a>(f: &'a Facts, onbuild: bool) -> impl Iterator<Item = &'a Run<'a>> {
    f.runs.iter().filter(move |r| onbuild || !r.onbuild)
}

/// Reports each RUN where `bad` holds for some command.
fn each_command(f: &Facts, out: &mut Sink, onbuild: bool, bad: impl Fn(&Command) -> bool) {
    let message = out.rule.summary;
    for run in runs(f, onbuild) {
        if run.script.commands.iter().any(&bad) {
            out.report(run.inst.lines.start, message);
        }
    }
}

/// `RUN --mount=type=cache|tmpfs,…,target=…path…`.
fn has_cache_mount(inst: &Instruction, path: &str) -> bool {
    inst.flags.iter().any(|flag| {
        let Some(spec) = flag.strip_prefix("--mount=") else {
            return false;
        };
        let fields: Vec<(&str, &str)> = spec
            .split(',')
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .collect();
        let typed = fields
            .iter()
            .any(|(k, v)| *k == "type" && (*v == "cache" || *v == "tmpfs"));
        let target = fields.iter().any(|(k, v)| {
            matches!(*k, "target" | "dst" | "destination") && v.trim_end_matches('/').contains(path)
        });
        typed && target
    })
}

fn dl3000(f: &Facts, out: &mut Sink) {
    for inst in &f.file.instructions {
        if inst.keyword != Keyword::Workdir {
            continue;
        }
        let rest = facts::rest(inst);
        let path = rest.trim_matches(|c| c == '"' || c == '\'');
        let absolute = path.starts_with('$')
            || path.starts_with('/')
            || super::buildkit::is_windows_absolute(path);
        if !absolute {
            out.report(inst.lines.start, "Use absolute WORKDIR");
        }
    }
}

fn dl3002(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        let last_user = stage.body.iter().rev().find(|i| i.keyword == Keyword::User);
        if let Some(inst) = last_user {
            let user = facts::rest(inst);
            let root = user == "root"
                || user == "0"
                || user.starts_with("root:")
                || user.starts_with("0:");
            if root {
                out.report(inst.lines.start, "Last USER should not be root");
            }
        }
    }
}

fn dl3003(f: &Facts, out: &mut Sink) {
    each_command(f, out, false, |c| c.name == "cd");
}

fn dl3004(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| c.name == "sudo");
}

/// An image reference as hadolint splits it: name, tag, digest.
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].find(':') {
        Some(colon) => (
            &rest[..slash + colon],
            Some(&rest[slash + colon + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
}

fn dl3006(f: &Facts, out: &mut Sink) {
    let mut aliases = HashSet::new();
    for stage in &f.stages {
        let (name, tag, digest) = split_image(stage.from.image);
        let untagged = tag.is_none()
            && digest.is_none()
            && name != "scratch"
            && !name.starts_with('$')
            && !aliases.contains(name);
        if untagged && !name.is_empty() {
            out.report(
                stage.from.inst.lines.start,
                "Always tag the version of an image explicitly",
            );
        }
        aliases.extend(stage.from.name);
    }
}

fn dl3007(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        if let (_, Some("latest"), None) = split_image(stage.from.image) {
            out.report(
                stage.from.inst.lines.start,
                "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag",
            );
        }
    }
}

fn apt_get_install(c: &Command) -> bool {
    c.is("apt-get", "install")
}

fn dl3008(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| {
        apt_get_install(c)
            && c.operands(&["t", "target-release"])
                .into_iter()
                .filter(|a| *a != "install")
                .any(|p| !(p.contains('=') || p.contains('/') || p.ends_with(".deb")))
    });
}

fn dl3009(f: &Facts, out: &mut Sink) {
    // Stages whose name another FROM uses: their layers reach an image.
    let used: HashSet<&str> = f.stages.iter().map(|s| s.from.image).collect();
    let last_from = f
        .stages
        .last()
        .map(|s| (s.from.image, s.from.name, s.from.platform));
    for run in runs(f, true) {
        let forgot = run.script.commands.iter().any(|c| {
            c.is("apt", "update") || c.is("apt-get", "update") || c.is("aptitude", "update")
        }) && !run
            .script
            .commands
            .iter()
            .any(|c| c.is_any("rm", &["-rf", "/var/lib/apt/lists/*"]));
        if !forgot
            || has_cache_mount(run.inst, "/var/lib/apt/lists")
            || (has_cache_mount(run.inst, "/var/lib/apt")
                && has_cache_mount(run.inst, "/var/cache/apt"))
        {
            continue;
        }
        let reaches_image = match run.stage {
            None => true,
            Some(i) => {
                let from = &f.stages[i].from;
                Some((from.image, from.name, from.platform)) == last_from
                    || from.name.is_some_and(|n| used.contains(n))
            }
        };
        if reaches_image {
            out.report(
                run.inst.lines.start,
                "Delete the apt lists (/var/lib/apt/lists) after installing something",
            );
        }
    }
}

fn is_pip_install(c: &Command) -> bool {
    let std = c.name.starts_with("pip") && !c.name.starts_with("pipenv") && c.has_arg("install");
    let module = c.name.starts_with("python")
        && c.args
            .windows(3)
            .any(|w| w[0] == "-m" && w[1] == "pip" && w[2] == "install");
    std || module
}

const PIP_VALUED_FLAGS: &[&str] = &[
    "abi",
    "b",
    "build",
    "e",
    "editable",
    "extra-index-url",
    "f",
    "find-links",
    "i",
    "index-url",
    "implementation",
    "no-binary",
    "only-binary",
    "platform",
    "prefix",
    "progress-bar",
    "proxy",
    "python-version",
    "root",
    "src",
    "t",
    "target",
    "trusted-host",
    "upgrade-strategy",
];

fn dl3013(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| {
        if !is_pip_install(c) || c.has_any_flag(&["constraint", "c"]) {
            return false;
        }
        if c.has_arg("--requirement") || c.has_arg("-r") || c.has_arg(".") {
            return false;
        }
        let operands = c.operands(PIP_VALUED_FLAGS);
        let packages = strip_install_prefix(&operands);
        packages.iter().any(|p| !pip_version_fixed(p))
    });
}

fn strip_install_prefix<'a>(words: &[&'a str]) -> Vec<&'a str> {
    words
        .iter()
        .skip_while(|w| **w != "install")
        .skip_while(|w| **w == "install")
        .copied()
        .collect()
}

fn pip_version_fixed(p: &str) -> bool {
    const VCS: &[&str] = &["git+", "hg+", "svn+", "bzr+"];
    let vcs = VCS.iter().any(|v| p.starts_with(v));
    ["==", ">=", "<=", ">", "<", "!=", "~=", "==="]
        .iter()
        .any(|s| p.contains(s))
        || (vcs && p.contains('@'))
        || p.ends_with(".whl")
        || p.ends_with(".tar.gz")
        || (!vcs && p.contains('/'))
}

fn dl3014(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| {
        apt_get_install(c)
            && !(c.has_any_flag(&["y", "yes", "qq", "assume-yes"])
                || c.count_flag("q") == 2
                || c.count_flag("quiet") == 2
                || c.has_arg("-q=2"))
    });
}

fn dl3015(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| {
        apt_get_install(c)
            && !(c.has_flag("no-install-recommends") || c.has_arg("APT::Install-Recommends=false"))
    });
}

fn dl3016(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| {
        if !c.is("npm", "install") {
            return false;
        }
        let operands = c.operands(&["loglevel", "registry"]);
        if operands.first() != Some(&"install") {
            return false;
        }
        strip_install_prefix(&operands)
            .iter()
            .any(|p| !npm_version_fixed(p))
    });
}

fn npm_version_fixed(p: &str) -> bool {
    const GIT: &[&str] = &["git://", "git+ssh://", "git+http://", "git+https://"];
    const TARBALL: &[&str] = &[".tar", ".tar.gz", ".tgz"];
    const PATH: &[&str] = &["/", "./", "../", "~/"];
    if GIT.iter().any(|g| p.starts_with(g)) {
        return p.contains('#');
    }
    if TARBALL.iter().any(|t| p.ends_with(t)) || PATH.iter().any(|d| p.starts_with(d)) {
        return true;
    }
    let unscoped = match p.strip_prefix('@') {
        Some(_) => p.split_once('/').map_or("", |(_, rest)| rest),
        None => p,
    };
    unscoped.contains('@')
}

fn dl3018(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| {
        c.is("apk", "add")
            && c.operands(&["t", "virtual", "repository", "X"])
                .into_iter()
                .filter(|a| *a != "add")
                .any(|p| {
                    !(["=", "~", ">", "<"].iter().any(|s| p.contains(s)) || p.ends_with(".apk"))
                })
    });
}

fn dl3019(f: &Facts, out: &mut Sink) {
    let message = out.rule.summary;
    for run in runs(f, false) {
        if has_cache_mount(run.inst, "/var/cache/apk") {
            continue;
        }
        if run
            .script
            .commands
            .iter()
            .any(|c| c.is("apk", "add") && !c.has_flag("no-cache"))
        {
            out.report(run.inst.lines.start, message);
        }
    }
}

const ARCHIVES: &[&str] = &[
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tbz2",
    ".tb2",
    ".tar.xz",
    ".txz",
    ".tar.lz",
    ".tlz",
    ".tar.lzma",
    ".tar.Z",
    ".tZ",
    ".tar.zst",
    ".tzst",
    ".gz",
    ".bz2",
    ".xz",
    ".lz",
    ".lzma",
    ".Z",
    ".zst",
    ".zip",
];

fn dl3020(f: &Facts, out: &mut Sink) {
    for inst in &f.file.instructions {
        if inst.keyword != Keyword::Add {
            continue;
        }
        let plain = facts::sources(inst).iter().any(|src| {
            let src = src.trim_matches('"');
            let archive = ARCHIVES.iter().any(|a| src.ends_with(a));
            let url = src.starts_with("https://") || src.starts_with("http://");
            !(archive || url)
        });
        if plain {
            out.report(
                inst.lines.start,
                "Use COPY instead of ADD for files and folders",
            );
        }
    }
}

fn dl3022(f: &Facts, out: &mut Sink) {
    let mut names: HashSet<&str> = HashSet::new();
    let mut count = 0;
    for inst in &f.file.instructions {
        if inst.keyword == Keyword::From {
            if let Args::Words(w) = &inst.args
                && let [_, kw, name, ..] = w.as_slice()
                && kw.eq_ignore_ascii_case("as")
            {
                names.insert(name);
            }
            count += 1;
            continue;
        }
        if inst.keyword != Keyword::Copy {
            continue;
        }
        let Some(from) = facts::flag_value(inst, "from") else {
            continue;
        };
        let from = from.trim_matches('"');
        let known = from.contains(':')
            || names.contains(from)
            || from.parse::<usize>().is_ok_and(|n| n < count);
        if !known {
            out.report(
                inst.lines.start,
                "`COPY --from` should reference a previously defined `FROM` alias",
            );
        }
    }
}

fn truthy(v: &str) -> bool {
    let v = v.trim_matches('"').to_ascii_lowercase();
    ["1", "true", "yes", "on"].iter().any(|t| v.starts_with(t))
}

fn dl3042(f: &Facts, out: &mut Sink) {
    // Whether PIP_NO_CACHE_DIR is set in each stage (inherited from a stage it builds on).
    let mut no_cache: Vec<bool> = Vec::new();
    for (index, stage) in f.stages.iter().enumerate() {
        let mut set = match f.stage_named(stage.from.image) {
            Some(parent) if parent < index => no_cache[parent],
            _ => false,
        };
        for inst in &stage.body {
            if let (Keyword::Env, Args::Pairs(pairs)) = (&inst.keyword, &inst.args)
                && let Some(p) = pairs.iter().find(|p| p.key == "PIP_NO_CACHE_DIR")
            {
                set = p.value.as_deref().is_some_and(truthy);
            }
            if inst.keyword != Keyword::Run && !matches!(inst.args, Args::Onbuild(_)) {
                continue;
            }
            let Some(run) = f.runs.iter().find(|r| std::ptr::eq(r.inst, *inst)) else {
                continue;
            };
            let in_text = run
                .text
                .split_once("PIP_NO_CACHE_DIR=")
                .is_some_and(|(_, v)| truthy(v));
            let forgot =
                run.script.commands.iter().any(|c| {
                    is_pip_install(c) && !c.has_arg("--no-cache-dir") && !is_pip_wrapper(c)
                });
            if !set && !in_text && forgot && !has_cache_mount(inst, ".cache/pip") {
                out.report(inst.lines.start, out.rule.summary);
            }
        }
        no_cache.push(set);
    }
}

fn is_pip_wrapper(c: &Command) -> bool {
    ["pipx", "pipenv"].iter().any(|w| {
        c.name.contains(w)
            || (c.name.starts_with("python")
                && c.args.windows(2).any(|a| a[0] == "-m" && a[1] == *w))
    })
}

fn dl3047(f: &Facts, out: &mut Sink) {
    each_command(f, out, true, |c| {
        c.name == "wget"
            && !c.has_flag("progress")
            && !c.has_any_flag(&[
                "q",
                "quiet",
                "o",
                "output-file",
                "a",
                "append-output",
                "no-verbose",
            ])
            && !c.has_arg("-nv")
    });
}

fn dl3059(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        // The previous RUN's flags and command count, while RUNs follow each other.
        let mut previous: Option<(&[String], usize)> = None;
        for inst in &stage.body {
            if inst.keyword != Keyword::Run {
                previous = None;
                continue;
            }
            let Some(run) = f.runs.iter().find(|r| std::ptr::eq(r.inst, *inst)) else {
                continue;
            };
            let count = run.script.commands.len();
            if let Some((flags, prev_count)) = previous
                && flags == inst.flags.as_slice()
                && count <= 2
                && prev_count <= 2
            {
                out.report(
                    inst.lines.start,
                    "Multiple consecutive `RUN` instructions. Consider consolidation.",
                );
                continue;
            }
            previous = Some((&inst.flags, count));
        }
    }
}

/// Whether a `SHELL` makes pipes safe: a non-POSIX shell, or bash/zsh/ash with `-o pipefail`.
fn shell_is_safe(inst: &Instruction) -> bool {
    let words: Vec<String> = match &inst.args {
        Args::Json(w) => w.clone(),
        Args::Shell(s) => s.split_whitespace().map(str::to_string).collect(),
        _ => return false,
    };
    let text = words.join(" ");
    if ["pwsh", "powershell", "cmd"]
        .iter()
        .any(|s| text.starts_with(s))
    {
        return true;
    }
    crate::shell::parse(&text).commands.iter().any(|c| {
        let base = c.name.rsplit('/').next().unwrap_or("");
        ["bash", "zsh", "ash"].contains(&base) && c.has_flag("o") && c.has_arg("pipefail")
    })
}

fn dl4006(f: &Facts, out: &mut Sink) {
    for stage in &f.stages {
        let mut safe = false;
        for inst in &stage.body {
            match inst.keyword {
                Keyword::Shell => safe = shell_is_safe(inst),
                Keyword::Run
                    if !safe
                        && f.runs
                            .iter()
                            .any(|r| std::ptr::eq(r.inst, *inst) && r.script.pipes) =>
                {
                    out.report(inst.lines.start, out.rule.summary);
                }
                _ => {}
            }
        }
    }
}
