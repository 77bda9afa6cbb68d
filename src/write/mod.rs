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

/// A file written line by line under a temporary name, renamed into place by [`commit`].
///
/// [`commit`]: AtomicLines::commit
pub struct AtomicLines {
    tmp: PathBuf,
    dest: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicLines {
    pub fn create(dest: &Path) -> Result<Self, WriteError> {
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let tmp = dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|source| WriteError { path: tmp.clone(), source })?;
        Ok(Self { tmp, dest: dest.into(), out: Some(BufWriter::new(file)) })
    }

    pub fn line(&mut self, line: &str) -> Result<(), WriteError> {
        let out = self.out.as_mut().ok_or_else(|| WriteError { path: self.tmp.clone(), source: std::io::Error::other("already committed") })?;
        writeln!(out, "{line}").map_err(|source| WriteError { path: self.tmp.clone(), source })
    }

    /// Flushes, syncs and renames into place.
    pub fn commit(mut self) -> Result<(), WriteError> {
        let tmp = self.tmp.clone();
        let out = self.out.take().ok_or_else(|| WriteError { path: tmp.clone(), source: std::io::Error::other("already committed") })?;
        let file = out.into_inner().map_err(|e| WriteError { path: tmp.clone(), source: e.into_error() })?;
        file.sync_all().map_err(|source| WriteError { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &self.dest).map_err(|source| WriteError { path: self.dest.clone(), source })?;
        // The rename is durable only once the folder is synced too: before, a power cut can
        // bring back the old file, or none, though the job was recorded done.
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|source| WriteError { path: dir.into(), source })?;
        }
        // Renamed: nothing left for Drop to remove.
        Ok(())
    }
}

impl Drop for AtomicLines {
    fn drop(&mut self) {
        // Not committed: leave the destination as it was.
        let _ = std::fs::remove_file(&self.tmp);
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
}
