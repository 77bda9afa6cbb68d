//! From finalised segments to highlight moments, clips and events.
//!
//! Every finalised segment is fed into the camera's [`Live`] stream: the same per-frame
//! analysis and the same decision that `predict` runs on a file (see [`crate::engine::live`]),
//! carried on from segment to segment and decided with a bounded look-ahead
//! ([`look_ahead_s`]) over the last minute of the stream. The decided highlight runs scoring
//! at least [`MIN_SCORE`] become moment pieces in wall-clock time ([`Timeline`]). Pieces closer
//! than [`JOIN_MS`] are one moment: a moment that reaches the end of what is decided stays
//! open until the next decision shows whether it goes on. A closed moment is cut into a clip
//! by joining its segments (plus `clip_margin_s`) without re-encoding, the clip goes through
//! the engine again for its predictions and crop metadata (one line per target ratio), with
//! `render = true` its reframed short is rendered per ratio (the [`crate::render`] that
//! `highlightd render` uses), and a `highlight` event is published.
//!
//! When the analysis falls behind (the box is too slow for the stream, or busy with other
//! cameras and the ingest folder), it skips whole segments rather than decide ever later:
//! a segment that ended more than [`max_lag_s`] ago (what `decision_delay_s` leaves after a
//! segment and the look-ahead) while a newer one waits is not analysed, and its frames are
//! counted as `dropped` (the recording keeps them all; only the analysis misses them); the
//! next segment analysed starts the stream afresh, as after any gap. See [`behind`].
//!
//! Joining copies the compressed frames, never re-encodes (see [`super::clip`]): MPEG-TS
//! segments are concatenated, MP4 segments remuxed into one MP4.

use super::clip;
use super::config::{CameraConfig, SegmentFormat};
use super::record::{now_ms, Finalised};
use super::retention::{self, Pins};
use super::supervisor::{ms_time, Shared};
use crate::config::Config;
use crate::engine;
use crate::engine::live::{Decided, Horizon, Live};
use crate::format::AspectRatio;
use crate::render;
use crate::status::payload::rfc3339;
use crate::status::CameraSink;
use crate::write::{self, metadata};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use tracing::{info, warn};

/// Least mean highlight probability of a selected run for it to count as a moment.
pub const MIN_SCORE: f64 = 0.5;
/// Pieces closer than this (ms) belong to one moment.
pub const JOIN_MS: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum MomentError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("engine: {0}")]
    Engine(#[from] engine::EngineError),
    #[error("clip: {0}")]
    Clip(#[from] clip::ClipError),
}

fn io(path: &Path, e: impl std::fmt::Display) -> MomentError {
    MomentError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// A moment in wall-clock time (UTC ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moment {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Sum of per-frame probability over its frames, and the frame count (the score is the
    /// mean).
    pub p_sum: f64,
    pub frames: u64,
}

impl Moment {
    pub fn score(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.p_sum / self.frames as f64
        }
    }
}

/// Joins pieces into moments across segments. Pure: fed the pieces of each segment in order,
/// returns the moments that closed.
#[derive(Debug, Default)]
pub struct Assembler {
    open: Option<Moment>,
}

impl Assembler {
    /// The pieces of one segment `[seg_start, seg_end]`, in order.
    pub fn segment(&mut self, seg_start: u64, seg_end: u64, pieces: &[Moment]) -> Vec<Moment> {
        let mut closed = Vec::new();
        // The previous segment's open moment does not go on if this segment starts late
        // (a gap in the recording) or starts without a piece at its beginning.
        if let Some(m) = self.open {
            let continues = pieces.first().is_some_and(|p| p.start_ms <= m.end_ms + JOIN_MS && p.start_ms <= seg_start + JOIN_MS);
            if !continues {
                closed.push(m);
                self.open = None;
            }
        }
        for p in pieces {
            match &mut self.open {
                Some(m) if p.start_ms <= m.end_ms + JOIN_MS => {
                    m.end_ms = m.end_ms.max(p.end_ms);
                    m.p_sum += p.p_sum;
                    m.frames += p.frames;
                }
                _ => {
                    if let Some(m) = self.open.take() {
                        closed.push(m);
                    }
                    self.open = Some(*p);
                }
            }
        }
        if let Some(m) = self.open {
            if m.end_ms + JOIN_MS < seg_end {
                closed.push(m);
                self.open = None;
            }
        }
        closed
    }

