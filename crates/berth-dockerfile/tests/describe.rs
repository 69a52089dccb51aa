//! The resolved build description: ARG scoping, expansion in context, stages and errors.

use std::collections::BTreeMap;

use berth_dockerfile::describe::{
    Base, BuildDescription, BuildOptions, CopySource, FileSource, Step, resolve,
};
use berth_dockerfile::instructions::{Mount, ShellOrExec};
use berth_dockerfile::syntax;
use berth_oci::Platform;

fn options(args: &[(&str, &str)], target: Option<&str>) -> BuildOptions {
    BuildOptions {
        build_args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        target: target.map(str::to_string),
        target_platform: Some(Platform::new("linux", "arm64", None)),
        build_platform: Some(Platform::new("linux", "amd64", None)),
        base_env: BTreeMap::new(),
        base_onbuild: BTreeMap::new(),
    }
}

fn build(text: &str, args: &[(&str, &str)], target: Option<&str>) -> BuildDescription {
    let df = syntax::parse(text).unwrap_or_else(|e| panic!("syntax error: {e}"));
    resolve(&df, &options(args, target)).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

fn error(text: &str, args: &[(&str, &str)], target: Option<&str>) -> String {
    let df = syntax::parse(text).unwrap_or_else(|e| panic!("syntax error: {e}"));
    match resolve(&df, &options(args, target)) {
        Ok(d) => panic!("resolved {text}: {d:?}"),
        Err(e) => e.to_string(),
    }
}

/// The value of the last `LABEL v=…` in the target stage.
fn label_v(d: &BuildDescription) -> String {
    let stage = d.stage(d.target).expect("target described");
    stage
        .steps
        .iter()
        .rev()
        .find_map(|s| match &s.value {
            Step::Label(pairs) => pairs.iter().find(|(k, _)| k == "v").map(|(_, v)| v.clone()),
            _ => None,
        })
        .expect("a LABEL v")
}

fn base_of(d: &BuildDescription, index: usize) -> Base {
    d.stage(index).expect("stage described").base.clone()
}

/// A case of the scoping table: name, Dockerfile, build args, expected `LABEL v`.
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// The scoping table: Dockerfile, build args, expected `LABEL v` value in the target.
#[test]
fn arg_scoping_and_expansion_table() {
    let cases: &[Case] = &[
        (
            "global arg invisible in stage",
            "ARG V=g\nFROM a\nLABEL v=[$V]\n",
            &[],
            "[]",
        ),
        (
            "global arg redeclared",
            "ARG V=g\nFROM a\nARG V\nLABEL v=[$V]\n",
            &[],
            "[g]",
        ),
        (
            "redeclared picks build arg",
            "ARG V=g\nFROM a\nARG V\nLABEL v=$V\n",
            &[("V", "cli")],
            "cli",
        ),
        ("stage default", "FROM a\nARG V=d\nLABEL v=$V\n", &[], "d"),
        (
            "stage default overridden",
            "FROM a\nARG V=d\nLABEL v=$V\n",
            &[("V", "cli")],
            "cli",
        ),
        (
            "stage default shadows global",
            "ARG V=g\nFROM a\nARG V=s\nLABEL v=$V\n",
            &[],
            "s",
        ),
        (
            "undeclared build arg invisible",
            "FROM a\nLABEL v=[$V]\n",
            &[("V", "cli")],
            "[]",
        ),
        (
            "arg without value stays unset",
            "FROM a\nARG V\nLABEL v=${V:-unset}\n",
            &[],
            "unset",
        ),
        (
            "arg before use only",
            "FROM a\nLABEL v=[$V]\nARG V=late\n",
            &[],
            "[]",
        ),
        (
            "env over earlier arg",
            "FROM a\nARG V=arg\nENV V=env\nLABEL v=$V\n",
            &[("V", "cli")],
            "env",
        ),
        (
            "env from arg",
            "FROM a\nARG V=1\nENV E=$V\nLABEL v=$E\n",
            &[("V", "2")],
            "2",
        ),
        (
            "one snapshot per ENV",
            "FROM a\nENV A=old\nENV A=new B=$A\nLABEL v=$B\n",
            &[],
            "old",
        ),
        (
            "one snapshot per LABEL",
            "FROM a\nENV A=1\nLABEL A=2 v=$A\n",
            &[],
            "1",
        ),
        (
            "arg default sees earlier args",
            "FROM a\nARG X=1\nARG Y=${X}2\nLABEL v=$Y\n",
            &[],
            "12",
        ),
        (
            "global default sees earlier global",
            "ARG A=x\nARG B=${A}y\nFROM a\nARG B\nLABEL v=$B\n",
            &[],
            "xy",
        ),
        (
            "global default with overridden dependency",
            "ARG A=x\nARG B=${A}y\nFROM a\nARG B\nLABEL v=$B\n",
            &[("A", "q")],
            "qy",
        ),
        (
            "platform arg needs declaring",
            "FROM a\nLABEL v=[$TARGETARCH]\n",
            &[],
            "[]",
        ),
        (
            "TARGETARCH declared",
            "FROM a\nARG TARGETARCH\nLABEL v=$TARGETARCH\n",
            &[],
            "arm64",
        ),
        (
            "TARGETPLATFORM declared",
            // As containerd spells it: arm64's default variant left out.
            "FROM a\nARG TARGETPLATFORM\nLABEL v=$TARGETPLATFORM\n",
            &[],
            "linux/arm64",
        ),
        (
            "TARGETVARIANT declared",
            "FROM a\nARG TARGETVARIANT\nLABEL v=$TARGETVARIANT\n",
            &[],
            "",
        ),
        (
            "BUILDPLATFORM declared",
            "FROM a\nARG BUILDPLATFORM BUILDOS BUILDARCH\nLABEL v=$BUILDPLATFORM,$BUILDOS,$BUILDARCH\n",
            &[],
            "linux/amd64,linux,amd64",
        ),
        (
            "BUILDVARIANT empty",
            "FROM a\nARG BUILDVARIANT\nLABEL v=[$BUILDVARIANT]\n",
            &[],
            "[]",
        ),
        (
            "platform arg overridden",
            "FROM a\nARG TARGETOS\nLABEL v=$TARGETOS\n",
            &[("TARGETOS", "windows")],
            "windows",
        ),
        (
            "proxy arg not a variable",
            "FROM a\nLABEL v=[$HTTP_PROXY]\n",
            &[("HTTP_PROXY", "http://p")],
            "[]",
        ),
        (
            "proxy arg declared is a variable",
            "FROM a\nARG HTTP_PROXY\nLABEL v=$HTTP_PROXY\n",
            &[("HTTP_PROXY", "http://p")],
            "http://p",
        ),
        (
            "env inherited from stage base",
            "FROM a AS p\nENV E=parent\nFROM p\nLABEL v=$E\n",
            &[],
            "parent",
        ),
        (
            "arg value carried to child stage",
            "FROM a AS p\nARG V=p\nFROM p\nLABEL v=[$V]\n",
            &[],
            "[p]",
        ),
        (
            "image base starts clean",
            "FROM a AS p\nENV E=parent\nFROM a\nLABEL v=[$E]\n",
            &[],
            "[]",
        ),
        (
            "default PATH",
            "FROM scratch\nLABEL v=$PATH\n",
            &[],
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        (
            "quotes removed on expansion",
            "FROM a\nENV X=\"a b\"\nLABEL v=\"$X c\"\n",
            &[],
            "a b c",
        ),
        (
            "single quotes literal",
            "FROM a\nENV X=1\nLABEL v='$X'\n",
            &[],
            "$X",
        ),
        (
            "arg redeclared later in stage",
            "FROM a\nARG V=1\nARG V=2\nLABEL v=$V\n",
            &[],
            "2",
        ),
        (
            "TARGETSTAGE",
            "FROM a AS final\nARG TARGETSTAGE\nLABEL v=$TARGETSTAGE\n",
            &[],
            "final",
        ),
    ];
    for (name, text, args, want) in cases {
        assert_eq!(label_v(&build(text, args, None)), *want, "{name}");
    }
}

#[test]
fn from_lines_see_global_args_only() {
    let d = build(
        "ARG TAG=3.19\nARG IMG=alpine\nFROM $IMG:$TAG\nARG TAG\nRUN true\n",
        &[("TAG", "3.20")],
        None,
    );
    assert_eq!(
        base_of(&d, 0),
        Base::Image {
            reference: "alpine:3.20".into(),
            platform: None
        }
    );
    let d = build(
        "FROM --platform=$BUILDPLATFORM golang AS b\nFROM scratch\nCOPY --from=b /x /x\n",
        &[],
        None,
    );
    assert_eq!(
        base_of(&d, 0),
        Base::Image {
            reference: "golang".into(),
            platform: Some(Platform::new("linux", "amd64", None))
        }
    );
    assert_eq!(
        d.stage(0).unwrap().platform,
        Platform::new("linux", "amd64", None)
    );
    assert_eq!(
        d.stage(1).unwrap().platform,
        Platform::new("linux", "arm64", None)
    );
    // An ARG inside a stage is not visible to the next FROM.
    let d = build("FROM a\nARG IMG=b\nFROM ${IMG:-c}\nRUN x\n", &[], None);
    assert_eq!(
        base_of(&d, 1),
        Base::Image {
            reference: "c".into(),
            platform: None
        }
    );
}

#[test]
fn stage_bases_and_names() {
    let d = build(
        "FROM alpine AS Base\nRUN a\nFROM base\nRUN b\nFROM scratch\nCOPY --from=1 / /\n",
        &[],
        None,
    );
    assert_eq!(base_of(&d, 1), Base::Stage(0));
    assert_eq!(base_of(&d, 2), Base::Scratch);
    assert_eq!(d.stage(0).unwrap().name.as_deref(), Some("base"));
    assert_eq!(
        d.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

#[test]
fn copy_from_resolution() {
    let d = build(
        "FROM a AS build\nRUN make\nFROM b\nCOPY --from=build /o /o\nCOPY --from=0 /o /p\nCOPY --from=nginx:1 /etc/nginx /n\nCOPY . /src\n",
        &[],
        None,
    );
    let froms: Vec<FileSource> = d
        .stage(1)
        .unwrap()
        .steps
        .iter()
        .filter_map(|s| match &s.value {
            Step::Copy(c) => Some(c.from.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        froms,
        vec![
            FileSource::Stage(0),
            FileSource::Stage(0),
            FileSource::Image("nginx:1".into()),
            FileSource::Context
        ]
    );
}

#[test]
fn target_selection_builds_only_needed_stages() {
    let text = "FROM a AS deps\nRUN d\nFROM a AS unused\nRUN u\nFROM deps AS build\nRUN b\nFROM a AS test\nCOPY --from=build /x /x\nFROM scratch AS final\nCOPY --from=build /x /x\n";
    let d = build(text, &[], None);
    assert_eq!(d.target, 4);
    assert_eq!(
        d.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![0, 2, 4]
    );
    let d = build(text, &[], Some("TEST"));
    assert_eq!(d.target, 3);
    assert_eq!(
        d.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
    // A broken unused stage does not matter, as in BuildKit.
    let d = build(
        "FROM a AS broken\nSTOPSIGNAL $NOPE\nFROM b\nRUN x\n",
        &[],
        None,
    );
    assert_eq!(d.stages.len(), 1);
}

#[test]
fn run_mount_from_is_a_dependency_and_values_expand() {
    let d = build(
        "FROM a AS src\nRUN s\nFROM b\nARG UID=1000\nRUN --mount=type=cache,target=/c,uid=$UID,id=c-$UID --mount=from=src,target=/s ls\n",
        &[],
        None,
    );
    assert_eq!(d.stages.len(), 2);
    let Step::Run(r) = &d.stage(1).unwrap().steps[1].value else {
        panic!()
    };
    let Mount::Cache(c) = &r.mounts[0] else {
        panic!()
    };
    assert_eq!((c.uid, c.id.as_str()), (Some(1000), "c-1000"));
    assert_eq!(
        r.mount_sources,
        vec![FileSource::Context, FileSource::Stage(0)]
    );
    // The shell body is not expanded; the process gets the variables.
    assert_eq!(r.command, ShellOrExec::Shell("ls".into()));
    assert!(r.env.contains(&("UID".to_string(), "1000".to_string())));
}

#[test]
fn run_body_is_not_expanded_but_env_is_passed() {
    let d = build("FROM a\nENV GREETING=hi\nRUN echo $GREETING\n", &[], None);
    let Step::Run(r) = &d.stage(0).unwrap().steps[1].value else {
        panic!()
    };
    assert_eq!(r.command, ShellOrExec::Shell("echo $GREETING".into()));
    assert!(r.env.contains(&("GREETING".to_string(), "hi".to_string())));
}

#[test]
fn expanded_image_config_steps() {
    let d = build(
        "FROM a\nARG PORT=8080 USER=app DIR=/srv SIG=TERM\nEXPOSE $PORT 53/UDP 7000-7001\nUSER $USER\nWORKDIR $DIR/app\nVOLUME $DIR/data\nSTOPSIGNAL SIG$SIG\nCOPY --chown=$USER <<EOF $DIR/motd\nhi $USER\nEOF\nCMD echo $PORT\n",
        &[],
        None,
    );
    let steps: Vec<&Step> = d.stage(0).unwrap().steps.iter().map(|s| &s.value).collect();
    // BuildKit's order: the words as written sorted (`$PORT` before `53/UDP`), then expanded.
    assert_eq!(
        *steps[1],
        Step::Expose(vec![
            "8080/tcp".into(),
            "53/udp".into(),
            "7000/tcp".into(),
            "7001/tcp".into()
        ])
    );
    assert_eq!(*steps[2], Step::User("app".into()));
    assert_eq!(*steps[3], Step::Workdir("/srv/app".into()));
    assert_eq!(*steps[4], Step::Volume(vec!["/srv/data".into()]));
    assert_eq!(*steps[5], Step::Stopsignal("SIGTERM".into()));
    let Step::Copy(c) = steps[6] else { panic!() };
    assert_eq!(c.chown.as_deref(), Some("app"));
    assert_eq!(c.dest, "/srv/motd");
    assert_eq!(
        c.sources,
        vec![CopySource::Inline {
            name: "EOF".into(),
            content: "hi app\n".into()
        }]
    );
    let Step::Cmd(cmd) = steps[7] else { panic!() };
    assert_eq!(cmd.command, ShellOrExec::Shell("echo $PORT".into()));
}

#[test]
fn proxy_args_go_to_run_only_and_unused_args_warn() {
    let d = build(
        "FROM a\nARG USED\nRUN x\n",
        &[
            ("https_proxy", "http://p"),
            ("USED", "1"),
            ("TYPO", "2"),
            ("BUILDKIT_INLINE_CACHE", "1"),
        ],
        None,
    );
    assert_eq!(
        d.proxy_env,
        vec![("https_proxy".to_string(), "http://p".to_string())]
    );
    let Step::Run(r) = &d.stage(0).unwrap().steps[1].value else {
        panic!()
    };
    assert!(!r.env.iter().any(|(k, _)| k == "https_proxy"));
    assert_eq!(
        d.warnings
            .iter()
            .map(|w| w.message.as_str())
            .collect::<Vec<_>>(),
        vec![
            "build argument TYPO was given but no ARG in the stages being built declares it: add `ARG TYPO` where it is used, or drop --build-arg TYPO"
        ]
    );
}

#[test]
fn onbuild_triggers_of_a_stage_base_run_in_the_child() {
    let d = build(
        "FROM a AS p\nONBUILD ENV T=fired\nFROM p\nLABEL v=$T\n",
        &[],
        None,
    );
    assert_eq!(label_v(&d), "fired");
    assert_eq!(
        d.stage(0).unwrap().steps[0].value,
        Step::Onbuild("ENV T=fired".into())
    );
}

#[test]
fn onbuild_triggers_of_a_base_image_run_after_from() {
    let df = syntax::parse("FROM img AS app\nLABEL v=$T\n").unwrap();
    let mut opts = options(&[], None);
    opts.base_onbuild
        .insert("img".into(), vec!["ENV T=from-image".into()]);
    let d = resolve(&df, &opts).unwrap();
    assert_eq!(label_v(&d), "from-image");

    opts.base_onbuild
        .insert("img".into(), vec!["BOGUS x".into()]);
    let e = resolve(&df, &opts).unwrap_err().to_string();
    assert!(
        e.starts_with("line 1: ONBUILD trigger") && e.contains("unknown instruction: BOGUS"),
        "{e}"
    );
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "FROM a AS x\nRUN a\nFROM b AS X\nRUN b\n",
            None,
            "line 3: duplicate stage name \"x\": line 1 already names a stage so; stage names (compared case-insensitively) must be unique",
        ),
        (
            "FROM a\nRUN x\n",
            Some("nope"),
            "target stage \"nope\" could not be found; the named stages are: (none: name a stage with FROM image AS name)",
        ),
        (
            "FROM a AS one\nFROM b AS two\n",
            Some("three"),
            "target stage \"three\" could not be found; the named stages are: one, two",
        ),
        (
            "ARG X\nFROM $X\n",
            None,
            "line 2: base name ($X) should not be blank: set the variable with ARG before the first FROM or with --build-arg",
        ),
        (
            "FROM --platform=$NOPE a\n",
            None,
            "line 1: empty platform value from expression $NOPE",
        ),
        (
            "FROM --platform=linux/ a\n",
            None,
            "line 1: failed to parse platform linux/: invalid platform \"linux/\": expected OS/ARCH[/VARIANT], such as linux/amd64 or linux/arm64/v8",
        ),
        (
            "RUN x\nFROM a\n",
            None,
            "line 1: no build stage in current context: only ARG may come before the first FROM",
        ),
        (
            "ARG A=1\n",
            None,
            "the Dockerfile has no FROM: start a stage with FROM <image> (or FROM scratch)",
        ),
        (
            "FROM a AS first\nCOPY --from=later /x /x\nFROM first AS later\nRUN x\n",
            None,
            "line 2: cannot copy from stage \"later\", it needs to be defined before current stage: move stage \"later\" above this one",
        ),
        (
            "FROM a AS first\nRUN x\nCOPY --from=1 /x /x\nFROM first\n",
            None,
            "line 3: cannot copy from stage \"1\", it needs to be defined before current stage 0: move the stage up, or copy from an earlier one",
        ),
        (
            "FROM a\nCOPY --from=7 /x /x\n",
            None,
            "line 2: invalid stage index 7: the Dockerfile has stages 0 to 0",
        ),
        (
            "FROM a\nARG S=b\nCOPY --from=$S /x /x\n",
            None,
            "line 3: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
        ),
        (
            "FROM a\nEXPOSE 80/http\n",
            None,
            "line 2: invalid port \"80/http\": unknown protocol \"http\" (use tcp, udp or sctp)",
        ),
        (
            "FROM a\nEXPOSE 70000\n",
            None,
            "line 2: invalid port \"70000\": expected a port number 0-65535, found \"70000\"",
        ),
        (
            "FROM a\nSTOPSIGNAL SIGNOPE\n",
            None,
            "line 2: invalid signal: SIGNOPE (use a name such as SIGTERM or SIGINT, or a number)",
        ),
        (
            "FROM a\nARG U=x\nRUN --mount=type=cache,target=/c,uid=$U true\n",
            None,
            "line 3: --mount=type=cache,target=/c,uid=$U: invalid value x for uid",
        ),
        (
            "FROM a\nENV X=${Y:?required}\n",
            None,
            "line 2: failed to process \"${Y:?required}\": Y: required",
        ),
        (
            "FROM a\nCOPPY x y\n",
            None,
            "line 2: unknown instruction: COPPY (the instructions are ADD, ARG, CMD, COPY, ENTRYPOINT, ENV, EXPOSE, FROM, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD, RUN, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR)",
        ),
    ];
    for (text, target, want) in cases {
        assert_eq!(error(text, &[], *target), *want, "{text}");
    }
}

/// `ARG`/`ENV` values built from earlier values double at every instruction; expansion stops
/// with an error naming the line where a value passes 1 MiB, long before memory runs out.
#[test]
fn values_that_double_at_every_line_stop_at_the_line_that_passes_a_mebibyte() {
    for keyword in ["ARG", "ENV"] {
        // 16 bytes doubled 16 times is 1 MiB exactly, allowed; the 17th doubling (line 20:
        // FROM, the seed and 17 doublings) passes it.
        let mut text = format!("FROM scratch\n{keyword} V0=0123456789abcdef\n");
        for i in 1..=40 {
            text.push_str(&format!("{keyword} V{i}=${{V{}}}${{V{}}}\n", i - 1, i - 1));
        }
        let started = std::time::Instant::now();
        let err = error(&text, &[], None);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(err.starts_with("line 19: "), "{keyword}: {err}");
        assert!(err.contains("more than 1 MiB"), "{keyword}: {err}");
    }
    // Global ARGs before FROM are bounded the same way.
    let mut text = "ARG V0=0123456789abcdef\n".to_string();
    for i in 1..=40 {
        text.push_str(&format!("ARG V{i}=$V{}$V{}\n", i - 1, i - 1));
    }
    text.push_str("FROM scratch\n");
    let err = error(&text, &[], None);
    assert!(err.starts_with("line 18: "), "{err}");
    assert!(err.contains("more than 1 MiB"), "{err}");
}
