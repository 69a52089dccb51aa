//! Every rule in the registry against a Dockerfile that should trip it and one that should not,
//! through the library's entry point (`berth_lint::lint`), as `berth lint` calls it.
//!
//! The table is checked against the registry: a rule added without both kinds of case fails
//! `every_rule_has_a_firing_and_a_quiet_case`.

use std::collections::BTreeSet;

use berth_lint::{Context, Finding};

/// The build context a case is linted with.
#[derive(Clone, Copy)]
enum Ctx {
    /// Nothing known (standard input): `Context::default()`.
    Unknown,
    /// A context on disk with `.git` in it and no `.dockerignore`.
    HeavyNoIgnore,
    /// A context on disk with `.git` in it and this `.dockerignore`.
    Ignore(&'static [&'static str]),
    /// Base image platforms by image, and the target platform.
    Platforms(
        &'static [(&'static str, &'static [&'static str])],
        &'static str,
    ),
}

impl Ctx {
    fn context(self) -> Context {
        match self {
            Ctx::Unknown => Context::default(),
            Ctx::HeavyNoIgnore => Context {
                known: true,
                heavy_entries: vec![".git".to_string()],
                ..Context::default()
            },
            Ctx::Ignore(patterns) => Context {
                known: true,
                heavy_entries: vec![".git".to_string()],
                dockerignore: Some(patterns.iter().map(|p| p.to_string()).collect()),
                ..Context::default()
            },
            Ctx::Platforms(images, target) => Context {
                known: true,
                base_platforms: images
                    .iter()
                    .map(|(image, ps)| {
                        (
                            image.to_string(),
                            ps.iter().map(|p| p.to_string()).collect(),
                        )
                    })
                    .collect(),
                target_platform: Some(target.to_string()),
                ..Context::default()
            },
        }
    }
}

/// One case: the rule, the Dockerfile, its context, and the lines the rule reports (empty:
/// the rule must stay quiet).
struct Case {
    rule: &'static str,
    dockerfile: &'static str,
    ctx: Ctx,
    lines: &'static [usize],
}

const fn case(rule: &'static str, dockerfile: &'static str, lines: &'static [usize]) -> Case {
    Case {
        rule,
        dockerfile,
        ctx: Ctx::Unknown,
        lines,
    }
}

const fn in_ctx(
    rule: &'static str,
    ctx: Ctx,
    dockerfile: &'static str,
    lines: &'static [usize],
) -> Case {
    Case {
        rule,
        dockerfile,
        ctx,
        lines,
    }
}

const NONE: &[usize] = &[];

