//! What a change invalidates: a step reruns exactly when its cache key changes, and its key
//! changes with its definition, its sources' content, the build args it sees, the steps
//! before it and the base.

mod common;

use berth_oci::ContainerConfig;
use common::{Images, Recorder, Setup};

const COPIES: &str = "FROM scratch\nCOPY a.txt /a\nCOPY b.txt /b\nRUN make\n";

fn two_files(setup: &Setup) {
    setup.file("a.txt", "a");
    setup.file("b.txt", "b");
}

#[test]
fn an_unchanged_build_runs_nothing_the_second_time() {
    let setup = Setup::new();
    two_files(&setup);
    let images = Images::default();
    let req = setup.request(COPIES);
    assert_eq!(
        setup.ran(&req, &images),
        ["COPY a.txt -> /a", "COPY b.txt -> /b", "RUN make"]
    );
    assert!(setup.ran(&req, &images).is_empty());
}

#[test]
fn a_changed_source_file_reruns_its_copy_and_what_follows() {
    let setup = Setup::new();
    two_files(&setup);
    let images = Images::default();
    let req = setup.request(COPIES);
    setup.ran(&req, &images);
    setup.file("b.txt", "b, changed");
    assert_eq!(setup.ran(&req, &images), ["COPY b.txt -> /b", "RUN make"]);
    setup.file("a.txt", "a, changed");
    assert_eq!(
        setup.ran(&req, &images),
        ["COPY a.txt -> /a", "COPY b.txt -> /b", "RUN make"]
    );
}

#[test]
fn a_file_the_dockerignore_leaves_out_changes_nothing() {
    let setup = Setup::new();
    setup.file("app.c", "int main;");
    setup.file("notes.tmp", "1");
    setup.file(".dockerignore", "*.tmp\n");
    let images = Images::default();
    let req = setup.request("FROM scratch\nCOPY . /src\n");
    assert_eq!(setup.ran(&req, &images), ["COPY . -> /src"]);
    setup.file("notes.tmp", "2");
    assert!(setup.ran(&req, &images).is_empty());
    setup.file("app.c", "int main(void);");
    assert_eq!(setup.ran(&req, &images), ["COPY . -> /src"]);
}

#[test]
fn a_changed_build_arg_reruns_the_steps_that_see_it() {
    let setup = Setup::new();
    let images = Images::default();
    let dockerfile = "FROM scratch\nRUN before\nARG V=1\nRUN after\n";
    let mut req = setup.request(dockerfile);
    setup.ran(&req, &images);
    req.build_args.insert("V".into(), "2".into());
    assert_eq!(setup.ran(&req, &images), ["RUN after"]);
    assert!(setup.ran(&req, &images).is_empty());
    // Proxy args reach every RUN's environment (not the image), so every RUN reruns.
    req.build_args
        .insert("http_proxy".into(), "http://proxy:3128".into());
    assert_eq!(setup.ran(&req, &images), ["RUN before", "RUN after"]);
}

#[test]
fn a_changed_earlier_step_reruns_everything_after_it() {
    let setup = Setup::new();
    let images = Images::default();
    setup.ran(
        &setup.request("FROM scratch\nRUN one\nRUN two\nRUN three\n"),
        &images,
    );
    assert_eq!(
        setup.ran(
            &setup.request("FROM scratch\nRUN one\nRUN TWO\nRUN three\n"),
            &images
        ),
        ["RUN TWO", "RUN three"]
    );
    // Config steps change what later steps run with: a new ENV reruns them.
    assert_eq!(
        setup.ran(
            &setup.request("FROM scratch\nRUN one\nENV X=1\nRUN TWO\nRUN three\n"),
            &images
        ),
        ["RUN TWO", "RUN three"]
    );
}

#[test]
fn a_changed_base_reruns_every_step() {
    let setup = Setup::new();
    let mut images = Images::default();
    images.add("base", ContainerConfig::default());
    let req = setup.request("FROM base\nRUN one\nRUN two\n");
    assert_eq!(setup.ran(&req, &images), ["RUN one", "RUN two"]);
    assert!(setup.ran(&req, &images).is_empty());
    images.add(
        "base",
        ContainerConfig {
            labels: Some([("v".to_string(), "2".to_string())].into()),
            ..Default::default()
        },
    );
    assert_eq!(setup.ran(&req, &images), ["RUN one", "RUN two"]);
}

#[test]
fn no_cache_runs_every_step_and_a_stage_rebuilt_the_same_keeps_copy_from_cached() {
    let setup = Setup::new();
    let images = Images::default();
    let mut req = setup.request(
        "FROM scratch AS dep\nRUN build\nFROM scratch\nCOPY --from=dep /out /out\nRUN use\n",
    );
    setup.ran(&req, &images);
    req.no_cache = true;
    assert_eq!(
        setup.ran(&req, &images),
        ["RUN build", "COPY /out -> /out", "RUN use"]
    );
    // `COPY --from` keys on the layers the stage is made of, not on how they came to be.
    req.no_cache = false;
    let recorder = common::Recorder::new(&setup.store);
    let (built, events) = setup.build(&req, &images, &recorder);
    built.unwrap();
    assert!(recorder.what().is_empty());
    let cached = events
        .iter()
        .filter(|e| matches!(e, berth_build::Event::Cached { .. }))
        .count();
    assert_eq!(cached, 3, "{events:?}");
}

#[test]
fn a_copy_rerun_with_the_same_paths_is_offered_its_previous_result() {
    let setup = Setup::new();
    setup.file("src/a.c", "a");
    setup.file("src/b.c", "b");
    let images = Images::default();
    let req = setup.request("FROM scratch\nCOPY src/ /src/\n");
    let run = |builds_on: bool| {
        let mut recorder = Recorder::new(&setup.store);
        recorder.builds_on = builds_on;
        let (built, _) = setup.build(&req, &images, &recorder);
        built.unwrap_or_else(|e| panic!("{e}"));
        recorder.ran()
    };
    let first = run(true);
    assert_eq!(first[0].previous, None);
    // One file's bytes changed: the same paths, so the last result is offered.
    setup.file("src/b.c", "b, changed");
    let second = run(true);
    assert_eq!(second[0].previous.as_ref(), Some(&first[0].layer));
    // Not when the executor can't use it.
    setup.file("src/b.c", "b, changed again");
    assert_eq!(run(false)[0].previous, None);
    // A new path changes the shape: the copy starts over.
    setup.file("src/c.c", "c");
    assert_eq!(run(true)[0].previous, None);
}

#[test]
fn a_secret_value_never_enters_the_key() {
    let setup = Setup::new();
    let images = Images::default();
    let mut req = setup.request("FROM scratch\nRUN --mount=type=secret,id=tok use-it\n");
    req.secrets
        .insert("tok".into(), berth_build::Secret(b"one".to_vec()));
    assert_eq!(setup.ran(&req, &images), ["RUN use-it"]);
    req.secrets
        .insert("tok".into(), berth_build::Secret(b"two".to_vec()));
    assert!(setup.ran(&req, &images).is_empty());
}
