//! Typed instructions: every instruction and flag, accepted and refused, with exact messages.

use std::time::Duration;

use berth_dockerfile::instructions::{
    Add, ArgDecl, BindMount, CacheMount, Check, Copy, From, HealthTest, Healthcheck, Instruction,
    Mount, Network, Pair, Run, SecretMount, Security, Sharing, ShellOrExec, Source, SshMount,
    TmpfsMount, parse_instructions,
};
use berth_dockerfile::syntax;

/// The typed instructions of a Dockerfile that must be accepted.
fn ok(text: &str) -> Vec<Instruction> {
    let df = syntax::parse(text).unwrap_or_else(|e| panic!("syntax error in {text:?}: {e}"));
    parse_instructions(&df)
        .unwrap_or_else(|e| panic!("refused {text:?}: {e}"))
        .into_iter()
        .map(|l| l.value)
        .collect()
}

/// The last instruction of `FROM a` + `line`.
fn one(line: &str) -> Instruction {
    let mut all = ok(&format!("FROM a\n{line}\n"));
    all.pop().expect("two instructions")
}

/// The error for `FROM a` + `line` (so errors are on line 2).
fn err(line: &str) -> String {
    let text = format!("FROM a\n{line}\n");
    let df = syntax::parse(&text).unwrap_or_else(|e| panic!("syntax error in {text:?}: {e}"));
    match parse_instructions(&df) {
        Ok(v) => panic!("accepted {line:?}: {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn mount(flag: &str) -> Mount {
    let Instruction::Run(run) = one(&format!("RUN --mount={flag} true")) else {
        panic!("not a RUN")
    };
    run.mounts[0]
        .parse(&mut |v| Ok(v.to_string()))
        .unwrap_or_else(|e| panic!("{flag}: {e}"))
}

#[test]
fn from_forms() {
    assert_eq!(
        ok("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\n")[0],
        Instruction::From(From {
            image: "golang:1.22".into(),
            platform: Some("$BUILDPLATFORM".into()),
            name: Some("build".into()),
        })
    );
    assert_eq!(
        ok("FROM alpine\n")[0],
        Instruction::From(From {
            image: "alpine".into(),
            platform: None,
            name: None
        })
    );
}

#[test]
fn from_errors() {
    let cases = [
        (
            "FROM a b",
            "line 2: FROM requires either one or three arguments: FROM image or FROM image AS name",
        ),
        (
            "FROM a AS 1st",
            "line 2: invalid name for build stage: \"1st\", name can't start with a number or contain symbols (use letters, digits, '-', '_' and '.', starting with a letter)",
        ),
        (
            "FROM a AS my$tage",
            "line 2: invalid name for build stage: \"my$tage\", name can't start with a number or contain symbols (use letters, digits, '-', '_' and '.', starting with a letter)",
        ),
        (
            "FROM --plat=x a",
            "line 2: unknown flag: --plat (FROM takes --platform)",
        ),
        (
            "FROM --platform a",
            "line 2: missing a value on flag: --platform",
        ),
        (
            "FROM --platform=a --platform=b c",
            "line 2: duplicate flag specified: --platform",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(err(line), want, "{line}");
    }
}

#[test]
fn unknown_instruction_names_line_and_alternatives() {
    assert_eq!(
        err("COPPY a b"),
        "line 2: unknown instruction: COPPY (the instructions are ADD, ARG, CMD, COPY, \
         ENTRYPOINT, ENV, EXPOSE, FROM, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD, RUN, SHELL, \
         STOPSIGNAL, USER, VOLUME, WORKDIR)"
    );
}

#[test]
fn arg_forms() {
    assert_eq!(
        one("ARG A B=2 C="),
        Instruction::Arg(vec![
            ArgDecl {
                name: "A".into(),
                default: None
            },
            ArgDecl {
                name: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "C".into(),
                default: Some("".into())
            },
        ])
    );
    assert_eq!(
        err("ARG"),
        "line 2: ARG requires at least one argument, such as: ARG NAME=default"
    );
    assert_eq!(err("ARG =x"), "line 2: ARG names can not be blank");
    assert_eq!(
        err("ARG --x A"),
        "line 2: unknown flag: --x (ARG takes no flags)"
    );
}

#[test]
fn run_forms_and_flags() {
    assert_eq!(
        one("RUN --network=none --security=insecure make all"),
        Instruction::Run(Run {
            command: ShellOrExec::Shell("make all".into()),
            heredocs: vec![],
            mounts: vec![],
            network: Some(Network::None),
            security: Some(Security::Insecure),
        })
    );
    let Instruction::Run(r) = one(r#"RUN ["echo", "hi"]"#) else {
        panic!()
    };
    assert_eq!(
        r.command,
        ShellOrExec::Exec(vec!["echo".into(), "hi".into()])
    );
    assert_eq!(r.network, None);
    let Instruction::Run(r) = ok("FROM a\nRUN <<EOF\necho hi\nEOF\n").pop().unwrap() else {
        panic!()
    };
    assert_eq!(r.heredocs.len(), 1);
    assert_eq!(r.heredocs[0].content, "echo hi\n");
}

#[test]
fn run_flag_errors() {
    let cases = [
        (
            "RUN --networks=host x",
            "line 2: unknown flag: --networks (RUN takes --mount, --network, --security)",
        ),
        (
            "RUN --network=bridge x",
            "line 2: invalid network mode \"bridge\" (use default, none or host)",
        ),
        (
            "RUN --security=privileged x",
            "line 2: security \"privileged\" is not valid (use sandbox or insecure)",
        ),
        (
            "RUN --network=host --network=none x",
            "line 2: duplicate flag specified: --network",
        ),
        ("RUN --mount x", "line 2: missing a value on flag: --mount"),
        (
            "RUN",
            "line 2: RUN requires at least one argument, such as: RUN make",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(err(line), want, "{line}");
    }
}

#[test]
fn mounts_with_buildkit_defaults() {
    assert_eq!(
        mount("target=/src"),
        Mount::Bind(BindMount {
            target: "/src".into(),
            source: String::new(),
            from: None,
            readonly: true
        })
    );
    assert_eq!(
        mount("type=bind,from=build,src=/out,dst=/in,rw"),
        Mount::Bind(BindMount {
            target: "/in".into(),
            source: "/out".into(),
            from: Some("build".into()),
            readonly: false
        })
    );
    assert_eq!(
        mount("type=cache,target=/root/.cache//go/,sharing=locked,mode=0700,uid=1000,gid=1000"),
        Mount::Cache(CacheMount {
            target: "/root/.cache//go/".into(),
            id: "/root/.cache/go".into(),
            from: None,
            source: String::new(),
            readonly: false,
            sharing: Sharing::Locked,
            mode: Some(0o700),
            uid: Some(1000),
            gid: Some(1000),
        })
    );
    assert_eq!(
        mount("type=tmpfs,target=/tmp,size=64m"),
        Mount::Tmpfs(TmpfsMount {
            target: "/tmp".into(),
            size: Some(64 << 20),
            readonly: false
        })
    );
    assert_eq!(
        mount("type=secret,id=npmrc"),
        Mount::Secret(SecretMount {
            id: "npmrc".into(),
            target: Some("/run/secrets/npmrc".into()),
            env: None,
            required: false,
            mode: None,
            uid: None,
            gid: None,
        })
    );
    assert_eq!(
        mount("type=secret,target=/etc/token,required"),
        Mount::Secret(SecretMount {
            id: "token".into(),
            target: Some("/etc/token".into()),
            env: None,
            required: true,
            mode: None,
            uid: None,
            gid: None,
        })
    );
    assert_eq!(
        mount("type=secret,id=tok,env=TOKEN,required=false"),
        Mount::Secret(SecretMount {
            id: "tok".into(),
            target: None,
            env: Some("TOKEN".into()),
            required: false,
            mode: None,
            uid: None,
            gid: None,
        })
    );
    assert_eq!(
        mount("type=ssh,mode=0600,required=True"),
        Mount::Ssh(SshMount {
            id: "default".into(),
            target: None,
            required: true,
            mode: Some(0o600),
            uid: None,
            gid: None
        })
    );
    assert_eq!(
        mount("TYPE=CACHE,target=/c,ro=1"),
        Mount::Cache(CacheMount {
            target: "/c".into(),
            id: "/c".into(),
            from: None,
            source: String::new(),
            readonly: true,
            sharing: Sharing::Shared,
            mode: None,
            uid: None,
            gid: None,
        })
    );
}

#[test]
fn mount_errors() {
    let cases = [
        (
            "type=volume,target=/x",
            "unsupported mount type \"volume\" (use bind, cache, tmpfs, secret or ssh)",
        ),
        (
            "type=cache,target=/x,sharing=global",
            "unsupported sharing value \"global\" (use shared, private or locked)",
        ),
        (
            "type=cache,target=/x,mode=0800",
            "invalid value 0800 for mode",
        ),
        ("type=cache,target=/x,uid=me", "invalid value me for uid"),
        ("type=cache,target=/x,gid=-1", "invalid value -1 for gid"),
        (
            "type=bind,target=/x,mode=0644",
            "mode not allowed for \"bind\" type mounts",
        ),
        (
            "type=tmpfs,target=/x,uid=0",
            "uid not allowed for \"tmpfs\" type mounts",
        ),
        ("type=bind,target=/x,ro=yes", "invalid value for ro: yes"),
        (
            "type=bind,target=/x,required",
            "unexpected key 'required' for mount type 'bind'",
        ),
        (
            "type=cache,target=/x,size=1g",
            "unexpected key 'size' for mount type 'cache'",
        ),
        (
            "type=tmpfs,target=/x,size=lots",
            "invalid value for size: lots",
        ),
        (
            "type=bind,target=/x,colour=red",
            "unexpected key 'colour' in 'colour=red' (valid keys: type, from, source, src, target, dst, destination, readonly, ro, readwrite, rw, id, sharing, required, size, mode, uid, gid, env)",
        ),
        (
            "type=bind,target",
            "invalid field 'target' must be a key=value pair",
        ),
        (
            "type=secret,from=x,id=a",
            "secret mount should not have a from",
        ),
        (
            "type=secret",
            "invalid secret mount: one of id, source or target is required",
        ),
        (
            "type=secret,id=a,src=b",
            "both source and id can't be set on a secret mount",
        ),
        ("type=ssh,src=/x", "ssh does not support source"),
        (
            "type=bind,target=/x,sharing=shared",
            "invalid cache sharing set for bind mount",
        ),
        (
            "type=bind,from=$STAGE,target=/x",
            "'from' doesn't support variable expansion, define alias stage instead",
        ),
    ];
    for (flag, want) in cases {
        assert_eq!(
            err(&format!("RUN --mount={flag} true")),
            format!("line 2: --mount={flag}: {want}"),
            "{flag}"
        );
    }
}

#[test]
fn mounts_with_variables_wait_for_expansion() {
    let Instruction::Run(r) = one("RUN --mount=type=cache,target=/c,uid=$UID true") else {
        panic!()
    };
    let m = r.mounts[0]
        .parse(&mut |v| Ok(v.replace("$UID", "42")))
        .unwrap();
    let Mount::Cache(c) = m else { panic!() };
    assert_eq!(c.uid, Some(42));
    assert_eq!(
        r.mounts[0]
            .parse(&mut |v| Ok(v.replace("$UID", "x")))
            .unwrap_err(),
        "invalid value x for uid"
    );
}

#[test]
fn cmd_entrypoint_shell() {
    assert_eq!(
        one("CMD [\"nginx\", \"-g\", \"daemon off;\"]"),
        Instruction::Cmd(berth_dockerfile::instructions::CommandLine {
            command: ShellOrExec::Exec(vec!["nginx".into(), "-g".into(), "daemon off;".into()]),
            heredocs: vec![],
        })
    );
    let Instruction::Entrypoint(e) = one("ENTRYPOINT exec app") else {
        panic!()
    };
    assert_eq!(e.command, ShellOrExec::Shell("exec app".into()));
    assert_eq!(
        one(r#"SHELL ["/bin/bash", "-eo", "pipefail", "-c"]"#),
        Instruction::Shell(vec![
            "/bin/bash".into(),
            "-eo".into(),
            "pipefail".into(),
            "-c".into()
        ])
    );
    assert_eq!(
        err("SHELL /bin/bash -c"),
        "line 2: SHELL requires the arguments to be in JSON form: write SHELL [\"/bin/bash\", \"-c\"]"
    );
    assert_eq!(
        err("SHELL []"),
        "line 2: SHELL requires at least one argument, such as: SHELL [\"/bin/bash\", \"-c\"]"
    );
    assert_eq!(
        err("CMD --x a"),
        "line 2: unknown flag: --x (CMD takes no flags)"
    );
}

#[test]
fn copy_flags() {
    let Instruction::Copy(c) = one(
        "COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=.git a b /dst/",
    ) else {
        panic!()
    };
    assert_eq!(
        c,
        Copy {
            transfer: berth_dockerfile::instructions::Transfer {
                sources: vec![Source::Path("a".into()), Source::Path("b".into())],
                dest: "/dst/".into(),
                chown: Some("app:app".into()),
                chmod: Some("0755".into()),
                link: true,
                exclude: vec!["*.md".into(), ".git".into()],
            },
            from: Some("build".into()),
            parents: true,
        }
    );
    let Instruction::Copy(c) = one("COPY --link=false [\"a b\", \"/c\"]") else {
        panic!()
    };
    assert!(!c.transfer.link);
    assert_eq!(c.transfer.sources, vec![Source::Path("a b".into())]);
}

#[test]
fn copy_heredoc_source() {
    let Instruction::Copy(c) = ok("FROM a\nCOPY <<EOF /etc/motd\nhello $USER\nEOF\n")
        .pop()
        .unwrap()
    else {
        panic!()
    };
    let [Source::Heredoc(h)] = c.transfer.sources.as_slice() else {
        panic!("{c:?}")
    };
    assert_eq!(
        (h.name.as_str(), h.content.as_str(), h.expand),
        ("EOF", "hello $USER\n", true)
    );
    assert_eq!(c.transfer.dest, "/etc/motd");
}

#[test]
fn copy_add_errors() {
    let cases = [
        (
            "COPY a",
            "line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined: write COPY <source>... <destination>",
        ),
        (
            "COPY --checksum=sha256:x a b",
            "line 2: unknown flag: --checksum (COPY takes --chmod, --chown, --exclude, --from, --link, --parents)",
        ),
        (
            "COPY --link=maybe a b",
            "line 2: expecting boolean value for flag --link, not: maybe",
        ),
        (
            "COPY --link= a b",
            "line 2: missing a value on flag: --link",
        ),
        (
            "COPY --from=a --from=b x y",
            "line 2: duplicate flag specified: --from",
        ),
        ("COPY from=a x y", "line 2: unknown instruction: COPY"),
        (
            "ADD --from=x a b",
            "line 2: unknown flag: --from (ADD takes --checksum, --chmod, --chown, --exclude, --keep-git-dir, --link, --unpack)",
        ),
        (
            "ADD a",
            "line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined: write ADD <source>... <destination>",
        ),
    ];
    for (line, want) in cases {
        if line.starts_with("COPY from=") {
            // Not a flag at all: a plain source. Checked separately below.
            continue;
        }
        assert_eq!(err(line), want, "{line}");
    }
    let Instruction::Copy(c) = one("COPY from=a x y") else {
        panic!()
    };
    assert_eq!(c.from, None);
}

#[test]
fn add_flags() {
    assert_eq!(
        one("ADD --checksum=sha256:abc --keep-git-dir --unpack=false https://x/y.tgz /y"),
        Instruction::Add(Add {
            transfer: berth_dockerfile::instructions::Transfer {
                sources: vec![Source::Path("https://x/y.tgz".into())],
                dest: "/y".into(),
                chown: None,
                chmod: None,
                link: false,
                exclude: vec![],
            },
            checksum: Some("sha256:abc".into()),
            keep_git_dir: Some(true),
            unpack: Some(false),
        })
    );
    let Instruction::Add(a) = one("ADD a /b") else {
        panic!()
    };
    assert_eq!((a.keep_git_dir, a.unpack), (None, None));
}

#[test]
fn env_label_pairs() {
    assert_eq!(
        one("ENV A=1 B=\"two words\""),
        Instruction::Env(vec![
            Pair {
                key: "A".into(),
                value: "1".into(),
                legacy: false
            },
            Pair {
                key: "B".into(),
                value: "\"two words\"".into(),
                legacy: false
            },
        ])
    );
    let Instruction::Env(e) = one("ENV A one two") else {
        panic!()
    };
    assert_eq!(
        e,
        vec![Pair {
            key: "A".into(),
            value: "one two".into(),
            legacy: true
        }]
    );
    let Instruction::Label(l) = one("LABEL org.opencontainers.image.title=berth") else {
        panic!()
    };
    assert_eq!(l[0].key, "org.opencontainers.image.title");
    assert_eq!(
        err("ENV"),
        "line 2: ENV requires at least one argument, such as: ENV key=value"
    );
    assert_eq!(
        err("LABEL"),
        "line 2: LABEL requires at least one argument, such as: LABEL key=value"
    );
}

#[test]
fn single_value_instructions() {
    assert_eq!(
        one("EXPOSE 80 53/udp"),
        Instruction::Expose(vec!["80".into(), "53/udp".into()])
    );
    assert_eq!(one("USER app:app"), Instruction::User("app:app".into()));
    assert_eq!(
        one("WORKDIR /my app"),
        Instruction::Workdir("/my app".into())
    );
    assert_eq!(
        one("VOLUME [\"/data\", \"/logs\"]"),
        Instruction::Volume(vec!["/data".into(), "/logs".into()])
    );
    assert_eq!(
        one("VOLUME /a /b"),
        Instruction::Volume(vec!["/a".into(), "/b".into()])
    );
    assert_eq!(
        one("STOPSIGNAL SIGQUIT"),
        Instruction::Stopsignal("SIGQUIT".into())
    );
    assert_eq!(
        one("MAINTAINER Jane Doe <j@d>"),
        Instruction::Maintainer("Jane Doe <j@d>".into())
    );
    let cases = [
        (
            "EXPOSE",
            "line 2: EXPOSE requires at least one argument, such as: EXPOSE 80/tcp",
        ),
        (
            "USER a b",
            "line 2: USER requires exactly one argument, such as: USER app:app",
        ),
        (
            "USER",
            "line 2: USER requires exactly one argument, such as: USER app:app",
        ),
        (
            "WORKDIR",
            "line 2: WORKDIR requires exactly one argument, such as: WORKDIR /app",
        ),
        (
            "VOLUME [\"\"]",
            "line 2: VOLUME specified can not be an empty string",
        ),
        (
            "STOPSIGNAL 9 15",
            "line 2: STOPSIGNAL requires exactly one argument, such as: STOPSIGNAL SIGTERM",
        ),
        (
            "USER --x a",
            "line 2: unknown flag: --x (USER takes no flags)",
        ),
        (
            "MAINTAINER",
            "line 2: MAINTAINER requires exactly one argument, such as: MAINTAINER name",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(err(line), want, "{line}");
    }
}

#[test]
fn healthcheck_forms() {
    assert_eq!(
        one("HEALTHCHECK NONE"),
        Instruction::Healthcheck(Healthcheck::None)
    );
    assert_eq!(
        one(
            "HEALTHCHECK --interval=1m30s --timeout=5s --start-period=0 --start-interval=500ms --retries=3 CMD curl -f http://localhost/"
        ),
        Instruction::Healthcheck(Healthcheck::Check(Check {
            test: HealthTest::CmdShell("curl -f http://localhost/".into()),
            interval: Duration::from_secs(90),
            timeout: Duration::from_secs(5),
            start_period: Duration::ZERO,
            start_interval: Duration::from_millis(500),
            retries: 3,
        }))
    );
    let Instruction::Healthcheck(Healthcheck::Check(c)) = one("HEALTHCHECK cmd [\"/bin/check\"]")
    else {
        panic!()
    };
    assert_eq!(c.test, HealthTest::Cmd(vec!["/bin/check".into()]));
    assert_eq!((c.interval, c.retries), (Duration::ZERO, 0));
}

#[test]
fn healthcheck_errors() {
    let cases = [
        (
            "HEALTHCHECK NONE x",
            "line 2: HEALTHCHECK NONE takes no arguments",
        ),
        (
            "HEALTHCHECK --interval=5s NONE",
            "line 2: unknown flag: --interval (HEALTHCHECK NONE takes no flags)",
        ),
        (
            "HEALTHCHECK RUN x",
            "line 2: Unknown type \"RUN\" in HEALTHCHECK (try CMD, or NONE to disable the check)",
        ),
        (
            "HEALTHCHECK CMD",
            "line 2: Missing command after HEALTHCHECK CMD",
        ),
        (
            "HEALTHCHECK --interval=5 CMD x",
            "line 2: invalid duration \"5\" for --interval: expected a number and a unit (ns, us, ms, s, m, h), such as 30s or 1m30s",
        ),
        (
            "HEALTHCHECK --timeout=500us CMD x",
            "line 2: Interval \"timeout\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --interval=-1s CMD x",
            "line 2: Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "HEALTHCHECK --retries=-1 CMD x",
            "line 2: --retries cannot be negative (-1)",
        ),
        (
            "HEALTHCHECK --retries=many CMD x",
            "line 2: --retries must be a whole number, not \"many\"",
        ),
        (
            "HEALTHCHECK --every=5s CMD x",
            "line 2: unknown flag: --every (HEALTHCHECK takes --interval, --retries, --start-interval, --start-period, --timeout)",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(err(line), want, "{line}");
    }
}

#[test]
fn onbuild_keeps_the_trigger_text() {
    let Instruction::Onbuild(o) = one("ONBUILD RUN echo $HOME") else {
        panic!()
    };
    assert_eq!(o.expression, "RUN echo $HOME");
    let Instruction::Onbuild(o) = one("onbuild   COPY . /app") else {
        panic!()
    };
    assert_eq!(o.expression, "COPY . /app");
    assert_eq!(
        err("ONBUILD"),
        "line 2: ONBUILD requires at least one argument, such as: ONBUILD RUN make"
    );
}

#[test]
fn only_the_first_error_is_reported_with_its_line() {
    let df = syntax::parse("FROM a\nRUN true\n\nEXPOSE\nUSER\n").unwrap();
    assert_eq!(
        parse_instructions(&df).unwrap_err().to_string(),
        "line 4: EXPOSE requires at least one argument, such as: EXPOSE 80/tcp"
    );
    let typed = parse_instructions(&syntax::parse("FROM a\nRUN a \\\n  b\n").unwrap()).unwrap();
    assert_eq!((typed[1].lines.start, typed[1].lines.end), (2, 3));
}

#[test]
fn double_dash_ends_flags() {
    let Instruction::Copy(c) = one("COPY --link -- --odd /dst") else {
        panic!("{:?}", one("COPY --link -- --odd /dst"))
    };
    assert!(c.transfer.link);
}
