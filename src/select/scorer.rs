//! The learned highlight scorer: what it is fed, and running it.
//!
//! A small network (trained by `engines/train_scorer.py` on annotated real footage, shipped
//! as `engines/models/scorer_fp32.onnx`) maps one row of numbers per frame to the probability
//! that the frame is a highlight. The row is built here, and only here, so training (which
//! reads the rows from `--dump-features`) and inference can never disagree on it.
//!
//! Every number in a row is absolute (grey levels, picture fractions per second, detector
//! confidences) or summarised over the frame's own neighbourhood (±1 s) and its own shot: no
//! statistic of the whole video enters, so one odd stretch elsewhere in a video cannot change
//! the verdict on a frame (a relative "sharpest quarter of the video" reference did exactly
//! that).

use crate::analyse::FrameFeatures;
use crate::infer::{InferError, Model, Tensor};
use std::ops::Range;

/// Names of the per-frame numbers, in row order (see [`base`]).
pub const BASE: [&str; 24] = [
    "luma_mean", "luma_std", "ln_sharpness", "ln_change", "ln_peak_change", "dominant_share", "subject_evidence",
    "ln_action", "camera_per_s", "colour_entropy", "saturation", "flat_share", "detail_sparsity", "net_present", "net_face",
    "net_person", "net_text", "net_spread", "excitement", "speech", "subject_size", "ln_subject_speed",
    "ln_world_speed", "ln_scale_rate",
];

/// Length of one row: the frame's numbers, their ±1 s mean, their shot median, and the
/// shot's length.
pub const INPUTS: usize = 3 * BASE.len() + 1;

/// Columns of [`BASE`] whose shot medians are compared across shots in the relative row.
const MOTION: [usize; 6] = [3, 4, 7, 8, 21, 22];

/// Names of the relative row (see [`relative`]).
pub const RELATIVE: [&str; 10] = [
    "logit_p1", "shot_logit_p1", "rel_ln_change", "rel_ln_peak_change", "rel_ln_action", "rel_camera_per_s",
    "rel_ln_subject_speed", "rel_ln_world_speed", "ln_footage_shots", "footage_share",
];

/// The names of a row's columns, for the dump header and the training script.
pub fn input_names() -> Vec<String> {
    let mut v: Vec<String> = BASE.iter().map(|b| (*b).to_string()).collect();
    v.extend(BASE.iter().map(|b| format!("win_{b}")));
    v.extend(BASE.iter().map(|b| format!("shot_{b}")));
    v.push("ln_shot_s".into());
    v
}

/// One frame's own numbers, each scaled to roughly unit range. The last three columns (the
/// subject's speed in the picture and in the world, its change of scale) need the previous
/// frame: [`inputs`] fills them.
pub fn base(f: &FrameFeatures, fps: f64) -> [f32; BASE.len()] {
    let ln = |v: f32| v.max(0.0).ln_1p();
    let fps = fps.max(1e-3) as f32;
    [
        f.luma_mean / 255.0,
        f.luma_std / 64.0,
        ln(f.sharpness),
        ln(f.change),
        ln(f.peak_change),
        f.dominant_share,
        f.subject_evidence,
        ln(f.action),
        ln(f.camera * fps * 10.0),
        f.colour_entropy / 6.0,
        f.saturation,
        f.flat_share,
        f.detail_sparsity,
        f.nets.present,
        f.nets.face,
        f.nets.person,
        f.nets.text,
        f.nets.spread,
        f.excitement,
        f.speech,
        f.subject_size,
        0.0,
        0.0,
        0.0,
    ]
}

/// How fast the framed subject moves in the picture, picture fractions per second, from the
/// previous frame of the same shot (0 on a shot's first frame).
fn subject_speed(prev: &FrameFeatures, f: &FrameFeatures, fps: f64) -> f32 {
    let (dx, dy) = (f.subject_x - prev.subject_x, f.subject_y - prev.subject_y);
    (dx * dx + dy * dy).sqrt() * fps as f32
}