    /// Start of the moment still open, if any.
    pub fn open_start(&self) -> Option<u64> {
        self.open.map(|m| m.start_ms)
    }

    /// At stop: the moment still open, if any.
    pub fn finish(&mut self) -> Option<Moment> {
        self.open.take()
    }
}

/// How far past a frame the camera's stream is analysed before the frame is decided: what is
/// left of `decision_delay_s` once a segment has been recorded (`segment_s`), analysed
/// (allowed as long again) and the 1 s that tells a moment has ended ([`JOIN_MS`]) has
/// passed; at most one segment, at least nothing.
pub fn look_ahead_s(decision_delay_s: f64, segment_s: f64) -> f64 {
    (decision_delay_s - 2.0 * segment_s - JOIN_MS as f64 / 1000.0).clamp(0.0, segment_s.max(0.0))
}

/// How late (s after its end) a segment's analysis may start before the segment is skipped
/// when a newer one waits: the decision on its frames comes a look-ahead (and the segment
/// after it) later, so what is left of `decision_delay_s` after one segment and the
/// look-ahead; at least one segment (the configuration check keeps the delay at two).
pub fn max_lag_s(decision_delay_s: f64, segment_s: f64) -> f64 {
    (decision_delay_s - segment_s - look_ahead_s(decision_delay_s, segment_s)).max(segment_s)
}

/// The stream's frames of one analysed segment and its wall-clock span.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    frames: std::ops::Range<usize>,
    start_ms: u64,
    end_ms: u64,
}

/// Where the camera stream's frames are in wall-clock time: segment by segment, each
/// segment's frames spread evenly over its span (a segment's clock is the recorder's, its
/// frame count the decoder's; the two need not agree on the frame rate). Pure.
#[derive(Debug, Default)]
pub struct Timeline {
    spans: VecDeque<Span>,
}

impl Timeline {
    /// The segment whose frames are the stream's `frames`, recorded over `[start_ms, end_ms]`.
    pub fn push(&mut self, frames: std::ops::Range<usize>, start_ms: u64, end_ms: u64) {
        if !frames.is_empty() {
            self.spans.push_back(Span { frames, start_ms, end_ms: end_ms.max(start_ms) });
        }
    }

    /// Wall-clock time of the stream's frame `i` (of the end of the last frame when `i` is
    /// just past a segment's frames and no segment follows).
    pub fn ms(&self, i: usize) -> Option<u64> {
        let s = self.spans.iter().find(|s| s.frames.contains(&i)).or_else(|| self.spans.iter().find(|s| s.frames.end == i))?;
        Some(Self::within(s, i))
    }

    fn within(s: &Span, i: usize) -> u64 {
        let (a, b) = (s.frames.start as u64, s.frames.end as u64);
        s.start_ms + (i as u64).clamp(a, b).saturating_sub(a) * (s.end_ms - s.start_ms) / (b - a).max(1)
    }

    /// The decided runs as moment pieces in wall-clock time, cut at segment bounds (a piece
    /// never spans a gap in the recording) and kept when their mean probability reaches
    /// [`MIN_SCORE`].
    pub fn pieces(&self, d: &Decided) -> Vec<Moment> {
        let mut out = Vec::new();
        for r in &d.runs {
            let mean = r.p_sum / r.frames.len().max(1) as f64;
            if mean < MIN_SCORE {
                continue;
            }
            for s in &self.spans {
                let (a, b) = (r.frames.start.max(s.frames.start), r.frames.end.min(s.frames.end));
                if a < b {
                    out.push(Moment { start_ms: Self::within(s, a), end_ms: Self::within(s, b), p_sum: mean * (b - a) as f64, frames: (b - a) as u64 });
                }
            }
        }
        out
    }

