//! One video through every stage: decode → analyse (classical + networks) → select → frame.
//!
//! The analysis runs as a stream of frames ([`stream::FrameStream`]): a file is fed whole and
//! decided at its end; a camera's segments are fed as they are recorded and decided with a
//! bounded look-ahead ([`live::Live`]). Both go through the same per-frame code and the same
//! [`decide`].

pub mod live;
pub mod stream;

use stream::FrameStream;

use crate::analyse::audio::{AudioEvents, ClassMap};
use crate::analyse::nets::worker::SaliencyWorker;
use crate::analyse::nets::{Networks, Which};
use crate::analyse::subjects::{self, Subject};
use crate::analyse::{shots, FrameFeatures, NetCues};
use crate::config::{Config, EnginesConfig};
use crate::decode::{self, DecodeError, DecodeOptions, StreamInfo};
use crate::format::{AspectRatio, Prediction};
use crate::frame::{self, Canvas, ShotPlan};
use crate::infer::{InferError, Model, OrtModel, Runtime, Task};
use crate::select::{self, Selection};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::{info_span, warn};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{path}: neural networks: {source}")]
    Networks { path: std::path::PathBuf, source: InferError },
    /// The picture cannot hold a usable window of the target ratio (see
    /// [`frame::geometry::MIN_WINDOW_SIDE_PX`]).
    #[error("{path}: {source}")]
    Window { path: std::path::PathBuf, source: frame::geometry::WindowTooSmall },
}

/// Everything learnt about one video; the predictions are what the contest format needs,
/// the rest feeds crop metadata, reports and debugging.
#[derive(Debug, Clone)]
pub struct VideoResult {
    pub info: StreamInfo,
    pub features: Vec<FrameFeatures>,
    pub shots: Vec<std::ops::Range<usize>>,
    pub selection: Selection,
    pub plans: Vec<ShotPlan>,
    pub predictions: Vec<Prediction>,
    /// The networks' subject per analysed frame (frame index, subject), when they ran.
    pub subjects: Vec<(usize, Subject)>,
    /// Frames the image networks analysed.
    pub subjects_sampled: usize,
    /// Wall time the analysis spent inside the image networks or waiting for the saliency
    /// thread (the decoder and that thread keep running meanwhile).
    pub network_seconds: f64,
    pub audio: AudioEvents,
    pub seconds: f64,
}

pub fn decode_options(cfg: &Config) -> DecodeOptions {
    DecodeOptions {
        analysis_side: cfg.decode.analysis_side,
        audio: cfg.decode.audio,
        stall_timeout: Duration::from_secs(cfg.decode.stall_timeout_s),
        detail: None,
        deadline: None,
    }
}

/// One set of networks, loaded once and reused for video after video (see [`POOL`]).
struct Models {
    engines: EnginesConfig,
    nets: Networks,
    /// UNISAL, moved out of `nets` onto a thread of its own (see `analyse::nets::worker`).
    saliency: Option<SaliencyWorker>,
    audio: Option<(OrtModel, ClassMap)>,
    /// The learned highlight scorer, when the manifest has one and it is asked for.
    scorer: Option<OrtModel>,
}

impl Models {
    fn load(cfg: &EnginesConfig) -> Result<Models, InferError> {
        let rt = Runtime::open(&cfg.options())?;
        let mut nets = Networks::load(&rt, &cfg.models)?;
        let saliency = match nets.saliency.take() {
            Some(net) => Some(SaliencyWorker::spawn(net).map_err(|e| InferError::Session { model: "unisal".into(), message: format!("cannot start its thread: {e}") })?),
            None => None,
        };
        let audio = if cfg.models.contains(&Task::Audio) {
            let model = rt.load(Task::Audio)?;
            let map = ClassMap::in_engines(&rt.manifest.dir).map_err(|e| InferError::Session { model: "yamnet".into(), message: e.to_string() })?;
            Some((model, map))
        } else {
            None
        };
        // The scorer is optional even when asked for: without it the rules decide, as they
        // did before it existed (an engines folder built by an older release has none).
        let scorer = match cfg.models.contains(&Task::Scorer).then(|| rt.load(Task::Scorer)) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) if cfg.required => return Err(e),
            Some(Err(e)) => {
                warn!("highlight scorer unavailable ({e}); the rules decide");
                None
            }
            None => None,
        };
        Ok(Models { engines: cfg.clone(), nets, saliency, audio, scorer })
    }
}

