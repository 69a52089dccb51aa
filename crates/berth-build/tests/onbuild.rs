//! ONBUILD: a base image's triggers are parsed and resolved by the frontend and run right
//! after the `FROM` of a stage built on it; images they name are resolved too.

mod common;

use berth_oci::ContainerConfig;
use common::{Images, Recorder, Setup};

fn base_with_triggers(triggers: &[&str]) -> Images {
    let mut images = Images::default();
    images.add(
        "base",
        ContainerConfig {
            env: Some(vec!["FROM_BASE=yes".into()]),
            on_build: Some(triggers.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        },
    );
    images
}

#[test]
fn a_base_images_triggers_run_after_from_and_are_consumed() {
    let setup = Setup::new();
    let images = base_with_triggers(&["ENV T=$FROM_BASE", "RUN trigger"]);
    let req = setup.request("FROM base\nRUN after $T\n");
    let recorder = Recorder::new(&setup.store);
    let (built, _) = setup.build(&req, &images, &recorder);
    let built = built.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recorder.what(), ["RUN trigger", "RUN after $T"]);
    let after = &recorder.ran()[1];
    assert!(
        after.env.contains(&("T".into(), "yes".into())),
        "{:?}",
        after.env
    );
    // The triggers fired in this build: the new image does not carry them on.
    let config = built.image.config.unwrap_or_default();
    assert_eq!(config.on_build, None);
    assert!(
        config
            .env
            .unwrap_or_default()
            .contains(&"T=yes".to_string())
    );
}

#[test]
fn an_image_a_trigger_names_is_resolved_and_copied_from() {
    let setup = Setup::new();
    let mut images = base_with_triggers(&["COPY --from=tools /bin/tool /usr/bin/tool"]);
    images.add("tools", ContainerConfig::default());
    let req = setup.request("FROM base\nRUN tool\n");
    let recorder = Recorder::new(&setup.store);
    let (built, _) = setup.build(&req, &images, &recorder);
    built.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        recorder.what(),
        ["COPY /bin/tool -> /usr/bin/tool", "RUN tool"]
    );
    assert_eq!(*images.asked.lock().unwrap(), ["base", "tools"]);
}

#[test]
fn a_broken_trigger_names_the_from_line() {
    let setup = Setup::new();
    let images = base_with_triggers(&["BOGUS x"]);
    let req = setup.request("# a comment\nFROM base\n");
    let recorder = Recorder::new(&setup.store);
    let (built, _) = setup.build(&req, &images, &recorder);
    let e = built
        .expect_err("a broken trigger fails the build")
        .to_string();
    assert!(
        e.starts_with("Dockerfile: line 2: ONBUILD trigger") && e.contains("BOGUS"),
        "{e}"
    );
    assert!(recorder.what().is_empty());
}

#[test]
fn a_base_the_builder_cannot_find_is_named() {
    let setup = Setup::new();
    let images = Images::default();
    let req = setup.request("FROM missing\nRUN x\n");
    let recorder = Recorder::new(&setup.store);
    let (built, _) = setup.build(&req, &images, &recorder);
    let e = built.expect_err("no such base").to_string();
    assert!(e.starts_with("base image missing:"), "{e}");
}
