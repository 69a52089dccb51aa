//! The database file's layout: written whole by [`encode`], read in place by [`Layout`]
//! without decoding what a lookup does not touch.
//!
//! All integers are little-endian. The file is a fixed header, then six sections back to
//! back in this order, each as long as the header says:
//!
//! | part | holds |
//! |---|---|
//! | header | magic `BERTHVDB`, format version (u32), CRC-32 of everything after its first 16 bytes (u32), file length (u64), the six section lengths (u64 each) |
//! | sources | JSON: each [`Source`] with how many records it has; records are stored source by source |
//! | offsets | one u64 per record and one more: record *i* is `records[offsets[i]..offsets[i+1]]` |
//! | records | each advisory as JSON, written once |
//! | keys | one 24-byte entry per (ecosystem, normalised name), sorted by those bytes: ecosystem and name as (offset, length) in *strings*, then (first, count) in *hits* (u32 each) |
//! | strings | the ecosystems (each once) and names the keys point into |
//! | hits | (record, affected entry) pairs, u32 each, grouped by key |
//!
//! The CRC catches a damaged or cut file at open; everything read after that is still
//! bounds-checked, so a forged file gives an error, never a panic or a read out of bounds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Advisory;
use crate::source::Source;

pub(crate) const MAGIC: &[u8; 8] = b"BERTHVDB";
/// Format 1 was the JSON-lines `vulndb.jsonl`.
pub(crate) const VERSION: u32 = 2;
const SECTIONS: usize = 6;
pub(crate) const HEADER_LEN: usize = 24 + 8 * SECTIONS;
/// Bytes 12..16 hold the CRC, which covers what follows them.
const CRC_AT: usize = 12;
const KEY_LEN: usize = 24;
const HIT_LEN: usize = 8;

#[derive(Serialize, Deserialize)]
struct StoredSource {
    #[serde(flatten)]
    source: Source,
    records: u32,
}

/// One source and its advisories, as [`encode`] takes them.
pub(crate) struct Part<'a> {
    pub source: &'a Source,
    pub advisories: Vec<&'a Advisory>,
}

