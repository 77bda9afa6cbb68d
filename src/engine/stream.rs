//! The per-frame analysis as a stream: one core for files and for cameras.
//!
//! Frames go in one at a time, from one decoded file after another, and the state that spans
//! frames carries on from file to file: the cut detector's previous picture, the networks'
//! sampling schedule, the subject tracker, the features themselves. `predict` and the ingest
//! jobs feed it one whole file and decide at its end ([`FrameStream::finish`]): a file is a
//! stream with unlimited look-ahead. A camera feeds it each recorded segment as it is
//! finalised and decides with a bounded look-ahead and a bounded history
//! ([`super::live::Live`]), so a moment is judged against the minute around it rather than
//! against its own few seconds.

use super::{apply_aims, apply_net_cues, apply_subjects, choose, decide, decode_options, detail_rate, schedule, shots_of, Decision, EngineError, Models, VideoResult};
use crate::select::Selection;
use crate::analyse::audio::{AudioEvents, AudioTagger};
use crate::analyse::nets::worker::{Picture, Reorder, SaliencyWorker};
use crate::analyse::nets::{FrameDetections, Which};
use crate::analyse::subjects::{self, Subject, SubjectParams};
use crate::analyse::image::Plane;
use crate::analyse::{Analyser, FrameFeatures, NetCues};
use crate::config::Config;
use crate::decode::{self, DetailOptions, StreamInfo};
use crate::format::AspectRatio;
use crate::frame::{self, Canvas};
use crate::infer::{InferError, Model};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::time::Instant;
use tracing::warn;

/// Where a sampled frame's network results go: its frame number and its place in the stream
/// (both counted from the stream's first frame), and whether a shot cut came since the
/// previous sample (the subject then starts afresh instead of continuing the previous one).
#[derive(Clone, Copy, Debug)]
struct Tag {
    frame: usize,
    pos: usize,
    cut_before: bool,
}

/// The networks' results of each sampled frame, taken in frame order, turned into the
/// subject and the cues the selection reads, and the aim framing follows.
struct Fused {
    params: SubjectParams,
    prev: Option<(f32, f32)>,
    last_spread: f32,
    subjects: Vec<(usize, Subject)>,
    cues: Vec<(usize, NetCues)>,
    /// The aim's own continuity: it follows its previous aim, not the subject.
    prev_aim: Option<(f32, f32)>,
    aims: Vec<(usize, Subject)>,
    /// The scene's motion map at each sampled frame still waiting for its saliency map.
    motion: HashMap<usize, Plane>,
}

impl Fused {
    fn new(params: SubjectParams) -> Self {
        Fused { params, prev: None, last_spread: 1.0, subjects: Vec::new(), cues: Vec::new(), prev_aim: None, aims: Vec::new(), motion: HashMap::new() }
    }

    /// A new scene: neither subject nor aim continues the previous one.
    fn cut(&mut self) {
        self.prev = None;
        self.prev_aim = None;
    }

    /// `features[0]` is the stream's frame `base`.
    fn add(&mut self, tag: Tag, dets: &FrameDetections, features: &mut [FrameFeatures], base: usize) {
        if tag.cut_before {
            self.cut();
        }
        let mut cues = NetCues::from_detections(dets, self.params.saliency_power);
        // UNISAL runs on every other sample: hold its last spread between.
        if dets.saliency.is_none() {
            cues.spread = self.last_spread;
        }
        self.last_spread = cues.spread;
        self.cues.push((tag.frame, cues));
        if let Some(s) = subjects::fuse(dets, self.prev, &self.params) {
            self.prev = Some((s.x, s.y));
            self.subjects.push((tag.frame, s));
            if let Some(f) = tag.pos.checked_sub(base).and_then(|p| features.get_mut(p)) {
                f.subject_size = subjects::presence(&s);
            }
        }
        let motion = self.motion.remove(&tag.frame);
        let map = match (&dets.saliency, motion) {
            (Some(map), Some(motion)) if self.params.aim_by_motion => Some(subjects::weigh_by_motion(map, &motion, self.params.motion_floor)),
            (map, _) => map.clone(),
        };
        if let Some(a) = subjects::fuse(&subjects::for_aim(dets, map, &self.params), self.prev_aim, &self.params) {
            self.prev_aim = Some((a.x, a.y));
            self.aims.push((tag.frame, a));
        }
    }

