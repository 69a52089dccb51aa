//! How current BuildKit words an image's history: the `created_by` line of each instruction,
//! so `docker history` of a berth image reads like one BuildKit built.
//!
//! BuildKit writes most lines with Go's `fmt`: `CMD` and `ENTRYPOINT` as `%q` of the argument
//! list (`CMD ["/bin/sh" "-c" "serve --port 80"]`, Go-quoted words separated by spaces, not
//! JSON), `SHELL`, `VOLUME` and `EXPOSE` as `%v` (`SHELL [/bin/bash -o pipefail -c]`) and
//! `HEALTHCHECK` as `%+v` of its config (`HEALTHCHECK {Test:[CMD-SHELL true] Interval:30s …}`,
//! durations as Go prints them). Steps that make a layer (`RUN`, `COPY`, `ADD`) end in
//! ` # buildkit`; a `RUN` starts with the build args in scope (`RUN |2 A=1 B=2 /bin/sh -c …`).
//! docs/build.md lists where BuildKit 0.8 (Docker 20.10) wrote these differently.

use std::time::Duration;

use berth_oci::config::Healthcheck;

use crate::go_fmt;

/// The `comment` of every history entry a Dockerfile step makes.
pub const COMMENT: &str = "buildkit.dockerfile.v0";

/// What BuildKit appends to the line of a step that makes a layer.
const LAYER_SUFFIX: &str = " # buildkit";

/// `RUN`: the build args in scope (name and value, each once) before the command as it runs.
pub fn run(build_args: &[(String, String)], argv: &[String]) -> String {
    let mut words = Vec::new();
    if !build_args.is_empty() {
        words.push(format!("|{}", build_args.len()));
        words.extend(build_args.iter().map(|(k, v)| format!("{k}={v}")));
    }
    words.extend(argv.iter().cloned());
    format!("RUN {}{LAYER_SUFFIX}", words.join(" "))
}

/// What of a `COPY` or `ADD` its history line shows: the flags BuildKit prints (`--parents`,
/// `--chown`, `--chmod`; never `--from`, `--link` or `--exclude`), the sources as written
/// (expanded), heredoc sources as `<<NAME` after them, and the destination.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    pub keyword: &'a str,
    pub parents: bool,
    pub chown: Option<&'a str>,
    pub chmod: Option<&'a str>,
    pub paths: &'a [String],
    pub heredocs: &'a [String],
    pub dest: &'a str,
}

impl Transfer<'_> {
    pub fn line(&self) -> String {
        let mut words = vec![self.keyword.to_string()];
        if self.parents {
            words.push("--parents".into());
        }
        if let Some(chown) = self.chown.filter(|c| !c.is_empty()) {
            words.push(format!("--chown={chown}"));
        }
        if let Some(chmod) = self.chmod.filter(|c| !c.is_empty()) {
            words.push(format!("--chmod={chmod}"));
        }
        words.extend(self.paths.iter().cloned());
        words.extend(self.heredocs.iter().map(|name| format!("<<{name}")));
        words.push(self.dest.to_string());
        format!("{}{LAYER_SUFFIX}", words.join(" "))
    }
}

/// `CMD`/`ENTRYPOINT` (`keyword`): the argument list as the config stores it, Go-quoted.
pub fn command(keyword: &str, argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| go_fmt::quote(w)).collect();
    format!("{keyword} [{}]", words.join(" "))
}

/// `SHELL`, `VOLUME`, `EXPOSE` (`keyword`): the words in brackets, as Go's `%v` prints a list.
pub fn list(keyword: &str, words: &[String]) -> String {
    format!("{keyword} [{}]", words.join(" "))
}

