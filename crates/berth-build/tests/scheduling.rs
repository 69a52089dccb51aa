//! Stages run in parallel where they are independent: each waits only for the stages it
//! uses, and a failing stage stops the build with its own error.

mod common;

use berth_build::BuildError;
use common::{Images, Mark, Recorder, Setup};

#[test]
fn independent_stages_run_concurrently_and_dependents_wait_for_them() {
    let setup = Setup::new();
    let images = Images::default();
    let req = setup.request(
        "FROM scratch AS a\nRUN meet a\n\
         FROM scratch AS b\nRUN meet b\n\
         FROM scratch\nCOPY --from=a /x /a\nCOPY --from=b /x /b\nRUN final\n",
    );
    // Each `RUN meet` waits until both are running: only parallel stages get past it.
    let recorder = Recorder::meeting(&setup.store, 2);
    let (built, _) = setup.build(&req, &images, &recorder);
    built.unwrap_or_else(|e| panic!("{e}"));

    let log = recorder.log();
    let at = |mark: Mark| {
        log.iter()
            .position(|m| *m == mark)
            .unwrap_or_else(|| panic!("{mark:?} not in {log:?}"))
    };
    let both_started =
        at(Mark::Start("RUN meet a".into())).max(at(Mark::Start("RUN meet b".into())));
    let first_end = at(Mark::End("RUN meet a".into())).min(at(Mark::End("RUN meet b".into())));
    assert!(both_started < first_end, "{log:?}");
    // Each copy waits for the stage it copies from (and only for that one: the copy from
    // `a` may start while `b` still runs).
    assert!(
        at(Mark::Start("COPY /x -> /a".into())) > at(Mark::End("RUN meet a".into())),
        "{log:?}"
    );
    assert!(
        at(Mark::Start("COPY /x -> /b".into())) > at(Mark::End("RUN meet b".into())),
        "{log:?}"
    );

    // The executor gets the stages it copies from as their layers, and the stage's own.
    let ran = recorder.ran();
    let layer_of = |what: &str| ran.iter().find(|r| r.what == what).unwrap().layer.clone();
    let copy_a = ran.iter().find(|r| r.what == "COPY /x -> /a").unwrap();
    assert_eq!(copy_a.from, Some(vec![layer_of("RUN meet a")]));
    assert!(copy_a.input.is_empty());
    let final_run = ran.iter().find(|r| r.what == "RUN final").unwrap();
    assert_eq!(
        final_run.input,
        vec![layer_of("COPY /x -> /a"), layer_of("COPY /x -> /b")]
    );
}

#[test]
fn stages_the_target_does_not_need_are_not_built() {
    let setup = Setup::new();
    let images = Images::default();
    let req = setup.request(
        "FROM scratch AS unused\nRUN never\nFROM scratch AS dep\nRUN dep\nFROM dep\nRUN final\n",
    );
    assert_eq!(setup.ran(&req, &images), ["RUN dep", "RUN final"]);
}

#[test]
fn a_failing_stage_fails_the_build_with_its_own_error() {
    let setup = Setup::new();
    let images = Images::default();
    let req = setup.request(
        "FROM scratch AS bad\nRUN fail\n\
         FROM scratch AS good\nRUN fine\n\
         FROM scratch\nCOPY --from=bad /x /x\nCOPY --from=good /y /y\nRUN never\n",
    );
    let recorder = Recorder::new(&setup.store);
    let (built, events) = setup.build(&req, &images, &recorder);
    match built {
        Err(BuildError::RunFailed {
            line: 2, code: 3, ..
        }) => {}
        Err(other) => panic!("expected the failing RUN's error, got {other}"),
        Ok(_) => panic!("the build succeeded"),
    }
    assert!(!recorder.what().iter().any(|w| w == "RUN never"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, berth_build::Event::Failed { .. }))
    );
}

#[test]
fn steps_are_numbered_and_named_as_buildkit_names_them() {
    let setup = Setup::new();
    let images = Images::default();
    setup.file("f", "x");
    let req = setup.request("FROM scratch AS app\nWORKDIR /w\nENV A=1\nCOPY f .\nRUN go\n");
    let recorder = Recorder::new(&setup.store);
    let (built, events) = setup.build(&req, &images, &recorder);
    let built = built.unwrap();
    let names: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            berth_build::Event::Started { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            "[app 2/4] WORKDIR /w",
            "[app 3/4] COPY f .",
            "[app 4/4] RUN go"
        ]
    );
    assert_eq!(recorder.what(), ["MKDIR /w", "COPY f -> .", "RUN go"]);
    assert_eq!(built.layers.len(), 3);
    let history: Vec<String> = built
        .image
        .history
        .iter()
        .map(|h| h.created_by.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        history,
        [
            "WORKDIR /w",
            "ENV A=1",
            "COPY f . # buildkit",
            "RUN /bin/sh -c go # buildkit"
        ]
    );
}