    /// Forgets what came before the stream's frame `first`.
    fn forget_before(&mut self, first: usize) {
        self.subjects.retain(|&(i, _)| i >= first);
        self.cues.retain(|&(i, _)| i >= first);
        self.aims.retain(|&(i, _)| i >= first);
        self.motion.retain(|&i, _| i >= first);
    }

    /// Takes back everything from the stream's frame `first` on.
    fn truncate(&mut self, first: usize) {
        self.subjects.retain(|&(i, _)| i < first);
        self.cues.retain(|&(i, _)| i < first);
        self.aims.retain(|&(i, _)| i < first);
        self.motion.retain(|&i, _| i < first);
    }
}

/// Hands the saliency worker's answers to the frames waiting for them: those ready now, or
/// with `wait` every one still due. A failed map ends the networks for this video, as a
/// failed detector does: the frames still waiting are dropped, like the failed one.
fn collect_maps(worker: Option<&mut SaliencyWorker>, waiting: &mut Reorder<Tag>, net_error: &mut Option<InferError>, wait: bool) {
    let Some(w) = worker else { return };
    while waiting.wants_map() {
        match if wait { w.answer() } else { w.try_answer() } {
            Some(Ok(map)) => {
                waiting.map_arrived(map);
            }
            Some(Err(e)) => {
                net_error.get_or_insert(e);
                waiting.drain().for_each(drop);
            }
            None => break,
        }
    }
}

/// What one file fed into the stream added.
#[derive(Debug, Clone)]
pub struct Fed {
    pub info: StreamInfo,
    /// The stream's frames this file gave.
    pub frames: Range<usize>,
}

/// The analysis of a stream of frames; see the module documentation.
pub struct FrameStream {
    analyser: Analyser,
    /// Features of the frames kept (the window): `features[0]` is the stream's frame `base`.
    features: Vec<FrameFeatures>,
    base: usize,
    fused: Fused,
    /// Networks' frame counter (their schedule runs on it) across files.
    sample_k: u64,
    cut_since_sample: bool,
    /// Each file's audio events from the stream's frame it started at, with its frame rate.
    audio: Vec<(usize, f64, AudioEvents)>,
    /// Detail step in frames (1 without networks), as the last file was decoded.
    every: usize,
    network_seconds: f64,
    /// The last file's stream information.
    info: Option<StreamInfo>,
    /// Stream frames that start a new recording (after a gap): always a shot boundary.
    breaks: Vec<usize>,
}

impl FrameStream {
    pub fn new(cfg: &Config) -> Self {
        FrameStream {
            analyser: Analyser::new(cfg.shots.cut_distance),
            features: Vec::new(),
            base: 0,
            fused: Fused::new(cfg.subjects),
            sample_k: 0,
            cut_since_sample: false,
            audio: Vec::new(),
            every: 1,
            network_seconds: 0.0,
            info: None,
            breaks: Vec::new(),
        }
    }

    /// The next file does not follow the last one (a gap in a camera's recording: segments
    /// skipped, or the camera away): the frame-to-frame state starts afresh, as at the start
    /// of a file, and a shot starts there, so nothing compares pictures across the gap.
    pub fn break_here(&mut self) {
        let at = self.next_frame();
        if at == 0 {
            return;
        }
        self.analyser.restart();
        self.fused.cut();
        self.cut_since_sample = true;
        if self.breaks.last() != Some(&at) {
            self.breaks.push(at);
        }
    }

    /// The stream's frame the next one fed will be.
    pub fn next_frame(&self) -> usize {
        self.base + self.features.len()
    }