/// The loaded network sets of the process, idle ones waiting to be reused.
///
/// Why a pool and not one set per thread: ONNX Runtime sessions run one inference at a time
/// here, so a video must have a set to itself, but the daemon has many threads that analyse
/// only now and then (the ingest jobs, and one moment cutter per camera, each waking once a
/// segment). Per thread, every camera kept a whole set of networks in memory for life; from a
/// pool, sets are only as many as the videos analysed *at once*, and a set loaded by one
/// thread serves the next. `predict --jobs N` still loads N (its workers run together).
static POOL: Mutex<Vec<Models>> = Mutex::new(Vec::new());
static LOADED_SETS: AtomicUsize = AtomicUsize::new(0);

static FALLBACK_WARNED: AtomicBool = AtomicBool::new(false);

/// How many sets of networks this process has loaded so far (one per video analysed at the
/// same time, at most; see [`POOL`]).
pub fn network_sets_loaded() -> usize {
    LOADED_SETS.load(Ordering::Relaxed)
}

/// An idle set for `cfg` from the pool (sets of another configuration are dropped: a
/// configuration change makes them useless), or `None` when all are busy.
fn take_idle(cfg: &EnginesConfig) -> Option<Models> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.retain(|m| m.engines == *cfg);
    pool.pop()
}

/// Runs `f` with a set of networks of its own (an idle one from the pool, or one loaded now,
/// given back afterwards), or with `None` when the configuration turns them off or they cannot
/// be loaded and are not required.
fn with_models<R>(cfg: &Config, path: &Path, f: impl FnOnce(Option<&mut Models>) -> Result<R, EngineError>) -> Result<R, EngineError> {
    if !cfg.engines.enabled || cfg.engines.models.is_empty() {
        return f(None);
    }
    let mut models = match take_idle(&cfg.engines) {
        Some(m) => m,
        None => match Models::load(&cfg.engines) {
            Ok(m) => {
                LOADED_SETS.fetch_add(1, Ordering::Relaxed);
                m
            }
            Err(e) if cfg.engines.required => return Err(EngineError::Networks { path: path.into(), source: e }),
            Err(e) => {
                if !FALLBACK_WARNED.swap(true, Ordering::Relaxed) {
                    warn!("neural networks unavailable ({e}); continuing with the classical pipeline only (set [engines] required = true to fail instead)");
                }
                return f(None);
            }
        },
    };
    let out = f(Some(&mut models));
    // Back to the pool whatever the video's outcome: a failed video says nothing against the
    // networks (a panic in `f` drops the set instead, never handing on a half-used one).
    POOL.lock().unwrap_or_else(|e| e.into_inner()).push(models);
    out
}

/// Below this frame rate the detail pictures come slower than `sample_fps` asks for.
const LOW_FPS: f64 = 10.0;

/// How many detail (network) frames arrive per second of video. Normally `sample_fps`; but a
/// video slower than that gives a detail picture on every frame (the step has a floor of
/// one frame), so they arrive at the video's own rate. Only applied under [`LOW_FPS`], so
/// 25/30 fps results stay exactly what they were.
fn detail_rate(engines: &EnginesConfig, video_fps: f64) -> f64 {
    if video_fps.is_finite() && video_fps > 0.0 && video_fps < LOW_FPS {
        engines.sample_fps.min(video_fps)
    } else {
        engines.sample_fps
    }
}

/// Which networks run on detail frame `k`, when detail frames arrive at `rate` per second:
/// each network's step in detail frames comes from its rate in time (`saliency_fps`,
/// `text_fps`), with a floor of one frame. Time-based so a 1 fps video gets saliency on every
/// frame, not every 2 s, and text every second, not every 5 s.
fn schedule(engines: &EnginesConfig, rate: f64, k: u64) -> Which {
    let step = |fps: f64| (rate / fps.max(1e-3)).round().max(1.0) as u64;
    Which { face: true, person: true, saliency: k.is_multiple_of(step(engines.saliency_fps)), text: k.is_multiple_of(step(engines.text_fps)) }
}

