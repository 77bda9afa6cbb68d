//! The contest metric (SPEC.md section 4): a video-averaged, IoU-weighted F.
//!
//! Per video, `N_pred` counts every submitted entry (unreadable, invalid and duplicate ones
//! included), `N_gt` the ground-truth frames, and `S` sums the IoU between predicted and true
//! window over the first valid prediction of each ground-truth frame.
//! `F = 2S / (N_pred + N_gt)`, 1 when both counts are 0, 0 when exactly one is; the score is
//! 100 × the mean F over the ground-truth videos.
//!
//! Besides F, every video reports the two factors it splits into, so a result can be read as
//! "which frames" versus "which crops": `F = temporal_f × crop_iou`.
//!
//! `tests/tools/metric_reference.py` is an independent implementation of the same rules and
//! `tests/metric_agreement.rs` checks both agree on random files.

use crate::format::{parse_prediction, AspectRatio, Prediction, VideoMeta, Window};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Intersection over union of two windows, each with the height its own ratio implies
/// (`h = w * ratio.h / ratio.w`, real, not rounded).
///
/// Takes two ratios because a prediction line may declare a ratio other than the ground
/// truth's; its boxes are then sized by its own. Symmetric, always in `[0, 1]`; a window
/// without area (`w <= 0`) or with a non-finite value overlaps nothing and gives 0.
pub fn iou(a: Window, b: Window, ratio_a: AspectRatio, ratio_b: AspectRatio) -> f64 {
    let (ah, bh) = (a.height(ratio_a), b.height(ratio_b));
    let finite = [a.x, a.y, a.w, ah, b.x, b.y, b.w, bh]
        .iter()
        .all(|v| v.is_finite());
    if !finite || a.w <= 0.0 || b.w <= 0.0 {
        return 0.0;
    }
    let ix = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
    let iy = (a.y + ah).min(b.y + bh) - a.y.max(b.y);
    if ix <= 0.0 || iy <= 0.0 {
        return 0.0;
    }
    let inter = ix * iy;
    let union = a.w * ah + b.w * bh - inter;
    if union <= 0.0 {
        return 0.0;
    }
    (inter / union).clamp(0.0, 1.0)
}

/// Why a readable prediction is invalid: one variant per rule of SPEC.md section 3.
///
/// Frame uniqueness is not here: it depends on the other predictions of the video, so the
/// caller that walks the list checks it.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum Invalid {
    #[error("x, y or w is not a finite number")]
    NonFinite,
    #[error("frame {frame} is outside 0..{frames}")]
    FrameOutOfRange { frame: i64, frames: u64 },
    #[error("x = {0} is negative")]
    NegativeX(f64),
    #[error("y = {0} is negative")]
    NegativeY(f64),
    #[error("w = {0} is not positive")]
    NonPositiveWidth(f64),
    #[error("x + w = {right} exceeds the picture width {width}")]
    BeyondWidth { right: f64, width: u32 },
    #[error("y + h = {bottom} exceeds the picture height {height}")]
    BeyondHeight { bottom: f64, height: u32 },
}

/// Checks one prediction against the rules of SPEC.md section 3 (all but uniqueness), with
/// the height implied by `ratio`. Reports the first rule broken, non-finite values first.
pub fn is_valid(p: &Prediction, ratio: AspectRatio, meta: VideoMeta) -> Result<(), Invalid> {
    let Window { x, y, w } = p.window;
    let h = p.window.height(ratio);
    if !(x.is_finite() && y.is_finite() && w.is_finite()) {
        return Err(Invalid::NonFinite);
    }
    let in_range = u64::try_from(p.frame).is_ok_and(|f| f < meta.frames);
    if !in_range {
        return Err(Invalid::FrameOutOfRange {
            frame: p.frame,
            frames: meta.frames,
        });
    }
    if x < 0.0 {
        return Err(Invalid::NegativeX(x));
    }
    if y < 0.0 {
        return Err(Invalid::NegativeY(y));
    }
    if w <= 0.0 {
        return Err(Invalid::NonPositiveWidth(w));
    }
    if x + w > f64::from(meta.width) {
        return Err(Invalid::BeyondWidth {
            right: x + w,
            width: meta.width,
        });
    }
    // x, y, w are finite here, so h is finite or +inf (huge w), never NaN: `>` catches both.
    if y + h > f64::from(meta.height) {
        return Err(Invalid::BeyondHeight {
            bottom: y + h,
            height: meta.height,
        });
    }
    Ok(())
}

