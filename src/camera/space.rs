//! Free space of the recording folder, and when it is too little to start a segment.
//!
//! A full disk must stop the recording cleanly, not halfway through a write: the supervisor
//! checks the free space before every connection and once a second while recording, and
//! finalises the open segment while there is still room for its last bytes. Should a write
//! fail anyway (another program filled the disk between two checks), the muxer's
//! "No space left" error is recognised ([`is_no_space`]) and treated the same way. Either way
//! the camera reports state `error` with a `disk full: …` message and retries once a second:
//! recording resumes on its own as soon as space returns, without a restart.

use std::path::Path;

/// Least free space to start or continue recording, bytes, whatever the segments' size.
pub const MIN_FREE_BYTES: u64 = 1 << 20;

/// Bytes available to unprivileged users on the file system of `dir` (None: unknown).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// The free space needed: two of the largest segment seen (the one being written and the
/// next), at least [`MIN_FREE_BYTES`].
pub fn needed(largest_segment: u64) -> u64 {
    largest_segment.saturating_mul(2).max(MIN_FREE_BYTES)
}

/// The `error` text of a full disk.
pub fn message(dir: &Path, free: u64, needed: u64) -> String {
    format!("disk full: {free} bytes free in {} (recording needs {needed}); recording resumes when space returns", dir.display())
}

/// Whether a pipeline error text says the disk is full (filesink's ENOSPC, GStreamer's
/// `GST_RESOURCE_ERROR_NO_SPACE_LEFT`).
pub fn is_no_space(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("no space left") || t.contains("disk full") || t.contains("quota exceeded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_of_a_real_folder_and_of_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }

    #[test]
    fn the_need_grows_with_the_segments_and_errors_are_recognised() {
        assert_eq!(needed(0), MIN_FREE_BYTES);
        assert_eq!(needed(3 << 20), 6 << 20);
        assert!(is_no_space("Error while writing to file \"/x/1.ts.part\".: No space left on device"));
        assert!(is_no_space("No space left on the resource."));
        assert!(!is_no_space("Could not connect to server."));
        assert!(message(Path::new("/rec"), 5, 9).starts_with("disk full: 5 bytes free in /rec"));
    }
}