    /// Forgets the segments wholly before the stream's frame `first`.
    pub fn forget_before(&mut self, first: usize) {
        while self.spans.front().is_some_and(|s| s.frames.end <= first) {
            self.spans.pop_front();
        }
    }
}

/// Whether the analysis, about to start on a segment that ended `lag_ms` ago, is so far behind
/// that it should skip it: only when a newer segment already waits (the newest is always
/// analysed) and the decision could no longer come within `max_lag_ms`.
pub fn behind(lag_ms: u64, newer_waiting: bool, max_lag_ms: u64) -> bool {
    newer_waiting && lag_ms > max_lag_ms
}

/// One camera's analysis thread.
pub struct Analyst {
    pub cam: CameraConfig,
    pub cfg: Config,
    pub segments_dir: PathBuf,
    /// `<serve.output_dir>/cameras/<name>`.
    pub out_dir: PathBuf,
    pub sink: CameraSink,
    pub pins: Pins,
    pub shared: Arc<Shared>,
    pub rx: Receiver<Finalised>,
}

impl Analyst {
    /// Runs until the supervisor hangs up (it stopped).
    pub fn run(self) {
        let _span = tracing::info_span!("camera", name = %self.cam.name).entered();
        let mut asm = Assembler::default();
        let margin = (self.cam.clip_margin_s * 1000.0) as u64;
        let mut open_pin: Option<retention::PinGuard> = None;
        let ratio = self.ratios().first().copied().unwrap_or(AspectRatio::PORTRAIT);
        let look_ahead = look_ahead_s(self.cam.decision_delay_s, self.cam.recording.segment_s);
        let mut live = Live::new(&self.cfg, ratio, Horizon::with_look_ahead(look_ahead));
        let mut timeline = Timeline::default();
        // End of the last segment fed: the next one follows on unless it starts later.
        let mut fed_until: Option<u64> = None;
        let max_lag_ms = (max_lag_s(self.cam.decision_delay_s, self.cam.recording.segment_s) * 1000.0) as u64;
        let mut backlog: VecDeque<Finalised> = VecDeque::new();
        let mut skipped_in_a_row = 0u64;
        loop {
            if backlog.is_empty() {
                match self.rx.recv() {
                    Ok(s) => backlog.push_back(s),
                    Err(_) => break,
                }
            }
            backlog.extend(self.rx.try_iter());
            let Some(seg) = backlog.pop_front() else { continue };
            let lag = now_ms().saturating_sub(seg.end_ms);
            if behind(lag, !backlog.is_empty(), max_lag_ms) {
                self.shared.dropped_frames.fetch_add(seg.frames, Ordering::Relaxed);
                if skipped_in_a_row == 0 {
                    warn!(lag_s = format!("{:.1}", lag as f64 / 1000.0), waiting = backlog.len(), "analysis behind the stream: skipping segments (their frames count as dropped; the recording keeps them)");
                }
                skipped_in_a_row += 1;
                continue;
            }
            if skipped_in_a_row > 0 {
                info!(skipped = skipped_in_a_row, "analysis caught up");
                skipped_in_a_row = 0;
            }
            // Pinned from analysis on: a moment ending here will need this segment.
            let _pin = self.pins.pin(seg.start_ms, seg.end_ms);
            let follows = fed_until.is_some_and(|end| seg.start_ms <= end + JOIN_MS);
            fed_until = Some(seg.end_ms);
            match live.segment(&seg.path, &self.cfg, follows) {
                Ok((fed, decided)) => {
                    timeline.push(fed.frames, seg.start_ms, seg.end_ms);
                    self.settle(&mut asm, &mut timeline, &decided);
                }
                Err(e) => warn!(segment = %seg.path.display(), "analysis failed: {e}"),
            }
            self.shared.analysed_frames.fetch_add(seg.frames, Ordering::Relaxed);
            // A moment still open needs its segments (and the margin before it) when it
            // closes, and so may the frames not decided yet, whatever the quota says
            // meanwhile: pinned from the earlier of the two on.
            let pending = [asm.open_start(), timeline.ms(live.undecided())].into_iter().flatten().min();
            open_pin = pending.map(|start| self.pins.pin(start.saturating_sub(margin), u64::MAX));
        }
        // Stopping: the frames still waiting for their look-ahead are decided now.
        match live.finish(&self.cfg, Path::new(&self.cam.name)) {
            Ok(decided) => self.settle(&mut asm, &mut timeline, &decided),
            Err(e) => warn!("analysis of the last frames failed: {e}"),
        }
        if let Some(m) = asm.finish() {
            self.emit(m);
        }
        drop(open_pin);
    }