/// The score of one video and the two factors it splits into.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoScore {
    pub video_id: String,
    /// `2S / (N_pred + N_gt)` (1 if both are 0, 0 if exactly one is).
    pub f: f64,
    /// Every submitted entry, unreadable, invalid and duplicate ones included.
    pub n_pred: usize,
    /// Ground-truth frames.
    pub n_gt: usize,
    /// Sum of IoU over the matched predictions.
    pub s: f64,
    /// Valid predictions, first valid of their frame, on a ground-truth frame.
    pub matched: usize,
    /// `2 * matched / (N_pred + N_gt)`: the F every crop being perfect would give
    /// (1 when both counts are 0).
    pub temporal_f: f64,
    /// `S / matched`, the mean IoU on matched frames; 1.0 when nothing matched, so that
    /// `f == temporal_f * crop_iou` always holds (temporal_f is then 0, or both counts are 0).
    pub crop_iou: f64,
}

/// Scores one video.
///
/// `preds` are the raw entries of the `predictions` array: an entry `parse_prediction`
/// rejects is invalid yet still counts in `N_pred`. Only the first VALID prediction of a frame
/// can score; later ones for that frame (valid or not) only count in `N_pred`. Boxes of
/// `preds` take their height from `pred_ratio`, those of `gt` from `gt_ratio`. `gt` is
/// expected to hold each frame once (`evaluate` ensures it); should a frame repeat, its first
/// window is the truth and every entry still counts in `N_gt`.
pub fn score_video(
    video_id: &str,
    preds: &[Value],
    gt: &[Prediction],
    pred_ratio: AspectRatio,
    gt_ratio: AspectRatio,
    meta: VideoMeta,
) -> VideoScore {
    let mut truth: HashMap<i64, Window> = HashMap::with_capacity(gt.len());
    for g in gt {
        truth.entry(g.frame).or_insert(g.window);
    }
    let mut used: HashSet<i64> = HashSet::with_capacity(preds.len());
    let (mut s, mut matched) = (0.0f64, 0usize);
    for raw in preds {
        let Ok(p) = parse_prediction(raw) else {
            continue;
        };
        if is_valid(&p, pred_ratio, meta).is_err() || !used.insert(p.frame) {
            continue;
        }
        if let Some(t) = truth.get(&p.frame) {
            s += iou(p.window, *t, pred_ratio, gt_ratio);
            matched += 1;
        }
    }
    let (n_pred, n_gt) = (preds.len(), gt.len());
    let total = (n_pred + n_gt) as f64;
    let f = match (n_pred, n_gt) {
        (0, 0) => 1.0,
        (0, _) | (_, 0) => 0.0,
        _ => 2.0 * s / total,
    };
    let temporal_f = if n_pred + n_gt == 0 {
        1.0
    } else {
        2.0 * matched as f64 / total
    };
    let crop_iou = if matched == 0 {
        1.0
    } else {
        s / matched as f64
    };
    VideoScore {
        video_id: video_id.to_owned(),
        f,
        n_pred,
        n_gt,
        s,
        matched,
        temporal_f,
        crop_iou,
    }
}

