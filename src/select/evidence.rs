//! Per-frame evidence that a frame is worth keeping, as probabilities in `[0, 1]`.
//!
//! Each kind of filler has its own detector, a logistic on one or two features with a
//! threshold and a softness; a frame is keepable when it is none of them. Thresholds are
//! physical (grey levels, ratios to the video's own sharpness), not fitted to any video.

use crate::analyse::FrameFeatures;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The default noise threshold; see [`noise`] for where it comes from.
pub const NOISE_DECORRELATION: f32 = 0.5;

/// The default drawn-picture threshold; see [`drawn`] for where it comes from.
pub const DRAWN_FLAT_SHARE: f32 = 0.95;

/// The default moved-still threshold, pixels; see [`moved_still`] for where it comes from.
pub const STILL_RESIDUAL: f32 = 0.9;

/// The default edgeless thresholds: detail sparsity and sharpness (grey levels); see
/// [`edgeless`] for where they come from.
pub const EDGELESS_SPARSITY: f32 = 0.30;
pub const EDGELESS_SHARPNESS: f32 = 6.0;

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
    /// Decorrelation from the camera-moved previous picture (see
    /// [`FrameFeatures::decorrelation`]) above which a stretch is noise, not a camera's picture.
    pub noise_decorrelation: f32,
    /// Seconds over which that is judged (the median of the window, so a cut, a flash or a
    /// whip pan, a frame or two each, does not count).
    pub noise_window_s: f64,
    /// Share of the picture without local detail (see [`FrameFeatures::flat_share`]) above
    /// which a frame is drawn, not filmed (see [`drawn`]); above 1 the detector is off.
    pub drawn_flat_share: f32,
    /// What the picture half a second earlier, rigidly moved, leaves unexplained (see
    /// [`FrameFeatures::rigid_residual`], pixels) under which a stretch is one still picture
    /// being moved, not a living scene (see [`moved_still`]); 0 turns it off.
    pub still_residual: f32,
    /// Detail sparsity (see [`FrameFeatures::detail_sparsity`]) under which, with sharpness
    /// under `edgeless_sharpness`, a picture has no edges (see [`edgeless`]); 0 turns it off.
    pub edgeless_sparsity: f32,
    /// Sharpness (mean |Laplacian|, grey levels) under which a picture with evenly spread
    /// detail is smooth rather than textured (see [`edgeless`]).
    pub edgeless_sharpness: f32,
}

impl Default for EvidenceParams {
    fn default() -> Self {
        Self { black_luma: 20.0, black_std: 12.0, frozen_change: 3.0, frozen_window_s: 0.5, blur_ratio: 0.35, graphic_share: 0.75, noise_decorrelation: NOISE_DECORRELATION, noise_window_s: 1.0, drawn_flat_share: DRAWN_FLAT_SHARE, still_residual: STILL_RESIDUAL, edgeless_sparsity: EDGELESS_SPARSITY, edgeless_sharpness: EDGELESS_SHARPNESS }
    }
}

/// Why a frame is (or is not) filler, per detector, each a probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evidence {
    pub black: f32,
    pub frozen: f32,
    pub blurred: f32,
    pub graphic: f32,
    /// Noise: a picture its predecessor does not explain, frame after frame (static).
    pub noise: f32,
    /// Drawn: a picture with no local detail almost anywhere (text or a logo on a fill).
    pub drawn: f32,
    /// A moved still: nothing in the picture changes but by one rigid map (a photograph
    /// panned or zoomed over, scrolling credits, a frozen picture).
    pub moved_still: f32,
    /// Edgeless: weak detail spread evenly, with no edges anywhere (a smooth synthetic
    /// animation, a picture wholly out of focus).
    pub edgeless: f32,
    /// Probability the frame is keepable content: none of the above.
    pub keep: f32,
}

impl Evidence {
    /// The chance the frame is none of the fillers physics can tell from a camera's picture
    /// (black, frozen, noise, drawn, a moved still, edgeless): what the learned probability is
    /// multiplied by under [`super::Judge::Both`]. Blur and flat still graphics are left to the
    /// scorer, as their thresholds are relative or symptoms.
    pub fn physical(&self) -> f32 {
        (1.0 - self.black) * (1.0 - self.frozen) * (1.0 - self.noise) * (1.0 - self.drawn) * (1.0 - self.moved_still) * (1.0 - self.edgeless)
    }

