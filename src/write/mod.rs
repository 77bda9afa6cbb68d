//! Writing results: one prediction line per input video, in input order, into a temporary
//! file that replaces the destination only when complete, so an interrupted run never leaves
//! a half-written or mixed file where a good one was.

pub mod features;
pub mod metadata;

use crate::format::Prediction;
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The output line: every input field, in input order, then `predictions`.
pub fn output_line(fields: &Map<String, Value>, predictions: &[Prediction]) -> String {
    let mut out = fields.clone();
    out.remove("predictions");
    let preds = serde_json::to_value(predictions).unwrap_or(Value::Array(Vec::new()));
    out.insert("predictions".into(), preds);
    Value::Object(out).to_string()
}

/// Where a finished result goes.
///
/// A new name or a regular file is replaced by renaming a complete temporary file over it, so
/// a reader never sees half a result. Anything else that already exists there (`/dev/null`,
/// `/dev/stdout`, a named pipe) is written in place: renaming over it would replace the device
/// node or the pipe itself, and run as root `-o /dev/null` once turned `/dev/null` into a
/// regular file. A symbolic link is followed, so the file it names is replaced and the link
/// stays a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Write a temporary file next to this path, then rename it over the path.
    Replace(PathBuf),
    /// Open this path and write into it.
    InPlace(PathBuf),
}

impl Destination {
    pub fn of(dest: &Path) -> Destination {
        match std::fs::metadata(dest) {
            Ok(m) if !m.is_file() && !m.is_dir() => Destination::InPlace(dest.into()),
            Ok(_) if std::fs::symlink_metadata(dest).is_ok_and(|l| l.file_type().is_symlink()) => {
                Destination::Replace(std::fs::canonicalize(dest).unwrap_or_else(|_| dest.into()))
            }
            _ => Destination::Replace(dest.into()),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Destination::Replace(p) | Destination::InPlace(p) => p,
        }
    }

    /// Where the result is written before it takes its place: a hidden name next to the
    /// destination (the same file system, so the rename is atomic), or the system's temporary
    /// folder for a destination written in place (never a new file beside `/dev/null`).
    pub fn staging(&self, suffix: &str) -> PathBuf {
        let p = self.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let tmp = format!(".{name}.{}.{suffix}", std::process::id());
        match self {
            Destination::Replace(_) => p.with_file_name(tmp),
            Destination::InPlace(_) => std::env::temp_dir().join(tmp),
        }
    }

    /// Opens a destination written in place for writing (it exists: nothing is created or
    /// truncated).
    pub fn open_in_place(&self) -> std::io::Result<File> {
        std::fs::OpenOptions::new().write(true).open(self.path())
    }

    /// Puts the finished `staged` file in place: renamed over a regular file, copied into
    /// anything else and then removed.
    pub fn commit_staged(&self, staged: &Path) -> std::io::Result<()> {
        match self {
            Destination::Replace(p) => std::fs::rename(staged, p),
            Destination::InPlace(_) => {
                let copied = File::open(staged).and_then(|mut from| std::io::copy(&mut from, &mut self.open_in_place()?));
                let _ = std::fs::remove_file(staged);
                copied.map(|_| ())
            }
        }
    }
}

/// A file written line by line under a temporary name, renamed into place by [`commit`]; a
/// device or pipe ([`Destination::InPlace`]) gets the lines as they are written.
///
/// [`commit`]: AtomicLines::commit
pub struct AtomicLines {
    /// The temporary file, `None` when writing in place.
    tmp: Option<PathBuf>,
    dest: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicLines {
    pub fn create(dest: &Path) -> Result<Self, WriteError> {
        let target = Destination::of(dest);
        let (tmp, file) = match &target {
            Destination::Replace(_) => {
                let tmp = target.staging("tmp");
                let file = File::create(&tmp).map_err(|source| WriteError { path: tmp.clone(), source })?;
                (Some(tmp), file)
            }
            Destination::InPlace(p) => (None, target.open_in_place().map_err(|source| WriteError { path: p.clone(), source })?),
        };
        Ok(Self { tmp, dest: target.path().into(), out: Some(BufWriter::new(file)) })
    }

    /// The file being written: the temporary one, or the destination itself.
    fn writing(&self) -> &Path {
        self.tmp.as_deref().unwrap_or(&self.dest)
    }

    /// Writes one line. (Called per frame for the feature dumps: the path is only built for an
    /// error.)
    pub fn line(&mut self, line: &str) -> Result<(), WriteError> {
        let result = match self.out.as_mut() {
            Some(out) => writeln!(out, "{line}"),
            None => Err(std::io::Error::other("already committed")),
        };
        result.map_err(|source| WriteError { path: self.writing().into(), source })
    }

    /// Flushes, syncs and renames into place (in place: flushes).
    pub fn commit(mut self) -> Result<(), WriteError> {
        let path = self.writing().to_path_buf();
        let out = self.out.take().ok_or_else(|| WriteError { path: path.clone(), source: std::io::Error::other("already committed") })?;
        let file = out.into_inner().map_err(|e| WriteError { path, source: e.into_error() })?;
        let Some(tmp) = self.tmp.clone() else {
            // A device or pipe: the lines are there; fsync means nothing to it (and /dev/null
            // refuses it).
            return Ok(());
        };
        // On any failure below Drop removes the temporary file.
        file.sync_all().map_err(|source| WriteError { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &self.dest).map_err(|source| WriteError { path: self.dest.clone(), source })?;
        self.tmp = None;
        // The rename is durable only once the folder is synced too: before, a power cut can
        // bring back the old file, or none, though the job was recorded done.
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|source| WriteError { path: dir.into(), source })?;
        }
        Ok(())
    }
}

