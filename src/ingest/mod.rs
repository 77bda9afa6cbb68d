//! The two input layouts of SPEC.md section 2, read into one list of per-video entries.
//!
//! Reading never stops at a bad line: the entry carries its problem, so the video still gets
//! its (empty) output line and the batch goes on.

use crate::format::AspectRatio;
#[cfg(test)]
mod fuzz_tests;
pub mod open;
pub mod wake;
pub mod watch;

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Extensions tried, in order, for an index line that names no file.
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "m4v", "mkv", "webm", "avi", "mpg", "mpeg", "ts"];
/// File-name fields accepted in an index line, in order of preference.
pub const FILE_FIELDS: &[&str] = &["video", "video_path", "file", "filename"];
/// Largest index line read (a line is one small object).
const MAX_LINE: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: neither an index file nor a folder with jsonl/ and video/")]
    Layout { path: PathBuf },
}

/// One video to process: its original fields (carried through to the output), and either
/// what is needed to process it or why it cannot be.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Where the entry came from, for messages: `file:line` or the per-video JSONL file.
    pub origin: String,
    /// The input object as read (or a minimal one for a line that is not an object).
    pub fields: Map<String, Value>,
    pub task: Result<Task, String>,
}

/// A video that can be processed.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub video_id: String,
    pub path: PathBuf,
    pub ratio: AspectRatio,
}

impl Entry {
    pub fn video_id(&self) -> Option<&str> {
        match &self.task {
            Ok(t) => Some(&t.video_id),
            Err(_) => self.fields.get("video_id").and_then(Value::as_str),
        }
    }
}

/// Reads INPUT: an index JSONL file, or a contest-layout folder. `videos` is the folder the
/// index's file names are relative to (default: the index's own folder).
pub fn read_input(input: &Path, videos: Option<&Path>) -> Result<Vec<Entry>, IngestError> {
    if input.is_dir() {
        if input.join("jsonl").is_dir() {
            return read_contest(input, videos);
        }
        return Err(IngestError::Layout { path: input.into() });
    }
    let text = std::fs::read_to_string(input).map_err(|source| IngestError::Read { path: input.into(), source })?;
    let base = videos.map(Path::to_path_buf).unwrap_or_else(|| input.parent().map(Path::to_path_buf).unwrap_or_default());
    Ok(read_index(&text, &input.display().to_string(), &base))
}

/// Parses index text; `name` is used in messages, `base` resolves file names.
pub fn read_index(text: &str, name: &str, base: &Path) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let origin = format!("{name}:{}", i + 1);
            let parsed = if line.len() > MAX_LINE {
                Err(format!("line is longer than {MAX_LINE} bytes"))
            } else {
                serde_json::from_str::<Value>(line).map_err(|e| format!("not valid JSON: {e}"))
            };
            match parsed {
                Ok(Value::Object(fields)) => {
                    let task = task_from_fields(&fields, base, None).map_err(|e| format!("{origin}: {e}"));
                    Entry { origin, fields, task }
                }
                Ok(other) => Entry { origin: origin.clone(), fields: Map::new(), task: Err(format!("{origin}: not a JSON object: {}", truncate(&other.to_string()))) },
                Err(e) => Entry { origin: origin.clone(), fields: salvage_id(line), task: Err(format!("{origin}: {e}")) },
            }
        })
        .collect()
}

/// Reads the contest layout: `jsonl/<id>.jsonl` (one object) and `video/<id>.<ext>`, in id
/// order. The id is the file stem, kept exactly.
pub fn read_contest(dir: &Path, videos: Option<&Path>) -> Result<Vec<Entry>, IngestError> {
    read_contest_with(dir, videos, |p| std::fs::read_to_string(p).map_err(|e| format!("cannot read: {e}")))
}

