//! The virtual camera of one shot: choose a camera mode as AutoFlip does and turn noisy
//! per-frame subject positions into a steady path.
//!
//! Positions are window *centres* along one axis, in source pixels. A shot is planned on its
//! own, so the camera never drifts across a cut.

use serde::Serialize;

/// Where the subject seems to be on one frame, along one axis, and how sure that is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Subject centre in source pixels.
    pub pos: f64,
    /// Evidence strength in `[0, 1]`; 0 means nothing salient was seen.
    pub weight: f64,
}

/// How the virtual camera behaves over one shot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraMode {
    /// Nothing salient enough: the centred window.
    Centre,
    /// The subject stays within a small range: a locked-off camera on it.
    Stationary,
    /// The subject moves: a smoothed pan that follows it.
    Tracking,
}

/// Tuning of the path planner; see `configs/highlightd.toml` for the meaning of each key.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathParams {
    /// Mean evidence below which a shot is framed centred.
    pub min_evidence: f64,
    /// A shot whose subject range (p10–p90) is below this fraction of the window size is
    /// framed stationary.
    pub stationary_range: f64,
    /// Gaussian smoothing of a tracking path, in seconds (one sigma).
    pub smoothing_s: f64,
    /// Fastest pan, in window widths per second.
    pub max_speed: f64,
    /// Weight of the picture centre as a prior, relative to one frame of full evidence.
    pub centre_prior: f64,
}

impl Default for PathParams {
    fn default() -> Self {
        Self { min_evidence: 0.08, stationary_range: 0.1, smoothing_s: 0.15, max_speed: 1.5, centre_prior: 0.05 }
    }
}

/// One axis of the problem: the picture extent and the window extent along it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    pub picture: f64,
    pub window: f64,
}

impl Axis {
    fn lo(self) -> f64 {
        self.window / 2.0
    }
    fn hi(self) -> f64 {
        (self.picture - self.window / 2.0).max(self.lo())
    }
    fn centre(self) -> f64 {
        self.picture / 2.0
    }
    fn clamp(self, v: f64) -> f64 {
        v.clamp(self.lo(), self.hi())
    }
}

/// Plans the window centre of every frame of one shot along one axis.
pub fn plan_shot(obs: &[Observation], axis: Axis, fps: f64, p: &PathParams) -> (CameraMode, Vec<f64>) {
    let n = obs.len();
    if n == 0 {
        return (CameraMode::Centre, Vec::new());
    }
    let centre = axis.clamp(axis.centre());
    if axis.hi() - axis.lo() < 0.5 {
        return (CameraMode::Stationary, vec![centre; n]);
    }
    let evidence = obs.iter().map(|o| o.weight.clamp(0.0, 1.0)).sum::<f64>() / n as f64;
    if !evidence.is_finite() || evidence < p.min_evidence {
        return (CameraMode::Centre, vec![centre; n]);
    }
    // Reachable positions only: a subject beyond the clamp range looks the same as one on it.
    let clamped: Vec<Observation> = obs
        .iter()
        .map(|o| Observation {
            pos: if o.pos.is_finite() { axis.clamp(o.pos) } else { centre },
            weight: if o.pos.is_finite() { o.weight.clamp(0.0, 1.0) } else { 0.0 },
        })
        .collect();

    let sigma = (p.smoothing_s * fps).max(1.0);
    let smooth = weighted_gaussian(&clamped, sigma, centre, p.centre_prior);
    let (lo, hi) = weighted_range(&clamped);
    if hi - lo <= p.stationary_range * axis.window {
        let m = weighted_median(&clamped).unwrap_or(centre);
        return (CameraMode::Stationary, vec![axis.clamp(m); n]);
    }
    let max_step = p.max_speed * axis.window / fps.max(1.0);
    let limited = limit_speed(&smooth, max_step);
    (CameraMode::Tracking, limited.into_iter().map(|v| axis.clamp(v)).collect())
}

/// Gaussian smoothing in which each sample counts with its evidence; frames without evidence
/// take their neighbours' value, and a weak prior pulls towards the centre when nothing is near.
fn weighted_gaussian(obs: &[Observation], sigma: f64, centre: f64, prior: f64) -> Vec<f64> {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-radius..=radius).map(|d| (-((d * d) as f64) / (2.0 * sigma * sigma)).exp()).collect();
    let n = obs.len() as isize;
    (0..n)
        .map(|t| {
            let (mut num, mut den) = (prior * centre, prior);
            for (k, d) in (-radius..=radius).enumerate() {
                let j = t + d;
                if (0..n).contains(&j) {
                    let o = obs[j as usize];
                    num += kernel[k] * o.weight * o.pos;
                    den += kernel[k] * o.weight;
                }
            }
            if den > 0.0 { num / den } else { centre }
        })
        .collect()
}

