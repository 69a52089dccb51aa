//! `--explain`: per finding, the instruction that brought the package in and what to change.
//!
//! The advice follows from how the package got there: the base image's (rebuild on a newer
//! base), installed by a `RUN` (pin or upgrade it there), copied from another stage (fix it
//! in that stage), or upgraded by a later step (upgrade it further there).

use berth_catalog::Catalog;
use berth_dockerfile::origin::Source;
use berth_match::Finding;

use crate::attribute::{Attribution, Located, Step};

/// Most characters of an instruction quoted in a sentence.
const INSTRUCTION_WIDTH: usize = 60;

/// Every finding's explanation, one a line: the finding's id, then its sentence.
pub fn explain_all(
    findings: &[Finding],
    catalog: &Catalog,
    attributions: &[Option<Attribution>],
) -> String {
    let width = findings.iter().map(|f| f.id.len()).max().unwrap_or(0);
    findings
        .iter()
        .map(|f| {
            let sentence = explain(f, catalog, attributions);
            format!("{:width$}  {sentence}\n", f.id)
        })
        .collect()
}

/// The sentence for `finding`: which instruction brought its package in, the fix, and what
/// to change. `attributions` are [`crate::attribute`]'s for `catalog`.
pub fn explain(
    finding: &Finding,
    catalog: &Catalog,
    attributions: &[Option<Attribution>],
) -> String {
    let found = catalog
        .packages
        .iter()
        .zip(attributions)
        .find(|(p, _)| p.name == finding.package && p.version == finding.installed);
    let name = &finding.package;
    let what = format!("{name} {}", finding.installed);
    let fix = fix(finding);
    let Some((package, Some(attribution))) = found else {
        // A directory, or a package the catalogue does not list: no layer to name.
        return format!("{what}; {fix}: {}", upgrade_advice(finding));
    };
    let Some(step) = &attribution.step else {
        return format!(
            "{} added {what}; {fix}: {}",
            attribution.layer,
            upgrade_advice(finding)
        );
    };
    let Some(at) = &step.dockerfile else {
        return format!(
            "history entry {} ({}) of {} added {what}; {fix}: {}",
            step.history,
            created_by(step),
            attribution.layer,
            upgrade_advice(finding)
        );
    };
    if let Some(upgrade) = &attribution.upgraded {
        let before = match &upgrade.step {
            Some(Step {
                dockerfile: Some(earlier),
                ..
            }) => format!(" (brought by {})", place(earlier)),
            _ => format!(" (from {})", upgrade.layer),
        };
        return format!(
            "{} upgrades {} from {}{before} to {}; {fix}: {}",
            place_in_stage(at),
            package.name,
            upgrade.from_version,
            package.version,
            advice(finding, |v| format!(
                "upgrade {name} to {v} or later in this step"
            ))
        );
    }
    let origin = &at.origin;
    match &origin.source {
        Some(Source::Image { reference }) if origin.is_base() => format!(
            "{} brings {what}; {fix}: {}",
            place(at),
            match finding.fixed_version {
                Some(_) => format!(
                    "rebuild on a newer base (`--pull` for the current {reference}, or a newer tag)"
                ),
                None =>
                    "no newer base fixes it yet; remove the package if the image does not need it"
                        .into(),
            }
        ),
        Some(Source::Stage(stage)) => format!(
            "{} copies {what} from stage {stage}; {fix}: {}",
            place_in_stage(at),
            match &finding.fixed_version {
                Some(v) => format!(
                    "upgrade {name} to {v} or later in stage {stage}, where it is installed, then rebuild"
                ),
                None => format!("remove {name} from stage {stage} if the image does not need it"),
            }
        ),
        Some(Source::Image { reference }) => format!(
            "{} copies {what} from image {reference}; {fix}: {}",
            place_in_stage(at),
            advice(finding, |_| format!(
                "copy from a {reference} that has the fix"
            ))
        ),
        None if origin.keyword() == "RUN" => format!(
            "{} installs {what}; {fix}: {} in this RUN",
            place_in_stage(at),
            match &finding.fixed_version {
                Some(v) => format!("pin or upgrade {name} to {v} or later"),
                None => format!("drop {name} if the image does not need it"),
            }
        ),
        None => format!(
            "{} adds {what}; {fix}: {}",
            place_in_stage(at),
            advice(finding, |v| format!(
                "upgrade {name} to {v} or later in the files it copies"
            ))
        ),
    }
}