    /// Frame rate of the last file fed (25 before any).
    pub fn fps(&self) -> f64 {
        self.info.as_ref().map_or(25.0, |i| i.fps.max(1e-3))
    }

    /// Decodes `path` and analyses every frame, the networks' results included (all of them:
    /// the saliency maps still due are waited for before it returns).
    pub(super) fn feed(&mut self, path: &Path, cfg: &Config, deadline: Option<decode::Deadline>, mut models: Option<&mut Models>, mut progress: impl FnMut(u64)) -> Result<Fed, EngineError> {
        let mut opts = decode_options(cfg);
        opts.deadline = deadline;
        let mut rate = 0.0;
        if let Some(m) = models.as_deref() {
            let fps = decode::probe_stream(path).and_then(|(fps, _)| fps).filter(|f| f.is_finite() && *f > 0.0).unwrap_or(25.0);
            let every = (fps / m.engines.sample_fps).round().max(1.0) as u32;
            opts.detail = Some(DetailOptions { side: m.engines.detail_side, every });
            rate = detail_rate(&m.engines, fps);
        }
        self.every = opts.detail.map_or(1, |d| d.every as usize);
        let first = self.next_frame();
        let mut net_error: Option<InferError> = None;
        let (nets, mut worker, audio_model, engines) = match models.as_deref_mut() {
            Some(m) => (Some(&mut m.nets), m.saliency.as_mut(), m.audio.as_mut(), Some(m.engines.clone())),
            None => (None, None, None, None),
        };
        let mut nets = nets;
        if let Some(w) = worker.as_deref_mut() {
            w.settle();
        }
        let FrameStream { analyser, features, base, fused, sample_k, cut_since_sample, network_seconds, .. } = self;
        let base = *base;
        let decoded = {
            let mut waiting: Reorder<Tag> = Reorder::default();
            let mut on_frame = |f: decode::AnalysisFrame| {
                let feat = analyser.push(&f);
                *cut_since_sample |= feat.cut_distance > cfg.shots.cut_distance;
                let tag = Tag { frame: first + f.index as usize, pos: base + features.len(), cut_before: false };
                features.push(feat);
                if let (Some(n), Some(d), Some(e)) = (nets.as_deref_mut(), f.detail, engines.as_ref()) {
                    if net_error.is_none() {
                        let which = schedule(e, rate, *sample_k);
                        let t = Instant::now();
                        match n.analyse(&d.rgb, d.width, d.height, Which { saliency: false, ..which }) {
                            Ok(dets) => {
                                let needs_map = which.saliency && worker.as_deref_mut().is_some_and(|w| w.submit(Picture { rgb: d.rgb, width: d.width, height: d.height }));
                                // Only a frame whose saliency map framing will weigh pays for the motion map.
                                if let Some(m) = (needs_map && fused.params.aim_by_motion).then(|| analyser.motion_map()).flatten() {
                                    fused.motion.insert(tag.frame, m);
                                }
                                waiting.push(Tag { cut_before: std::mem::take(cut_since_sample), ..tag }, dets, needs_map);
                            }
                            Err(e) => net_error = Some(e),
                        }
                        collect_maps(worker.as_deref_mut(), &mut waiting, &mut net_error, false);
                        *network_seconds += t.elapsed().as_secs_f64();
                        while let Some((tag, dets)) = waiting.pop_ready() {
                            fused.add(tag, &dets, features, base);
                        }
                        *sample_k += 1;
                    }
                }
                progress(f.index + 1);
            };
            let decoded = match audio_model {
                Some((model, map)) if cfg.decode.audio => {
                    let mut tagger = AudioTagger::new(model, map.clone());
                    let mut audio_error = None;
                    let info = decode::decode_with_audio(path, &opts, &mut on_frame, |samples: &[f32]| {
                        if audio_error.is_none() {
                            if let Err(e) = tagger.push(samples) {
                                audio_error = Some(e);
                            }
                        }
                    })?;
                    let events = match audio_error {
                        None => tagger.finish(),
                        Some(e) => Err(e),
                    };
                    let events = events.unwrap_or_else(|e| {
                        warn!("audio events unavailable: {e}");
                        AudioEvents::default()
                    });
                    (info, events)
                }
                _ => (decode::decode(path, &opts, &mut on_frame)?, AudioEvents::default()),
            };
            // The last frames' maps.
            let t = Instant::now();
            collect_maps(worker.as_deref_mut(), &mut waiting, &mut net_error, true);
            *network_seconds += t.elapsed().as_secs_f64();
            for (tag, dets) in waiting.drain() {
                fused.add(tag, &dets, features, base);
            }
            decoded
        };
        let (info, audio) = decoded;
        if let Some(e) = net_error {
            if cfg.engines.required {
                return Err(EngineError::Networks { path: path.into(), source: e });
            }
            warn!("networks failed on this video ({e}); the classical subject is used from that frame on");
        }
        // An entry for every file, empty or not: a file without audio must not inherit the
        // previous file's last scores.
        self.audio.push((first, info.fps.max(1e-3), audio));
        self.info = Some(info.clone());
        Ok(Fed { info, frames: first..self.next_frame() })
    }

