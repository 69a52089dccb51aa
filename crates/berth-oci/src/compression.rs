//! How a layer or an archive is compressed: told from its first bytes or its media type, and
//! undone. Layers are plain tar, gzip or zstd (the compressions of the OCI image spec);
//! an archive `ADD` unpacks may also be bzip2 or xz, as BuildKit's `ADD` reads them.
//!
//! The first bytes are told apart as BuildKit does (its `DecompressStream`): bzip2 `BZh`,
//! xz's six-byte magic, gzip `1f 8b 08` (deflate, the one gzip method), a zstd frame or a
//! zstd skippable frame (`50..5f 2a 4d 18` and a length); anything else is plain. Every
//! decoder reads concatenated streams whole, as `gzip -d`, `bzip2 -d`, `xz -d` and `zstd -d`
//! do, and none takes memory a hostile stream asks for: zstd's window is capped by libzstd
//! (128 MiB), bzip2 needs under 4 MiB, and xz is held to [`XZ_MEMORY_LIMIT`].

use std::io::{self, BufReader, Read};

use crate::media_type::{self, Kind};

/// How a layer's tar stream (or an archive) is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A compression berth recognises but no layer may have. Displays as its name ("xz"), for
/// the caller's refusal to say which it met; an archive with it is read through
/// [`ArchiveCompression`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Unsupported {
    #[error("bzip2")]
    Bzip2,
    #[error("xz")]
    Xz,
}

/// How an archive `ADD` unpacks may be compressed: a layer compression, or one of the two
/// more BuildKit's `ADD` reads (no layer media type names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveCompression {
    Layer(Compression),
    Bzip2,
    Xz,
}

/// The most memory an xz stream may need to be decoded (its dictionary, mostly): four times
/// what `xz -9` needs, so any stream a preset made is read, and a header that claims
/// gigabytes is refused before they are taken.
pub const XZ_MEMORY_LIMIT: u64 = 256 << 20;

/// An xz stream that needs more memory to decode than [`XZ_MEMORY_LIMIT`]: a hostile or
/// hand-tuned stream, refused, not read. Carried inside the `io::Error` a [`Decoder`]
/// returns; [`over_limit`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the xz stream needs more than {} MiB of memory to decompress (a dictionary larger than any xz preset makes); recompress it with `xz -9` or a lower level",
    XZ_MEMORY_LIMIT >> 20
)]
pub struct OverLimit;

/// Whether a decoder's error is a refusal of [`OverLimit`], not damaged data.
pub fn over_limit(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<OverLimit>())
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// Skippable zstd frames: a little-endian magic from 0x184D2A50 to 0x184D2A5F, then a
/// four-byte length.
const ZSTD_SKIPPABLE: u32 = 0x184d_2a50;
const ZSTD_SKIPPABLE_MASK: u32 = 0xffff_fff0;
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];

fn is_zstd(head: &[u8]) -> bool {
    if head.starts_with(ZSTD_MAGIC) {
        return true;
    }
    // A skippable frame counts only with its whole header there, as in BuildKit.
    match head.get(..8) {
        Some(frame) => {
            let magic = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
            magic & ZSTD_SKIPPABLE_MASK == ZSTD_SKIPPABLE
        }
        None => false,
    }
}

impl Compression {
    /// How many first bytes [`Compression::sniff`] needs to tell every format apart.
    /// (A skippable zstd frame's header is the longest to check.)
    pub const SNIFF_LEN: usize = 8;

    /// Recognises a compressed stream by its first bytes (give [`Compression::SNIFF_LEN`] of
    /// them, or all there are). Anything without a known magic number, including input too
    /// short to hold one, is taken as plain.
    pub fn sniff(head: &[u8]) -> Result<Compression, Unsupported> {
        if head.starts_with(GZIP_MAGIC) {
            Ok(Compression::Gzip)
        } else if is_zstd(head) {
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

impl ArchiveCompression {
    /// Recognises an archive's compression by its first bytes, as [`Compression::sniff`]
    /// does (give it [`Compression::SNIFF_LEN`] of them); every stream has one, plain at least.
    pub fn sniff(head: &[u8]) -> ArchiveCompression {
        match Compression::sniff(head) {
            Ok(layer) => ArchiveCompression::Layer(layer),
            Err(Unsupported::Bzip2) => ArchiveCompression::Bzip2,
            Err(Unsupported::Xz) => ArchiveCompression::Xz,
        }
    }

    /// A reader of `reader`'s bytes with this compression undone, every concatenated
    /// stream read whole.
    pub fn decoder<R: Read>(self, reader: R) -> io::Result<Decoder<R>> {
        match self {
            ArchiveCompression::Layer(layer) => layer.decoder(reader),
            ArchiveCompression::Bzip2 => Ok(Decoder(Decoding::Bzip2(Box::new(
                bzip2::read::MultiBzDecoder::new(reader),
            )))),
            ArchiveCompression::Xz => {
                let stream =
                    liblzma::stream::Stream::new_stream_decoder(XZ_MEMORY_LIMIT, CONCATENATED)
                        .map_err(io::Error::other)?;
                Ok(Decoder(Decoding::Xz(Box::new(
                    liblzma::read::XzDecoder::new_stream(reader, stream),
                ))))
            }
        }
    }
}

/// liblzma's flag for reading concatenated .xz streams as one, as `xz -d` does.
const CONCATENATED: u32 = liblzma::stream::CONCATENATED;

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
    Bzip2(Box<bzip2::read::MultiBzDecoder<R>>),
    Xz(Box<liblzma::read::XzDecoder<R>>),
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Decoding::Plain(r) => r.read(buf),
            Decoding::Gzip(r) => r.read(buf),
            Decoding::Zstd(r) => r.read(buf),
            Decoding::Bzip2(r) => r.read(buf),
            Decoding::Xz(r) => r.read(buf).map_err(xz_error),
        }
    }
}