/// The result of scoring a prediction file against a ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// One entry per ground-truth video, in ground-truth order.
    pub videos: Vec<VideoScore>,
    /// 100 × the mean F over the ground-truth videos: THE score.
    pub score: f64,
    /// Mean `temporal_f` over all videos.
    pub mean_temporal_f: f64,
    /// Mean `crop_iou` over the videos with at least one matched frame (the 1.0 placeholder
    /// of the others would only inflate it); 1.0 when no video has one.
    pub mean_crop_iou: f64,
    /// Crop quality per split (source picture shape → target ratio), next to the centred
    /// window's on the same frames: whether framing beats the trivial answer, and where.
    pub splits: Vec<SplitScore>,
}

/// The shape of a source picture, for the per-split table: within 10 % of square is square.
pub fn shape_of(width: u32, height: u32) -> &'static str {
    let (w, h) = (f64::from(width), f64::from(height));
    if w > 1.1 * h {
        "landscape"
    } else if h > 1.1 * w {
        "portrait"
    } else {
        "square"
    }
}

/// Crop IoU of one split, over the matched frames of its videos (frame-weighted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitScore {
    /// `landscape→9:16` and the like.
    pub split: String,
    pub videos: usize,
    /// Matched frames the means are taken over.
    pub frames: usize,
    /// Mean IoU of the submitted windows on those frames.
    pub crop_iou: f64,
    /// Mean IoU of the centred largest window of the same ratio on the same frames.
    pub centred_iou: f64,
    /// Whether the window can move at all (false when it is the whole picture).
    pub moving: bool,
}

/// Per split, sums of the submitted and the centred window's IoU over matched frames.
fn split_scores(truth: &[GtVideo], submitted: &[(AspectRatio, Vec<Value>)]) -> Vec<SplitScore> {
    let mut acc: std::collections::BTreeMap<String, SplitScore> = std::collections::BTreeMap::new();
    for (g, (ratio, entries)) in truth.iter().zip(submitted) {
        let truth_of: HashMap<i64, Window> = g.windows.iter().map(|p| (p.frame, p.window)).collect();
        let size = crate::frame::geometry::largest_window(g.meta.width, g.meta.height, *ratio);
        let Some(size) = size else { continue };
        let (w, h) = (f64::from(g.meta.width), f64::from(g.meta.height));
        let centred = crate::frame::geometry::place(g.meta.width, g.meta.height, size, w / 2.0, h / 2.0);
        let slack = crate::frame::geometry::slack(g.meta.width, g.meta.height, size);
        let name = format!("{}→{}:{}", shape_of(g.meta.width, g.meta.height), ratio.w(), ratio.h());
        let e = acc.entry(name.clone()).or_insert(SplitScore { split: name, videos: 0, frames: 0, crop_iou: 0.0, centred_iou: 0.0, moving: false });
        e.moving |= slack.x_max > 0 || slack.y_max > 0;
        let mut used = HashSet::new();
        let mut any = false;
        for raw in entries {
            let Ok(p) = parse_prediction(raw) else { continue };
            if is_valid(&p, *ratio, g.meta).is_err() || !used.insert(p.frame) {
                continue;
            }
            if let Some(t) = truth_of.get(&p.frame) {
                e.crop_iou += iou(p.window, *t, *ratio, g.ratio);
                e.centred_iou += iou(centred, *t, *ratio, g.ratio);
                e.frames += 1;
                any = true;
            }
        }
        e.videos += usize::from(any);
    }
    acc.into_values()
        .filter(|s| s.frames > 0)
        .map(|mut s| {
            s.crop_iou /= s.frames as f64;
            s.centred_iou /= s.frames as f64;
            s
        })
        .collect()
}

