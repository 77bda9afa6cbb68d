//! Shot boundaries from colour-histogram distance, as AutoFlip's shot detector does: a cut
//! where consecutive histograms differ by more than a threshold, never closer together than a
//! minimum shot length.

use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Bins per channel of the colour histogram (4 × 4 × 4 = 64 bins).
pub const BINS: usize = 4;

/// A normalised RGB histogram.
pub type Histogram = [f32; BINS * BINS * BINS];

pub fn histogram(rgb: &[u8]) -> Histogram {
    let mut h = [0.0f32; BINS * BINS * BINS];
    let q = |v: u8| usize::from(v) * BINS / 256;
    let mut n = 0usize;
    for p in rgb.chunks_exact(3) {
        h[(q(p[0]) * BINS + q(p[1])) * BINS + q(p[2])] += 1.0;
        n += 1;
    }
    if n > 0 {
        for v in &mut h {
            *v /= n as f32;
        }
    }
    h
}

/// Half the L1 distance of two normalised histograms: 0 for equal, 1 for disjoint.
pub fn distance(a: &Histogram, b: &Histogram) -> f32 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>()
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShotParams {
    /// Histogram distance above which consecutive frames are a cut.
    pub cut_distance: f32,
    /// Shortest shot, in seconds.
    pub min_shot_s: f64,
    /// A cut is also a jump of the mean luma change to at least this (grey levels)...
    pub jump_change: f32,
    /// ...and to at least this many times the local level of change (the median over the six
    /// frames each side): two shots of one place in the same light have alike histograms but
    /// share no pixels, while motion, however fast, changes smoothly from frame to frame.
    pub jump_ratio: f32,
}

impl Default for ShotParams {
    fn default() -> Self {
        Self { cut_distance: 0.35, min_shot_s: 0.4, jump_change: 20.0, jump_ratio: 3.0 }
    }
}

/// Frames of the local reference on each side of a candidate cut.
const JUMP_WINDOW: usize = 6;

/// Whether frame `i` is a jump cut by the change rule of [`ShotParams`].
fn is_jump(changes: &[f32], i: usize, p: &ShotParams) -> bool {
    let Some(&c) = changes.get(i) else { return false };
    if c < p.jump_change {
        return false;
    }
    let (lo, hi) = (i.saturating_sub(JUMP_WINDOW).max(1), (i + JUMP_WINDOW + 1).min(changes.len()));
    let mut local: Vec<f32> = (lo..hi).filter(|&j| j != i).map(|j| changes[j]).collect();
    if local.is_empty() {
        return false;
    }
    local.sort_by(|a, b| a.total_cmp(b));
    c >= p.jump_ratio * (local[local.len() / 2] + 1.0)
}

/// Splits `distances.len()` frames into shots; `distances[i]` is the histogram distance
/// between frame `i` and frame `i - 1` (`distances[0]` is ignored), `changes[i]` the mean
/// absolute luma change between them (may be empty: the histogram rule alone).
pub fn detect(distances: &[f32], changes: &[f32], fps: f64, p: &ShotParams) -> Vec<Range<usize>> {
    let n = distances.len();
    if n == 0 {
        return Vec::new();
    }
    let min_len = ((p.min_shot_s * fps).round() as usize).max(1);
    let mut cuts = vec![0usize];
    for (i, &d) in distances.iter().enumerate().skip(1) {
        let last = *cuts.last().unwrap_or(&0);
        if (d > p.cut_distance || is_jump(changes, i, p)) && i - last >= min_len {
            cuts.push(i);
        }
    }
    cuts.push(n);
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn histogram_distance_bounds() {
        let black = histogram(&[0u8; 30]);
        let white = histogram(&[255u8; 30]);
        assert_eq!(distance(&black, &black), 0.0);
        assert!((distance(&black, &white) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cuts_at_peaks_respecting_min_length() {
        let mut d = vec![0.01f32; 100];
        d[30] = 0.9;
        d[32] = 0.9; // too close to the previous cut at 25 fps, 0.4 s
        d[70] = 0.5;
        let shots = detect(&d, &[], 25.0, &ShotParams::default());
        assert_eq!(shots, vec![0..30, 30..70, 70..100]);
    }

    #[test]
    fn a_jump_in_change_is_a_cut_even_when_histograms_agree() {
        let d = vec![0.05f32; 100];
        let mut c = vec![4.0f32; 100];
        c[50] = 40.0; // a cut between two shots of the same colours
        c[80] = 11.0; // a fast movement: more change, but under the floor
        assert_eq!(detect(&d, &c, 25.0, &ShotParams::default()), vec![0..50, 50..100]);
        // Fast motion throughout: a high frame is not a jump against a high local level.
        let mut fast = vec![30.0f32; 100];
        fast[50] = 60.0;
        assert_eq!(detect(&d, &fast, 25.0, &ShotParams::default()), vec![0..100]);
    }

    proptest! {
        #[test]
        fn shots_partition_the_frames(d in proptest::collection::vec(0.0f32..1.0, 1..300), fps in 5.0f64..60.0) {
            let shots = detect(&d, &[], fps, &ShotParams::default());
            prop_assert_eq!(shots.first().map(|s| s.start), Some(0));
            prop_assert_eq!(shots.last().map(|s| s.end), Some(d.len()));
            for w in shots.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start);
            }
            prop_assert!(shots.iter().all(|s| !s.is_empty()));
        }
    }
}