    /// How the first stage's "is this footage" is read under [`super::Judge::Both`]: scaled by
    /// the chance the picture was filmed from a living scene (neither drawn, nor a moved
    /// still, nor edgeless), and 0 where any is more likely than not. Decided, not only
    /// scaled: a credit roll at 0.96 flat scaled by its 0.27 chance of being filmed would still
    /// clear the footage floor as "unfamiliar footage".
    pub fn filmed(&self) -> f32 {
        if self.drawn >= 0.5 || self.moved_still >= 0.5 || self.edgeless >= 0.5 {
            0.0
        } else {
            (1.0 - self.drawn) * (1.0 - self.moved_still) * (1.0 - self.edgeless)
        }
    }

    /// Whether a frame stays out even where its whole shot, or a video's unfamiliar footage,
    /// is kept: hard black (fades) or drawn.
    pub fn never_kept(&self) -> bool {
        self.black >= 0.5 || self.drawn >= 0.5
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Evidence for every frame of a video; `shots` are what the moved-still detector judges
/// (see [`moved_still`]).
pub fn evidence(features: &[FrameFeatures], shots: &[Range<usize>], fps: f64, p: &EvidenceParams) -> Vec<Evidence> {
    let n = features.len();
    let black: Vec<f32> = features
        .iter()
        .map(|f| sigmoid((p.black_luma - f.luma_mean) / 3.0) * sigmoid((p.black_std - f.luma_std) / 3.0))
        .collect();
    // Frozen: the largest change in a window around the frame stays under the threshold. The
    // window makes single repeated frames (duplicated by a frame-rate conversion) not count.
    let half = evidence_half_window(p.frozen_window_s, fps);
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
    let noise = noise(features, fps, p);
    let moved_still = moved_still(features, shots, fps, p);
    let edgeless = edgeless(features, fps, p);
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
            let drawn = drawn(f, p);
            let e = Evidence { black: black[i], frozen: frozen[i], blurred, graphic, noise: noise[i], drawn, moved_still: moved_still[i], edgeless: edgeless[i], keep: 0.0 };
            // Keepable: none of the physical fillers, and neither blurred nor a flat graphic.
            Evidence { keep: e.physical() * (1.0 - blurred) * (1.0 - graphic), ..e }
        })
        .collect()
}

/// Per frame, the probability that the picture is noise rather than a camera's: the median
/// decorrelation over `noise_window_s` around it against `noise_decorrelation`.
///
/// Why this is positive evidence and not one more symptom: a camera films a world that is
/// still there 40 ms later, so each picture is mostly its predecessor moved; that holds for
/// any scene, lens or motion, and the measure is absolute (a correlation), so no other stretch
/// of the video moves it. What breaks it is a picture made anew every frame — analogue static,
/// snow, digital noise — whatever its grain, colour or brightness. Frames with no predecessor
/// (the first, the first after a cut) count as 0, and black or flat pictures as 0 too: they
/// have their own detectors. The default threshold, 0.5, sits in the gap measured on the five
/// annotated sets (session 12): 1 s medians of every real sequence ≤ 0.38 (most under 0.05),
/// of every graphic, fade, freeze, plasma and Ken Burns stretch ≤ 0.26, of TV static 0.59–0.73.
pub fn noise(features: &[FrameFeatures], fps: f64, p: &EvidenceParams) -> Vec<f32> {
    let half = evidence_half_window(p.noise_window_s, fps);
    let d: Vec<f64> = features.iter().map(|f| f64::from(f.decorrelation)).collect();
    super::median_filter(&d, half).into_iter().map(|m| sigmoid((m as f32 - p.noise_decorrelation) / 0.05)).collect()
}