/// Processes one video for one target ratio.
pub fn process_video(path: &Path, ratio: AspectRatio, cfg: &Config, progress: impl FnMut(u64)) -> Result<VideoResult, EngineError> {
    process_video_within(path, ratio, cfg, None, progress)
}

/// [`process_video`] with a whole-decode deadline (the daemon's; the command line has none:
/// someone is watching it).
pub fn process_video_within(path: &Path, ratio: AspectRatio, cfg: &Config, deadline: Option<decode::Deadline>, progress: impl FnMut(u64)) -> Result<VideoResult, EngineError> {
    with_models(cfg, path, |models| run(path, ratio, cfg, deadline, models, progress))
}

fn run(path: &Path, ratio: AspectRatio, cfg: &Config, deadline: Option<decode::Deadline>, mut models: Option<&mut Models>, progress: impl FnMut(u64)) -> Result<VideoResult, EngineError> {
    let _span = info_span!("video", path = %path.display()).entered();
    let started = Instant::now();
    let mut stream = FrameStream::new(cfg);
    stream.feed(path, cfg, deadline, models.as_deref_mut(), progress)?;
    let scorer = models.and_then(|m| m.scorer.as_mut());
    stream.finish(ratio, cfg, path, scorer.map(|s| s as &mut dyn Model), started)
}

/// The shots of a video from its features.
pub fn shots_of(features: &[FrameFeatures], fps: f64, cfg: &Config) -> Vec<std::ops::Range<usize>> {
    let distances: Vec<f32> = features.iter().map(|f| f.cut_distance).collect();
    let changes: Vec<f32> = features.iter().map(|f| f.change).collect();
    shots::detect(&distances, &changes, fps, &cfg.shots)
}

/// What was decided for one video from its analysis: which frames, and their windows.
#[derive(Debug, Clone)]
pub struct Decision {
    pub selection: Selection,
    pub predictions: Vec<Prediction>,
    pub plans: Vec<ShotPlan>,
}

/// Selection and framing from the per-frame features: everything after the decoder. Pure
/// but for the scorer network, so that `replay` reproduces `predict` from a feature dump.
/// Without a scorer (networks off, no model, or a failed run) the rules decide alone.
pub fn decide(features: &[FrameFeatures], shots: &[std::ops::Range<usize>], canvas: &Canvas, cfg: &Config, scorer: Option<&mut dyn Model>) -> Decision {
    let selection = choose(features, shots, canvas, cfg, scorer);
    let chosen: Vec<usize> = selection.frames().collect();
    let (predictions, plans) = frame::frame_video(features, shots, &chosen, canvas, &cfg.framing);
    Decision { selection, predictions, plans }
}

/// The selection half of [`decide`]: which frames, without their windows.
fn choose(features: &[FrameFeatures], shots: &[std::ops::Range<usize>], canvas: &Canvas, cfg: &Config, scorer: Option<&mut dyn Model>) -> Selection {
    let learned = scorer.and_then(|m| match select::scorer::score_stages(m, features, shots, canvas.fps, f64::from(canvas.height) / f64::from(canvas.width.max(1))) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!("highlight scorer failed ({e}); the rules decide alone");
            None
        }
    });
    let crop_iou = frame::expected_iou(features, shots, canvas);
    let mut selection = select::select(features, shots, &crop_iou, canvas.fps, &cfg.select, learned.as_ref());
    if let Some(s) = learned {
        selection.p1 = s.p1;
    }
    selection
}

/// Puts the networks' cues into every frame: each frame takes the nearest analysed frame of
/// its own shot (a cut changes what is seen), or the nearest of any shot when its shot had
/// none (a shot shorter than the sampling step).
fn apply_net_cues(features: &mut [FrameFeatures], shots: &[std::ops::Range<usize>], seen: &[(usize, NetCues)]) {
    if seen.is_empty() {
        return;
    }
    // `seen` is in frame order: binary searches keep this linear in the frames.
    let idx: Vec<usize> = seen.iter().map(|&(k, _)| k).collect();
    let nearest = |i: usize, lo: usize, hi: usize| -> Option<NetCues> {
        let (a, b) = (idx.partition_point(|&k| k < lo), idx.partition_point(|&k| k < hi));
        let p = a + idx[a..b].partition_point(|&k| k < i);
        [p.checked_sub(1).filter(|&q| q >= a), (p < b).then_some(p)].into_iter().flatten().min_by_key(|&q| idx[q].abs_diff(i)).map(|q| seen[q].1)
    };
    for shot in shots {
        for i in shot.clone() {
            let cues = nearest(i, shot.start, shot.end).or_else(|| nearest(i, 0, usize::MAX));
            if let (Some(c), Some(f)) = (cues, features.get_mut(i)) {
                f.nets = c;
            }
        }
    }
}