/// How fast the subject moves against the scenery, picture diagonals per second: its motion
/// in the picture minus the picture content's own (the camera's) motion. A subject the
/// camera follows closely stands still in the picture but races past the background; a
/// parked car filmed from a drone moves in the picture with everything else. Diagonals make
/// the number the same for every picture shape (`aspect` = height / width).
fn world_speed(prev: &FrameFeatures, f: &FrameFeatures, fps: f64, aspect: f32) -> f32 {
    let dx = f.subject_x - prev.subject_x - f.camera_dx;
    let dy = (f.subject_y - prev.subject_y - f.camera_dy) * aspect;
    (dx * dx + dy * dy).sqrt() / (1.0 + aspect * aspect).sqrt() * fps as f32
}

/// How fast the subject's box grows or shrinks, natural-log scale units per second (0 when
/// either frame has no box): a subject running at the camera hardly moves in the picture.
fn scale_rate(prev: &FrameFeatures, f: &FrameFeatures, fps: f64) -> f32 {
    if prev.subject_area <= 1e-6 || f.subject_area <= 1e-6 {
        return 0.0;
    }
    (0.5 * (f.subject_area / prev.subject_area).ln()).abs() * fps as f32
}

/// The rows of every frame, `features.len() × INPUTS`, row-major; `aspect` is the picture's
/// height / width. Non-finite numbers (which no analysis should produce) become 0 so one bad
/// frame cannot poison the batch.
pub fn inputs(features: &[FrameFeatures], shots: &[Range<usize>], fps: f64, aspect: f64) -> Vec<f32> {
    let n = features.len();
    let b = BASE.len();
    let aspect = if aspect.is_finite() && aspect > 0.0 { aspect as f32 } else { 1.0 };
    let mut rows: Vec<[f32; BASE.len()]> = features.iter().map(|f| base(f, fps)).collect();
    let (speed, world, scale) = (BASE.len() - 3, BASE.len() - 2, BASE.len() - 1);
    for shot in shots.iter().filter(|s| s.end <= n) {
        for i in shot.start + 1..shot.end {
            let (p, f) = (&features[i - 1], &features[i]);
            rows[i][speed] = (10.0 * subject_speed(p, f, fps)).ln_1p();
            rows[i][world] = (10.0 * world_speed(p, f, fps, aspect)).ln_1p();
            rows[i][scale] = (10.0 * scale_rate(p, f, fps)).ln_1p();
        }
    }
    // ±1 s running mean by prefix sums.
    let half = (fps.max(1.0).round() as usize).max(1);
    let mut prefix = vec![[0.0f64; BASE.len()]; n + 1];
    for i in 0..n {
        for k in 0..b {
            prefix[i + 1][k] = prefix[i][k] + f64::from(rows[i][k]);
        }
    }
    let mut shot_of = vec![0..n; n];
    let mut shot_median = vec![[0.0f32; BASE.len()]; n];
    for shot in shots.iter().filter(|s| s.end <= n && !s.is_empty()) {
        let mut med = [0.0f32; BASE.len()];
        for (k, m) in med.iter_mut().enumerate() {
            let mut col: Vec<f32> = rows[shot.clone()].iter().map(|r| r[k]).collect();
            col.sort_by(|x, y| x.total_cmp(y));
            *m = col[col.len() / 2];
        }
        for i in shot.clone() {
            shot_of[i] = shot.clone();
            shot_median[i] = med;
        }
    }
    let mut out = Vec::with_capacity(n * INPUTS);
    for i in 0..n {
        let (lo, hi) = (i.saturating_sub(half), (i + half + 1).min(n));
        out.extend_from_slice(&rows[i]);
        out.extend((0..b).map(|k| ((prefix[hi][k] - prefix[lo][k]) / (hi - lo) as f64) as f32));
        out.extend_from_slice(&shot_median[i]);
        out.push((shot_of[i].len() as f64 / fps.max(1e-3)).ln_1p() as f32);
    }
    for v in &mut out {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    out
}

/// Shots whose mean first-stage probability is at least this are "footage" for the relative
/// row: the stretches that are worth comparing with each other.
const FOOTAGE_P: f32 = 0.5;

/// Shortest footage shot compared with others: half a second (a flash between two cuts says
/// nothing about which recording is the highlight).
pub fn footage_min_len(fps: f64) -> usize {
    ((fps * 0.5).round() as usize).max(1)
}

/// How long (seconds) a footage shot must be to set the video's reference speed, in the
/// second stage's relative row and in the activity order and gate of [`crate::select`]. The
/// reference says how fast this video's most active *recording* moves; a stretch under a
/// second is a flash, not a recording (a push-in over a photograph the first stage
/// half-believes, one cut of a fast montage), and as the reference it makes every real clip
/// beside it look calm. Shorter sure shots still count as footage (their share, their
/// number) and are still compared with the reference. Session 22, three fold draws: held-out
/// extra2 +1.3 (one recording of many short cuts no longer judged by its fastest cut), every
/// other set within 0.1 (README, "Measured").
pub const REFERENCE_MIN_S: f64 = 1.0;

/// Frames a footage shot needs to set the reference ([`REFERENCE_MIN_S`], never fewer than
/// [`footage_min_len`]).
pub fn reference_len(fps: f64) -> usize {
    ((fps * REFERENCE_MIN_S).round() as usize).max(footage_min_len(fps))
}

/// The shots of `sure` that may set the reference: those at least [`reference_len`] long,
/// or all of them when none is (a video of short shots only still has a reference).
pub fn reference_shots<'a>(sure: &[&'a Range<usize>], fps: f64) -> Vec<&'a Range<usize>> {
    long_or_all(sure, |s| s.len(), reference_len(fps))
}

