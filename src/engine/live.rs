//! Decisions with a bounded look-ahead: how a camera's stream is judged as it is recorded.
//!
//! Each recorded segment is fed into one [`FrameStream`] that lives as long as the camera, so
//! the analysis carries on across segments. After each segment, every frame that now has
//! `look_ahead_s` of stream after it is decided, once and for good, by the same [`decide`]
//! that `predict` runs, over the frames of the last `history_s` as well: a moment is ranked
//! against the minute around it, not against its own few seconds.
//!
//! A fixed camera never cuts, so its window is one shot, and the selection finds the active
//! stretch inside it frame by frame, as it does inside a long shot of a file. Cutting long
//! shots into fixed pieces was tried and measured worse (tests/live.rs's recording: pieces of
//! 1 to 6 s kept 15 to 60 of the action's 75 frames, measured on this machine, where the
//! whole window kept the 78 that `predict` keeps on the file):
//! a piece that holds the end of an action and seconds of calm reads as calm.
//!
//! [`decide`]: super::decide

use super::stream::{Fed, FrameStream};
use super::{with_models, EngineError};
use crate::config::Config;
use crate::format::AspectRatio;
use crate::frame::{self, Canvas};
use crate::infer::Model;
use std::ops::Range;
use std::path::Path;

/// How far a live decision looks around the frames it decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Horizon {
    /// Stream after a frame before it is decided, in seconds.
    pub look_ahead_s: f64,
    /// Stream before the first undecided frame kept as context, in seconds.
    pub history_s: f64,
}

impl Horizon {
    /// A minute of history: long enough that a camera's calm stretches are the reference a
    /// moment is ranked against, short enough that a decision's cost and memory stay flat
    /// however long the camera runs.
    pub fn with_look_ahead(look_ahead_s: f64) -> Horizon {
        Horizon { look_ahead_s: look_ahead_s.max(0.0), history_s: 60.0 }
    }
}

/// A run of highlight frames of the stream, with the sum of their probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub frames: Range<usize>,
    pub p_sum: f64,
}

/// What one decision settled: the stream's frames `frames`, of which `runs` are highlights.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decided {
    pub frames: Range<usize>,
    pub runs: Vec<Run>,
}

/// One camera's stream, decided as it goes.
pub struct Live {
    stream: FrameStream,
    horizon: Horizon,
    ratio: AspectRatio,
    /// Frames before this one are decided.
    decided: usize,
    /// The last segment was taken back (it failed): the next one does not follow on.
    broken: bool,
}

impl Live {
    pub fn new(cfg: &Config, ratio: AspectRatio, horizon: Horizon) -> Live {
        Live { stream: FrameStream::new(cfg), horizon, ratio, decided: 0, broken: false }
    }

    /// Feeds one recorded segment, then decides the frames that now have the look-ahead
    /// after them. `follows` says whether the segment follows the last one fed without a gap
    /// (none skipped, the camera not away); after a gap the analysis starts afresh, as at the
    /// start of a file, and a shot starts there. A segment that fails to decode, or whose
    /// picture cannot hold a window of the ratio, adds no frames (they are taken back, and the
    /// next segment starts afresh).
    pub fn segment(&mut self, path: &Path, cfg: &Config, follows: bool) -> Result<(Fed, Decided), EngineError> {
        if !follows || std::mem::take(&mut self.broken) {
            self.stream.break_here();
        }
        with_models(cfg, path, |mut models| {
            let first = self.stream.next_frame();
            let fed = self.stream.feed(path, cfg, None, models.as_deref_mut(), |_| {}).and_then(|fed| {
                frame::geometry::usable_window(fed.info.width, fed.info.height, self.ratio).map_err(|source| EngineError::Window { path: path.into(), source })?;
                Ok(fed)
            });
            let fed = match fed {
                Ok(fed) => fed,
                Err(e) => {
                    self.stream.truncate(first);
                    self.broken = true;
                    return Err(e);
                }
            };
            let look = (self.horizon.look_ahead_s * self.stream.fps()).round() as usize;
            let upto = self.stream.next_frame().saturating_sub(look);
            let scorer = models.and_then(|m| m.scorer.as_mut());
            Ok((fed, self.decide_upto(upto, cfg, scorer.map(|s| s as &mut dyn Model))))
        })
    }

