//! Build records: what the builder knows about an image it built that the image itself must
//! not carry (its config stays byte for byte what BuildKit writes), kept by the image
//! config's digest. The store keeps the record as the builder wrote it (JSON; its shape is
//! berth-dockerfile's `origin::BuildRecord`) and does not read it.

use berth_oci::Digest;
use rusqlite::{OptionalExtension, params};

use crate::error::StoreError;
use crate::meta::{Meta, now};

impl Meta {
    /// Files `record` under the image config `config`, replacing an older one (a rebuild that
    /// gives the same config from a Dockerfile under another name).
    pub fn build_record_put(&mut self, config: &Digest, record: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO build_records (config, record, added) VALUES (?1, ?2, ?3)",
                params![config.to_string(), record, now()],
            )
            .map(|_| ())
            .map_err(self.db())
    }

    /// The record filed under the image config `config`, if berth built that image.
    pub fn build_record_get(&self, config: &Digest) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT record FROM build_records WHERE config = ?1",
                [config.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_found_by_its_config_and_replaced_by_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut meta = Meta::open(&dir.path().join("berth.db")).unwrap();
        let config = Digest::sha256(b"{}");
        assert_eq!(meta.build_record_get(&config).unwrap(), None);
        meta.build_record_put(&config, r#"{"a":1}"#).unwrap();
        meta.build_record_put(&config, r#"{"a":2}"#).unwrap();
        assert_eq!(
            meta.build_record_get(&config).unwrap().as_deref(),
            Some(r#"{"a":2}"#)
        );
        let other = Digest::sha256(b"[]");
        assert_eq!(meta.build_record_get(&other).unwrap(), None);
    }
}
