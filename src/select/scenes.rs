//! Scenes: runs of consecutive footage shots that are one recording.
//!
//! Which real moment is the highlight is decided per recording: its probability is shared
//! over its frames, and the activity gate compares recordings by how fast their subjects move
//! against the scenery. The shot detector cuts wherever the picture jumps, and inside one
//! recording it jumps too: a flash, a whip of the camera, a subject filling the frame, a film
//! sequence with its own cuts. Judged shot by shot, the calmer half of one recording was
//! gated against its own livelier half and dropped (a crowd of umbrellas cut in two, a film
//! scene cut in four), though an annotated single sequence is a highlight whole.
//!
//! So consecutive footage shots whose pictures look alike across the cut are joined: the
//! medians over half a second each side of brightness, contrast, colourfulness, colour
//! spread and sharpness, each difference in its own unit, the largest against `max_distance`.
//! These are properties of the scene and the camera (light, lens, what is in view), which a
//! jump of motion leaves alone and a cut to other footage changes. The comparison is local
//! (the two sides of one cut), so no other stretch of the video moves it.

use super::upper_median;
use crate::analyse::FrameFeatures;
use std::ops::Range;

/// The units of the appearance distance: a difference of one unit in any of these makes two
/// sides one unit apart. Grey levels of mean brightness and of contrast, saturation (0–1),
/// colour entropy (bits) and natural-log sharpness.
const LUMA: f32 = 25.0;
const CONTRAST: f32 = 15.0;
const SATURATION: f32 = 0.1;
const ENTROPY: f32 = 0.5;
const LN_SHARPNESS: f32 = 0.5;

/// The appearance of `frames`: per-property medians over their finite values (`None` when a
/// property has none: nothing known is nothing alike).
fn appearance(frames: &[FrameFeatures]) -> Option<[f32; 5]> {
    let median = |f: &dyn Fn(&FrameFeatures) -> f32| upper_median(&mut frames.iter().map(f).filter(|x| x.is_finite()).collect::<Vec<f32>>());
    Some([
        median(&|f| f.luma_mean / LUMA)?,
        median(&|f| f.luma_std / CONTRAST)?,
        median(&|f| f.saturation / SATURATION)?,
        median(&|f| f.colour_entropy / ENTROPY)?,
        median(&|f| (f.sharpness.max(0.0) + 1.0).ln() / LN_SHARPNESS)?,
    ])
}

/// How unlike the two sides of the cut between the shots `before` and `after` look, in units
/// (see the constants): the largest difference of the medians over `half` frames (half a
/// second) each side, within the two shots. `None` when either side has no frame.
pub fn distance_across(features: &[FrameFeatures], before: &Range<usize>, after: &Range<usize>, half: usize) -> Option<f32> {
    let a = &features.get(before.end.saturating_sub(half).max(before.start)..before.end)?;
    let b = &features.get(after.start..after.start.saturating_add(half).min(after.end))?;
    let (x, y) = (appearance(a)?, appearance(b)?);
    Some(x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max))
}

/// The scenes over `shots` (ascending, adjacent): a shot for which `footage` holds is joined
/// to the previous one when that one is footage too, adjacent, and the two look alike across
/// the cut (distance under `max_distance`). Every other shot is a scene of its own; a
/// `max_distance` of 0 joins nothing.
pub fn join(features: &[FrameFeatures], shots: &[Range<usize>], fps: f64, max_distance: f32, footage: impl Fn(&Range<usize>) -> bool) -> Vec<Range<usize>> {
    let half = ((fps * 0.5).round() as usize).max(1);
    let mut out: Vec<(Range<usize>, bool)> = Vec::with_capacity(shots.len());
    let mut prev: Option<&Range<usize>> = None;
    for shot in shots {
        let is_footage = footage(shot);
        let joins = max_distance > 0.0
            && is_footage
            && out.last().is_some_and(|(s, f)| *f && s.end == shot.start)
            && prev.and_then(|p| distance_across(features, p, shot, half)).is_some_and(|d| d < max_distance);
        match out.last_mut() {
            Some((last, _)) if joins => last.end = shot.end,
            _ => out.push((shot.clone(), is_footage)),
        }
        prev = Some(shot);
    }
    out.into_iter().map(|(r, _)| r).collect()
}

