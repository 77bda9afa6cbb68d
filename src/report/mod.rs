//! `report`: one self-contained HTML page to look at what the engine did to each video.
//!
//! For every video of the input that has a line in the predictions file, the analysis is run
//! again (the predictions file holds only frames and windows; the page also needs the
//! per-frame highlight probability and the shot cuts), a few frames are decoded again as
//! thumbnails, and everything goes into one HTML file with inline CSS, inline SVG and `data:`
//! URIs: it opens from a mail attachment or an air-gapped box, nothing is fetched.
//!
//! Files: [`inputs`] reads the predictions and ground truth, [`svg`] draws the timeline,
//! [`thumbs`] grabs and encodes the thumbnails, [`html`] assembles and escapes the page,
//! [`base64`] encodes the embedded media; this file runs the videos and writes the page.

pub mod base64;
pub mod html;
pub mod inputs;
pub mod svg;
pub mod thumbs;

use crate::config::Config;
use crate::engine;
use crate::format::{AspectRatio, Prediction, VideoMeta};
use crate::ingest::{Entry, IngestError};
use crate::metric::{self, VideoScore};
use crate::write::Destination;
use inputs::Line;
use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thumbs::Thumb;

/// Everything that stops the report as a whole. A video that cannot be analysed is not one of
/// them: it gets a section with its error, like `predict` gives it an empty line.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    // The io error is in the message, not the error chain, so `{:#}` does not print it twice.
    #[error("{}: cannot read: {err}", path.display())]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{} line {line}: {msg}", path.display())]
    Line { path: PathBuf, line: usize, msg: String },
    #[error("{} line {line}: video_id {video_id:?} already appears on line {first}", path.display())]
    Duplicate { path: PathBuf, line: usize, video_id: String, first: usize },
    #[error("none of the {inputs} videos of the input has a line in {}: nothing to report", predictions.display())]
    NothingToReport { inputs: usize, predictions: PathBuf },
    #[error("{}: cannot write the report: {err}", path.display())]
    Write { path: PathBuf, err: std::io::Error },
}

/// What to put in the report besides the input.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// The predictions JSONL to show.
    pub predictions: PathBuf,
    /// Ground truth JSONL: adds the GT band, the GT windows and the metric.
    pub gt: Option<PathBuf>,
    /// Folder of rendered shorts, `<video_id>.mp4`.
    pub shorts: Option<PathBuf>,
    /// Thumbnails per video.
    pub thumbnails: usize,
    /// Longest side of a thumbnail, pixels.
    pub thumb_side: u32,
    /// Shorts larger than this are not embedded (a page of hundreds of MB does not open).
    pub max_short_bytes: u64,
}

impl ReportOptions {
    pub fn new(predictions: PathBuf) -> Self {
        Self { predictions, gt: None, shorts: None, thumbnails: 8, thumb_side: 320, max_short_bytes: 50 * 1024 * 1024 }
    }
}

/// What the re-run analysis learnt about one video, as the page needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub fps: f64,
    /// Per-frame highlight probability.
    pub p: Vec<f64>,
    /// First frame of every shot but the first.
    pub cuts: Vec<usize>,
    pub shots: usize,
    /// Camera mode name and how many shots use it.
    pub modes: Vec<(String, usize)>,
    /// Frames the engine selects now (may differ from the predictions file shown).
    pub engine_selected: usize,
    pub seconds: f64,
}

/// The rendered short of a video, if any.
#[derive(Debug, Clone, PartialEq)]
pub enum Short {
    /// No `--shorts` folder, or no `<video_id>.mp4` in it.
    Absent,
    Embedded { bytes: u64, uri: String },
    TooLarge { bytes: u64, limit: u64 },
    Unreadable(String),
}

/// One video's section of the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub video_id: String,
    pub source: String,
    /// The ratio the prediction windows are sized by.
    pub ratio: Option<AspectRatio>,
    /// Entries in the predictions line, as submitted.
    pub entries: usize,
    /// Valid predictions, the first of each frame, ascending by frame.
    pub selected: Vec<Prediction>,
    /// Ground-truth windows (ascending) and their ratio, when the GT has this video.
    pub truth: Option<(Vec<Prediction>, AspectRatio)>,
    /// Whether a ground truth was given at all (then a video absent from it is flagged).
    pub gt_given: bool,
    pub score: Option<VideoScore>,
    pub analysis: Result<Analysis, String>,
    pub thumbs: Result<Vec<Thumb>, String>,
    pub short: Short,
}

/// The whole page's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub input: String,
    pub predictions: String,
    pub gt: Option<String>,
    pub sections: Vec<Section>,
    /// Prediction lines whose video is not in the input.
    pub unmatched_lines: usize,
    /// Ground-truth videos that are not in the report (not scored here).
    pub gt_not_reported: usize,
}

