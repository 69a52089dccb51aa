//! Declared licences, as each format can carry them: SPDX expressions where the metadata
//! wrote one, the text as written otherwise.

/// One declared licence string, told apart by whether it is a valid SPDX expression (every
/// identifier on the SPDX licence list, or a `LicenseRef-`).
pub(crate) enum Licence<'a> {
    Spdx(&'a str),
    Other(&'a str),
}

pub(crate) fn classify(licences: &[String]) -> Vec<Licence<'_>> {
    licences
        .iter()
        .map(|l| match spdx::Expression::parse(l) {
            Ok(_) => Licence::Spdx(l),
            Err(_) => Licence::Other(l),
        })
        .collect()
}

/// `text` as an SPDX `LicenseRef-` identifier: letters, digits, `.` and `-` only.
pub(crate) fn licence_ref(text: &str) -> String {
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("LicenseRef-{id}")
}

/// `parts` joined with `AND`, each parenthesised when there are several and it is compound.
pub(crate) fn conjunction(parts: &[String]) -> String {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    parts
        .iter()
        .map(|p| {
            if p.contains(' ') {
                format!("({p})")
            } else {
                p.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}