/// Per frame, the probability that the picture has no edges: its detail is spread as evenly
/// as a random field's (sparsity under `edgeless_sparsity`) and weak (sharpness under
/// `edgeless_sharpness`), as the median over `noise_window_s` around it (one odd frame does
/// not count).
///
/// Why this is positive evidence and not one more symptom: a camera films a world of
/// objects, and objects have boundaries, so a real picture's detail is sparse — its most
/// detailed tenth carries far more than a tenth of it (see [`FrameFeatures::detail_sparsity`]);
/// a random field's Laplacian is Gaussian, whose top tenth carries 0.26 of the total
/// (`2φ(1.645) / √(2/π)`). Detail that even is either strong (dense texture: grass, water,
/// a crowd, static) or weak with nothing else (a smooth synthetic animation — plasma, a
/// drifting gradient — or a picture wholly out of focus). The second is what this detects:
/// both measures are absolute and of the frame alone, so no other stretch of the video moves
/// them. The thresholds come from real footage and the random field, not from any filler:
/// measured on the six annotated sets (session 20), of their 57,700 real frames none with
/// sharpness under 6 has a sparsity under 0.34, and none with a sparsity under 0.30 has a
/// sharpness under 11.6; the defaults sit half-way, sparsity 0.30 between the random field's
/// 0.26 and the real 0.34, sharpness 6 about half of 11.6 (the 1 s median then stays under
/// 0.01 on every real frame). Animated plasma is 0.26–0.30 at sharpness 1.7–4 (99.5 % of its
/// frames vetoed); out-of-focus filler 0.28–0.38 at 1–3.
pub fn edgeless(features: &[FrameFeatures], fps: f64, p: &EvidenceParams) -> Vec<f32> {
    if p.edgeless_sparsity <= 0.0 {
        return vec![0.0; features.len()];
    }
    let half = evidence_half_window(p.noise_window_s, fps);
    let soft = (0.1 * p.edgeless_sharpness).max(1e-3);
    let per: Vec<f64> = features
        .iter()
        .map(|f| f64::from(sigmoid((p.edgeless_sparsity - f.detail_sparsity) / 0.005) * sigmoid((p.edgeless_sharpness - f.sharpness) / soft)))
        .collect();
    super::median_filter(&per, half).into_iter().map(|m| m as f32).collect()
}

/// The probability that a frame was drawn rather than filmed: nearly all of its pixels have no
/// local detail (|Laplacian| under one grey level), against `drawn_flat_share`.
///
/// Why this is positive evidence and not one more symptom: a camera's picture carries sensor
/// noise and the texture of the world in almost every pixel, however soft, dark or still the
/// scene, so some detail is left nearly everywhere; a picture drawn by a machine (credits,
/// a title or logo on a plain fill, a blank screen) is flat between its strokes. The measure is
/// a share of the frame's own pixels, absolute, so no other stretch of the video moves it, and
/// it holds whether the drawing moves (scrolling credits, which the first stage, never having
/// seen them, took for footage) or not. Measured on the six annotated sets (session 17): no
/// real frame of the 54,000 in their sequences reaches 0.85 (none of the 46,000 highlight
/// frames does); of the credit rolls' frames 81 % are over 0.95 and 99 % over 0.90; black is
/// 1. The margin is for letterboxing, the one way a real frame gets flat: the flattest real
/// frames are landscape clips on a 270×480 canvas (68 % bars), snow at up to 0.845; such a
/// frame reaches 0.95 only if the picture between the bars is 84 % flat, which no real
/// picture here comes near.
pub fn drawn(f: &FrameFeatures, p: &EvidenceParams) -> f32 {
    sigmoid((f.flat_share - p.drawn_flat_share) / 0.01)
}