/// Errors reading the metric's input files; each names the file and, for content, the
/// 1-based line and the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum MetricError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} line {line}: invalid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} line {line}: not a JSON object", path.display())]
    NotObject { path: PathBuf, line: usize },
    #[error("{} line {line}: `{field}` {problem}", path.display())]
    Field {
        path: PathBuf,
        line: usize,
        field: String,
        problem: String,
    },
    #[error("{} line {line}: video_id {video_id:?} already appears on line {first}", path.display())]
    DuplicateVideo {
        path: PathBuf,
        line: usize,
        video_id: String,
        first: usize,
    },
    #[error("{} line {line}: video {video_id:?} is not in the meta file", path.display())]
    MissingMeta {
        path: PathBuf,
        line: usize,
        video_id: String,
    },
    #[error("{}: holds no video, there is nothing to score", path.display())]
    NoVideos { path: PathBuf },
}

/// Reads a meta file: one `{"video_id", "width", "height", "frames", ...}` object a line
/// (extra fields ignored, blank lines skipped, a repeated video_id is an error).
pub fn load_meta(path: &Path) -> Result<HashMap<String, VideoMeta>, MetricError> {
    let mut out = HashMap::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (line, obj) in read_jsonl(path)? {
        let ctx = Ctx { path, line };
        let id = ctx.video_id(&obj)?;
        let width = ctx.u32_field(&obj, "width")?;
        let height = ctx.u32_field(&obj, "height")?;
        let frames = ctx.u64_field(&obj, "frames")?;
        if let Some(&first) = first_line.get(&id) {
            return Err(ctx.duplicate(id, first));
        }
        first_line.insert(id.clone(), line);
        out.insert(
            id,
            VideoMeta {
                width,
                height,
                frames,
            },
        );
    }
    Ok(out)
}

/// Scores the prediction JSONL at `pred_path` against the ground-truth JSONL at `gt_path`.
///
/// Videos are matched by their string `video_id`; the videos scored are the ground truth's,
/// in its order. A ground-truth video without a prediction line has no predictions; a
/// prediction line for a video absent from the ground truth is ignored with a warning. The
/// ground truth's `targetRatioWH` sizes its boxes; a prediction line's own `targetRatioWH`, if
/// present, sizes its boxes, else the ground truth's does. Errors (each naming file, line and
/// field): unreadable files or JSON, a line without a string `video_id`, a `predictions` field
/// missing or not an array, an invalid `targetRatioWH`, a repeated video_id, an unreadable
/// or repeated ground-truth frame, a ground-truth video missing from `meta`, a ground truth
/// without videos.
pub fn evaluate(
    pred_path: &Path,
    gt_path: &Path,
    meta: &HashMap<String, VideoMeta>,
) -> Result<EvalReport, MetricError> {
    let truth = read_gt(gt_path, meta)?;
    let index: HashMap<&str, usize> = truth
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.as_str(), i))
        .collect();
    let mut submitted: Vec<Option<Submitted>> = vec![None; truth.len()];
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (line, mut obj) in read_jsonl(pred_path)? {
        let ctx = Ctx {
            path: pred_path,
            line,
        };
        let id = ctx.video_id(&obj)?;
        let Some(&slot) = index.get(id.as_str()) else {
            tracing::warn!(
                "{} line {line}: video {id:?} is not in the ground truth {}, ignored",
                pred_path.display(),
                gt_path.display()
            );
            continue;
        };
        if let Some(&first) = first_line.get(&id) {
            return Err(ctx.duplicate(id, first));
        }
        first_line.insert(id, line);
        let ratio = match obj.get("targetRatioWH") {
            Some(v) => Some(ctx.ratio(v)?),
            None => None,
        };
        let entries = ctx.predictions(&mut obj)?;
        submitted[slot] = Some(Submitted { ratio, entries });
    }

    let submitted: Vec<(AspectRatio, Vec<Value>)> = truth
        .iter()
        .zip(submitted)
        .map(|(g, sub)| match sub {
            Some(s) => (s.ratio.unwrap_or(g.ratio), s.entries),
            None => (g.ratio, Vec::new()),
        })
        .collect();
    let videos: Vec<VideoScore> = truth
        .iter()
        .zip(&submitted)
        .map(|(g, (ratio, entries))| score_video(&g.id, entries, &g.windows, *ratio, g.ratio, g.meta))
        .collect();
    let mut report = summarise(videos);
    report.splits = split_scores(&truth, &submitted);
    Ok(report)
}