/// liblzma's refusal of a stream over [`XZ_MEMORY_LIMIT`] as [`OverLimit`]; other errors
/// (damaged data) as they are.
fn xz_error(e: io::Error) -> io::Error {
    let refused = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<liblzma::stream::Error>())
        .is_some_and(|inner| matches!(inner, liblzma::stream::Error::MemLimit));
    if refused {
        io::Error::new(io::ErrorKind::OutOfMemory, OverLimit)
    } else {
        e
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
        assert_eq!(Compression::sniff(&[0x1f, 0x8b]), Ok(Compression::None));
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
    fn gzip_needs_the_deflate_method_byte() {
        // 1f 8b with another method byte is not gzip to BuildKit: plain bytes.
        assert_eq!(
            Compression::sniff(&[0x1f, 0x8b, 0x07, 0]),
            Ok(Compression::None)
        );
    }

    #[test]
    fn a_skippable_zstd_frame_is_zstd() {
        let mut skippable = vec![0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'a', b'b', b'c'];
        assert_eq!(Compression::sniff(&skippable), Ok(Compression::Zstd));
        // Its header must be whole: seven bytes are plain.
        assert_eq!(Compression::sniff(&skippable[..7]), Ok(Compression::None));
        // 0x184D2A60 is outside the skippable range.
        assert_eq!(
            Compression::sniff(&[0x60, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]),
            Ok(Compression::None)
        );
        // libzstd skips the frame and reads the one after it.
        skippable.extend(zstd::encode_all(TEXT, 3).unwrap());
        assert_eq!(decode(Compression::Zstd, &skippable).unwrap(), TEXT);
    }

    fn bzip2(parts: &[&[u8]]) -> Vec<u8> {
        // One stream per part, concatenated, as pbzip2 and `cat a.bz2 b.bz2` make them.
        let mut out = Vec::new();
        for part in parts {
            let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            enc.write_all(part).unwrap();
            out.extend(enc.finish().unwrap());
        }
        out
    }

    fn xz(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
            enc.write_all(part).unwrap();
            out.extend(enc.finish().unwrap());
        }
        out
    }

    fn decode_archive(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        ArchiveCompression::sniff(bytes)
            .decoder(bytes)?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn archives_are_read_in_every_compression_add_takes() {
        let (a, b) = TEXT.split_at(10);
        let zst = zstd::encode_all(TEXT, 3).unwrap();
        for (name, bytes, want) in [
            (
                "plain",
                TEXT.to_vec(),
                ArchiveCompression::Layer(Compression::None),
            ),
            (
                "gzip",
                gzip(&[a, b]),
                ArchiveCompression::Layer(Compression::Gzip),
            ),
            ("zstd", zst, ArchiveCompression::Layer(Compression::Zstd)),
            ("bzip2", bzip2(&[a, b]), ArchiveCompression::Bzip2),
            ("xz", xz(&[a, b]), ArchiveCompression::Xz),
        ] {
            assert_eq!(ArchiveCompression::sniff(&bytes), want, "{name}");
            assert_eq!(decode_archive(&bytes).unwrap(), TEXT, "{name}");
        }
    }

    #[test]
    fn damaged_bzip2_and_xz_fail_to_decode() {
        for mut bytes in [bzip2(&[TEXT]), xz(&[TEXT])] {
            bytes.truncate(bytes.len() / 2);
            let err = decode_archive(&bytes).unwrap_err();
            assert!(!over_limit(&err), "{err}");
        }
    }

    /// An xz stream whose block header asks for a 1 GiB dictionary (the LZMA2 property byte
    /// rewritten, the header's CRC32 made right again): the kind of header a bomb aimed at
    /// memory carries.
    fn xz_asking_for_a_gigabyte() -> Vec<u8> {
        let mut bytes = xz(&[TEXT]);
        // Stream header (12 bytes), then the block header: its size, flags, the LZMA2 filter
        // (id 0x21, one property byte), padding, CRC32.
        let header = 12;
        let size = (bytes[header] as usize + 1) * 4;
        assert_eq!(&bytes[header + 2..header + 4], &[0x21, 0x01]);
        bytes[header + 4] = 36; // 2^(36/2 + 12) = 1 GiB
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[header..header + size - 4]);
        bytes[header + size - 4..header + size].copy_from_slice(&crc.sum().to_le_bytes());
        bytes
    }

    #[test]
    fn an_xz_stream_over_the_memory_limit_is_refused_by_name() {
        let err = decode_archive(&xz_asking_for_a_gigabyte()).unwrap_err();
        assert!(over_limit(&err), "{err}");
        assert!(
            err.to_string().contains("more than 256 MiB of memory"),
            "{err}"
        );
        assert!(!over_limit(&io::Error::other("lzma data error")));
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
        assert_eq!(read_head(&mut input).unwrap(), b"01234567");
        assert_eq!(input, b"89");
        assert_eq!(read_head(&mut &b"ab"[..]).unwrap(), b"ab");
    }
}