/// `fixed in 1.2` or why there is no fixed version.
fn fix(finding: &Finding) -> String {
    match &finding.fixed_version {
        Some(v) => format!("fixed in {v}"),
        None => format!("no fixed version ({})", finding.status),
    }
}

/// What to do to the package itself.
fn upgrade_advice(finding: &Finding) -> String {
    advice(finding, |v| {
        format!("upgrade {} to {v} or later", finding.package)
    })
}

/// `fixed(V)` when a version fixes the finding; without one, the only change that helps:
/// removing the package.
fn advice(finding: &Finding, fixed: impl FnOnce(&str) -> String) -> String {
    match &finding.fixed_version {
        Some(v) => fixed(v),
        None => format!("remove {} if the image does not need it", finding.package),
    }
}

/// `RUN apt-get install … at Dockerfile:7`.
fn place(at: &Located) -> String {
    format!(
        "{} at {}:{}",
        shorten(&at.origin.instruction),
        at.file,
        at.origin.start_line
    )
}

/// [`place`] and the stage: `RUN … at Dockerfile:7 (stage build)`.
fn place_in_stage(at: &Located) -> String {
    format!("{} (stage {})", place(at), at.origin.stage)
}

fn created_by(step: &Step) -> String {
    match &step.created_by {
        Some(c) => format!("`{}`", shorten(c)),
        None => "no created_by".into(),
    }
}

/// The instruction's first line, cut to [`INSTRUCTION_WIDTH`] characters at a word.
fn shorten(instruction: &str) -> String {
    let line = instruction.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= INSTRUCTION_WIDTH {
        return line.to_string();
    }
    let cut: String = line.chars().take(INSTRUCTION_WIDTH).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut} …")
}

#[cfg(test)]
mod tests {
    use berth_catalog::{LayerRef, Package, PackageType};
    use berth_dockerfile::origin::{Origin, StageRef};
    use berth_match::Status;
    use berth_oci::Digest;
    use berth_vulndb::Level;

    use super::*;
    use crate::attribute::Upgrade;

    fn layer(index: usize) -> LayerRef {
        LayerRef {
            index,
            diff_id: Digest::sha256(&[index as u8]),
        }
    }

    fn stage(index: usize, name: Option<&str>) -> StageRef {
        StageRef {
            index,
            name: name.map(str::to_string),
        }
    }

    fn step(
        history: usize,
        line: usize,
        stage: StageRef,
        instruction: &str,
        source: Option<Source>,
    ) -> Step {
        Step {
            history,
            created_by: Some(format!("{instruction} # buildkit")),
            dockerfile: Some(Located {
                file: "Dockerfile".into(),
                origin: Origin {
                    stage,
                    start_line: line,
                    end_line: line,
                    instruction: instruction.into(),
                    source,
                },
            }),
        }
    }

    fn one(
        name: &str,
        version: &str,
        attribution: Option<Attribution>,
    ) -> (Catalog, Vec<Option<Attribution>>) {
        let package = Package {
            name: name.into(),
            version: version.into(),
            package_type: PackageType::Deb,
            arch: "amd64".into(),
            purl: None,
            source: None,
            licenses: vec![],
            evidence: vec!["/var/lib/dpkg/status".into()],
            layer: attribution.as_ref().map(|a| a.layer.clone()),
        };
        let catalog = Catalog {
            distro: None,
            packages: vec![package],
            ..Catalog::default()
        };
        (catalog, vec![attribution])
    }

    fn finding(package: &str, installed: &str, fixed: Option<&str>) -> Finding {
        Finding {
            id: "CVE-2024-0001".into(),
            aliases: vec![],
            package: package.into(),
            installed: installed.into(),
            source: None,
            path: None,
            fixed_version: fixed.map(str::to_string),
            severity: Level::High,
            severity_rating: None,
            status: if fixed.is_some() {
                Status::Fixed
            } else {
                Status::Affected
            },
        }
    }

    fn base() -> Step {
        let image = Source::Image {
            reference: "debian:bookworm".into(),
        };
        step(0, 1, stage(1, None), "FROM debian:bookworm", Some(image))
    }