/// `HEALTHCHECK`: the config's healthcheck as Go's `%+v` prints it, every field named, unset
/// durations as `0s`.
pub fn healthcheck(h: &Healthcheck) -> String {
    let nanos =
        |n: Option<i64>| go_fmt::duration(Duration::from_nanos(n.unwrap_or(0).max(0) as u64));
    format!(
        "HEALTHCHECK {{Test:[{}] Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
        h.test.as_deref().unwrap_or_default().join(" "),
        nanos(h.interval),
        nanos(h.timeout),
        nanos(h.start_period),
        nanos(h.start_interval),
        h.retries.unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    // Strings from BuildKit's own tests (frontend/dockerfile/dockerfile2llb/convert_test.go,
    // dockerfile_history_test.go) and what its `fmt` calls print for these inputs.

    #[test]
    fn healthcheck_reads_as_buildkit_prints_it() {
        let h = Healthcheck {
            test: Some(words(&["bin", "-c", "exit 0"])),
            interval: Some(1_000_000_000),
            timeout: Some(10_000_000_000),
            start_period: Some(3_000_000_000),
            start_interval: Some(100_000_000),
            retries: Some(5),
            ..Healthcheck::default()
        };
        assert_eq!(
            healthcheck(&h),
            "HEALTHCHECK {Test:[bin -c exit 0] Interval:1s Timeout:10s StartPeriod:3s StartInterval:100ms Retries:5}"
        );
        let none = Healthcheck {
            test: Some(words(&["NONE"])),
            ..Healthcheck::default()
        };
        assert_eq!(
            healthcheck(&none),
            "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}"
        );
    }

    #[test]
    fn run_lines_carry_the_build_args_in_scope() {
        // testExportedHistoryFlattenArgs: ARG foo=bar, ARG bar=123, ARG foo=bar2, RUN ls /etc/
        let args = [("foo", "bar2"), ("bar", "123")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            run(&args, &words(&["/bin/sh", "-c", "ls /etc/"])),
            "RUN |2 foo=bar2 bar=123 /bin/sh -c ls /etc/ # buildkit"
        );
        // testExportedHistory: RUN ["ls"] is the command alone, no JSON.
        assert_eq!(run(&[], &words(&["ls"])), "RUN ls # buildkit");
        assert_eq!(
            run(
                &[],
                &words(&["/bin/bash", "-o", "pipefail", "-c", "make | tee log"])
            ),
            "RUN /bin/bash -o pipefail -c make | tee log # buildkit"
        );
    }

    #[test]
    fn copy_lines_show_the_flags_buildkit_prints() {
        let paths = words(&["conf/", "app.sh"]);
        let t = Transfer {
            keyword: "COPY",
            parents: true,
            chown: Some("app:app"),
            chmod: Some("0755"),
            paths: &paths,
            heredocs: &words(&["EOF"]),
            dest: "/srv/",
        };
        assert_eq!(
            t.line(),
            "COPY --parents --chown=app:app --chmod=0755 conf/ app.sh <<EOF /srv/ # buildkit"
        );
        let plain = Transfer {
            keyword: "ADD",
            parents: false,
            chown: Some(""),
            chmod: None,
            heredocs: &[],
            ..t
        };
        assert_eq!(plain.line(), "ADD conf/ app.sh /srv/ # buildkit");
    }

    #[test]
    fn commands_are_go_quoted_and_lists_plain() {
        assert_eq!(
            command("CMD", &words(&["/bin/sh", "-c", "echo \"hi\" \\ there"])),
            r#"CMD ["/bin/sh" "-c" "echo \"hi\" \\ there"]"#
        );
        assert_eq!(command("ENTRYPOINT", &[]), "ENTRYPOINT []");
        assert_eq!(
            list("SHELL", &words(&["/bin/bash", "-o", "pipefail", "-c"])),
            "SHELL [/bin/bash -o pipefail -c]"
        );
        // dockerfile_history_test.go: EXPOSE 2375 5000 1234/udp
        assert_eq!(
            list("EXPOSE", &words(&["1234/udp", "2375/tcp", "5000/tcp"])),
            "EXPOSE [1234/udp 2375/tcp 5000/tcp]"
        );
    }
}