/// Puts the networks' subjects into the per-frame features, shot by shot: between two
/// analysed frames of a shot the subject is interpolated; frames of a shot the networks saw
/// nothing in keep the classical subject.
fn apply_subjects(features: &mut [FrameFeatures], shots: &[std::ops::Range<usize>], seen: &[(usize, Subject)], every: usize) {
    fill_shots(features, shots, seen, every, |f, s| {
        f.subject_x = s.x;
        f.subject_y = s.y;
        f.subject_evidence = s.evidence;
        f.subject_size = subjects::presence(s);
        f.subject_area = s.area;
    });
}

/// Fills each shot's frames with framing's aim, as [`apply_subjects`] fills the subject.
fn apply_aims(features: &mut [FrameFeatures], shots: &[std::ops::Range<usize>], seen: &[(usize, Subject)], every: usize) {
    fill_shots(features, shots, seen, every, |f, s| f.aim = Some(crate::analyse::Aim { x: s.x, y: s.y, evidence: s.evidence }));
}

/// Interpolates `seen` (stream frame, subject) within each shot and hands every frame it
/// covers to `put`; shots with nothing seen are left alone.
fn fill_shots(features: &mut [FrameFeatures], shots: &[std::ops::Range<usize>], seen: &[(usize, Subject)], every: usize, put: impl Fn(&mut FrameFeatures, &Subject)) {
    for shot in shots {
        let local: Vec<(usize, Subject)> = seen.iter().filter(|(i, _)| shot.contains(i)).map(|&(i, s)| (i - shot.start, s)).collect();
        if local.is_empty() {
            continue;
        }
        for (k, s) in subjects::interpolate(&local, shot.len(), every).into_iter().enumerate() {
            if let (Some(s), Some(f)) = (s, features.get_mut(shot.start + k)) {
                put(f, &s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Detail frames among the first `n` on which (saliency, text) run.
    fn runs(rate: f64, n: u64) -> (usize, usize) {
        let e = EnginesConfig::default();
        let w: Vec<Which> = (0..n).map(|k| schedule(&e, rate, k)).collect();
        (w.iter().filter(|w| w.saliency).count(), w.iter().filter(|w| w.text).count())
    }

    #[test]
    fn networks_sample_by_time_even_at_very_low_frame_rates() {
        let e = EnginesConfig::default();
        // Normal rates: unchanged, detail frames at sample_fps (5/s): saliency (2.5/s) every
        // 2nd, text (0.5/s) every 10th.
        for fps in [10.0, 24.0, 25.0, 30.0, 60.0] {
            assert_eq!(detail_rate(&e, fps), e.sample_fps);
        }
        assert_eq!(runs(detail_rate(&e, 25.0), 10), (5, 1));
        assert_eq!(runs(detail_rate(&e, 25.0), 20), (10, 2));
        // 1 fps: every frame is a detail frame, one a second; saliency (2.5/s) wants more
        // than that, so it runs on every frame (floor of one frame); text every 2nd (0.5/s).
        assert_eq!(detail_rate(&e, 1.0), 1.0);
        assert_eq!(runs(detail_rate(&e, 1.0), 10), (10, 5));
        // 0.2 fps: the same, never a step of zero.
        assert_eq!(runs(detail_rate(&e, 0.2), 4), (4, 4));
        // 4 fps: detail frames at 4/s; saliency every 2nd (1.6 rounds to 2), text every 8th.
        assert_eq!(runs(detail_rate(&e, 4.0), 16), (8, 2));
        // An unreadable rate falls back to the normal schedule.
        assert_eq!(detail_rate(&e, f64::NAN), e.sample_fps);
    }
}
