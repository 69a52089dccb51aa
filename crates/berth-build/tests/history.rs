//! The image config and history a build writes, worded as current BuildKit words them: each
//! expected line is what BuildKit's `dockerfile2llb` prints for the same instruction.

mod common;

use common::{Images, Recorder, Setup};

#[test]
fn history_and_config_read_as_buildkit_writes_them() {
    let setup = Setup::new();
    let images = Images::default();
    setup.file("app.sh", "echo app\n");
    let mut req = setup.request(
        "ARG GLOBAL=g\n\
         FROM scratch AS base\n\
         ARG VERSION=1.0\n\
         ARG GLOBAL\n\
         ARG EMPTY\n\
         ARG VERSION=1.1\n\
         ENV VERSION=env-wins\n\
         SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n\
         RUN --mount=type=cache,target=/root/.cache make | tee log\n\
         FROM base\n\
         ARG MODE=dev\n\
         RUN [\"echo\", \"exec form\"]\n\
         COPY --chown=app:app --chmod=0755 app.sh /usr/local/bin/\n\
         COPY <<EOF /etc/motd\nhi\nEOF\n\
         WORKDIR /srv\n\
         LABEL a=b\n\
         USER app\n\
         EXPOSE 8080 53/udp 7000-7001\n\
         VOLUME [\"/data\", \"/cache\"]\n\
         STOPSIGNAL SIGQUIT\n\
         HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -f http://localhost/ || exit 1\n\
         ENTRYPOINT [\"/entry\", \"--flag\"]\n\
         CMD serve --port 80\n\
         ONBUILD RUN echo child\n",
    );
    req.build_args.insert("MODE".into(), "prod".into());
    let recorder = Recorder::new(&setup.store);
    let (built, _) = setup.build(&req, &images, &recorder);
    let image = built.unwrap_or_else(|e| panic!("{e}")).image;

    let lines: Vec<(&str, bool)> = image
        .history
        .iter()
        .map(|h| (h.created_by.as_deref().unwrap_or(""), h.empty_layer))
        .collect();
    let (layer, empty) = (false, true);
    assert_eq!(
        lines,
        [
            // A global ARG re-declared without a value shows the value it takes.
            ("ARG VERSION=1.0", empty),
            ("ARG GLOBAL=g", empty),
            ("ARG EMPTY", empty),
            ("ARG VERSION=1.1", empty),
            ("ENV VERSION=env-wins", empty),
            ("SHELL [/bin/bash -o pipefail -c]", empty),
            // Every ARG in scope, once, with its value now (ENV wins); the SHELL in force;
            // no --mount flags.
            (
                "RUN |3 VERSION=env-wins GLOBAL=g EMPTY= /bin/bash -o pipefail -c make | tee log # buildkit",
                layer
            ),
            // A stage built FROM another keeps its args in scope; --build-arg wins.
            ("ARG MODE=prod", empty),
            (
                "RUN |4 VERSION=env-wins GLOBAL=g EMPTY= MODE=prod echo exec form # buildkit",
                layer
            ),
            (
                "COPY --chown=app:app --chmod=0755 app.sh /usr/local/bin/ # buildkit",
                layer
            ),
            ("COPY <<EOF /etc/motd # buildkit", layer),
            ("WORKDIR /srv", layer),
            ("LABEL a=b", empty),
            ("USER app", empty),
            ("EXPOSE [53/udp 7000/tcp 7001/tcp 8080/tcp]", empty),
            ("VOLUME [/data /cache]", empty),
            ("STOPSIGNAL SIGQUIT", empty),
            (
                "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:30s Timeout:3s StartPeriod:0s StartInterval:0s Retries:3}",
                empty
            ),
            (r#"ENTRYPOINT ["/entry" "--flag"]"#, empty),
            (
                r#"CMD ["/bin/bash" "-o" "pipefail" "-c" "serve --port 80"]"#,
                empty
            ),
        ]
    );
    assert!(
        image
            .history
            .iter()
            .all(|h| h.comment.as_deref() == Some("buildkit.dockerfile.v0"))
    );
    assert_eq!(image.config.unwrap().args_escaped, Some(true));
}

#[test]
fn entrypoint_alone_leaves_args_escaped_unset() {
    let setup = Setup::new();
    let images = Images::default();
    let req = setup.request("FROM scratch\nENTRYPOINT serve --port 80\n");
    let recorder = Recorder::new(&setup.store);
    let (built, _) = setup.build(&req, &images, &recorder);
    let image = built.unwrap_or_else(|e| panic!("{e}")).image;
    assert_eq!(image.config.unwrap().args_escaped, None);
}