impl Drop for AtomicLines {
    fn drop(&mut self) {
        // Not committed: leave the destination as it was.
        if let Some(tmp) = &self.tmp {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Window;

    #[test]
    fn line_keeps_fields_in_order_and_appends_predictions() {
        let fields: Map<String, Value> = serde_json::from_str(r#"{"video_id":"v1","video":"v1.mp4","targetRatioWH":[9,16],"x":{"a":1}}"#).unwrap();
        let p = [Prediction { frame: 0, window: Window { x: 3.0, y: 0.0, w: 202.0 } }];
        assert_eq!(
            output_line(&fields, &p),
            r#"{"video_id":"v1","video":"v1.mp4","targetRatioWH":[9,16],"x":{"a":1},"predictions":[{"frame":0,"bboxes":[3,0,202]}]}"#
        );
    }

    #[test]
    fn uncommitted_file_leaves_destination_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("p.jsonl");
        std::fs::write(&dest, "old\n").unwrap();
        {
            let mut w = AtomicLines::create(&dest).unwrap();
            w.line("new").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut w = AtomicLines::create(&dest).unwrap();
        w.line("new").unwrap();
        w.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new\n");
    }

    /// `-o /dev/null` must never replace the device (as root a rename would), and nothing is
    /// staged beside it.
    #[test]
    fn a_device_is_written_in_place_and_stays_a_device() {
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        assert_eq!(Destination::of(null), Destination::InPlace(null.into()));
        assert!(!Destination::of(null).staging("part").starts_with("/dev"));
        let mut w = AtomicLines::create(null).unwrap();
        w.line("{\"video_id\":\"v\"}").unwrap();
        w.commit().unwrap();
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device());
    }

    /// A named pipe gets the lines; it is not replaced by a regular file.
    #[test]
    fn a_named_pipe_gets_the_lines_and_stays_a_pipe() {
        use std::io::Read;
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.jsonl");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut text = String::new();
                File::open(&fifo).unwrap().read_to_string(&mut text).unwrap();
                text
            })
        };
        let mut w = AtomicLines::create(&fifo).unwrap();
        w.line("a").unwrap();
        w.line("b").unwrap();
        w.commit().unwrap();
        assert_eq!(reader.join().unwrap(), "a\nb\n");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing staged beside the pipe");
    }

    /// Through a symbolic link the file it names is replaced; the link stays a link.
    #[test]
    fn a_symlink_keeps_pointing_at_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.jsonl");
        let link = dir.path().join("link.jsonl");
        std::fs::write(&real, "old\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(Destination::of(&link), Destination::Replace(real.canonicalize().unwrap()));
        let mut w = AtomicLines::create(&link).unwrap();
        w.line("new").unwrap();
        w.commit().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new\n");
    }

    /// A new name and a regular file are replaced whole; a failed rename leaves nothing staged.
    #[test]
    fn regular_files_are_replaced_and_a_failed_commit_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.jsonl");
        assert_eq!(Destination::of(&new), Destination::Replace(new.clone()));
        assert_eq!(Destination::of(&new).staging("tmp").parent(), Some(dir.path()));
        // A folder cannot be renamed over: the error names it, the staged file is gone.
        let folder = dir.path().join("taken");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("x"), "x").unwrap();
        let mut w = AtomicLines::create(&folder).unwrap();
        w.line("a").unwrap();
        let err = w.commit().unwrap_err();
        assert_eq!(err.path, folder);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the folder is left");
    }
}