    #[test]
    fn a_base_package_says_to_rebuild_on_a_newer_base() {
        let (catalog, attributions) = one(
            "libssl3",
            "3.0.11-1~deb12u1",
            Some(Attribution {
                layer: layer(0),
                step: Some(base()),
                upgraded: None,
            }),
        );
        let f = finding("libssl3", "3.0.11-1~deb12u1", Some("3.0.15-1~deb12u1"));
        assert_eq!(
            explain(&f, &catalog, &attributions),
            "FROM debian:bookworm at Dockerfile:1 brings libssl3 3.0.11-1~deb12u1; fixed in 3.0.15-1~deb12u1: rebuild on a newer base (`--pull` for the current debian:bookworm, or a newer tag)"
        );
        let unfixed = finding("libssl3", "3.0.11-1~deb12u1", None);
        assert_eq!(
            explain(&unfixed, &catalog, &attributions),
            "FROM debian:bookworm at Dockerfile:1 brings libssl3 3.0.11-1~deb12u1; no fixed version (affected): no newer base fixes it yet; remove the package if the image does not need it"
        );
    }

    #[test]
    fn a_run_package_says_to_pin_or_upgrade_it_in_that_run() {
        let run = "RUN apt-get update && apt-get install -y --no-install-recommends curl libfoo1 ca-certificates";
        let (catalog, attributions) = one(
            "libfoo1",
            "1.2",
            Some(Attribution {
                layer: layer(1),
                step: Some(step(3, 7, stage(0, Some("build")), run, None)),
                upgraded: None,
            }),
        );
        assert_eq!(
            explain(
                &finding("libfoo1", "1.2", Some("1.3")),
                &catalog,
                &attributions
            ),
            "RUN apt-get update && apt-get install -y … at Dockerfile:7 (stage build) installs libfoo1 1.2; fixed in 1.3: pin or upgrade libfoo1 to 1.3 or later in this RUN"
        );
    }

    #[test]
    fn a_copied_package_points_at_the_stage_it_came_from() {
        let from = Source::Stage(stage(0, Some("build")));
        let copy = "COPY --from=build /out/ /";
        let (catalog, attributions) = one(
            "libfoo1",
            "1.2",
            Some(Attribution {
                layer: layer(2),
                step: Some(step(4, 12, stage(1, None), copy, Some(from))),
                upgraded: None,
            }),
        );
        assert_eq!(
            explain(
                &finding("libfoo1", "1.2", Some("1.3")),
                &catalog,
                &attributions
            ),
            "COPY --from=build /out/ / at Dockerfile:12 (stage 1) copies libfoo1 1.2 from stage build; fixed in 1.3: upgrade libfoo1 to 1.3 or later in stage build, where it is installed, then rebuild"
        );
    }

    #[test]
    fn an_upgraded_package_names_both_steps() {
        let (catalog, attributions) = one(
            "libfoo1",
            "1.2",
            Some(Attribution {
                layer: layer(3),
                step: Some(step(
                    5,
                    9,
                    stage(1, None),
                    "RUN apt-get install -y libfoo1",
                    None,
                )),
                upgraded: Some(Upgrade {
                    from_version: "1.0".into(),
                    layer: layer(0),
                    step: Some(base()),
                }),
            }),
        );
        assert_eq!(
            explain(
                &finding("libfoo1", "1.2", Some("1.3")),
                &catalog,
                &attributions
            ),
            "RUN apt-get install -y libfoo1 at Dockerfile:9 (stage 1) upgrades libfoo1 from 1.0 (brought by FROM debian:bookworm at Dockerfile:1) to 1.2; fixed in 1.3: upgrade libfoo1 to 1.3 or later in this step"
        );
    }

    #[test]
    fn without_a_build_record_the_history_entry_is_named() {
        let mut s = base();
        s.dockerfile = None;
        s.created_by = Some("/bin/sh -c #(nop) ADD file:abc in / ".into());
        let (catalog, attributions) = one(
            "libfoo1",
            "1.2",
            Some(Attribution {
                layer: layer(0),
                step: Some(s),
                upgraded: None,
            }),
        );
        let f = finding("libfoo1", "1.2", Some("1.3"));
        let expected = format!(
            "history entry 0 (`/bin/sh -c #(nop) ADD file:abc in /`) of layer 0 ({}) added libfoo1 1.2; fixed in 1.3: upgrade libfoo1 to 1.3 or later",
            layer(0).diff_id
        );
        assert_eq!(explain(&f, &catalog, &attributions), expected);
        // And a directory has no layer at all.
        let (catalog, attributions) = one("libfoo1", "1.2", None);
        assert_eq!(
            explain_all(&[f], &catalog, &attributions),
            "CVE-2024-0001  libfoo1 1.2; fixed in 1.3: upgrade libfoo1 to 1.3 or later\n"
        );
    }
}