impl Report {
    /// 100 × the mean F over the sections that could be scored, and how many they are.
    pub fn score(&self) -> Option<(f64, usize)> {
        let fs: Vec<f64> = self.sections.iter().filter_map(|s| s.score.as_ref().map(|v| v.f)).collect();
        (!fs.is_empty()).then(|| (100.0 * fs.iter().sum::<f64>() / fs.len() as f64, fs.len()))
    }
}

/// Builds the report for `entries` (in input order) and writes it to `out` atomically.
pub fn run(input: &Path, entries: &[Entry], opts: &ReportOptions, cfg: &Config, out: &Path) -> Result<Report, ReportError> {
    // Fail before minutes of analysis, not after, when the page has nowhere to go.
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
        let err = std::io::Error::new(std::io::ErrorKind::NotFound, format!("folder {} does not exist", dir.display()));
        return Err(ReportError::Write { path: out.into(), err });
    }
    let report = build(input, entries, opts, cfg)?;
    write_atomic(out, &html::page(&report))?;
    Ok(report)
}

/// Collects the content of every section (analysis, metric, thumbnails, shorts).
pub fn build(input: &Path, entries: &[Entry], opts: &ReportOptions, cfg: &Config) -> Result<Report, ReportError> {
    let preds = inputs::read_lines(&opts.predictions, false)?;
    let gt = match &opts.gt {
        Some(p) => Some(inputs::read_lines(p, true)?),
        None => None,
    };
    let mut sections = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for entry in entries {
        let Some(id) = entry.video_id() else { continue };
        let Some(line) = preds.get(id) else { continue };
        if !seen.insert(id.to_string()) {
            tracing::warn!("{}: video {id:?} appears twice in the input; reported once", entry.origin);
            continue;
        }
        let _span = tracing::info_span!("video", id = %id).entered();
        let section = section(entry, id, line, gt.as_ref().and_then(|g| g.get(id)), gt.is_some(), opts, cfg);
        match &section.analysis {
            Ok(a) => tracing::info!(frames = a.frames, selected = section.selected.len(), f = section.score.as_ref().map(|s| format!("{:.3}", s.f)), "reported"),
            Err(e) => tracing::warn!("reported with an error: {e}"),
        }
        sections.push(section);
    }
    if sections.is_empty() {
        return Err(ReportError::NothingToReport { inputs: entries.len(), predictions: opts.predictions.clone() });
    }
    let unmatched_lines = preds.keys().filter(|k| !seen.contains(*k)).count();
    let gt_not_reported = gt.as_ref().map_or(0, |g| g.keys().filter(|k| !seen.contains(*k)).count());
    Ok(Report {
        input: input.display().to_string(),
        predictions: opts.predictions.display().to_string(),
        gt: opts.gt.as_ref().map(|p| p.display().to_string()),
        sections,
        unmatched_lines,
        gt_not_reported,
    })
}

/// One video: analysis, selection as the metric sees it, score, thumbnails, short.
fn section(entry: &Entry, id: &str, line: &Line, gt: Option<&Line>, gt_given: bool, opts: &ReportOptions, cfg: &Config) -> Section {
    let task = entry.task.as_ref();
    let ratio = line.ratio.or(task.ok().map(|t| t.ratio));
    let gt_ratio = gt.and_then(|g| g.ratio).or(task.ok().map(|t| t.ratio));
    let truth = gt.zip(gt_ratio).map(|(g, r)| (first_per_frame(&g.parsed, |_| true), r));
    let mut s = Section {
        video_id: id.to_string(),
        source: task.map(|t| t.path.display().to_string()).unwrap_or_else(|_| entry.origin.clone()),
        ratio,
        entries: line.raw.len(),
        selected: first_per_frame(&line.parsed, |p| p.frame >= 0),
        truth,
        gt_given,
        score: None,
        analysis: Err(String::new()),
        thumbs: Ok(Vec::new()),
        short: short(opts, id),
    };
    let t = match task {
        Ok(t) => t,
        Err(e) => {
            s.analysis = Err(e.clone());
            return s;
        }
    };
    let r = match engine::process_video(&t.path, t.ratio, cfg, |_| {}) {
        Ok(r) => r,
        Err(e) => {
            s.analysis = Err(e.to_string());
            return s;
        }
    };
    let meta = VideoMeta { width: r.info.width, height: r.info.height, frames: r.info.frames };
    let pred_ratio = ratio.unwrap_or(t.ratio);
    s.selected = first_per_frame(&line.parsed, |p| metric::is_valid(p, pred_ratio, meta).is_ok());
    if let Some(g) = gt {
        s.score = Some(metric::score_video(id, &line.raw, &g.parsed, pred_ratio, gt_ratio.unwrap_or(t.ratio), meta));
    }
    let mut modes: Vec<(String, usize)> = Vec::new();
    for plan in &r.plans {
        let name = format!("{:?}", plan.mode).to_lowercase();
        match modes.iter_mut().find(|(m, _)| *m == name) {
            Some((_, c)) => *c += 1,
            None => modes.push((name, 1)),
        }
    }
    let analysis = Analysis {
        width: r.info.width,
        height: r.info.height,
        frames: r.info.frames,
        fps: r.info.fps,
        p: r.selection.p.clone(),
        cuts: r.shots.iter().skip(1).map(|s| s.start).collect(),
        shots: r.shots.len(),
        modes,
        engine_selected: r.predictions.len(),
        seconds: r.seconds,
    };
    let chosen: Vec<usize> = s.selected.iter().map(|p| p.frame as usize).collect();
    let wanted = thumbs::pick_frames(&chosen, analysis.frames as usize, opts.thumbnails);
    let stall = Duration::from_secs(cfg.decode.stall_timeout_s.max(1));
    s.thumbs = thumbs::grab(&t.path, &wanted, opts.thumb_side, stall).map_err(|e| e.to_string());
    s.analysis = Ok(analysis);
    s
}