    /// At stop: decides the frames still waiting for their look-ahead.
    pub fn finish(&mut self, cfg: &Config, name: &Path) -> Result<Decided, EngineError> {
        with_models(cfg, name, |models| {
            let upto = self.stream.next_frame();
            let scorer = models.and_then(|m| m.scorer.as_mut());
            Ok(self.decide_upto(upto, cfg, scorer.map(|s| s as &mut dyn Model)))
        })
    }

    /// The stream's first frame not decided yet.
    pub fn undecided(&self) -> usize {
        self.decided.max(self.stream.base())
    }

    /// Every picture fed has passed the window check of [`Live::segment`].
    fn decide_upto(&mut self, upto: usize, cfg: &Config, scorer: Option<&mut dyn Model>) -> Decided {
        let from = self.undecided();
        let fps = self.stream.fps();
        let picture = self.stream.picture();
        let Some((width, height)) = picture.filter(|_| upto > from) else {
            return Decided { frames: from..from, runs: Vec::new() };
        };
        let canvas = Canvas { width, height, fps, ratio: self.ratio };
        let base = self.stream.base();
        let shots = self.stream.shots(cfg);
        let selection = self.stream.select_kept(&shots, &canvas, cfg, scorer);
        let selected: Vec<Range<usize>> = selection.segments.iter().map(|s| s.start..s.end).collect();
        let runs = runs_within(&selected, &selection.p, from - base..upto - base).into_iter().map(|r| Run { frames: r.frames.start + base..r.frames.end + base, p_sum: r.p_sum }).collect();
        self.decided = upto;
        let history = (self.horizon.history_s * fps).round() as usize;
        self.stream.forget_before(upto.saturating_sub(history));
        Decided { frames: from..upto, runs }
    }
}

/// The parts of the selected runs `selected` that fall in `range`, each with its summed
/// probability `p` (a frame without one counts 0).
pub fn runs_within(selected: &[Range<usize>], p: &[f64], range: Range<usize>) -> Vec<Run> {
    selected
        .iter()
        .filter_map(|s| {
            let (a, b) = (s.start.max(range.start), s.end.min(range.end));
            (a < b).then(|| Run { frames: a..b, p_sum: (a..b).map(|i| p.get(i).copied().unwrap_or(0.0)).sum() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn runs_are_clipped_to_the_decided_frames() {
        let p = vec![0.5; 20];
        let r = runs_within(&[0..4, 6..12, 15..20], &p, 3..16);
        assert_eq!(r, vec![Run { frames: 3..4, p_sum: 0.5 }, Run { frames: 6..12, p_sum: 3.0 }, Run { frames: 15..16, p_sum: 0.5 }]);
        assert!(runs_within(&[0..4], &p, 4..10).is_empty());
    }

    proptest! {
        #[test]
        fn runs_are_exactly_the_selected_frames_of_the_range(bounds in proptest::collection::btree_set(0usize..200, 0..12), lo in 0usize..200, len in 0usize..200, p in proptest::collection::vec(0.0f64..1.0, 180)) {
            // Disjoint sorted runs from sorted bounds, taken in pairs.
            let b: Vec<usize> = bounds.into_iter().collect();
            let selected: Vec<Range<usize>> = b.chunks_exact(2).map(|w| w[0]..w[1]).collect();
            let range = lo..lo + len;
            let runs = runs_within(&selected, &p, range.clone());
            let got: Vec<usize> = runs.iter().flat_map(|r| r.frames.clone()).collect();
            let want: Vec<usize> = selected.iter().flat_map(|s| s.clone()).filter(|i| range.contains(i)).collect();
            prop_assert_eq!(got, want);
            for r in &runs {
                prop_assert!(!r.frames.is_empty());
                let sum: f64 = r.frames.clone().map(|i| p.get(i).copied().unwrap_or(0.0)).sum();
                prop_assert!((r.p_sum - sum).abs() < 1e-9);
            }
        }
    }
}