    /// The kept frames' features with everything learnt put in: the networks' subjects and
    /// cues (shot by shot, so they need the shots) and the audio scores. `shots` index the
    /// kept frames.
    fn completed(&self, shots: &[Range<usize>]) -> Vec<FrameFeatures> {
        let mut features = self.features.clone();
        let subjects: Vec<(usize, Subject)> = self.fused.subjects.iter().filter_map(|&(i, s)| Some((i.checked_sub(self.base)?, s))).collect();
        let cues: Vec<(usize, NetCues)> = self.fused.cues.iter().filter_map(|&(i, c)| Some((i.checked_sub(self.base)?, c))).collect();
        let aims: Vec<(usize, Subject)> = self.fused.aims.iter().filter_map(|&(i, s)| Some((i.checked_sub(self.base)?, s))).collect();
        apply_subjects(&mut features, shots, &subjects, self.every);
        apply_aims(&mut features, shots, &aims, self.every);
        apply_net_cues(&mut features, shots, &cues);
        for (k, (first, fps, events)) in self.audio.iter().enumerate() {
            if events.is_empty() {
                continue;
            }
            let end = self.audio.get(k + 1).map_or(usize::MAX, |a| a.0);
            for i in (*first).max(self.base)..end.min(self.next_frame()) {
                let s = events.at((i - first) as f64 / fps);
                if let Some(f) = features.get_mut(i - self.base) {
                    f.excitement = s.excitement();
                    f.speech = s.speech();
                }
            }
        }
        features
    }

    /// Which of the kept frames are highlights (`shots` index them): the selection of
    /// [`decide`] without the framing, which a camera's running decision does not need (its
    /// moments are framed when their clip is cut).
    pub(super) fn select_kept(&self, shots: &[Range<usize>], canvas: &Canvas, cfg: &Config, scorer: Option<&mut dyn Model>) -> Selection {
        choose(&self.completed(shots), shots, canvas, cfg, scorer)
    }

    /// Shots of the kept frames (frame indices into them).
    pub(super) fn shots(&self, cfg: &Config) -> Vec<Range<usize>> {
        let shots = shots_of(&self.features, self.fps(), cfg);
        let breaks: Vec<usize> = self.breaks.iter().filter_map(|&b| b.checked_sub(self.base)).collect();
        split_at(shots, &breaks)
    }

    /// Forgets the frames before the stream's frame `first` (a camera's history has a bound).
    pub(super) fn forget_before(&mut self, first: usize) {
        let n = first.saturating_sub(self.base).min(self.features.len());
        if n == 0 {
            return;
        }
        self.features.drain(..n);
        self.base += n;
        self.fused.forget_before(self.base);
        let base = self.base;
        self.breaks.retain(|&b| b > base);
        // A file's audio goes once the next file's frames are all that is left of its time.
        while self.audio.len() > 1 && self.audio[1].0 <= base {
            self.audio.remove(0);
        }
    }

