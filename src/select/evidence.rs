//! Per-frame evidence that a frame is worth keeping, as probabilities in `[0, 1]`.
//!
//! Each kind of filler has its own detector, a logistic on one or two features with a
//! threshold and a softness; a frame is keepable when it is none of them. Thresholds are
//! physical (grey levels, ratios to the video's own sharpness), not fitted to any video.

use crate::analyse::FrameFeatures;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceParams {
    /// Mean luma (0–255) under which a frame counts as black.
    pub black_luma: f32,
    /// Luma spread under which a dark frame is flat black rather than a dark scene.
    pub black_std: f32,
    /// Peak change per frame (99th percentile, grey levels) under which the picture is frozen.
    pub frozen_change: f32,
    /// Seconds over which a frame must stay still to count as frozen.
    pub frozen_window_s: f64,
    /// Sharpness relative to the video's own sharp frames under which a frame is blurred.
    pub blur_ratio: f32,
    /// Share of pixels in one colour bin above which a still frame is a flat graphic.
    pub graphic_share: f32,
}

impl Default for EvidenceParams {
    fn default() -> Self {
        Self { black_luma: 20.0, black_std: 12.0, frozen_change: 3.0, frozen_window_s: 0.5, blur_ratio: 0.35, graphic_share: 0.75 }
    }
}

/// Why a frame is (or is not) filler, per detector, each a probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evidence {
    pub black: f32,
    pub frozen: f32,
    pub blurred: f32,
    pub graphic: f32,
    /// Probability the frame is keepable content: none of the above.
    pub keep: f32,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Evidence for every frame of a video.
pub fn evidence(features: &[FrameFeatures], fps: f64, p: &EvidenceParams) -> Vec<Evidence> {
    let n = features.len();
    let black: Vec<f32> = features
        .iter()
        .map(|f| sigmoid((p.black_luma - f.luma_mean) / 3.0) * sigmoid((p.black_std - f.luma_std) / 3.0))
        .collect();
    // Frozen: the largest change in a window around the frame stays under the threshold. The
    // window makes single repeated frames (duplicated by a frame-rate conversion) not count.
    let half = ((p.frozen_window_s * fps / 2.0).round() as usize).max(1);
    let changes: Vec<f32> = (0..n).map(|i| if i == 0 { features.get(1).map_or(0.0, |f| f.peak_change) } else { features[i].peak_change }).collect();
    let frozen: Vec<f32> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half).min(n.saturating_sub(1));
            // The median of the window: robust to the odd keyframe refresh of a still.
            let mut w: Vec<f32> = changes[lo..=hi].to_vec();
            w.sort_by(|a, b| a.total_cmp(b));
            let m = w[w.len() * 3 / 4];
            sigmoid((p.frozen_change - m) / (0.15 * p.frozen_change).max(1e-3))
        })
        .collect();
    // The video's own reference sharpness: a high percentile over frames that are neither
    // black nor frozen, so a whole soft video is not called blurred.
    let mut sharp: Vec<f32> = features
        .iter()
        .zip(black.iter().zip(&frozen))
        .filter(|(_, (b, f))| **b < 0.5 && **f < 0.5)
        .map(|(f, _)| f.sharpness)
        .collect();
    sharp.sort_by(|a, b| a.total_cmp(b));
    let reference = sharp.get(sharp.len() * 3 / 4).copied().unwrap_or(0.0).max(1e-3);
    features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let rel = f.sharpness / reference;
            let blurred = sigmoid((p.blur_ratio - rel) / 0.05);
            let still = sigmoid((2.0 * p.frozen_change - changes[i]) / (0.3 * p.frozen_change).max(1e-3));
            let graphic = sigmoid((f.dominant_share - p.graphic_share) / 0.03) * still;
            let keep = (1.0 - black[i]) * (1.0 - frozen[i]) * (1.0 - blurred) * (1.0 - graphic);
            Evidence { black: black[i], frozen: frozen[i], blurred, graphic, keep }
        })
        .collect()
}