/// The whole file for `parts`; `Err` names what does not fit the format's 32-bit counts.
pub(crate) fn encode(parts: &[Part<'_>]) -> Result<Vec<u8>, String> {
    let too_many = |what: &str| format!("more {what} than the database format holds (4 GiB)");
    let small = |n: usize, what: &str| u32::try_from(n).map_err(|_| too_many(what));

    let stored: Vec<StoredSource> = parts
        .iter()
        .map(|p| {
            Ok(StoredSource {
                source: p.source.clone(),
                records: small(p.advisories.len(), "advisories")?,
            })
        })
        .collect::<Result<_, String>>()?;
    let sources = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;

    let mut offsets = Vec::new();
    let mut records = Vec::new();
    // (ecosystem, normalised name) → hits, sorted as a lookup searches them.
    let mut index: BTreeMap<(&str, String), Vec<(u32, u32)>> = BTreeMap::new();
    let advisories = parts.iter().flat_map(|p| p.advisories.iter().copied());
    for (r, advisory) in advisories.enumerate() {
        offsets.extend_from_slice(&(records.len() as u64).to_le_bytes());
        serde_json::to_writer(&mut records, advisory).map_err(|e| e.to_string())?;
        let r = small(r, "advisories")?;
        for (a, affected) in advisory.affected.iter().enumerate() {
            let key = (
                affected.ecosystem.as_str(),
                crate::normalise(&affected.ecosystem, &affected.name),
            );
            index
                .entry(key)
                .or_default()
                .push((r, small(a, "affected entries")?));
        }
    }
    offsets.extend_from_slice(&(records.len() as u64).to_le_bytes());

    let mut keys = Vec::with_capacity(index.len() * KEY_LEN);
    let mut strings = Vec::new();
    let mut hits = Vec::new();
    let mut ecosystems: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for ((ecosystem, name), found) in &index {
        let mut string = |s: &str| -> Result<(u32, u32), String> {
            let at = small(strings.len(), "package names")?;
            strings.extend_from_slice(s.as_bytes());
            Ok((at, small(s.len(), "package names")?))
        };
        let eco = match ecosystems.get(ecosystem) {
            Some(&eco) => eco,
            None => *ecosystems.entry(ecosystem).or_insert(string(ecosystem)?),
        };
        let name = string(name)?;
        let first = small(hits.len() / HIT_LEN, "hits")?;
        for &(r, a) in found {
            hits.extend_from_slice(&r.to_le_bytes());
            hits.extend_from_slice(&a.to_le_bytes());
        }
        for n in [
            eco.0,
            eco.1,
            name.0,
            name.1,
            first,
            small(found.len(), "hits")?,
        ] {
            keys.extend_from_slice(&n.to_le_bytes());
        }
    }

    let sections = [&sources, &offsets, &records, &keys, &strings, &hits];
    let len = HEADER_LEN + sections.iter().map(|s| s.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(len as u64).to_le_bytes());
    for section in sections {
        out.extend_from_slice(&(section.len() as u64).to_le_bytes());
    }
    for section in sections {
        out.extend_from_slice(section);
    }
    seal(&mut out);
    Ok(out)
}

/// Writes the CRC of `file` into its header.
pub fn seal(file: &mut [u8]) {
    if file.len() >= HEADER_LEN {
        let crc = crc32fast::hash(&file[CRC_AT + 4..]);
        file[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Why a file is not a database this berth reads.
pub(crate) enum Refusal {
    Newer(u32),
    Broken(String),
}

/// Where each part of a checked file is. Holds no bytes: each call takes the file's.
pub(crate) struct Layout {
    pub sources: Vec<Source>,
    /// Each source's records: `first..end`.
    pub spans: Vec<std::ops::Range<u32>>,
    offsets: std::ops::Range<usize>,
    records: std::ops::Range<usize>,
    keys: std::ops::Range<usize>,
    strings: std::ops::Range<usize>,
    hits: std::ops::Range<usize>,
}

impl Layout {
    /// Checks the header, the length, the CRC and the section sizes, and reads the sources.
    /// Touches each byte once (the CRC) and decodes only the sources.
    pub fn read(file: &[u8]) -> Result<Layout, Refusal> {
        let broken = |why: &str| Refusal::Broken(why.to_owned());
        if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
            return Err(broken("it does not start with berth's magic bytes"));
        }
        if file.len() < HEADER_LEN {
            return Err(broken("it ends inside its header"));
        }
        let version = u32_at(file, 8);
        if version > VERSION {
            return Err(Refusal::Newer(version));
        }
        if version < VERSION {
            return Err(Refusal::Broken(format!(
                "format {version}, which this berth no longer reads"
            )));
        }
        let declared = u64_at(file, 16);
        if declared != file.len() as u64 {
            return Err(Refusal::Broken(format!(
                "{} bytes where its header says {declared}: cut short or appended to",
                file.len()
            )));
        }
        if crc32fast::hash(&file[CRC_AT + 4..]) != u32_at(file, CRC_AT) {
            return Err(broken("its checksum does not match: the file is damaged"));
        }
        let mut at = HEADER_LEN;
        let mut next = |n: usize| -> Result<std::ops::Range<usize>, Refusal> {
            let len = usize::try_from(u64_at(file, 24 + 8 * n))
                .map_err(|_| broken("a section is longer than memory"))?;
            let end = at
                .checked_add(len)
                .filter(|&end| end <= file.len())
                .ok_or_else(|| broken("a section runs past the end"))?;
            let range = at..end;
            at = end;
            Ok(range)
        };
        let sources = next(0)?;
        let (offsets, records, keys, strings, hits) =
            (next(1)?, next(2)?, next(3)?, next(4)?, next(5)?);
        if at != file.len() {
            return Err(broken("its sections do not add up to its length"));
        }
        let stored: Vec<StoredSource> = serde_json::from_slice(&file[sources])
            .map_err(|e| Refusal::Broken(format!("its source list does not read: {e}")))?;
        let mut spans = Vec::with_capacity(stored.len());
        let mut first = 0u32;
        for s in &stored {
            let end = first
                .checked_add(s.records)
                .ok_or_else(|| broken("its sources count more records than it can hold"))?;
            spans.push(first..end);
            first = end;
        }
        if offsets.len() != (first as usize + 1) * 8 {
            return Err(broken("its record table does not match its sources"));
        }
        if keys.len() % KEY_LEN != 0 || hits.len() % HIT_LEN != 0 {
            return Err(broken("its index is not whole entries"));
        }
        Ok(Layout {
            sources: stored.into_iter().map(|s| s.source).collect(),
            spans,
            offsets,
            records,
            keys,
            strings,
            hits,
        })
    }

    /// How many records the file holds.
    pub fn records(&self) -> usize {
        self.offsets.len() / 8 - 1
    }

    /// Record `r`'s bytes.
    pub fn record<'f>(&self, file: &'f [u8], r: usize) -> Result<&'f [u8], String> {
        let offsets = &file[self.offsets.clone()];
        let at = |i: usize| {
            offsets
                .get(i * 8..i * 8 + 8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
                .and_then(|o| usize::try_from(o).ok())
        };
        let span = at(r).zip(at(r + 1));
        span.and_then(|(start, end)| file[self.records.clone()].get(start..end))
            .ok_or_else(|| format!("record {r} lies outside the file"))
    }

    /// The (record, affected entry) pairs filed under (`ecosystem`, `name`), by binary
    /// search over the sorted keys.
    pub fn hits(
        &self,
        file: &[u8],
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<(usize, usize)>, String> {
        let keys = &file[self.keys.clone()];
        let strings = &file[self.strings.clone()];
        let string = |offset: u32, len: u32| {
            strings
                .get(offset as usize..(offset as usize).saturating_add(len as usize))
                .ok_or_else(|| "an index entry points outside the file".to_owned())
        };
        let target = (ecosystem.as_bytes(), name.as_bytes());
        let (mut low, mut high) = (0, keys.len() / KEY_LEN);
        while low < high {
            let mid = low + (high - low) / 2;
            let entry = &keys[mid * KEY_LEN..(mid + 1) * KEY_LEN];
            let field = |i: usize| u32_at(entry, i * 4);
            let key = (string(field(0), field(1))?, string(field(2), field(3))?);
            match key.cmp(&target) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => {
                    let (first, count) = (field(4) as usize, field(5) as usize);
                    let hits = first
                        .checked_add(count)
                        .and_then(|end| file[self.hits.clone()].get(first * 8..end * 8))
                        .ok_or_else(|| "an index entry points outside the file".to_owned())?;
                    return Ok(hits
                        .chunks_exact(HIT_LEN)
                        .map(|h| (u32_at(h, 0) as usize, u32_at(h, 4) as usize))
                        .collect());
                }
            }
        }
        Ok(Vec::new())
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}