    /// Takes back the frames from the stream's frame `first` on (a file that failed half-way
    /// adds nothing).
    pub(super) fn truncate(&mut self, first: usize) {
        self.features.truncate(first.saturating_sub(self.base));
        self.fused.truncate(first);
        self.audio.retain(|a| a.0 < first);
        self.breaks.retain(|&b| b < first);
    }

    /// Picture size of the last file fed.
    pub fn picture(&self) -> Option<(u32, u32)> {
        self.info.as_ref().map(|i| (i.width, i.height))
    }

    /// The stream's first kept frame.
    pub fn base(&self) -> usize {
        self.base
    }

    /// Decides over everything fed (unlimited look-ahead): what `predict` gives for a file.
    pub(super) fn finish(self, ratio: AspectRatio, cfg: &Config, path: &Path, scorer: Option<&mut dyn Model>, started: Instant) -> Result<VideoResult, EngineError> {
        let info = self.info.clone().ok_or_else(|| EngineError::Decode(decode::DecodeError::NoVideo { path: path.into() }))?;
        let shots = self.shots(cfg);
        let canvas = Canvas { width: info.width, height: info.height, fps: info.fps, ratio };
        // Before any selection: "done" with degenerate or no windows would hide the problem.
        frame::geometry::usable_window(canvas.width, canvas.height, ratio).map_err(|source| EngineError::Window { path: path.into(), source })?;
        let features = self.completed(&shots);
        let decision = decide(&features, &shots, &canvas, cfg, scorer);
        let Decision { selection, predictions, plans } = decision;
        let FrameStream { fused, sample_k, network_seconds, mut audio, .. } = self;
        let audio = audio.pop().map(|(_, _, a)| a).unwrap_or_default();
        Ok(VideoResult { info, features, shots, selection, plans, predictions, subjects: fused.subjects, subjects_sampled: sample_k as usize, network_seconds, audio, seconds: started.elapsed().as_secs_f64() })
    }
}

/// `shots` (contiguous, in order) cut at every frame of `breaks` that falls inside one.
fn split_at(shots: Vec<Range<usize>>, breaks: &[usize]) -> Vec<Range<usize>> {
    if breaks.is_empty() {
        return shots;
    }
    let mut out = Vec::with_capacity(shots.len() + breaks.len());
    for s in shots {
        let mut start = s.start;
        for &b in breaks.iter().filter(|&&b| b > s.start && b < s.end) {
            out.push(start..b);
            start = b;
        }
        out.push(start..s.end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_break_cuts_the_shot_it_falls_in() {
        assert_eq!(split_at(vec![0..10, 10..30], &[5, 10, 20, 40]), vec![0..5, 5..10, 10..20, 20..30]);
        assert_eq!(split_at(vec![0..10], &[]), vec![0..10]);
    }

    proptest! {
        #[test]
        fn breaks_keep_every_frame_and_every_cut(cuts in proptest::collection::btree_set(1usize..300, 0..8), breaks in proptest::collection::btree_set(0usize..320, 0..6)) {
            let mut b = vec![0usize];
            b.extend(cuts);
            b.push(300);
            let shots: Vec<Range<usize>> = b.windows(2).map(|w| w[0]..w[1]).collect();
            let breaks: Vec<usize> = breaks.into_iter().collect();
            let out = split_at(shots.clone(), &breaks);
            prop_assert_eq!(out.first().map(|r| r.start), Some(0));
            prop_assert_eq!(out.last().map(|r| r.end), Some(300));
            for w in out.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start);
            }
            prop_assert!(out.iter().all(|r| !r.is_empty()));
            for s in &shots {
                prop_assert!(out.iter().any(|r| r.start == s.start));
            }
            for &k in breaks.iter().filter(|&&k| k > 0 && k < 300) {
                prop_assert!(out.iter().any(|r| r.start == k));
            }
        }
    }
}
