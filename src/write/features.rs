//! Feature dumps: everything selection and framing decide from, per video, so that a decision
//! can be replayed without decoding again (`highlightd replay`) and the learned scorer can be
//! trained on exactly the rows it will be fed (`engines/train_scorer.py`).
//!
//! One JSONL file per video: a header line `{"header": {…}}` (picture, fps, target ratio,
//! shots, the scorer's column names), then one line per frame with the features `f`, the rule
//! evidence `ev`, the highlight probability `p`, whether it was selected `sel` and the
//! scorer's input row `x`. Numbers are written in the shortest form that reads back to the
//! same `f32`, so a replay sees bit-identical features.

use crate::analyse::FrameFeatures;
use crate::engine::VideoResult;
use crate::format::AspectRatio;
use crate::select::{scorer, Selection};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} line {line}: {message}")]
    Content { path: PathBuf, line: usize, message: String },
}

/// The first line of a dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpHeader {
    pub video_id: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub frames: usize,
    #[serde(rename = "targetRatioWH")]
    pub ratio: [u32; 2],
    /// Shots as `[start, end)` pairs.
    pub shots: Vec<[usize; 2]>,
    /// The scorer's column names, in row order.
    pub inputs: Vec<String>,
}

/// A dump read back: enough to re-run selection and framing.
#[derive(Debug, Clone)]
pub struct Dump {
    pub header: DumpHeader,
    pub features: Vec<FrameFeatures>,
}

impl Dump {
    pub fn shots(&self) -> Vec<Range<usize>> {
        self.header.shots.iter().map(|s| s[0]..s[1]).collect()
    }
}

/// The dump file of a video id in `dir`.
pub fn dump_path(dir: &Path, video_id: &str) -> PathBuf {
    dir.join(format!("{}.jsonl", super::metadata::file_name_for(video_id)))
}

/// What a dump is written from: a fresh analysis, or a replayed one.
pub struct DumpInput<'a> {
    pub video_id: &'a str,
    pub ratio: AspectRatio,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub features: &'a [FrameFeatures],
    pub shots: &'a [Range<usize>],
    pub selection: &'a Selection,
}

impl<'a> DumpInput<'a> {
    pub fn of(video_id: &'a str, ratio: AspectRatio, r: &'a VideoResult) -> Self {
        DumpInput { video_id, ratio, width: r.info.width, height: r.info.height, fps: r.info.fps, features: &r.features, shots: &r.shots, selection: &r.selection }
    }
}

/// Writes one video's dump (through a temporary file and a rename).
pub fn write_dump(dir: &Path, d: &DumpInput<'_>) -> Result<(), super::WriteError> {
    let (video_id, features, shots, selection, fps) = (d.video_id, d.features, d.shots, d.selection, d.fps);
    let header = DumpHeader {
        video_id: video_id.to_string(),
        width: d.width,
        height: d.height,
        fps,
        frames: features.len(),
        ratio: [d.ratio.w(), d.ratio.h()],
        shots: shots.iter().map(|s| [s.start, s.end]).collect(),
        inputs: scorer::input_names(),
    };
    let rows = scorer::inputs(features, shots, fps, f64::from(d.height) / f64::from(d.width.max(1)));
    let rel = (selection.p1.len() == features.len()).then(|| scorer::relative(&rows, &selection.p1, shots, fps));
    let nr = scorer::RELATIVE.len();
    let selected: std::collections::HashSet<usize> = selection.frames().collect();
    let mut w = super::AtomicLines::create(&dump_path(dir, video_id))?;
    w.line(&serde_json::json!({ "header": header }).to_string())?;
    for (i, f) in features.iter().enumerate() {
        let x = rows.get(i * scorer::INPUTS..(i + 1) * scorer::INPUTS).unwrap_or(&[]);
        let rr = rel.as_ref().and_then(|v| v.get(i * nr..(i + 1) * nr));
        let v = serde_json::json!({"frame": i, "f": f, "ev": selection.evidence.get(i), "p": selection.p.get(i), "p1": selection.p1.get(i), "sel": selected.contains(&i), "x": x, "r": rr});
        w.line(&v.to_string())?;
    }
    w.commit()
}

/// Reads a dump, checking that it is whole: a header, then one line per frame in order.
pub fn read_dump(path: &Path) -> Result<Dump, DumpError> {
    let text = std::fs::read_to_string(path).map_err(|source| DumpError::Io { path: path.into(), source })?;
    let bad = |line: usize, message: String| DumpError::Content { path: path.into(), line, message };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().ok_or_else(|| bad(1, "empty file".into()))?;
    #[derive(Deserialize)]
    struct HeaderLine {
        header: DumpHeader,
    }
    let header = serde_json::from_str::<HeaderLine>(first).map_err(|e| bad(1, format!("not a dump header: {e}")))?.header;
    #[derive(Deserialize)]
    struct FrameLine {
        frame: usize,
        f: FrameFeatures,
    }
    let mut features = Vec::with_capacity(header.frames);
    for (i, l) in lines {
        let fl: FrameLine = serde_json::from_str(l).map_err(|e| bad(i + 1, format!("not a frame line: {e}")))?;
        if fl.frame != features.len() {
            return Err(bad(i + 1, format!("frame {} where {} was expected", fl.frame, features.len())));
        }
        features.push(fl.f);
    }
    if features.len() != header.frames {
        return Err(bad(text.lines().count(), format!("{} frames, the header says {}", features.len(), header.frames)));
    }
    let n = features.len();
    if header.shots.iter().any(|s| s[0] >= s[1] || s[1] > n) {
        return Err(bad(1, "a shot lies outside the frames".into()));
    }
    if !(header.fps.is_finite() && header.fps > 0.0) {
        return Err(bad(1, format!("fps {} is not a positive number", header.fps)));
    }
    Ok(Dump { header, features })
}