/// [`read_contest`] with the per-video files read by `read`: the daemon passes a bounded
/// reader of regular files only, since its folders come from anyone who can drop one.
pub fn read_contest_with(dir: &Path, videos: Option<&Path>, read: impl Fn(&Path) -> Result<String, String>) -> Result<Vec<Entry>, IngestError> {
    let jdir = dir.join("jsonl");
    let vdir = videos.map(Path::to_path_buf).unwrap_or_else(|| dir.join("video"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&jdir)
        .map_err(|source| IngestError::Read { path: jdir.clone(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl" || x == "json"))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|file| {
            let origin = file.display().to_string();
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let first = read(&file).map_err(|e| format!("{origin}: {e}")).and_then(|t| {
                let line = t.lines().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
                serde_json::from_str::<Value>(&line).map_err(|e| format!("{origin}: not valid JSON: {e}"))
            });
            match first {
                Ok(Value::Object(mut fields)) => {
                    if !fields.contains_key("video_id") {
                        fields.insert("video_id".into(), Value::String(stem.clone()));
                    }
                    let task = task_from_fields(&fields, &vdir, Some(&stem)).map_err(|e| format!("{origin}: {e}"));
                    Entry { origin, fields, task }
                }
                Ok(_) => Entry { origin: origin.clone(), fields: id_only(&stem), task: Err(format!("{origin}: not a JSON object")) },
                Err(e) => Entry { origin, fields: id_only(&stem), task: Err(e) },
            }
        })
        .collect())
}

fn id_only(id: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("video_id".into(), Value::String(id.into()));
    m
}

/// For a line that is not JSON, keep a `video_id` if one is visible, so the output line can
/// still be matched to its video.
fn salvage_id(line: &str) -> Map<String, Value> {
    let key = "\"video_id\"";
    line.find(key)
        .and_then(|i| {
            let rest = line[i + key.len()..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
            rest.find('"').map(|end| id_only(&rest[..end]))
        })
        .unwrap_or_default()
}

fn truncate(s: &str) -> String {
    if s.len() > 80 { format!("{}…", &s[..s.char_indices().nth(80).map_or(s.len(), |c| c.0)]) } else { s.into() }
}

fn task_from_fields(fields: &Map<String, Value>, base: &Path, stem: Option<&str>) -> Result<Task, String> {
    let ratio = fields.get("targetRatioWH").ok_or("missing field `targetRatioWH`")?;
    let ratio = AspectRatio::from_json(ratio).and_then(AspectRatio::within_range).map_err(|e| format!("field `targetRatioWH` {e}"))?;
    let video_id = match fields.get("video_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(format!("field `video_id` must be a non-empty string, got {}", truncate(&other.to_string()))),
        None => match stem {
            Some(s) => s.to_string(),
            None => return Err("missing field `video_id`".into()),
        },
    };
    let named = FILE_FIELDS.iter().find_map(|k| fields.get(*k).map(|v| (*k, v)));
    let path = match named {
        Some((_, Value::String(f))) if !f.is_empty() => base.join(f),
        Some((k, v)) => return Err(format!("field `{k}` must be a file name, got {}", truncate(&v.to_string()))),
        None => find_video(base, stem.unwrap_or(&video_id)).ok_or_else(|| format!("no video file for `{video_id}` in {} (tried {})", base.display(), VIDEO_EXTENSIONS.join(", ")))?,
    };
    Ok(Task { video_id, path, ratio })
}

pub fn find_video(dir: &Path, stem: &str) -> Option<PathBuf> {
    VIDEO_EXTENSIONS.iter().map(|e| dir.join(format!("{stem}.{e}"))).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lines_resolve_and_bad_lines_are_kept_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.mp4"), b"x").unwrap();
        let text = concat!(
            r#"{"video_id": "a", "video_path": "sub/a.mp4", "targetRatioWH": [9, 16], "extra": 1}"#, "\n",
            "\n",
            r#"{"video_id": "b", "targetRatioWH": [16, 9]}"#, "\n",
            r#"{"video_id": "c", "targetRatioWH": [0, 9]}"#, "\n",
            r#"{"video_id": "d", "targetRatioWH": [9, 16]"#, "\n",
            "[1, 2]\n",
        );
        let e = read_index(text, "idx.jsonl", dir.path());
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].task.as_ref().unwrap().path, dir.path().join("sub/a.mp4"));
        assert_eq!(e[0].fields.get("extra"), Some(&serde_json::json!(1)));
        assert_eq!(e[1].task.as_ref().unwrap().path, dir.path().join("b.mp4"));
        assert_eq!(e[1].origin, "idx.jsonl:3");
        let err = e[2].task.as_ref().unwrap_err();
        assert!(err.contains("idx.jsonl:4") && err.contains("targetRatioWH"), "{err}");
        assert!(e[3].task.as_ref().unwrap_err().contains("idx.jsonl:5"));
        assert_eq!(e[3].video_id(), Some("d"));
        assert!(e[4].task.as_ref().unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn contest_layout_keeps_ids_exactly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("jsonl")).unwrap();
        std::fs::create_dir_all(dir.path().join("video")).unwrap();
        std::fs::write(dir.path().join("jsonl/000.jsonl"), r#"{"targetRatioWH": [9, 16]}"#).unwrap();
        std::fs::write(dir.path().join("video/000.mp4"), b"x").unwrap();
        std::fs::write(dir.path().join("jsonl/001.jsonl"), "garbage").unwrap();
        let e = read_contest(dir.path(), None).unwrap();
        assert_eq!(e.len(), 2);
        let t = e[0].task.as_ref().unwrap();
        assert_eq!(t.video_id, "000");
        assert_eq!(t.path, dir.path().join("video/000.mp4"));
        assert_eq!(e[1].video_id(), Some("001"));
        assert!(e[1].task.is_err());
    }
}
