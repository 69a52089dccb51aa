//! Fuzz-style robustness tests for `--change` (`berth import`): whatever a user types must
//! never panic, errors must be well formed, and whatever applies must make a config that
//! survives a round trip through its canonical form. (Moved here from the image model when
//! changes became Dockerfile instructions read by the frontend.)

use berth_dockerfile::change;
use berth_dockerfile::config::StageConfig;
use berth_dockerfile::describe::{BuildOptions, resolve};
use berth_oci::ImageConfig;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// A bounded run that writes no regression files into the source tree.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::with_cases(n)
    }
}

/// A change and the same line in a Dockerfile make the same config: one grammar, one place
/// that applies an instruction.
#[test]
fn a_change_applies_as_the_same_dockerfile_line() {
    let lines = [
        "ENV PATH=/bin A=1",
        "ENV B=${A}-$PATH C=${UNSET:-fallback}",
        r#"CMD ["sh", "-c", "echo $B"]"#,
        "ENTRYPOINT /bin/run --fast",
        "USER ${A}000:1000",
        "WORKDIR app",
        "EXPOSE 8000-8001/udp 80",
        r#"LABEL org.example.name="my app""#,
        "VOLUME [\"/data\"]",
        "STOPSIGNAL SIGINT",
        "ONBUILD run make",
        r#"SHELL ["/bin/bash", "-c"]"#,
    ];
    let text = format!("FROM scratch\n{}\n", lines.join("\n"));
    let df = berth_dockerfile::syntax::parse(&text).unwrap();
    let described = resolve(&df, &BuildOptions::default()).unwrap();
    let mut built = StageConfig::from_base(ImageConfig::default());
    for step in &described.stages[0].steps {
        built.apply(&step.value);
    }
    let changes: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let imported = change::container_config(&changes).unwrap();

    let built = built.image.config.unwrap();
    assert_eq!(built.user.as_deref(), Some("1000:1000"));
    assert_eq!(
        serde_json::to_value(&imported).unwrap(),
        serde_json::to_value(&built).unwrap()
    );
}

const KEYWORDS: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Text rich in what the word splitter and variable expansion treat specially.
fn change_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9_/.=:-]{1,6}",
        2 => proptest::sample::select(vec![
            "\"", "'", "\\", "\\\\", "\\\"", "\\$", "$", "${", "}", "${A}", "${A:-x}", "${A-x}",
            "${A:+y}", "${A+y}", "${:-}", "${A:?e}", "${A", "$A", "$_", "$1", "${PATH}", "$$",
            "[", "]", "[\"a\", \"b\"]", "[]", "[1]", "=", " ", "  ", "\t", "\n", "é", "\u{a0}",
            "\u{2003}", "80", "80/tcp", "53/udp", "8000-8010", "65536", "0", "-1", "/ICMP",
            "ONBUILD", "FROM", "RUN", "\0",
        ])
        .prop_map(str::to_string),
        1 => "[\\PC]{1,4}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|p| p.concat())
}

fn change_input() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        6 => (
            proptest::sample::select(KEYWORDS.to_vec()),
            any::<bool>(),
            proptest::sample::select(vec![" ", "  ", "\t", "", "\u{3000}"]),
            change_text(),
        )
            .prop_map(|(k, lower, sep, rest)| {
                let k = if lower { k.to_lowercase() } else { k.to_string() };
                format!("{k}{sep}{rest}")
            }),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn change_apply_never_panics(changes in prop::collection::vec(change_input(), 1..5)) {
        let mut config = StageConfig::from_base(ImageConfig::default());
        for ch in &changes {
            match change::apply(&mut config, ch) {
                Ok(()) => {}
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg.starts_with("invalid change"), "{:?}: {:?}", ch, msg);
                }
            }
        }
        // Whatever the changes made still writes and reads back as the same config.
        let image = config.image;
        let again = ImageConfig::parse(&image.to_bytes()).unwrap();
        prop_assert_eq!(again, image);
    }
}