/// The evidence-weighted 10th and 90th percentiles of the positions.
fn weighted_range(obs: &[Observation]) -> (f64, f64) {
    let lo = weighted_quantile(obs, 0.1);
    let hi = weighted_quantile(obs, 0.9);
    match (lo, hi) {
        (Some(l), Some(h)) => (l, h),
        _ => (0.0, 0.0),
    }
}

fn weighted_median(obs: &[Observation]) -> Option<f64> {
    weighted_quantile(obs, 0.5)
}

fn weighted_quantile(obs: &[Observation], q: f64) -> Option<f64> {
    let mut v: Vec<(f64, f64)> = obs.iter().filter(|o| o.weight > 0.0).map(|o| (o.pos, o.weight)).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|x| x.1).sum();
    let target = q * total;
    let mut acc = 0.0;
    for (pos, w) in &v {
        acc += w;
        if acc >= target {
            return Some(*pos);
        }
    }
    v.last().map(|x| x.0)
}

/// Caps the per-frame movement, forwards then backwards, so a pan never jumps.
pub fn limit_speed(path: &[f64], max_step: f64) -> Vec<f64> {
    let mut out = path.to_vec();
    for i in 1..out.len() {
        let d = (out[i] - out[i - 1]).clamp(-max_step, max_step);
        out[i] = out[i - 1] + d;
    }
    for i in (0..out.len().saturating_sub(1)).rev() {
        let d = (out[i] - out[i + 1]).clamp(-max_step, max_step);
        out[i] = out[i + 1] + d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AXIS: Axis = Axis { picture: 640.0, window: 202.0 };

    fn obs(pos: &[f64], w: f64) -> Vec<Observation> {
        pos.iter().map(|&p| Observation { pos: p, weight: w }).collect()
    }

    #[test]
    fn no_evidence_gives_centre() {
        let (mode, path) = plan_shot(&obs(&[10.0; 30], 0.0), AXIS, 30.0, &PathParams::default());
        assert_eq!(mode, CameraMode::Centre);
        assert!(path.iter().all(|&v| v == 320.0));
    }

    #[test]
    fn still_subject_gives_locked_camera() {
        let pos: Vec<f64> = (0..60).map(|i| 200.0 + (i % 3) as f64).collect();
        let (mode, path) = plan_shot(&obs(&pos, 0.8), AXIS, 30.0, &PathParams::default());
        assert_eq!(mode, CameraMode::Stationary);
        assert!(path.windows(2).all(|w| w[0] == w[1]));
        assert!((path[0] - 201.0).abs() < 2.0);
    }

    #[test]
    fn moving_subject_is_followed_smoothly() {
        let pos: Vec<f64> = (0..90).map(|i| 120.0 + 4.0 * i as f64 + if i % 2 == 0 { 15.0 } else { -15.0 }).collect();
        let (mode, path) = plan_shot(&obs(&pos, 0.8), AXIS, 30.0, &PathParams::default());
        assert_eq!(mode, CameraMode::Tracking);
        // Follows the trend (ends far right of where it started) ...
        assert!(path[80] - path[10] > 200.0);
        // ... without the ±15 px jitter.
        let jerk = path.windows(3).map(|w| (w[2] - 2.0 * w[1] + w[0]).abs()).fold(0.0, f64::max);
        assert!(jerk < 3.0, "jerk {jerk}");
    }

    proptest! {
        #[test]
        fn path_stays_in_reach_and_speed(
            pos in proptest::collection::vec(-200.0f64..900.0, 1..200),
            w in 0.0f64..1.0, fps in 10.0f64..60.0,
        ) {
            let p = PathParams::default();
            let (_, path) = plan_shot(&obs(&pos, w), AXIS, fps, &p);
            prop_assert_eq!(path.len(), pos.len());
            let max_step = p.max_speed * AXIS.window / fps + 1e-9;
            for v in &path {
                prop_assert!(*v >= AXIS.window / 2.0 - 1e-9 && *v <= AXIS.picture - AXIS.window / 2.0 + 1e-9);
            }
            for s in path.windows(2) {
                prop_assert!((s[1] - s[0]).abs() <= max_step);
            }
        }

        #[test]
        fn limit_speed_never_exceeds_step(path in proptest::collection::vec(-1000.0f64..1000.0, 0..100), step in 0.1f64..50.0) {
            let out = limit_speed(&path, step);
            for s in out.windows(2) {
                prop_assert!((s[1] - s[0]).abs() <= step + 1e-9);
            }
        }
    }
}
