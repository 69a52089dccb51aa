//! CPE 2.3 names (NISTIR 7695's formatted string binding), the identifiers NVD's advisories
//! name products by.

use crate::model::{Package, PackageType};

/// The CPE Syft 1.18.1 lists first for a Debian package: the package's name as both vendor
/// and product, its version as the version, every other attribute `*`. `None` for other
/// types: Syft's first CPE for them comes from a dictionary of vendors and products berth
/// does not have.
pub fn of_package(package: &Package) -> Option<String> {
    if package.package_type != PackageType::Deb {
        return None;
    }
    let name = quote(&package.name);
    Some(format!(
        "cpe:2.3:a:{name}:{name}:{}:*:*:*:*:*:*:*",
        quote(&package.version)
    ))
}

/// `value` as a formatted-string attribute: every character but a letter, a digit, `_`,
/// `-` and `.` quoted with a backslash (`1\:2.38.1-5\+deb12u3`).
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if !(c.is_ascii_alphanumeric() || "_-.".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_the_binding_reserves() {
        assert_eq!(quote("1:2.38.1-5+deb12u3"), "1\\:2.38.1-5\\+deb12u3");
        assert_eq!(quote("libstdc++6"), "libstdc\\+\\+6");
        assert_eq!(quote("3.0.11-1~deb12u1"), "3.0.11-1\\~deb12u1");
    }
}
