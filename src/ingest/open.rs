//! Opening paths from the ingest folder, which anyone who can drop a file controls.
//!
//! A plain `open()` of a FIFO blocks until a writer appears (forever, for a hostile drop),
//! a symlink can point at `/dev/zero` or at a file outside the folder, and a metadata length
//! says nothing about how much a device or a growing file will give. So every ingest path is
//! opened with `O_NONBLOCK` (a FIFO opens at once) and `O_NOFOLLOW` (a symlink as the last
//! component is refused), the *opened descriptor* is checked with `fstat` to be a regular
//! file, and reads are bounded by the bytes actually read.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why an ingest path was not read.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: is a symbolic link; only regular files are read from the ingest folder")]
    Symlink { path: PathBuf },
    #[error("{path}: is {kind}, not a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path}: larger than {max} bytes")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{path}: not UTF-8 text")]
    NotText { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A name for a file type, for messages.
pub fn kind_name(t: std::fs::FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without blocking and without following a final symlink, and only
/// if the opened descriptor is a regular file. The file type is checked with `lstat` first as
/// well, so a device node is refused before it is even opened (opening some devices has side
/// effects), and again on the descriptor, so a swap between the two checks is caught.
pub fn open_regular(path: &Path) -> Result<File, OpenError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let t = meta.file_type();
        if t.is_symlink() {
            return Err(OpenError::Symlink { path: path.into() });
        }
        if !t.is_file() {
            return Err(OpenError::NotRegular { path: path.into(), kind: kind_name(t) });
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => OpenError::Symlink { path: path.into() },
            _ => OpenError::Io { path: path.into(), source },
        })?;
    let t = file.metadata().map_err(|source| OpenError::Io { path: path.into(), source })?.file_type();
    if !t.is_file() {
        return Err(OpenError::NotRegular { path: path.into(), kind: kind_name(t) });
    }
    Ok(file)
}

/// At most `max` bytes of a regular file, counted as they are read (`take(max + 1)`), so a
/// file that grows after a size check, or claims a length of 0, cannot exhaust memory.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, OpenError> {
    let file = open_regular(path)?;
    let mut buf = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut buf).map_err(|source| OpenError::Io { path: path.into(), source })?;
    if buf.len() as u64 > max {
        return Err(OpenError::TooLarge { path: path.into(), max });
    }
    Ok(buf)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text_bounded(path: &Path, max: u64) -> Result<String, OpenError> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| OpenError::NotText { path: path.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(p: &Path) {
        let ok = std::process::Command::new("mkfifo").arg(p).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "mkfifo {}", p.display());
    }

    #[test]
    fn regular_files_are_read_up_to_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        std::fs::write(&p, "0123456789").unwrap();
        assert_eq!(read_text_bounded(&p, 10).unwrap(), "0123456789");
        let e = read_text_bounded(&p, 9).unwrap_err();
        assert!(matches!(e, OpenError::TooLarge { max: 9, .. }), "{e}");
    }

    #[test]
    fn a_fifo_is_refused_at_once_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        mkfifo(&p);
        let e = read_bounded(&p, 100).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn symlinks_are_refused_even_to_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(read_bounded(&zero, 100).unwrap_err(), OpenError::Symlink { .. }));
        let target = dir.path().join("t");
        std::fs::write(&target, "{}").unwrap();
        let link = dir.path().join("l.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(open_regular(&link).unwrap_err(), OpenError::Symlink { .. }));
    }

    #[test]
    fn devices_and_folders_are_not_regular() {
        let e = read_bounded(Path::new("/dev/zero"), 100).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(open_regular(dir.path()).unwrap_err(), OpenError::NotRegular { kind: "a folder", .. }));
        assert!(matches!(open_regular(&dir.path().join("missing")).unwrap_err(), OpenError::Io { .. }));
    }
}