    /// Turns what a decision settled into moments, and emits those that closed.
    fn settle(&self, asm: &mut Assembler, timeline: &mut Timeline, decided: &Decided) {
        if decided.frames.is_empty() {
            return;
        }
        let (Some(from), Some(to)) = (timeline.ms(decided.frames.start), timeline.ms(decided.frames.end)) else { return };
        for m in asm.segment(from, to, &timeline.pieces(decided)) {
            self.emit(m);
        }
        timeline.forget_before(decided.frames.end);
    }

    fn ratios(&self) -> Vec<AspectRatio> {
        self.cam.target_ratios.iter().filter_map(|r| AspectRatio::new(r[0], r[1])).collect()
    }

    /// Cuts the clip, writes its predictions and crop metadata, publishes the event.
    fn emit(&self, m: Moment) {
        let margin = (self.cam.clip_margin_s * 1000.0) as u64;
        let (from, to) = (m.start_ms.saturating_sub(margin), m.end_ms + margin);
        let _pin = self.pins.pin(from, to);
        let ext = self.cam.recording.format.extension();
        let segs: Vec<retention::Segment> = retention::list(&self.segments_dir, ext).into_iter().filter(|s| s.start_ms <= to && from <= s.end_ms).collect();
        let stem = format!("{}-{}", m.start_ms, m.end_ms);
        let (clip, outputs) = if !segs.is_empty() {
            match self.clip(&segs, &stem) {
                Ok((clip, outputs)) => (Some(clip), outputs),
                Err(e) => {
                    warn!("cannot cut the clip of moment {stem}: {e}");
                    (None, Vec::new())
                }
            }
        } else {
            (None, Vec::new())
        };
        let decided = now_ms();
        let delay_s = decided.saturating_sub(m.end_ms) as f64 / 1000.0;
        if delay_s > self.cam.decision_delay_s {
            warn!(delay_s = format!("{delay_s:.1}"), "moment decided later than decision_delay_s ({} s): the analysis does not keep up", self.cam.decision_delay_s);
        }
        let v = json!({
            "camera": self.cam.name,
            "start": rfc3339(ms_time(m.start_ms)),
            "end": rfc3339(ms_time(m.end_ms)),
            "score": (m.score() * 1000.0).round() / 1000.0,
            "clip": clip.as_ref().map(|p| p.display().to_string()),
            "outputs": outputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "segments": segs.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>(),
            "decided": rfc3339(ms_time(decided)),
            "delay_s": (delay_s * 10.0).round() / 10.0,
        });
        info!(start = %rfc3339(ms_time(m.start_ms)), end = %rfc3339(ms_time(m.end_ms)), score = format!("{:.2}", m.score()), delay_s = format!("{delay_s:.1}"), "highlight");
        *self.shared.last_moment.lock().unwrap_or_else(|p| p.into_inner()) = Some(v.clone());
        self.sink.event(&self.cam.name, "highlight", v.to_string());
    }