/// Per frame, the probability that the picture is one still being moved (or not moved at
/// all): the median of the measured [`FrameFeatures::rigid_residual`] over the frame's shot
/// (a frame in no shot: over the second around it), against `still_residual`. A shot with no
/// measure (shorter than a fifth of a second) counts as 0.
///
/// Why this is positive evidence and not one more symptom: a camera films a world in which
/// something happens, so half a second later some part of the picture has changed in a way no
/// single rigid map of the whole picture explains (a subject moving, parallax as the camera
/// travels, water, leaves); a photograph panned or zoomed over, credits scrolling or a frozen
/// picture is wholly explained by one map. The measure is absolute (pixels left over, this
/// frame against its own past), so no other stretch of the video moves it, and a failed
/// alignment only leaves more over, which reads as live.
///
/// Why per shot: a shot is one recording, and a real one has quiet moments (a face holding
/// still, a drone hovering over a harbour) that a one-second window would veto piecemeal —
/// and the rest of a half-vetoed shot then escapes the activity gate, which reads stage 1 by
/// shot. Measured on the five annotated sets that name their fillers (session 18), the shot
/// medians of every real sequence are 1.06 px or more (active clips 2.0 or more; the lowest
/// are a hovering drone over a harbour and a still umbrella), of Ken Burns shots 0.39–0.81
/// but for four short or mixed ones (1.0–1.4, and 8 where a shot mixes it with other filler;
/// 90 % of their frames are in shots under 0.9), of credits, title cards, test cards, tickers
/// and a spinner over a frozen frame 0.03–0.3.
pub fn moved_still(features: &[FrameFeatures], shots: &[Range<usize>], fps: f64, p: &EvidenceParams) -> Vec<f32> {
    let n = features.len();
    if p.still_residual <= 0.0 {
        return vec![0.0; n];
    }
    let verdict = |r: Range<usize>| -> f32 {
        let mut w: Vec<f32> = features[r].iter().filter_map(|f| f.rigid_residual).filter(|v| v.is_finite()).collect();
        super::upper_median(&mut w).map_or(0.0, |m| sigmoid((p.still_residual - m) / (0.1 * p.still_residual)))
    };
    let mut out: Vec<Option<f32>> = vec![None; n];
    for shot in shots.iter().map(|s| s.start..s.end.min(n)).filter(|s| !s.is_empty()) {
        let v = verdict(shot.clone());
        for o in &mut out[shot] {
            *o = Some(v);
        }
    }
    let half = evidence_half_window(1.0, fps);
    (0..n).map(|i| out[i].unwrap_or_else(|| verdict(i.saturating_sub(half)..(i + half + 1).min(n)))).collect()
}