/// Per frame, its scene's activity: the median over the scene's frames of `activity` (each
/// frame's shot median), so a scene is as active as most of its time.
pub fn activity_by_scene(activity: &[f64], scenes: &[Range<usize>]) -> Vec<f64> {
    let mut out = activity.to_vec();
    for s in scenes.iter().filter(|s| s.end <= activity.len()) {
        if let Some(m) = upper_median(&mut activity[s.clone()].to_vec()) {
            out[s.clone()].iter_mut().for_each(|x| *x = m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn look(luma: f32, saturation: f32, n: usize) -> Vec<FrameFeatures> {
        (0..n).map(|_| FrameFeatures { luma_mean: luma, luma_std: 40.0, saturation, colour_entropy: 3.0, sharpness: 20.0, ..FrameFeatures::default() }).collect()
    }

    #[test]
    fn a_jump_inside_one_recording_is_joined_and_a_cut_to_other_footage_is_not() {
        // One recording cut in two by a jump (same look), then other footage (darker, greyer).
        let mut f = look(120.0, 0.3, 50);
        f.extend(look(124.0, 0.31, 50));
        f.extend(look(60.0, 0.05, 50));
        let shots = vec![0..50, 50..100, 100..150];
        assert_eq!(join(&f, &shots, 25.0, 0.5, |_| true), vec![0..100, 100..150]);
        // Off, or when either side is not footage, nothing is joined.
        assert_eq!(join(&f, &shots, 25.0, 0.0, |_| true), shots);
        assert_eq!(join(&f, &shots, 25.0, 0.5, |s| s.start != 50), shots);
        assert_eq!(join(&f, &shots, 25.0, 0.5, |s| s.start != 0), shots);
    }

    #[test]
    fn sides_with_nothing_measured_are_not_alike() {
        let mut f = look(120.0, 0.3, 100);
        for x in &mut f {
            x.luma_mean = f32::NAN;
        }
        assert_eq!(join(&f, &[0..50, 50..100], 25.0, 0.5, |_| true), vec![0..50, 50..100]);
        assert_eq!(join(&f, &[0..50, 50..100], f64::INFINITY, 0.5, |_| true), vec![0..50, 50..100]);
    }

    #[test]
    fn only_the_half_second_next_to_the_cut_is_compared() {
        // The first shot drifts from dark to the second's look: the cut itself is seamless.
        let mut f = look(40.0, 0.3, 40);
        f.extend(look(120.0, 0.3, 20));
        f.extend(look(121.0, 0.3, 50));
        assert_eq!(join(&f, &[0..60, 60..110], 25.0, 0.5, |_| true), vec![0..110]);
    }

    #[test]
    fn a_scene_is_as_active_as_most_of_its_frames() {
        let activity: Vec<f64> = [vec![0.02; 30], vec![0.2; 10], vec![0.5; 20]].concat();
        let by = activity_by_scene(&activity, &[0..40, 40..60]);
        assert!(by[..40].iter().all(|&v| v == 0.02));
        assert!(by[40..].iter().all(|&v| v == 0.5));
    }

    proptest! {
        #[test]
        fn scenes_tile_the_shots_in_order(cuts in proptest::collection::btree_set(1usize..200, 0..12), lumas in proptest::collection::vec(0.0f32..255.0, 200), max in 0.0f32..3.0, mask in any::<u16>()) {
            let f: Vec<FrameFeatures> = lumas.iter().map(|&l| FrameFeatures { luma_mean: l, ..FrameFeatures::default() }).collect();
            let mut bounds = vec![0usize];
            bounds.extend(cuts.iter().copied());
            bounds.push(200);
            let shots: Vec<Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
            let scenes = join(&f, &shots, 25.0, max, |s| mask >> (s.start % 16) & 1 == 1);
            prop_assert!(scenes.len() <= shots.len());
            prop_assert_eq!(scenes.first().map(|s| s.start), Some(0));
            prop_assert_eq!(scenes.last().map(|s| s.end), Some(200));
            for w in scenes.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start);
            }
            // Every scene boundary is a shot boundary.
            for s in &scenes {
                prop_assert!(bounds.contains(&s.start) && bounds.contains(&s.end));
            }
        }
    }
}