/// The first prediction of each frame among those `keep` accepts, ascending by frame: the
/// entries that count for the metric.
fn first_per_frame(preds: &[Prediction], keep: impl Fn(&Prediction) -> bool) -> Vec<Prediction> {
    let mut seen = HashSet::new();
    let mut out: Vec<Prediction> = preds.iter().filter(|p| keep(p) && seen.insert(p.frame)).copied().collect();
    out.sort_by_key(|p| p.frame);
    out
}

/// Finds and embeds `<shorts>/<video_id>.mp4`. Ids that could name another folder are not
/// looked up: the id comes from an input file.
fn short(opts: &ReportOptions, id: &str) -> Short {
    let Some(dir) = &opts.shorts else { return Short::Absent };
    if id.is_empty() || id.contains(['/', '\\']) || id == "." || id == ".." {
        return Short::Absent;
    }
    let path = dir.join(format!("{id}.mp4"));
    let bytes = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => m.len(),
        _ => return Short::Absent,
    };
    if bytes > opts.max_short_bytes {
        return Short::TooLarge { bytes, limit: opts.max_short_bytes };
    }
    match std::fs::read(&path) {
        Ok(data) => Short::Embedded { bytes, uri: base64::data_uri("video/mp4", &data) },
        Err(e) => Short::Unreadable(format!("{}: {e}", path.display())),
    }
}

/// Writes `text` to a temporary file next to `dest`, syncs it and renames it into place, so
/// a reader never sees half a page and a failed run leaves the old report intact; a device or
/// pipe (`/dev/stdout`) gets the finished page copied into it (see [`Destination`]).
pub fn write_atomic(dest: &Path, text: &str) -> Result<(), ReportError> {
    let target = Destination::of(dest);
    let tmp = target.staging("tmp");
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        target.commit_staged(&tmp)
    })();
    res.map_err(|err| {
        let _ = std::fs::remove_file(&tmp);
        ReportError::Write { path: dest.into(), err }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Window;

    fn p(frame: i64, x: f64) -> Prediction {
        Prediction { frame, window: Window { x, y: 0.0, w: 10.0 } }
    }

    #[test]
    fn first_per_frame_sorts_and_keeps_the_first() {
        let v = first_per_frame(&[p(5, 1.0), p(2, 2.0), p(5, 3.0), p(-1, 0.0)], |p| p.frame >= 0);
        assert_eq!(v, vec![p(2, 2.0), p(5, 1.0)]);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("r.html");
        std::fs::write(&dest, "old").unwrap();
        write_atomic(&dest, "<p>new</p>").unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "<p>new</p>");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_atomic(&dir.path().join("missing/r.html"), "x").is_err());
        // A device is written into, never renamed over.
        write_atomic(Path::new("/dev/null"), "<p>new</p>").unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(&std::fs::metadata("/dev/null").unwrap().file_type()));
    }

    #[test]
    fn shorts_are_found_by_id_and_size_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.mp4"), b"abc").unwrap();
        let mut o = ReportOptions::new("p.jsonl".into());
        assert_eq!(short(&o, "a"), Short::Absent);
        o.shorts = Some(dir.path().into());
        assert_eq!(short(&o, "a"), Short::Embedded { bytes: 3, uri: "data:video/mp4;base64,YWJj".into() });
        assert_eq!(short(&o, "b"), Short::Absent);
        assert_eq!(short(&o, "../a"), Short::Absent);
        o.max_short_bytes = 2;
        assert_eq!(short(&o, "a"), Short::TooLarge { bytes: 3, limit: 2 });
    }
}