/// Builds the report from per-video scores (`videos` is never empty when called by
/// `evaluate`; an empty list gives a score of 0).
fn summarise(videos: Vec<VideoScore>) -> EvalReport {
    let n = videos.len().max(1) as f64;
    let score = 100.0 * videos.iter().map(|v| v.f).sum::<f64>() / n;
    let mean_temporal_f = videos.iter().map(|v| v.temporal_f).sum::<f64>() / n;
    let with_match: Vec<f64> = videos
        .iter()
        .filter(|v| v.matched > 0)
        .map(|v| v.crop_iou)
        .collect();
    let mean_crop_iou = if with_match.is_empty() {
        1.0
    } else {
        with_match.iter().sum::<f64>() / with_match.len() as f64
    };
    EvalReport {
        videos,
        score,
        mean_temporal_f,
        mean_crop_iou,
        splits: Vec::new(),
    }
}

/// Plain-text report. With `per_video`, a fixed-width table first (video, F, N_pred, N_gt, S,
/// matched, temporalF, cropIoU); then the means; the last line is always `score <x.xxx>`
/// (newline-terminated) so scripts can take it with `tail -n1`.
pub fn render_plain(r: &EvalReport, per_video: bool) -> String {
    let mut out = String::new();
    if per_video {
        let idw = r
            .videos
            .iter()
            .map(|v| v.video_id.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let _ = writeln!(
            out,
            "{:<idw$}  {:>6}  {:>7}  {:>7}  {:>10}  {:>7}  {:>9}  {:>7}",
            "video", "F", "N_pred", "N_gt", "S", "matched", "temporalF", "cropIoU"
        );
        for v in &r.videos {
            let _ = writeln!(
                out,
                "{:<idw$}  {:>6.4}  {:>7}  {:>7}  {:>10.3}  {:>7}  {:>9.4}  {:>7.4}",
                v.video_id, v.f, v.n_pred, v.n_gt, v.s, v.matched, v.temporal_f, v.crop_iou
            );
        }
    }
    if !r.splits.is_empty() {
        let _ = writeln!(out, "{:<18}  {:>6}  {:>7}  {:>7}  {:>8}  {:>6}", "split", "videos", "frames", "cropIoU", "centred", "gain");
        for s in &r.splits {
            let gain = if s.moving { format!("{:+.4}", s.crop_iou - s.centred_iou) } else { "fixed".into() };
            let _ = writeln!(out, "{:<18}  {:>6}  {:>7}  {:>7.4}  {:>8.4}  {:>6}", s.split, s.videos, s.frames, s.crop_iou, s.centred_iou, gain);
        }
    }
    let _ = writeln!(out, "videos {}", r.videos.len());
    let _ = writeln!(out, "mean temporal F {:.4}", r.mean_temporal_f);
    let _ = writeln!(out, "mean crop IoU {:.4}", r.mean_crop_iou);
    let _ = writeln!(out, "score {:.3}", r.score);
    out
}

/// The report as pretty-printed JSON.
pub fn render_json(r: &EvalReport) -> String {
    // Serialising plain strings and numbers into a String cannot fail; keep a JSON fallback
    // rather than a panic all the same.
    serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}

/// One ground-truth video, read and checked.
struct GtVideo {
    id: String,
    ratio: AspectRatio,
    windows: Vec<Prediction>,
    meta: VideoMeta,
}

/// One prediction line matched to a ground-truth video.
#[derive(Clone)]
struct Submitted {
    ratio: Option<AspectRatio>,
    entries: Vec<Value>,
}

fn read_gt(path: &Path, meta: &HashMap<String, VideoMeta>) -> Result<Vec<GtVideo>, MetricError> {
    let mut out = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (line, mut obj) in read_jsonl(path)? {
        let ctx = Ctx { path, line };
        let id = ctx.video_id(&obj)?;
        if let Some(&first) = first_line.get(&id) {
            return Err(ctx.duplicate(id, first));
        }
        first_line.insert(id.clone(), line);
        let ratio = match obj.get("targetRatioWH") {
            Some(v) => ctx.ratio(v)?,
            None => return Err(ctx.field("targetRatioWH", "is missing")),
        };
        let entries = ctx.predictions(&mut obj)?;
        let mut windows = Vec::with_capacity(entries.len());
        let mut frames = HashSet::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let p = parse_prediction(e).map_err(|m| ctx.field(&format!("predictions[{i}]"), &m))?;
            if !frames.insert(p.frame) {
                let problem = format!("repeats frame {}", p.frame);
                return Err(ctx.field(&format!("predictions[{i}]"), &problem));
            }
            windows.push(p);
        }
        let Some(&m) = meta.get(&id) else {
            return Err(MetricError::MissingMeta {
                path: path.to_owned(),
                line,
                video_id: id,
            });
        };
        out.push(GtVideo {
            id,
            ratio,
            windows,
            meta: m,
        });
    }
    if out.is_empty() {
        return Err(MetricError::NoVideos {
            path: path.to_owned(),
        });
    }
    Ok(out)
}