const CASES: &[Case] = &[
    // --- BuildKit's rules ---
    case("StageNameCasing", "FROM alpine:3.20 AS Builder\n", &[1]),
    case("StageNameCasing", "FROM alpine:3.20 AS builder\n", NONE),
    case("FromAsCasing", "FROM alpine:3.20 as builder\n", &[1]),
    case(
        "FromAsCasing",
        "FROM alpine:3.20 AS builder\nfrom alpine:3.20 as other\n",
        NONE,
    ),
    case(
        "NoEmptyContinuation",
        "FROM alpine:3.20\nRUN echo a \\\n\n  && echo b\n",
        &[2],
    ),
    case(
        "NoEmptyContinuation",
        "FROM alpine:3.20\nRUN echo a \\\n# a comment line is fine\n  && echo b\n",
        NONE,
    ),
    case(
        "ConsistentInstructionCasing",
        "FROM alpine:3.20\nRUN true\nrun true\nRUN true\n",
        &[3],
    ),
    case(
        "ConsistentInstructionCasing",
        "from alpine:3.20\nrun true\nRUN true\nrun true\n",
        &[3],
    ),
    case(
        "ConsistentInstructionCasing",
        "FROM alpine:3.20\nRUN true\nCMD [\"true\"]\n",
        NONE,
    ),
    case(
        "DuplicateStageName",
        "FROM alpine:3.20 AS a\nRUN true\nFROM alpine:3.20 AS A\n",
        &[3],
    ),
    case(
        "DuplicateStageName",
        "FROM alpine:3.20 AS a\nFROM alpine:3.20 AS b\n",
        NONE,
    ),
    case(
        "ReservedStageName",
        "FROM alpine:3.20 AS scratch\nFROM alpine:3.20 AS context\n",
        &[1, 2],
    ),
    case("ReservedStageName", "FROM alpine:3.20 AS build\n", NONE),
    case(
        "JSONArgsRecommended",
        "FROM alpine:3.20\nCMD echo hi\nENTRYPOINT my-server start\n",
        &[2, 3],
    ),
    case(
        "JSONArgsRecommended",
        "FROM alpine:3.20\nCMD [\"echo\", \"hi\"]\n",
        NONE,
    ),
    // A SHELL in the stage, or in the stage it builds on, says the shell is intended.
    case(
        "JSONArgsRecommended",
        "FROM alpine:3.20 AS base\nSHELL [\"/bin/sh\", \"-c\"]\nFROM base\nCMD echo hi\n",
        NONE,
    ),
    case(
        "MaintainerDeprecated",
        "FROM alpine:3.20\nMAINTAINER me@example.com\n",
        &[2],
    ),
    case(
        "MaintainerDeprecated",
        "FROM alpine:3.20\nLABEL org.opencontainers.image.authors=me@example.com\n",
        NONE,
    ),
    case("UndefinedArgInFrom", "FROM alpine:${TAG}\n", &[1]),
    case(
        "UndefinedArgInFrom",
        "ARG TAG=3.20\nFROM --platform=$BUILDPLATFORM alpine:${TAG}\n",
        NONE,
    ),
    case(
        "WorkdirRelativePath",
        "FROM alpine:3.20\nWORKDIR app\n",
        &[2],
    ),
    case(
        "WorkdirRelativePath",
        "FROM alpine:3.20\nWORKDIR /app\nWORKDIR src\n",
        NONE,
    ),
    case("UndefinedVar", "FROM scratch\nCOPY $SRC /\n", &[2]),
    case(
        "UndefinedVar",
        "FROM scratch\nARG SRC=x\nCOPY $SRC /\n",
        NONE,
    ),
    // A base image from outside may define anything: not reported.
    case("UndefinedVar", "FROM alpine:3.20\nCOPY $SRC /\n", NONE),
    case(
        "MultipleInstructionsDisallowed",
        "FROM alpine:3.20\nCMD [\"a\"]\nCMD [\"b\"]\n",
        &[2],
    ),
    case(
        "MultipleInstructionsDisallowed",
        "FROM alpine:3.20 AS a\nCMD [\"a\"]\nFROM a\nCMD [\"b\"]\n",
        NONE,
    ),
    case(
        "LegacyKeyValueFormat",
        "FROM alpine:3.20\nENV A b\nLABEL x y\n",
        &[2, 3],
    ),
    case(
        "LegacyKeyValueFormat",
        "FROM alpine:3.20\nENV A=b\nLABEL x=y\n",
        NONE,
    ),
    in_ctx(
        "InvalidBaseImagePlatform",
        Ctx::Platforms(&[("alpine:3.20", &["linux/arm64/v8"])], "linux/amd64"),
        "FROM alpine:3.20\n",
        &[1],
    ),
    in_ctx(
        "InvalidBaseImagePlatform",
        Ctx::Platforms(
            &[("alpine:3.20", &["linux/arm64/v8", "linux/amd64"])],
            "linux/amd64",
        ),
        "FROM alpine:3.20\n",
        NONE,
    ),
    // Without platforms from the caller, nothing to compare.
    case("InvalidBaseImagePlatform", "FROM alpine:3.20\n", NONE),
    case(
        "RedundantTargetPlatform",
        "FROM --platform=$TARGETPLATFORM alpine:3.20\n",
        &[1],
    ),
    case(
        "RedundantTargetPlatform",
        "FROM --platform=$BUILDPLATFORM alpine:3.20\n",
        NONE,
    ),
    case(
        "SecretsUsedInArgOrEnv",
        "FROM alpine:3.20\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x\n",
        &[2, 3],
    ),
    case(
        "SecretsUsedInArgOrEnv",
        "FROM alpine:3.20\nENV PUBLIC_KEY=x TOKENIZER=y\n",
        NONE,
    ),
    case(
        "InvalidDefaultArgInFrom",
        "ARG TAG\nFROM alpine:$TAG\n",
        &[2],
    ),
    case(
        "InvalidDefaultArgInFrom",
        "ARG TAG=3.20\nFROM alpine:$TAG\n",
        NONE,
    ),
    case(
        "FromPlatformFlagConstDisallowed",
        "FROM --platform=linux/amd64 alpine:3.20\n",
        &[1],
    ),
    case(
        "FromPlatformFlagConstDisallowed",
        "FROM --platform=linux/amd64 alpine:3.20 AS build_amd64\n",
        NONE,
    ),
    in_ctx(
        "CopyIgnoredFile",
        Ctx::Ignore(&["secret.txt"]),
        "FROM alpine:3.20\nCOPY app.txt /\nCOPY secret.txt /\n",
        &[3],
    ),
    in_ctx(
        "CopyIgnoredFile",
        Ctx::Ignore(&["secret.txt"]),
        "FROM alpine:3.20 AS b\nCOPY app.txt /\nFROM alpine:3.20\nCOPY --from=b secret.txt /\n",
        NONE,
    ),
    case(
        "InvalidDefinitionDescription",
        "# check=experimental=InvalidDefinitionDescription\n\n# the version to build\nARG VERSION=1\nFROM alpine:3.20\n",
        &[4],
    ),
    // Experimental: off without the directive.
    case(
        "InvalidDefinitionDescription",
        "# the version to build\nARG VERSION=1\nFROM alpine:3.20\n",
        NONE,
    ),
    case(
        "InvalidDefinitionDescription",
        "# check=experimental=InvalidDefinitionDescription\n\n# VERSION to build\nARG VERSION=1\nFROM alpine:3.20\n",
        NONE,
    ),
    case(
        "ExposeProtoCasing",
        "FROM alpine:3.20\nEXPOSE 80/TCP\n",
        &[2],
    ),
    case(
        "ExposeProtoCasing",
        "FROM alpine:3.20\nEXPOSE 80/tcp\n",
        NONE,
    ),
    case(
        "ExposeInvalidFormat",
        "FROM alpine:3.20\nEXPOSE 127.0.0.1:80:80\nEXPOSE 8080:80\n",
        &[2, 3],
    ),
    case(
        "ExposeInvalidFormat",
        "FROM alpine:3.20\nEXPOSE 80 443/udp\n",
        NONE,
    ),
    // --- hadolint's rules ---
    case(
        "WorkdirNotAbsolute",
        "FROM alpine:3.20\nWORKDIR /srv\nWORKDIR app\n",
        &[3],
    ),
    case(
        "WorkdirNotAbsolute",
        "FROM alpine:3.20\nWORKDIR /app\nWORKDIR $HOME/app\nWORKDIR \"/quoted\"\n",
        NONE,
    ),
    case(
        "LastUserRoot",
        "FROM alpine:3.20\nUSER 1000\nUSER root\n",
        &[3],
    ),
    case(
        "LastUserRoot",
        "FROM alpine:3.20\nUSER root\nRUN true\nUSER 1000\n",
        NONE,
    ),
    case("CdInRun", "FROM alpine:3.20\nRUN cd /tmp && make\n", &[2]),
    case(
        "CdInRun",
        "FROM alpine:3.20\nRUN make -C /tmp && echo cd\n",
        NONE,
    ),
    case("SudoInRun", "FROM alpine:3.20\nRUN sudo apk update\n", &[2]),
    case("SudoInRun", "FROM alpine:3.20\nRUN echo sudo\n", NONE),
    case("UntaggedBaseImage", "FROM debian\n", &[1]),
    case(
        "UntaggedBaseImage",
        "FROM debian:12 AS base\nFROM base\nFROM scratch\nFROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
        NONE,
    ),
    case("LatestTag", "FROM debian:latest\n", &[1]),
    case(
        "LatestTag",
        "FROM debian:12\nFROM debian:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
        NONE,
    ),
    case(
        "AptGetUnpinned",
        "FROM debian:12\nRUN apt-get install -y curl\n",
        &[2],
    ),
    case(
        "AptGetUnpinned",
        "FROM debian:12\nRUN apt-get install -y curl=8.5.0-2 ./local.deb\n",
        NONE,
    ),
    case(
        "AptListsNotDeleted",
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n",
        &[2],
    ),
    case(
        "AptListsNotDeleted",
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
        NONE,
    ),
    // A stage no image is made from leaves nothing behind.
    case(
        "AptListsNotDeleted",
        "FROM debian:12 AS build\nRUN apt-get update\nFROM scratch\n",
        NONE,
    ),
    case(
        "PipUnpinned",
        "FROM python:3.12\nRUN pip install requests\n",
        &[2],
    ),
    case(
        "PipUnpinned",
        "FROM python:3.12\nRUN pip install requests==2.32.3 && pip install -r requirements.txt\n",
        NONE,
    ),
    case(
        "AptGetMissingYes",
        "FROM debian:12\nRUN apt-get install curl\n",
        &[2],
    ),
    case(
        "AptGetMissingYes",
        "FROM debian:12\nRUN apt-get install -y curl && apt-get -qq install git\n",
        NONE,
    ),
    case(
        "AptGetRecommends",
        "FROM debian:12\nRUN apt-get install -y curl\n",
        &[2],
    ),
    case(
        "AptGetRecommends",
        "FROM debian:12\nRUN apt-get install -y --no-install-recommends curl\n",
        NONE,
    ),
    case(
        "NpmUnpinned",
        "FROM node:22\nRUN npm install express\n",
        &[2],
    ),
    case(
        "NpmUnpinned",
        "FROM node:22\nRUN npm install express@4.21.0 @types/node@22.0.0 && npm install\n",
        NONE,
    ),
    case(
        "ApkUnpinned",
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
        &[2],
    ),
    case(
        "ApkUnpinned",
        "FROM alpine:3.20\nRUN apk add --no-cache curl=8.5.0-r0 git~2.45\n",
        NONE,
    ),
    case(
        "ApkCacheKept",
        "FROM alpine:3.20\nRUN apk add curl=8.5.0-r0\n",
        &[2],
    ),
    case(
        "ApkCacheKept",
        "FROM alpine:3.20\nRUN apk add --no-cache curl=8.5.0-r0\nRUN --mount=type=cache,target=/var/cache/apk apk add git=2.45.2-r0\n",
        NONE,
    ),
    case(
        "AddForLocalFiles",
        "FROM alpine:3.20\nADD app.py /app/\n",
        &[2],
    ),
    case(
        "AddForLocalFiles",
        "FROM alpine:3.20\nADD app.tar.gz /app/\nADD https://example.com/tool /usr/bin/tool\n",
        NONE,
    ),
    case(
        "CopyFromUnknownStage",
        "FROM alpine:3.20\nCOPY --from=builder /a /a\n",
        &[2],
    ),
    case(
        "CopyFromUnknownStage",
        "FROM alpine:3.20 AS builder\nFROM alpine:3.20\nCOPY --from=builder /a /a\nCOPY --from=0 /b /b\nCOPY --from=nginx:1.27 /c /c\n",
        NONE,
    ),
    case(
        "PipCacheKept",
        "FROM python:3.12\nRUN pip install requests==2.32.3\n",
        &[2],
    ),
    case(
        "PipCacheKept",
        "FROM python:3.12\nRUN pip install --no-cache-dir requests==2.32.3\n",
        NONE,
    ),
    case(
        "PipCacheKept",
        "FROM python:3.12\nENV PIP_NO_CACHE_DIR=1\nRUN pip install requests==2.32.3\n",
        NONE,
    ),
    case(
        "WgetProgress",
        "FROM alpine:3.20\nRUN wget https://example.com/a\n",
        &[2],
    ),
    case(
        "WgetProgress",
        "FROM alpine:3.20\nRUN wget -q https://example.com/a && wget --progress=dot:giga https://example.com/b\n",
        NONE,
    ),
    case(
        "ConsecutiveRun",
        "FROM alpine:3.20\nRUN echo a\nRUN echo b\n",
        &[3],
    ),
    case(
        "ConsecutiveRun",
        "FROM alpine:3.20\nRUN echo a\nWORKDIR /x\nRUN echo b\n",
        NONE,
    ),
    case(
        "PipefailMissing",
        "FROM alpine:3.20\nRUN wget -qO- https://example.com/i.sh | sh\n",
        &[2],
    ),
    case(
        "PipefailMissing",
        "FROM alpine:3.20\nSHELL [\"/bin/ash\", \"-o\", \"pipefail\", \"-c\"]\nRUN wget -qO- https://example.com/i.sh | sh\n",
        NONE,
    ),
    // --- berth's rules ---
    case(
        "InstallAfterCopyAll",
        "FROM node:22\nCOPY . .\nRUN npm ci\n",
        &[3],
    ),
    case(
        "InstallAfterCopyAll",
        "FROM node:22\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\n",
        NONE,
    ),
    case(
        "CleanupInSeparateRun",
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nRUN rm -rf /var/lib/apt/lists/*\n",
        &[3],
    ),
    case(
        "CleanupInSeparateRun",
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
        NONE,
    ),
    case(
        "SecretCopied",
        "FROM alpine:3.20\nCOPY app /app\nCOPY id_rsa /root/.ssh/\nADD certs/server.key /etc/ssl/\n",
        &[3, 4],
    ),
    case(
        "SecretCopied",
        "FROM alpine:3.20 AS b\nFROM alpine:3.20\nCOPY .env.example /app/\nCOPY --from=b /src/.env /app/\n",
        NONE,
    ),
    in_ctx(
        "DockerignoreMissing",
        Ctx::HeavyNoIgnore,
        "FROM alpine:3.20\nRUN true\nCOPY . /src\n",
        &[3],
    ),
    in_ctx(
        "DockerignoreMissing",
        Ctx::Ignore(&[".git"]),
        "FROM alpine:3.20\nRUN true\nCOPY . /src\n",
        NONE,
    ),
    // Standard input: the context was not looked at.
    case(
        "DockerignoreMissing",
        "FROM alpine:3.20\nRUN true\nCOPY . /src\n",
        NONE,
    ),
    case("UserNotNumeric", "FROM alpine:3.20\nUSER app\n", &[2]),
    case(
        "UserNotNumeric",
        "FROM alpine:3.20\nARG UID=10001\nUSER 10001:10001\nUSER $UID\n",
        NONE,
    ),
    case(
        "HealthcheckMissing",
        "FROM alpine:3.20\nEXPOSE 80\nCMD [\"httpd\"]\n",
        &[2],
    ),
    case(
        "HealthcheckMissing",
        "FROM alpine:3.20\nEXPOSE 80\nHEALTHCHECK CMD wget -qO- http://localhost/ || exit 1\n",
        NONE,
    ),
    case(
        "AddUrlWithoutChecksum",
        "FROM alpine:3.20\nADD https://example.com/a.tar.gz /a\n",
        &[2],
    ),
    case(
        "AddUrlWithoutChecksum",
        "FROM alpine:3.20\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /a\n",
        NONE,
    ),
];

fn lint(case: &Case) -> Vec<Finding> {
    let tree = berth_dockerfile::syntax::parse(case.dockerfile).unwrap_or_else(|e| {
        panic!(
            "{}: case does not parse: {e}\n{}",
            case.rule, case.dockerfile
        )
    });
    berth_lint::lint(&tree, &case.ctx.context())
}

#[test]
fn each_case_fires_on_exactly_its_lines() {
    let mut failures = Vec::new();
    for case in CASES {
        let findings = lint(case);
        let lines: Vec<usize> = findings
            .iter()
            .filter(|f| f.rule.id == case.rule)
            .map(|f| f.line)
            .collect();
        if lines != case.lines {
            failures.push(format!(
                "{}: expected lines {:?}, got {:?}\n--- Dockerfile\n{}--- all findings\n{:#?}",
                case.rule, case.lines, lines, case.dockerfile, findings
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_rule_has_a_firing_and_a_quiet_case() {
    let registry: BTreeSet<&str> = berth_lint::rules().map(|r| r.id).collect();
    let fires: BTreeSet<&str> = CASES
        .iter()
        .filter(|c| !c.lines.is_empty())
        .map(|c| c.rule)
        .collect();
    let quiet: BTreeSet<&str> = CASES
        .iter()
        .filter(|c| c.lines.is_empty())
        .map(|c| c.rule)
        .collect();
    let unknown: Vec<&str> = CASES
        .iter()
        .map(|c| c.rule)
        .filter(|r| !registry.contains(r))
        .collect();
    assert!(
        unknown.is_empty(),
        "cases for rules not in the registry: {unknown:?}"
    );
    let no_fire: Vec<&&str> = registry.difference(&fires).collect();
    let no_quiet: Vec<&&str> = registry.difference(&quiet).collect();
    assert!(
        no_fire.is_empty() && no_quiet.is_empty(),
        "add cases to tests/rules.rs: no firing case for {no_fire:?}, no quiet case for {no_quiet:?}"
    );
}

#[test]
fn registry_ids_and_hadolint_codes_are_unique_and_findable() {
    let mut ids = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for rule in berth_lint::rules() {
        assert!(
            ids.insert(rule.id.to_ascii_lowercase()),
            "duplicate id {}",
            rule.id
        );
        if let Some(code) = rule.hadolint {
            assert!(codes.insert(code), "duplicate hadolint code {code}");
            assert_eq!(
                berth_lint::find_rule(&code.to_ascii_lowercase()).map(|r| r.id),
                Some(rule.id)
            );
        }
        assert_eq!(
            berth_lint::find_rule(&rule.id.to_ascii_uppercase()).map(|r| r.id),
            Some(rule.id)
        );
        assert!(
            !rule.summary.is_empty() && !rule.explanation.is_empty(),
            "{}",
            rule.id
        );
    }
    assert_eq!(
        ids.len(),
        49,
        "rule count changed: update docs/lint.md and this count"
    );
    assert!(berth_lint::find_rule("DL9999").is_none());
}

#[test]
fn ignore_comment_and_check_skip_silence_a_rule() {
    let base = "FROM alpine:3.20\nRUN cd /tmp && make\n";
    let run = |text: &str| -> Vec<(&'static str, usize)> {
        let tree = berth_dockerfile::syntax::parse(text).unwrap();
        berth_lint::lint(&tree, &Context::default())
            .iter()
            .filter(|f| f.rule.id == "CdInRun")
            .map(|f| (f.rule.id, f.line))
            .collect()
    };
    assert_eq!(run(base), [("CdInRun", 2)]);
    assert_eq!(
        run("FROM alpine:3.20\n# berth-ignore=CdInRun\nRUN cd /tmp && make\n"),
        []
    );
    assert_eq!(
        run("FROM alpine:3.20\n# berth-ignore=dl3003\nRUN cd /tmp && make\n"),
        []
    );
    assert_eq!(
        run("FROM alpine:3.20\n# hadolint ignore=DL3003\nRUN cd /tmp && make\n"),
        []
    );
    // The comment covers only the instruction right below it.
    assert_eq!(
        run("FROM alpine:3.20\n# berth-ignore=CdInRun\nRUN true\nRUN cd /tmp && make\n"),
        [("CdInRun", 4)]
    );
    assert_eq!(
        run("# check=skip=CdInRun\nFROM alpine:3.20\nRUN cd /tmp && make\n"),
        []
    );
    assert_eq!(
        run("# check=skip=all\nFROM alpine:3.20\nRUN cd /tmp && make\n"),
        []
    );
}

#[test]
fn check_error_true_makes_every_finding_an_error() {
    let tree =
        berth_dockerfile::syntax::parse("# check=error=true\nFROM alpine:3.20\nRUN cd /tmp\n")
            .unwrap();
    let findings = berth_lint::lint(&tree, &Context::default());
    let cd: Vec<_> = findings.iter().filter(|f| f.rule.id == "CdInRun").collect();
    assert_eq!(cd.len(), 1);
    assert_eq!(cd[0].severity, berth_lint::Severity::Error);
    assert_eq!(cd[0].rule.severity, berth_lint::Severity::Warning);
}