/// Half the width, in frames, of a detector's window of `seconds`: at least one frame, so a
/// window never shrinks to the frame alone at a low frame rate.
fn evidence_half_window(seconds: f64, fps: f64) -> usize {
    super::half_window(seconds, fps).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(decorrelation: &[f32]) -> Vec<FrameFeatures> {
        decorrelation.iter().map(|&d| FrameFeatures { luma_mean: 110.0, luma_std: 45.0, sharpness: 20.0, peak_change: 30.0, decorrelation: d, ..FrameFeatures::default() }).collect()
    }

    #[test]
    fn static_is_noise_and_footage_with_cuts_and_whip_pans_is_not() {
        let p = EvidenceParams::default();
        // One second of static (a new picture every frame) between two seconds of footage.
        let mut d = vec![0.05f32; 50];
        d.extend(vec![0.95f32; 25]);
        d.extend(vec![0.05f32; 50]);
        // A cut and a two-frame whip pan inside the footage.
        d[10] = 0.0;
        d[30] = 0.9;
        d[31] = 0.8;
        let ev = evidence(&frames(&d), &[0..d.len()], 25.0, &p);
        assert!(ev[55..70].iter().all(|e| e.noise > 0.99 && e.keep < 0.01), "{:?}", &ev[55..70]);
        assert!(ev[..40].iter().all(|e| e.noise < 0.01 && e.keep > 0.9));
        assert!(ev[90..].iter().all(|e| e.noise < 0.01 && e.keep > 0.9));
    }

    #[test]
    fn the_threshold_is_absolute_not_relative_to_the_video() {
        // A video that is static from start to end is still noise: there is no "normal" part
        // for a relative reference to lean on, and none is needed.
        let ev = evidence(&frames(&[0.9; 40]), &[0..40], 25.0, &EvidenceParams::default());
        assert!(ev.iter().all(|e| e.noise > 0.99));
        // And footage that decorrelates more than usual (water, crowds) but stays well under
        // the threshold is footage.
        let ev = evidence(&frames(&[0.3; 40]), &[0..40], 25.0, &EvidenceParams::default());
        assert!(ev.iter().all(|e| e.noise < 0.02));
    }

    #[test]
    fn a_picture_flat_almost_everywhere_is_drawn_whatever_it_does() {
        let p = EvidenceParams::default();
        let frame = |flat: f32| FrameFeatures { luma_mean: 30.0, luma_std: 20.0, sharpness: 3.0, peak_change: 40.0, flat_share: flat, ..FrameFeatures::default() };
        // Scrolling credits (moving, lit, so neither black nor frozen) over the threshold, where
        // four in five of the annotated sets' credit frames are.
        for flat in [0.96f32, 0.98, 1.0] {
            for e in evidence(&vec![frame(flat); 10], &[0..10], 25.0, &p) {
                assert!(e.drawn > 0.7 && e.keep < 0.3, "{flat}: {e:?}");
                assert!(e.black < 0.01 && e.frozen < 0.01, "{e:?}");
            }
        }
        // The flattest real frames of the annotated sets (under 0.85), and a soft picture
        // pillarboxed to 16:9 (0.68 bars plus a third of the picture flat: 0.79), are filmed.
        for flat in [0.5f32, 0.79, 0.85] {
            assert!(drawn(&frame(flat), &p) < 0.001, "{flat}");
        }
        // Above 1 the detector is off.
        assert!(drawn(&frame(1.0), &EvidenceParams { drawn_flat_share: 1.5, ..p }) < 1e-6);
    }

    #[test]
    fn a_shot_of_a_still_being_moved_is_vetoed_whole_and_a_living_scene_is_not() {
        let p = EvidenceParams::default();
        // Three shots of two seconds: footage (2–7 px left unexplained, measured on every
        // third frame), a still panned over (0.3–0.6 px), footage again.
        let shots = [0..50, 50..100, 100..150];
        let mut f = frames(&[0.05; 150]);
        for (i, fr) in f.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
            let live = 2.0 + (i % 50) as f32 / 10.0;
            fr.rigid_residual = Some(if (50..100).contains(&i) { 0.3 + (i % 4) as f32 * 0.1 } else { live });
        }
        // A badly explained frame inside the still (a keyframe's refresh) and a quiet second
        // inside the footage (a subject holding still) do not flip their shots.
        f[75].rigid_residual = Some(8.0);
        for fr in &mut f[110..135] {
            fr.rigid_residual = fr.rigid_residual.map(|_| 0.4);
        }
        let ev = evidence(&f, &shots, 25.0, &p);
        assert!(ev[50..100].iter().all(|e| e.moved_still > 0.98 && e.keep < 0.02 && e.physical() < 0.02 && e.filmed() == 0.0), "{:?}", ev[50]);
        assert!(ev[..50].iter().chain(&ev[100..]).all(|e| e.moved_still < 0.001 && e.keep > 0.9 && e.filmed() > 0.99), "{:?}", ev[120]);
        // Judged by a one-second window instead, the quiet second would be vetoed: the shot is
        // what keeps it.
        assert!(moved_still(&f, &[], 25.0, &p)[120] > 0.9);
        // The lowest real shot of the annotated sets (1.06 px) is scaled by at most a sixth;
        // Ken Burns shots of 0.8 px and under are vetoed.
        let shot_at = |v: f32| {
            let mut g = frames(&[0.05; 30]);
            g.iter_mut().step_by(3).for_each(|fr| fr.rigid_residual = Some(v));
            moved_still(&g, &[0..30], 25.0, &p)[15]
        };
        assert!(shot_at(1.06) < 0.17 && shot_at(1.3) < 0.02, "{} {}", shot_at(1.06), shot_at(1.3));
        assert!(shot_at(0.8) > 0.7 && shot_at(0.66) > 0.9, "{} {}", shot_at(0.8), shot_at(0.66));
        // Frames never measured (dumps older than the measure, shots under a fifth of a
        // second) are not called stills; with the threshold at 0 nothing is.
        assert!(evidence(&frames(&[0.05; 30]), &[0..30], 25.0, &p).iter().all(|e| e.moved_still == 0.0));
        assert!(moved_still(&f, &shots, 25.0, &EvidenceParams { still_residual: 0.0, ..p }).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_picture_with_weak_evenly_spread_detail_is_edgeless_and_texture_or_a_soft_scene_is_not() {
        let p = EvidenceParams::default();
        let frame = |sparsity: f32, sharpness: f32| FrameFeatures { luma_mean: 110.0, luma_std: 45.0, sharpness, peak_change: 30.0, decorrelation: 0.01, detail_sparsity: sparsity, ..FrameFeatures::default() };
        let one = |sparsity: f32, sharpness: f32| edgeless(&vec![frame(sparsity, sharpness); 25], 25.0, &p)[12];
        // Animated plasma as measured on the annotated sets (0.26–0.30 at sharpness 1.7–4).
        for (sparsity, sharpness) in [(0.26f32, 1.7f32), (0.28, 3.0), (0.29, 4.0)] {
            assert!(one(sparsity, sharpness) > 0.8, "{sparsity} {sharpness}: {}", one(sparsity, sharpness));
        }
        // The real frames nearest it: soft ones have sparse detail (0.34 and more), evenly
        // detailed ones are strong (dense texture, sharpness 11.6 and more); static is both
        // even and strong.
        for (sparsity, sharpness) in [(0.34f32, 2.0f32), (0.45, 1.0), (0.29, 11.6), (0.24, 200.0)] {
            assert!(one(sparsity, sharpness) < 0.01, "{sparsity} {sharpness}: {}", one(sparsity, sharpness));
        }
        // Decided over a second: a few smooth frames inside footage (a flash, a whip pan's
        // blur) are not vetoed, nor do a few sharp frames save a smooth stretch.
        let mut f: Vec<FrameFeatures> = (0..75).map(|i| if (25..50).contains(&i) { frame(0.27, 2.0) } else { frame(0.5, 20.0) }).collect();
        f[10] = frame(0.27, 2.0);
        f[11] = frame(0.27, 2.0);
        f[37] = frame(0.5, 20.0);
        let ev = evidence(&f, &[0..75], 25.0, &p);
        assert!(ev[30..45].iter().all(|e| e.edgeless > 0.8 && e.physical() < 0.2 && e.filmed() == 0.0), "{:?}", ev[37]);
        assert!(ev[..20].iter().chain(&ev[55..]).all(|e| e.edgeless < 0.01 && e.filmed() > 0.99), "{:?}", ev[10]);
        // Off at 0.
        assert!(edgeless(&f, 25.0, &EvidenceParams { edgeless_sparsity: 0.0, ..p }).iter().all(|&v| v == 0.0));
    }

    proptest! {
        #[test]
        fn probabilities_stay_in_range_and_keep_never_exceeds_any_physical_veto(
            d in proptest::collection::vec((0.0f32..2.0, 0.0f32..1.0, proptest::option::of(0.0f32..8.0), (0.0f32..1.0, 0.0f32..30.0)), 1..120), fps in 5.0f64..60.0,
            cuts in proptest::collection::vec((0usize..140, 0usize..140), 0..6),
        ) {
            let mut f = frames(&d.iter().map(|x| x.0).collect::<Vec<_>>());
            for (f, (_, flat, rigid, (sparsity, sharpness))) in f.iter_mut().zip(&d) {
                f.flat_share = *flat;
                f.rigid_residual = *rigid;
                f.detail_sparsity = *sparsity;
                f.sharpness = *sharpness;
            }
            // Shots of any kind: empty, reversed, overlapping, past the end.
            let shots: Vec<Range<usize>> = cuts.iter().map(|&(a, b)| a..b).collect();
            let ev = evidence(&f, &shots, fps, &EvidenceParams::default());
            prop_assert_eq!(ev.len(), d.len());
            for e in &ev {
                for v in [e.black, e.frozen, e.blurred, e.graphic, e.noise, e.drawn, e.moved_still, e.edgeless, e.keep] {
                    prop_assert!((0.0..=1.0).contains(&v));
                }
                prop_assert!(e.keep <= 1.0 - e.noise + 1e-6);
                prop_assert!(e.keep <= 1.0 - e.drawn + 1e-6);
                prop_assert!(e.keep <= 1.0 - e.moved_still + 1e-6);
                prop_assert!(e.physical() <= 1.0 - e.moved_still + 1e-6);
                prop_assert!(e.keep <= 1.0 - e.edgeless + 1e-6);
                prop_assert!(e.filmed() <= 1.0 - e.edgeless + 1e-6);
            }
        }
    }
}