/// The items at least `long` frames long, or all of them when none is.
fn long_or_all<T: Copy>(items: &[T], len: impl Fn(&T) -> usize, long: usize) -> Vec<T> {
    let long_ones: Vec<T> = items.iter().copied().filter(|s| len(s) >= long).collect();
    if long_ones.is_empty() { items.to_vec() } else { long_ones }
}

/// Whether `shot` is footage for comparisons between shots (the relative row, the activity
/// gate of [`crate::select`]): first-stage mean at least [`FOOTAGE_P`], `min_len` frames long.
pub fn is_footage_shot(p1: &[f32], shot: &Range<usize>, min_len: usize) -> bool {
    shot.end <= p1.len() && shot.len() >= min_len && p1[shot.clone()].iter().sum::<f32>() / shot.len() as f32 >= FOOTAGE_P
}

/// The footage shots of `shots` ([`is_footage_shot`]): the clips that the activity order and
/// gate of [`crate::select`] compare with each other.
pub fn footage_shots<'a>(p1: &[f32], shots: &'a [Range<usize>], min_len: usize) -> Vec<&'a Range<usize>> {
    shots.iter().filter(|s| is_footage_shot(p1, s, min_len)).collect()
}

/// The second-stage row of every frame, `n × RELATIVE.len()`, from the first stage's
/// probabilities `p1` and the absolute rows `x` (as [`inputs`] makes them).
///
/// Which real moment is the highlight is a comparison: a calm clip next to an action clip is
/// not one, the same calm clip alone is the whole video's content. So each shot's motion is
/// set against the most active *footage* shot of the video (first-stage probability ≥ 0.5,
/// at least half a second long). The reference is robust by construction: stretches the first
/// stage takes for filler (credits, bars, screens) never set it, so one odd stretch cannot
/// make the real footage look calm.
pub fn relative(x: &[f32], p1: &[f32], shots: &[Range<usize>], fps: f64) -> Vec<f32> {
    let n = p1.len();
    let r = RELATIVE.len();
    let logit = |p: f32| (p.clamp(1e-4, 1.0 - 1e-4) / (1.0 - p.clamp(1e-4, 1.0 - 1e-4))).ln().clamp(-6.0, 6.0) / 6.0;
    let shot_col = |i: usize, k: usize| x.get(i * INPUTS + 2 * BASE.len() + k).copied().unwrap_or(0.0);
    let min_len = footage_min_len(fps);
    let mut per_shot = Vec::new();
    for s in shots.iter().filter(|s| s.end <= n && !s.is_empty()) {
        let lmean = s.clone().map(|i| logit(p1[i])).sum::<f32>() / s.len() as f32;
        let footage = is_footage_shot(p1, s, min_len);
        per_shot.push((s.clone(), lmean, footage, MOTION.map(|k| shot_col(s.start, k))));
    }
    let footage: Vec<_> = per_shot.iter().filter(|s| s.2).collect();
    let footage_frames: usize = footage.iter().map(|s| s.0.len()).sum();
    let references = long_or_all(&footage, |s| s.0.len(), reference_len(fps));
    let mut reference = [f32::NEG_INFINITY; MOTION.len()];
    for s in &references {
        for (k, v) in s.3.iter().enumerate() {
            reference[k] = reference[k].max(*v);
        }
    }
    let mut out = vec![0.0f32; n * r];
    for (range, lmean, is_footage, motion) in &per_shot {
        for i in range.clone() {
            let row = &mut out[i * r..(i + 1) * r];
            row[0] = logit(p1[i]);
            row[1] = *lmean;
            for k in 0..MOTION.len() {
                row[2 + k] = if footage.is_empty() { 0.0 } else { motion[k] - reference[k] };
            }
            row[2 + MOTION.len()] = (footage.len() as f32).ln_1p();
            row[3 + MOTION.len()] = if *is_footage && footage_frames > 0 { range.len() as f32 / footage_frames as f32 } else { 0.0 };
        }
    }
    for v in &mut out {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    out
}

/// The scorer's two outputs for a whole video: the first stage's probability, then the
/// final one.
pub struct Scores {
    pub p1: Vec<f32>,
    pub p: Vec<f64>,
    /// Per frame, its shot's median speed of the subject against the scenery, picture
    /// diagonals per second (see [`world_speed`]): what [`crate::select`] compares shots by.
    pub activity: Vec<f64>,
}

/// Runs the scorer over a whole video in two batches: the first stage judges each frame on
/// its own, the second again with the relative row built from the first. An output of the
/// wrong length or with non-finite values is an error, never a silently wrong selection.
pub fn score_stages(model: &mut dyn Model, features: &[FrameFeatures], shots: &[Range<usize>], fps: f64, aspect: f64) -> Result<Scores, InferError> {
    let n = features.len();
    if n == 0 {
        return Ok(Scores { p1: Vec::new(), p: Vec::new(), activity: Vec::new() });
    }
    let x = inputs(features, shots, fps, aspect);
    let name = model.name().to_string();
    let bad = |message: String| InferError::Session { model: name.clone(), message };
    let mut run = |r: Vec<f32>| -> Result<(Vec<f32>, Vec<f32>), InferError> {
        let out = model.run(vec![Tensor::f32(vec![n, INPUTS], x.clone()), Tensor::f32(vec![n, RELATIVE.len()], r)])?;
        let mut it = out.into_iter();
        let (a, b) = (it.next().ok_or_else(|| bad("no output".into()))?, it.next().ok_or_else(|| bad("one output, two expected".into()))?);
        for o in [&a, &b] {
            if o.data.len() != n {
                return Err(bad(format!("{} outputs for {n} frames", o.data.len())));
            }
            if o.data.iter().any(|v| !v.is_finite()) {
                return Err(bad("non-finite probability".into()));
            }
        }
        Ok((a.data, b.data))
    };
    let (p1, _) = run(vec![0.0; n * RELATIVE.len()])?;
    let (_, p) = run(relative(&x, &p1, shots, fps))?;
    let world = 2 * BASE.len() + BASE.len() - 2;
    let activity = (0..n).map(|i| f64::from(x[i * INPUTS + world].exp_m1() / 10.0).max(0.0)).collect();
    Ok(Scores { p1, p: p.iter().map(|&v| f64::from(v).clamp(0.0, 1.0)).collect(), activity })
}

/// The final probability that each frame is a highlight (see [`score_stages`]).
pub fn score(model: &mut dyn Model, features: &[FrameFeatures], shots: &[Range<usize>], fps: f64, aspect: f64) -> Result<Vec<f64>, InferError> {
    score_stages(model, features, shots, fps, aspect).map(|s| s.p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::{Output, Provider};
    use proptest::prelude::*;

    fn frame(change: f32) -> FrameFeatures {
        FrameFeatures { change, luma_mean: 100.0, luma_std: 40.0, ..FrameFeatures::default() }
    }

    #[test]
    fn names_match_the_row_length() {
        assert_eq!(input_names().len(), INPUTS);
        let f: Vec<FrameFeatures> = (0..10).map(|i| frame(i as f32)).collect();
        assert_eq!(inputs(&f, &[0..10], 25.0, 0.5625).len(), 10 * INPUTS);
    }

    #[test]
    fn a_frame_row_ignores_other_shots_beyond_its_window() {
        // Changing a far-away shot must not change this frame's row (no video-wide statistic).
        let mut a: Vec<FrameFeatures> = (0..200).map(|_| frame(3.0)).collect();
        let shots = vec![0..100, 100..200];
        let before = inputs(&a, &shots, 25.0, 0.5625)[..INPUTS * 50].to_vec();
        for f in &mut a[150..] {
            f.change = 200.0;
            f.sharpness = 500.0;
        }
        assert_eq!(inputs(&a, &shots, 25.0, 0.5625)[..INPUTS * 50], before[..]);
    }

    #[test]
    fn relative_row_sets_each_shot_against_the_most_active_footage() {
        // Three shots: calm footage, active footage, and an even more "active" stretch the
        // first stage calls filler (scrolling credits): it must not become the reference.
        let n = 90;
        let shots = vec![0..30, 30..60, 60..90];
        let mut x = vec![0.0f32; n * INPUTS];
        let motion_of = |i: usize| if i < 30 { 0.5 } else if i < 60 { 2.0 } else { 5.0 };
        for i in 0..n {
            for &k in &MOTION {
                x[i * INPUTS + 2 * BASE.len() + k] = motion_of(i);
            }
        }
        let p1: Vec<f32> = (0..n).map(|i| if i < 60 { 0.9 } else { 0.05 }).collect();
        let r = relative(&x, &p1, &shots, 25.0);
        let row = |i: usize| &r[i * RELATIVE.len()..(i + 1) * RELATIVE.len()];
        assert!((row(10)[2] - -1.5).abs() < 1e-6, "calm shot against the active one: {:?}", row(10));
        assert_eq!(row(40)[2], 0.0);
        assert!((row(70)[2] - 3.0).abs() < 1e-6);
        let (count, share) = (2 + MOTION.len(), 3 + MOTION.len());
        assert!((row(10)[count] - 2f32.ln_1p()).abs() < 1e-6);
        assert!((row(10)[share] - 0.5).abs() < 1e-6 && row(70)[share] == 0.0);
        // With no footage at all, nothing is relative.
        let r0 = relative(&x, &vec![0.1; n], &shots, 25.0);
        assert!(r0.chunks(RELATIVE.len()).all(|c| c[2..count].iter().all(|&v| v == 0.0)));
    }

    #[test]
    fn a_sure_flash_does_not_set_the_reference_while_a_recording_does() {
        // At 25 fps: a 2 s recording (motion 1.0), then a 0.6 s push-in the first stage is sure
        // of (motion 4.0). The recording is the reference; the flash is compared with it and
        // still counts as footage.
        let n = 65;
        let shots = vec![0..50, 50..65];
        let mut x = vec![0.0f32; n * INPUTS];
        for i in 0..n {
            for &k in &MOTION {
                x[i * INPUTS + 2 * BASE.len() + k] = if i < 50 { 1.0 } else { 4.0 };
            }
        }
        let r = relative(&x, &vec![0.9; n], &shots, 25.0);
        let row = |i: usize| &r[i * RELATIVE.len()..(i + 1) * RELATIVE.len()];
        assert_eq!(row(10)[2], 0.0, "the recording is its own reference: {:?}", row(10));
        assert!((row(60)[2] - 3.0).abs() < 1e-6, "the flash against the recording: {:?}", row(60));
        assert!((row(60)[2 + MOTION.len()] - 2f32.ln_1p()).abs() < 1e-6, "both are footage");
        // Only short shots: the fastest of them is the reference, as before.
        let short = vec![0..20, 20..40, 40..65];
        for i in 40..n {
            for &k in &MOTION {
                x[i * INPUTS + 2 * BASE.len() + k] = 4.0;
            }
        }
        let r = relative(&x, &vec![0.9; n], &short, 25.0);
        assert!((r[10 * RELATIVE.len() + 2] - -3.0).abs() < 1e-6);
    }

    #[test]
    fn reference_shots_are_the_long_sure_shots_or_all_when_none_is_long() {
        let (a, b, c) = (0..10, 10..40, 40..52);
        assert_eq!(reference_len(25.0), 25);
        assert_eq!(reference_shots(&[&a, &b, &c], 25.0), vec![&b]);
        assert_eq!(reference_shots(&[&a, &c], 25.0), vec![&a, &c]);
        assert!(reference_shots(&[], 25.0).is_empty());
        // Never shorter than a footage shot's own minimum, at any frame rate.
        for fps in [0.5, 1.0, 10.0, 29.97, 60.0] {
            assert!(reference_len(fps) >= footage_min_len(fps));
        }
    }

    #[test]
    fn world_speed_is_motion_against_the_scenery() {
        let col = |name: &str| BASE.iter().position(|b| *b == name).unwrap();
        let (w, s) = (col("ln_world_speed"), col("ln_scale_rate"));
        // A subject the camera follows: still in the picture, the scenery flows past at 1% of
        // the width a frame.
        let followed: Vec<FrameFeatures> = (0..10).map(|_| FrameFeatures { subject_x: 0.5, camera_dx: -0.01, ..FrameFeatures::default() }).collect();
        // A parked subject filmed while panning: it moves in the picture with the scenery.
        let parked: Vec<FrameFeatures> = (0..10).map(|i| FrameFeatures { subject_x: 0.5 - 0.01 * i as f32, camera_dx: -0.01, ..FrameFeatures::default() }).collect();
        let row = |f: &[FrameFeatures], aspect: f64| inputs(f, &[0..10], 25.0, aspect)[5 * INPUTS..6 * INPUTS].to_vec();
        let fast = row(&followed, 1.0);
        assert!(row(&parked, 1.0)[w].abs() < 1e-5, "parked: {}", row(&parked, 1.0)[w]);
        // 0.01 picture widths × 25 fps on a square picture = 0.25 / √2 diagonals a second.
        assert!((fast[w] - (10.0f32 * 0.25 / 2f32.sqrt()).ln_1p()).abs() < 1e-4, "{}", fast[w]);
        // The same motion on a portrait strip is a smaller share of its diagonal.
        assert!(row(&followed, 16.0 / 9.0)[w] < fast[w]);
        // A box doubling in area every frame grows ln(2)/2 a frame; no box, no rate.
        let growing: Vec<FrameFeatures> = (0..10).map(|i| FrameFeatures { subject_area: 0.001 * 2f32.powi(i), ..FrameFeatures::default() }).collect();
        assert!((row(&growing, 1.0)[s] - (10.0 * 0.5 * 2f32.ln() * 25.0).ln_1p()).abs() < 1e-3);
        assert_eq!(row(&followed, 1.0)[s], 0.0);
        // The first frame of a shot has no previous frame to compare with.
        assert_eq!(inputs(&followed, &[0..10], 25.0, 1.0)[w], 0.0);
    }

    /// A stand-in network that returns a fixed vector; the real scorer runs in tests/scorer.rs.
    struct Fixed(Vec<f32>);
    impl Model for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        fn provider(&self) -> Provider {
            Provider::Cpu
        }
        fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Output>, InferError> {
            assert_eq!(inputs[0].shape[1], INPUTS);
            assert_eq!(inputs[1].shape[1], RELATIVE.len());
            let o = Output { shape: vec![self.0.len(), 1], data: self.0.clone() };
            Ok(vec![o.clone(), o])
        }
    }

    #[test]
    fn wrong_length_or_nan_is_an_error() {
        let f: Vec<FrameFeatures> = (0..3).map(|_| frame(1.0)).collect();
        assert!(score(&mut Fixed(vec![0.5; 2]), &f, &[0..3], 25.0, 0.5625).is_err());
        assert!(score(&mut Fixed(vec![0.5, f32::NAN, 0.1]), &f, &[0..3], 25.0, 0.5625).is_err());
        assert_eq!(score(&mut Fixed(vec![0.5, 1.5, -0.1]), &f, &[0..3], 25.0, 0.5625).unwrap(), vec![0.5, 1.0, 0.0]);
    }

    proptest! {
        #[test]
        fn rows_are_finite_for_any_features(v in proptest::collection::vec((0.0f32..1e6, -1.0f32..1e9), 1..60), fps in 1.0f64..120.0) {
            let f: Vec<FrameFeatures> = v.iter().map(|&(a, b)| FrameFeatures { change: a, sharpness: b, camera: b, ..FrameFeatures::default() }).collect();
            let n = f.len();
            let x = inputs(&f, &[0..n / 2, n / 2..n], fps, 0.5625);
            prop_assert_eq!(x.len(), n * INPUTS);
            prop_assert!(x.iter().all(|v| v.is_finite()));
        }
    }
}