/// A JSONL line as an object, with its 1-based line number.
type Line = (usize, Map<String, Value>);

/// The non-blank lines of a JSONL file as objects.
fn read_jsonl(path: &Path) -> Result<Vec<Line>, MetricError> {
    let text = std::fs::read_to_string(path).map_err(|source| MetricError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(raw).map_err(|source| MetricError::Json {
            path: path.to_owned(),
            line,
            source,
        })?;
        match v {
            Value::Object(m) => out.push((line, m)),
            _ => {
                return Err(MetricError::NotObject {
                    path: path.to_owned(),
                    line,
                })
            }
        }
    }
    Ok(out)
}

/// Where in which file: builds the errors.
struct Ctx<'a> {
    path: &'a Path,
    line: usize,
}

impl Ctx<'_> {
    fn field(&self, field: &str, problem: &str) -> MetricError {
        MetricError::Field {
            path: self.path.to_owned(),
            line: self.line,
            field: field.to_owned(),
            problem: problem.to_owned(),
        }
    }

    fn duplicate(&self, video_id: String, first: usize) -> MetricError {
        MetricError::DuplicateVideo {
            path: self.path.to_owned(),
            line: self.line,
            video_id,
            first,
        }
    }

    fn video_id(&self, obj: &Map<String, Value>) -> Result<String, MetricError> {
        match obj.get("video_id") {
            None => Err(self.field("video_id", "is missing")),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.field("video_id", &format!("is not a string: {v}"))),
        }
    }

    fn ratio(&self, v: &Value) -> Result<AspectRatio, MetricError> {
        AspectRatio::from_json(v).map_err(|m| self.field("targetRatioWH", &m))
    }

    /// Takes the `predictions` array out of the line (it is not needed there afterwards).
    fn predictions(&self, obj: &mut Map<String, Value>) -> Result<Vec<Value>, MetricError> {
        match obj.remove("predictions") {
            None => Err(self.field("predictions", "is missing")),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(self.field("predictions", "is not an array")),
        }
    }

    fn u64_field(&self, obj: &Map<String, Value>, key: &str) -> Result<u64, MetricError> {
        match obj.get(key) {
            None => Err(self.field(key, "is missing")),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| self.field(key, &format!("is not a non-negative integer: {v}"))),
        }
    }

    fn u32_field(&self, obj: &Map<String, Value>, key: &str) -> Result<u32, MetricError> {
        let n = self.u64_field(obj, key)?;
        u32::try_from(n).map_err(|_| self.field(key, &format!("is too large: {n}")))
    }
}

#[cfg(test)]
mod tests;