    /// Joins `segs` into `<out>/<stem>.<ext>` (ext: the recording's, `ts` or `mp4`), then runs
    /// the engine on it once per target ratio: `<clip>.predictions.jsonl` (one line per ratio)
    /// and `<clip>.<W>x<H>.crop.json`; with `render`, also `<clip>.<W>x<H>.short.mp4`.
    fn clip(&self, segs: &[retention::Segment], stem: &str) -> Result<(PathBuf, Vec<PathBuf>), MomentError> {
        std::fs::create_dir_all(&self.out_dir).map_err(|e| io(&self.out_dir, e))?;
        let format = self.cam.recording.format;
        let name = format!("{stem}.{}", format.extension());
        let clip = self.out_dir.join(&name);
        // Written under a hidden name and renamed: a clip that exists is complete.
        let tmp = self.out_dir.join(format!(".{name}.tmp"));
        let parts: Vec<PathBuf> = segs.iter().map(|s| s.path.clone()).collect();
        let joined = match format {
            SegmentFormat::Mpegts => clip::join_ts(&parts, &tmp),
            SegmentFormat::Mp4 => clip::join_mp4(&parts, &tmp),
        };
        if let Err(e) = joined {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        std::fs::rename(&tmp, &clip).map_err(|e| io(&clip, e))?;
        let preds = self.out_dir.join(format!("{name}.predictions.jsonl"));
        let mut lines = write::AtomicLines::create(&preds).map_err(|e| io(&preds, e))?;
        let mut outputs = vec![preds.clone()];
        for ratio in self.ratios() {
            let r = engine::process_video(&clip, ratio, &self.cfg, |_| {})?;
            let mut fields = Map::new();
            fields.insert("video_id".into(), Value::String(format!("{}-{stem}", self.cam.name)));
            fields.insert("video".into(), Value::String(name.clone()));
            fields.insert("camera".into(), Value::String(self.cam.name.clone()));
            fields.insert("targetRatioWH".into(), serde_json::to_value(ratio).unwrap_or(Value::Null));
            lines.line(&write::output_line(&fields, &r.predictions)).map_err(|e| io(&preds, e))?;
            let meta = self.out_dir.join(format!("{name}.{}x{}.crop.json", ratio.w(), ratio.h()));
            metadata::write_json_atomic(&meta, &metadata::crop_metadata(&format!("{}-{stem}", self.cam.name), &clip.display().to_string(), ratio, &r)).map_err(|e| io(&meta, e))?;
            outputs.push(meta);
            if self.cam.render {
                outputs.extend(self.render(&clip, &name, ratio, &r.predictions));
            }
        }
        lines.commit().map_err(|e| io(&preds, e))?;
        Ok((clip, outputs))
    }
}

impl Analyst {
    /// Renders the reframed short `<clip>.<W>x<H>.short.mp4` of the clip (what `highlightd
    /// render` makes). A failure is logged and leaves the other outputs: the clip and its
    /// metadata are worth publishing without it.
    fn render(&self, clip: &Path, name: &str, ratio: AspectRatio, predictions: &[crate::format::Prediction]) -> Option<PathBuf> {
        let short = self.out_dir.join(format!("{name}.{}x{}.short.mp4", ratio.w(), ratio.h()));
        match render::render(clip, ratio, predictions, &short, &self.cfg.render) {
            Ok(stats) => {
                info!(short = %short.display(), frames = stats.frames, seconds = format!("{:.1}", stats.seconds), "short rendered");
                Some(short)
            }
            Err(e) => {
                warn!("cannot render the short {}: {e}", short.display());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::live::Run;

    fn m(a: u64, b: u64) -> Moment {
        Moment { start_ms: a, end_ms: b, p_sum: (b - a) as f64 / 100.0, frames: (b - a) / 100 }
    }

    #[test]
    fn a_segment_may_wait_for_what_the_delay_leaves_after_the_look_ahead() {
        // 10 s delay, 4 s segments, 1 s look-ahead: 5 s.
        assert_eq!(max_lag_s(10.0, 4.0), 5.0);
        // 10 s, 2 s segments, 2 s look-ahead: 6 s.
        assert_eq!(max_lag_s(10.0, 2.0), 6.0);
        // Never under one segment.
        assert_eq!(max_lag_s(2.0, 1.0), 1.0);
    }

    #[test]
    fn look_ahead_is_what_the_decision_delay_leaves() {
        // Default: 10 s delay, 4 s segments: 10 − 8 − 1 = 1 s.
        assert_eq!(look_ahead_s(10.0, 4.0), 1.0);
        // Short segments leave more, but never more than one segment.
        assert_eq!(look_ahead_s(10.0, 2.0), 2.0);
        assert_eq!(look_ahead_s(60.0, 4.0), 4.0);
        // The least delay the configuration allows (twice the segment) leaves none.
        assert_eq!(look_ahead_s(8.0, 4.0), 0.0);
    }

    fn run(frames: std::ops::Range<usize>, p: f64) -> Run {
        Run { p_sum: p * frames.len() as f64, frames }
    }

    #[test]
    fn timeline_puts_frames_in_wall_clock_time_segment_by_segment() {
        let mut t = Timeline::default();
        // Two 4 s segments of 100 frames, then a 20 s gap, then one more.
        t.push(0..100, 0, 4000);
        t.push(100..200, 4000, 8000);
        t.push(200..300, 28000, 32000);
        assert_eq!(t.ms(0), Some(0));
        assert_eq!(t.ms(50), Some(2000));
        assert_eq!(t.ms(100), Some(4000));
        assert_eq!(t.ms(250), Some(30000));
        // Just past the last frame: the end of the last segment; further: unknown.
        assert_eq!(t.ms(300), Some(32000));
        assert_eq!(t.ms(301), None);
        // A run across the two adjacent segments gives two pieces that meet; one across the gap
        // gives pieces on both sides of it, never one spanning it; a weak run gives none.
        let d = Decided { frames: 0..300, runs: vec![run(75..125, 0.8), run(150..151, 0.2), run(190..210, 0.9)] };
        let pieces = t.pieces(&d);
        let spans: Vec<(u64, u64, u64)> = pieces.iter().map(|m| (m.start_ms, m.end_ms, m.frames)).collect();
        assert_eq!(spans, vec![(3000, 4000, 25), (4000, 5000, 25), (7600, 8000, 10), (28000, 28400, 10)]);
        assert!((pieces[0].score() - 0.8).abs() < 1e-9);
        // Joined by the assembler: one moment 3–5 s, one before the gap, one after it.
        let mut a = Assembler::default();
        let closed = a.segment(0, 32000, &pieces);
        assert_eq!(closed.iter().map(|m| (m.start_ms, m.end_ms)).collect::<Vec<_>>(), vec![(3000, 5000), (7600, 8000), (28000, 28400)]);
        t.forget_before(200);
        assert_eq!(t.ms(150), None);
        assert_eq!(t.ms(200), Some(28000));
    }

    #[test]
    fn only_a_late_segment_with_a_newer_one_waiting_is_skipped() {
        assert!(!behind(0, true, 8000));
        assert!(!behind(8000, true, 8000));
        assert!(behind(8001, true, 8000));
        // The newest segment is always analysed, however late.
        assert!(!behind(60_000, false, 8000));
    }

    #[test]
    fn a_moment_inside_a_segment_closes_with_it() {
        let mut a = Assembler::default();
        assert!(a.segment(0, 4000, &[]).is_empty());
        assert_eq!(a.segment(4000, 8000, &[m(5000, 6000)]), [m(5000, 6000)]);
        assert!(a.finish().is_none());
    }

    #[test]
    fn a_moment_reaching_the_segment_end_waits_for_the_next() {
        let mut a = Assembler::default();
        assert!(a.segment(0, 4000, &[m(2500, 4000)]).is_empty());
        let closed = a.segment(4000, 8000, &[m(4000, 5500)]);
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].start_ms, closed[0].end_ms), (2500, 5500));
        // Ends at a segment end, and the next segment has nothing at its start: closed then.
        assert!(a.segment(8000, 12000, &[m(9000, 12000)]).is_empty());
        assert_eq!(a.segment(12000, 16000, &[m(13500, 14500)]), [m(9000, 12000), m(13500, 14500)]);
    }

    #[test]
    fn nearby_pieces_join_and_a_recording_gap_splits() {
        let mut a = Assembler::default();
        let closed = a.segment(0, 4000, &[m(500, 1000), m(1500, 2000)]);
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].start_ms, closed[0].end_ms), (500, 2000));
        assert!(a.segment(4000, 8000, &[m(7000, 8000)]).is_empty());
        // 20 s outage: the next segment starts late, the open moment closes.
        assert_eq!(a.segment(28000, 32000, &[m(28000, 29000)]), [m(7000, 8000), m(28000, 29000)]);
    }
}
