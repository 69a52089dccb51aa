//! The RPM header format, as rpm stores one package in its database: a count of index
//! entries (`il`) and the size of the data store (`dl`), both big-endian u32, then `il`
//! entries of 16 bytes (tag, type, offset into the store, count), then the `dl`-byte store.
//! Only the tags a catalogue needs are decoded; every offset and count is checked against
//! the store before it is followed.

/// The tags read (rpm's `rpmTag` numbers).
const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const VENDOR: u32 = 1011;
const LICENSE: u32 = 1014;
const ARCH: u32 = 1022;
const SOURCERPM: u32 = 1044;

/// The data types of the tags read (rpm's `rpmTagType`).
const INT32: u32 = 4;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;

/// rpm's own bound on the number of index entries (`hdrchkTags`).
const MAX_ENTRIES: usize = 0x00ff_ffff;

/// What a package's header says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub version: String,
    pub release: String,
    /// Absent when the package declares none (which rpm orders as 0, but Syft and rpm's
    /// `%{EPOCH}` show as absent).
    pub epoch: Option<u32>,
    /// `x86_64`, `noarch`…; empty when absent (`gpg-pubkey` entries).
    pub arch: String,
    /// The source package's file name (`NAME-VERSION-RELEASE.src.rpm`); empty when absent.
    pub source_rpm: String,
    pub license: Option<String>,
    pub vendor: Option<String>,
}

/// Decodes one header blob, as the `Packages` table stores it.
pub fn parse(blob: &[u8]) -> Result<Header, String> {
    let be32 = |at: usize| -> Option<u32> {
        let bytes = blob.get(at..at.checked_add(4)?)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    };
    let (Some(il), Some(dl)) = (be32(0), be32(4)) else {
        return Err(format!(
            "{} bytes, too short for a header's two counts",
            blob.len()
        ));
    };
    let (il, dl) = (il as usize, dl as usize);
    if il == 0 || il > MAX_ENTRIES {
        return Err(format!("{il} index entries (1 to {MAX_ENTRIES} allowed)"));
    }
    let store_at = 8 + il * 16;
    if store_at.checked_add(dl) != Some(blob.len()) {
        return Err(format!(
            "{il} index entries and a {dl}-byte store do not fill the {}-byte header",
            blob.len()
        ));
    }
    let store = &blob[store_at..];
    let mut header = Header::default();
    let (mut name, mut version, mut release) = (None, None, None);
    for i in 0..il {
        let at = 8 + i * 16;
        let field = |k: usize| be32(at + 4 * k).unwrap_or_default();
        let (tag, kind, offset, count) = (field(0), field(1), field(2) as usize, field(3));
        let wanted: &mut Option<String> = match tag {
            NAME => &mut name,
            VERSION => &mut version,
            RELEASE => &mut release,
            LICENSE => &mut header.license,
            VENDOR => &mut header.vendor,
            ARCH | SOURCERPM => {
                let value = string(store, tag, kind, offset, count)?;
                if tag == ARCH {
                    header.arch = value;
                } else {
                    header.source_rpm = value;
                }
                continue;
            }
            EPOCH => {
                if kind != INT32 || count == 0 {
                    return Err(format!("tag {tag} (EPOCH) is not an INT32"));
                }
                let bytes = store
                    .get(offset..offset.saturating_add(4))
                    .ok_or_else(|| format!("tag {tag} (EPOCH) points past the store"))?;
                header.epoch = Some(u32::from_be_bytes(bytes.try_into().unwrap_or_default()));
                continue;
            }
            _ => continue,
        };
        *wanted = Some(string(store, tag, kind, offset, count)?);
    }
    let required = |value: Option<String>, what: &str| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("no {what}"))
    };
    header.name = required(name, "NAME")?;
    header.version = required(version, "VERSION")?;
    header.release = required(release, "RELEASE")?;
    Ok(header)
}

/// The (first) string of a string-typed entry, NUL-terminated inside the store.
fn string(store: &[u8], tag: u32, kind: u32, offset: usize, count: u32) -> Result<String, String> {
    if !matches!(kind, STRING | STRING_ARRAY | I18NSTRING) || count == 0 {
        return Err(format!("tag {tag} is of type {kind}, not a string"));
    }
    let rest = store
        .get(offset..)
        .filter(|rest| !rest.is_empty())
        .ok_or_else(|| format!("tag {tag} points past the {}-byte store", store.len()))?;
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| format!("tag {tag}'s string runs past the store (no NUL)"))?;
    String::from_utf8(rest[..end].to_vec()).map_err(|_| format!("tag {tag} is not UTF-8"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header with these (tag, type, value) entries, strings NUL-terminated.
    pub(crate) fn header(entries: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store = Vec::new();
        for (tag, kind, value) in entries {
            if *kind == INT32 {
                while store.len() % 4 != 0 {
                    store.push(0);
                }
            }
            for v in [*tag, *kind, store.len() as u32, 1] {
                index.extend(v.to_be_bytes());
            }
            store.extend(*value);
            if *kind != INT32 {
                store.push(0);
            }
        }
        let mut blob = (entries.len() as u32).to_be_bytes().to_vec();
        blob.extend((store.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(store);
        blob
    }

    #[test]
    fn reads_the_tags_of_a_package() {
        let blob = header(&[
            (NAME, STRING, b"bash"),
            (VERSION, STRING, b"5.2.26"),
            (RELEASE, STRING, b"3.fc41"),
            (EPOCH, INT32, &7u32.to_be_bytes()),
            (LICENSE, STRING, b"GPL-3.0-or-later"),
            (ARCH, STRING, b"x86_64"),
            (SOURCERPM, STRING, b"bash-5.2.26-3.fc41.src.rpm"),
            (1004, I18NSTRING, b"The GNU Bourne Again shell"),
        ]);
        let h = parse(&blob).unwrap();
        assert_eq!(
            (h.name.as_str(), h.version.as_str(), h.release.as_str()),
            ("bash", "5.2.26", "3.fc41")
        );
        assert_eq!(h.epoch, Some(7));
        assert_eq!(h.arch, "x86_64");
        assert_eq!(h.license.as_deref(), Some("GPL-3.0-or-later"));
        assert_eq!(h.source_rpm, "bash-5.2.26-3.fc41.src.rpm");
    }

    #[test]
    fn refuses_broken_headers_saying_why() {
        let good = header(&[
            (NAME, STRING, b"a"),
            (VERSION, STRING, b"1"),
            (RELEASE, STRING, b"1"),
        ]);
        let mut past_the_end = good.clone();
        past_the_end[8 + 8..8 + 12].copy_from_slice(&1000u32.to_be_bytes());
        let mut huge_count = good.clone();
        huge_count[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut no_nul = good.clone();
        *no_nul.last_mut().unwrap() = b'x';
        let no_release = header(&[(NAME, STRING, b"a"), (VERSION, STRING, b"1")]);
        let epoch_as_string = header(&[(NAME, STRING, b"a"), (EPOCH, STRING, b"1")]);
        for (blob, why) in [
            (&b"\0\0"[..], "too short"),
            (&good[..good.len() - 1], "do not fill"),
            (&past_the_end, "past the"),
            (&huge_count, "index entries"),
            (&no_nul, "no NUL"),
            (&no_release, "no RELEASE"),
            (&epoch_as_string, "not an INT32"),
        ] {
            let err = parse(blob).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        assert!(parse(&good).is_ok());
    }
}
