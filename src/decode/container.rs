//! A look at an MP4's top-level boxes before GStreamer opens it.
//!
//! An MP4 cut short while it was written (a copy that stopped half-way, a recorder that lost
//! power) has its samples (`mdat`) but not the index that says where they are (`moov`), which
//! a plain recording writes last. GStreamer's demuxer reports "no playable streams" for it,
//! but decodebin sometimes swallows that error during its start-up and the pipeline just goes
//! quiet: then only the start-up bound ends the decode, seconds later (a third of the runs on a
//! loaded 2-core machine). Walking the top-level boxes costs a few reads and gives the answer
//! at once, with a message that says what is wrong. Only files that open like an ISO-BMFF
//! file (`ftyp` first) are judged; anything else goes to GStreamer untouched.

use super::DecodeError;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Opens `path` and [`check`]s it: `NotReadable` when it cannot be opened, `Incomplete` when
/// it is an MP4 without its index.
pub(super) fn open_check(path: &Path) -> Result<(), DecodeError> {
    let f = std::fs::File::open(path).map_err(|_| DecodeError::NotReadable { path: path.into() })?;
    check(std::io::BufReader::with_capacity(64, f)).map_err(|source| DecodeError::Incomplete { path: path.into(), source })
}

/// Why an ISO-BMFF file cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incomplete {
    /// The boxes end (cleanly or in a box cut short) before any `moov`.
    #[error("incomplete MP4: no 'moov' box (the index of the samples) in its {size} bytes{cut} — truncated, or its recording never finished")]
    NoMovie { size: u64, cut: String },
}

/// Boxes looked at before giving up the walk as inconclusive (a file of millions of tiny
/// top-level boxes is not one this check needs to judge).
const MAX_BOXES: usize = 10_000;

/// `Ok` for every file that is not ISO-BMFF, that has a `moov` at the top level, or whose
/// boxes cannot be walked to a verdict; `Err` only for an ISO-BMFF file whose top-level boxes
/// end without one.
pub fn check<R: Read + Seek>(mut r: R) -> Result<(), Incomplete> {
    let size = match r.seek(SeekFrom::End(0)) {
        Ok(s) => s,
        Err(_) => return Ok(()),
    };
    if size < 8 {
        // Not even one box header: nothing to judge (GStreamer names an empty file itself).
        return Ok(());
    }
    let mut at = 0u64;
    for n in 0..MAX_BOXES {
        if at >= size {
            return Err(Incomplete::NoMovie { size, cut: String::new() });
        }
        if n > 0 && size - at < 8 {
            return Err(Incomplete::NoMovie { size, cut: format!(", which ends inside a box header at byte {at}") });
        }
        let Some((kind, len)) = header(&mut r, at, size) else { return Ok(()) };
        if n == 0 && &kind != b"ftyp" {
            return Ok(());
        }
        if &kind == b"moov" {
            return Ok(());
        }
        let end = at.checked_add(len);
        match end {
            Some(end) if end <= size => at = end,
            _ => {
                let name = String::from_utf8_lossy(&kind).into_owned();
                return Err(Incomplete::NoMovie { size, cut: format!(", whose '{name}' box at byte {at} is cut short") });
            }
        }
    }
    Ok(())
}

