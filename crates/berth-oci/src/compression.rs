//! How a layer or an archive is compressed: told from its first bytes or its media type, and
//! undone. berth reads plain tar, gzip and zstd (the compressions of the OCI image spec);
//! bzip2 and xz are recognised only so that they can be refused by name.

use std::io::{self, BufReader, Read};

use crate::media_type::{self, Kind};

/// How a layer's tar stream (or an archive) is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A compression berth recognises but does not read. Displays as its name ("xz"), for the
/// caller's refusal to say which it met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Unsupported {
    #[error("bzip2")]
    Bzip2,
    #[error("xz")]
    Xz,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];

impl Compression {
    /// How many first bytes [`Compression::sniff`] needs to tell every format apart.
    pub const SNIFF_LEN: usize = XZ_MAGIC.len();

    /// Recognises a compressed stream by its first bytes (give [`Compression::SNIFF_LEN`] of
    /// them, or all there are). Anything without a known magic number, including input too
    /// short to hold one, is taken as plain.
    pub fn sniff(head: &[u8]) -> Result<Compression, Unsupported> {
        if head.starts_with(GZIP_MAGIC) {
            Ok(Compression::Gzip)
        } else if head.starts_with(ZSTD_MAGIC) {
            Ok(Compression::Zstd)
        } else if head.starts_with(BZIP2_MAGIC) {
            Err(Unsupported::Bzip2)
        } else if head.starts_with(XZ_MAGIC) {
            Err(Unsupported::Xz)
        } else {
            Ok(Compression::None)
        }
    }

    /// The compression a layer media type declares; `None` for what is not a layer type.
    pub fn of_layer(media_type: &str) -> Option<Compression> {
        match media_type::kind(media_type) {
            Kind::Layer(compression) => Some(compression),
            _ => None,
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_layer(self) -> &'static str {
        match self {
            Compression::None => media_type::OCI_LAYER,
            Compression::Gzip => media_type::OCI_LAYER_GZIP,
            Compression::Zstd => media_type::OCI_LAYER_ZSTD,
        }
    }

    /// A reader of `reader`'s bytes with this compression undone. A gzip stream of several
    /// members is read whole, as `gzip -d` does.
    pub fn decoder<R: Read>(self, reader: R) -> io::Result<Decoder<R>> {
        Ok(Decoder(match self {
            Compression::None => Decoding::Plain(reader),
            Compression::Gzip => {
                Decoding::Gzip(Box::new(flate2::read::MultiGzDecoder::new(reader)))
            }
            Compression::Zstd => Decoding::Zstd(zstd::stream::read::Decoder::new(reader)?),
        }))
    }
}

/// Reads the first [`Compression::SNIFF_LEN`] bytes of `reader` (fewer only at its end), for
/// [`Compression::sniff`]. Put them back in front with `io::Cursor::new(head).chain(reader)`.
pub fn read_head(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(Compression::SNIFF_LEN);
    reader
        .take(Compression::SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The bytes of a stream with its compression undone; see [`Compression::decoder`].
pub struct Decoder<R: Read>(Decoding<R>);

enum Decoding<R: Read> {
    Plain(R),
    // Boxed: a gzip decoder's state is several times the others' (one allocation a stream).
    Gzip(Box<flate2::read::MultiGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<R>>),
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Decoding::Plain(r) => r.read(buf),
            Decoding::Gzip(r) => r.read(buf),
            Decoding::Zstd(r) => r.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const TEXT: &[u8] = b"a layer's tar stream, or near enough";

    fn gzip(parts: &[&[u8]]) -> Vec<u8> {
        // One gzip member per part, concatenated, as pigz and `cat a.gz b.gz` make them.
        let mut out = Vec::new();
        for part in parts {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(part).unwrap();
            out.extend(enc.finish().unwrap());
        }
        out
    }

    fn decode(compression: Compression, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        compression.decoder(bytes)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn sniffs_each_magic() {
        assert_eq!(Compression::sniff(&gzip(&[TEXT])), Ok(Compression::Gzip));
        let zst = zstd::encode_all(TEXT, 3).unwrap();
        assert_eq!(Compression::sniff(&zst), Ok(Compression::Zstd));
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Ok(Compression::Gzip));
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Ok(Compression::Zstd)
        );
        assert_eq!(Compression::sniff(b"bin/"), Ok(Compression::None));
        assert_eq!(Compression::sniff(b"BZh91AY&SY"), Err(Unsupported::Bzip2));
        let xz = [0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4];
        assert_eq!(Compression::sniff(&xz), Err(Unsupported::Xz));
    }

    #[test]
    fn too_short_input_is_plain() {
        assert_eq!(Compression::sniff(b""), Ok(Compression::None));
        assert_eq!(Compression::sniff(&[0x1f]), Ok(Compression::None));
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f]),
            Ok(Compression::None)
        );
        assert_eq!(Compression::sniff(b"BZ"), Ok(Compression::None));
        // The xz magic needs all six bytes.
        assert_eq!(
            Compression::sniff(&[0xfd, b'7', b'z', b'X', b'Z']),
            Ok(Compression::None)
        );
    }

    #[test]
    fn names_what_it_refuses() {
        assert_eq!(Unsupported::Xz.to_string(), "xz");
        assert_eq!(Unsupported::Bzip2.to_string(), "bzip2");
    }

    #[test]
    fn maps_to_and_from_layer_media_types() {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            assert_eq!(Compression::of_layer(c.oci_layer()), Some(c));
        }
        assert_eq!(
            Compression::of_layer(media_type::DOCKER_LAYER_GZIP),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::of_layer(media_type::DOCKER_LAYER),
            Some(Compression::None)
        );
        assert_eq!(Compression::of_layer(media_type::OCI_CONFIG), None);
    }

    #[test]
    fn decodes_each_compression() {
        assert_eq!(decode(Compression::None, TEXT).unwrap(), TEXT);
        assert_eq!(decode(Compression::Gzip, &gzip(&[TEXT])).unwrap(), TEXT);
        let zst = zstd::encode_all(TEXT, 3).unwrap();
        assert_eq!(decode(Compression::Zstd, &zst).unwrap(), TEXT);
    }

    #[test]
    fn decodes_every_gzip_member() {
        let (a, b) = TEXT.split_at(10);
        assert_eq!(decode(Compression::Gzip, &gzip(&[a, b])).unwrap(), TEXT);
    }

    #[test]
    fn damaged_input_fails_to_decode() {
        let mut gz = gzip(&[TEXT]);
        gz.truncate(gz.len() / 2);
        assert!(decode(Compression::Gzip, &gz).is_err());
        assert!(decode(Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd, 0xff]).is_err());
    }

    #[test]
    fn reads_the_head_and_no_more() {
        let mut input = &b"0123456789"[..];
        assert_eq!(read_head(&mut input).unwrap(), b"012345");
        assert_eq!(input, b"6789");
        assert_eq!(read_head(&mut &b"ab"[..]).unwrap(), b"ab");
    }
}