/// The type and length of the box at `at`, or `None` when it cannot be read as one (a header
/// past the end, a length below the header's own).
fn header<R: Read + Seek>(r: &mut R, at: u64, size: u64) -> Option<([u8; 4], u64)> {
    if size.saturating_sub(at) < 8 {
        return None;
    }
    r.seek(SeekFrom::Start(at)).ok()?;
    let mut h = [0u8; 8];
    r.read_exact(&mut h).ok()?;
    let kind = [h[4], h[5], h[6], h[7]];
    let len = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) {
        // To the end of the file.
        0 => size - at,
        // A 64-bit length follows the type.
        1 => {
            let mut l = [0u8; 8];
            r.read_exact(&mut l).ok()?;
            let l = u64::from_be_bytes(l);
            if l < 16 {
                return None;
            }
            l
        }
        l if l < 8 => return None,
        l => u64::from(l),
    };
    Some((kind, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn mp4(moov_last: bool) -> Vec<u8> {
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
        let mdat = boxed(b"mdat", &[7u8; 5000]);
        let moov = boxed(b"moov", &boxed(b"mvhd", &[0u8; 100]));
        if moov_last { [ftyp, mdat, moov].concat() } else { [ftyp, moov, mdat].concat() }
    }

    #[test]
    fn a_whole_mp4_passes_whichever_end_its_index_is_at() {
        assert_eq!(check(Cursor::new(mp4(true))), Ok(()));
        assert_eq!(check(Cursor::new(mp4(false))), Ok(()));
    }

    #[test]
    fn the_first_half_of_a_recording_is_incomplete_and_says_where_it_is_cut() {
        let whole = mp4(true);
        let half = &whole[..whole.len() / 2];
        let e = check(Cursor::new(half)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("no 'moov' box") && msg.contains("'mdat' box at byte 32 is cut short"), "{msg}");
        // Cut exactly between the samples and the index: the boxes end cleanly, still no moov.
        let clean = &whole[..whole.len() - boxed(b"moov", &boxed(b"mvhd", &[0u8; 100])).len()];
        assert_eq!(check(Cursor::new(clean)), Err(Incomplete::NoMovie { size: clean.len() as u64, cut: String::new() }));
    }

    #[test]
    fn large_and_to_the_end_lengths_are_followed() {
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0");
        // A 64-bit length mdat, then the moov.
        let mut big = 1u32.to_be_bytes().to_vec();
        big.extend_from_slice(b"mdat");
        big.extend_from_slice(&(16u64 + 40).to_be_bytes());
        big.extend_from_slice(&[0u8; 40]);
        let moov = boxed(b"moov", &[0u8; 8]);
        assert_eq!(check(Cursor::new([ftyp.clone(), big.clone(), moov].concat())), Ok(()));
        // An mdat running to the end (length 0) with nothing after it: no index.
        let mut open = 0u32.to_be_bytes().to_vec();
        open.extend_from_slice(b"mdat");
        open.extend_from_slice(&[0u8; 64]);
        assert!(check(Cursor::new([ftyp, open].concat())).is_err());
    }

    #[test]
    fn other_containers_and_unreadable_headers_are_left_to_gstreamer() {
        // MPEG-TS, Matroska, an empty file, a file whose first box length is nonsense.
        assert_eq!(check(Cursor::new(vec![0x47u8; 188 * 4])), Ok(()));
        assert_eq!(check(Cursor::new(b"\x1aE\xdf\xa3\x93B\x82\x88matroska".to_vec())), Ok(()));
        assert_eq!(check(Cursor::new(Vec::new())), Ok(()));
        assert_eq!(check(Cursor::new(b"\0\0\0\x04ftypisom".to_vec())), Ok(()));
    }

    proptest! {
        /// Every prefix of a whole recording that stops before its index is judged incomplete,
        /// every prefix that keeps the index (index first) passes, and nothing panics.
        #[test]
        fn prefixes_of_a_recording(cut in 0usize..5300) {
            let moov_last = mp4(true);
            let n = cut.min(moov_last.len());
            let moov_at = moov_last.len() - boxed(b"moov", &boxed(b"mvhd", &[0u8; 100])).len();
            let got = check(Cursor::new(&moov_last[..n]));
            if n >= 8 && n <= moov_at {
                prop_assert!(got.is_err(), "prefix of {} bytes passed", n);
            }
            let moov_first = mp4(false);
            let m = cut.min(moov_first.len());
            // ftyp (32) + moov header: once the moov's header is in, the index is there.
            if m >= 32 + 8 {
                prop_assert_eq!(check(Cursor::new(&moov_first[..m])), Ok(()));
            }
        }
    }
}
