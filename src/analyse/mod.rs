//! Per-frame evidence for selection and framing, computed while the video decodes.
//!
//! Everything here works on the small analysis picture and keeps only a few numbers per
//! frame, so memory stays flat however long the video is.

pub mod audio;
pub mod image;
pub mod nets;
pub mod rigid;
pub mod saliency;
pub mod shots;
pub mod subjects;

use crate::decode::AnalysisFrame;
use image::Plane;
use serde::{Deserialize, Serialize};

/// What one frame looks like, in numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, Serialize)]
pub struct FrameFeatures {
    /// Mean luma, 0–255.
    pub luma_mean: f32,
    /// Luma standard deviation: near 0 for black or flat frames.
    pub luma_std: f32,
    /// Mean absolute Laplacian: low for blur and flat graphics.
    pub sharpness: f32,
    /// Mean absolute luma change from the previous frame (0 for the first).
    pub change: f32,
    /// 99th percentile of the absolute luma change: what the most-changed region does. A
    /// frozen picture only shows compression noise (1–2 grey levels); anything that moves,
    /// however small, lifts it well above.
    pub peak_change: f32,
    /// Share of pixels in the most common of 64 colour bins: high for title cards.
    pub dominant_share: f32,
    /// Histogram distance to the previous frame, for shot cuts.
    pub cut_distance: f32,
    /// Subject position in picture fractions.
    pub subject_x: f32,
    pub subject_y: f32,
    /// How concentrated saliency is, 0–1.
    pub subject_evidence: f32,
    /// Motion against the camera (grey levels on the saliency grid).
    pub action: f32,
    /// The networks' subject here: detector confidence × size (1 for a confident subject
    /// covering a tenth of the picture or more); 0 when none was seen or no network ran.
    pub subject_size: f32,
    /// Audio excitement (applause, cheering, crowd, laughter: YAMNet's probability), 0–1.
    pub excitement: f32,
    /// Speech probability, 0–1.
    pub speech: f32,
    /// The camera's own motion per frame (dominant translation, picture fractions).
    pub camera: f32,
    /// The picture content's motion since the previous frame as a signed vector, picture
    /// fractions (see [`saliency::Subject::camera_dx`]); 0 in dumps older than it.
    #[serde(default)]
    pub camera_dx: f32,
    #[serde(default)]
    pub camera_dy: f32,
    /// Share of the picture the networks' subject box covers, 0 when only saliency placed
    /// the subject: its change is the subject's motion towards or away from the camera.
    #[serde(default)]
    pub subject_area: f32,
    /// Entropy of the 64-bin colour histogram, bits (0–6): low for fills and title cards,
    /// high for natural scenes.
    pub colour_entropy: f32,
    /// Mean colourfulness, 0–1.
    pub saturation: f32,
    /// Share of pixels with no local detail (see [`image::Detail::flat_share`]).
    pub flat_share: f32,
    /// How much of the detail its most detailed tenth carries (see [`image::Detail::sparsity`]).
    /// Dumps written before session 10 lack it and `replay` refuses them, naming the field,
    /// rather than judge with a made-up value.
    pub detail_sparsity: f32,
    /// How much of the picture the previous one, moved as the camera moved, does not explain:
    /// `1 − r` on the coarse grid (see [`saliency::decorrelation`]); near 0 for camera footage
    /// however it moves, near 1 for static and per-frame noise. Required in dumps, as
    /// `detail_sparsity` is: `replay` refuses older dumps, naming the field.
    pub decorrelation: f32,
    /// What the picture half a second earlier, moved by the one affine map that explains it
    /// best, leaves unexplained, as the distance (pixels, 99th percentile) the picture would
    /// have to move to explain the rest (see [`rigid`]). Under a pixel for a still being
    /// panned or zoomed over, scrolling credits or a frozen picture; a living scene leaves its
    /// moving parts, pixels. Measured on every third frame from a fifth of a second into a
    /// shot, `None` on the others (and in dumps older than it, which then replay without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rigid_residual: Option<f32>,
    /// What the networks saw (see [`NetCues`]), held between the sampled frames of a shot.
    pub nets: NetCues,
    /// Where framing aims: the networks' subject, found as the subject above is but on the
    /// saliency map weighed by the scene's motion (see [`subjects::weigh_by_motion`]), so it
    /// moves the window and nothing that selection reads. `None` where no network subject was
    /// seen (framing then aims at the subject above) and in dumps older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aim: Option<Aim>,
}

/// A point framing aims at, in picture fractions, and how sure it is (0–1, the path
/// planner's weight).
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, Serialize)]
pub struct Aim {
    pub x: f32,
    pub y: f32,
    pub evidence: f32,
}

impl FrameFeatures {
    /// Where framing aims on this frame: [`Self::aim`] where there is one, else the subject.
    pub fn aim_point(&self) -> Aim {
        self.aim.unwrap_or(Aim { x: self.subject_x, y: self.subject_y, evidence: self.subject_evidence })
    }
}

/// Per-frame cues from the image networks, for selection: how confident the best face and
/// person are, how much of the picture is text, how concentrated the saliency map is.
/// `present` is 0 on frames no network looked at (networks off), 1 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, Serialize)]
pub struct NetCues {
    pub present: f32,
    /// Best face: score × √area-based size factor, 0–1.
    pub face: f32,
    /// Best person: score × size factor, 0–1.
    pub person: f32,
    /// Picture share covered by text boxes, 0–1.
    pub text: f32,
    /// Saliency spread (0 = one point, 1 = uniform); 1 when no map.
    pub spread: f32,
}

impl NetCues {
    /// Summarises one frame's detections. `power` sharpens the saliency map as the subject
    /// fusion does, so "concentrated" means the same thing in both places.
    pub fn from_detections(d: &nets::FrameDetections, power: f32) -> NetCues {
        // A subject covering a tenth of the picture or more counts fully (as `presence`).
        let best = |v: &[nets::Detection]| v.iter().map(|b| b.score.clamp(0.0, 1.0) * (b.area() / 0.1).sqrt().min(1.0)).fold(0.0f32, f32::max);
        let text = d.text.iter().map(|b| b.area()).sum::<f32>().min(1.0);
        let spread = d.saliency.as_ref().and_then(|m| subjects::saliency_centre(m, power)).map_or(1.0, |(_, _, s)| s.clamp(0.0, 1.0));
        NetCues { present: 1.0, face: best(&d.faces), person: best(&d.people), text, spread }
    }
}

/// Turns decoded frames into [`FrameFeatures`], one call per frame, in order.
#[derive(Default)]
pub struct Analyser {
    prev_luma: Option<Plane>,
    prev_hist: Option<shots::Histogram>,
    saliency: saliency::Saliency,
    rigid: rigid::RigidMotion,
    cut_threshold: f32,
}

impl Analyser {
    pub fn new(cut_threshold: f32) -> Self {
        Self { cut_threshold, ..Self::default() }
    }

    /// Where the scene moved against its background lately (see
    /// [`rigid::RigidMotion::motion_map`]).
    pub fn motion_map(&self) -> Option<Plane> {
        self.rigid.motion_map()
    }

    /// Forgets the previous picture, as at the start of a file (a camera's recording that
    /// resumes after a gap does not continue the picture before it).
    pub fn restart(&mut self) {
        *self = Analyser::new(self.cut_threshold);
    }

    pub fn push(&mut self, f: &AnalysisFrame) -> FrameFeatures {
        let (w, h) = (f.width as usize, f.height as usize);
        let luma = Plane::luma_from_rgb(w, h, &f.rgb);
        let (luma_mean, luma_std) = image::mean_std(&luma.data);
        let hist = shots::histogram(&f.rgb);
        let dominant_share = hist.iter().copied().fold(0.0, f32::max);
        let cut_distance = self.prev_hist.as_ref().map_or(0.0, |p| shots::distance(p, &hist));
        let (change, peak_change) = match &self.prev_luma {
            Some(p) if p.data.len() == luma.data.len() => change_stats(&p.data, &luma.data),
            _ => (0.0, 0.0),
        };
        if cut_distance > self.cut_threshold {
            self.saliency.reset();
            self.rigid.reset();
        }
        let subject = self.saliency.push(&luma);
        // Frame times from the stream; without them, 25 fps (only the half-second gap uses it).
        let t = f.pts_ns.map_or(f.index as f64 / 25.0, |ns| ns as f64 / 1e9);
        let rigid_residual = self.rigid.push(&luma, f.index, t, (subject.camera_dx, subject.camera_dy));
        let detail = image::detail(&luma);
        let colour_entropy = -hist.iter().filter(|&&p| p > 0.0).map(|&p| p * p.log2()).sum::<f32>();
        self.prev_luma = Some(luma);
        self.prev_hist = Some(hist);
        FrameFeatures {
            luma_mean,
            luma_std,
            sharpness: detail.sharpness,
            change,
            peak_change,
            dominant_share,
            cut_distance,
            subject_x: subject.x,
            subject_y: subject.y,
            subject_evidence: subject.evidence,
            action: subject.action,
            subject_size: 0.0,
            excitement: 0.0,
            speech: 0.0,
            camera: subject.camera,
            camera_dx: subject.camera_dx,
            camera_dy: subject.camera_dy,
            subject_area: 0.0,
            colour_entropy,
            saturation: image::saturation(&f.rgb),
            flat_share: detail.flat_share,
            detail_sparsity: detail.sparsity,
            decorrelation: subject.decorrelation,
            rigid_residual,
            nets: NetCues::default(),
            aim: None,
        }
    }
}

/// Mean and 99th percentile of `|a - b|`, the percentile from a histogram of whole grey levels.
fn change_stats(a: &[f32], b: &[f32]) -> (f32, f32) {
    let mut hist = [0u32; 256];
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        sum += d;
        hist[(d as usize).min(255)] += 1;
    }
    let n = a.len().max(1);
    let p99 = image::quantile_bin(&hist, n as u64, 0.99).map_or(255.0, |level| level as f32);
    (sum / n as f32, p99)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_change_sees_a_small_moving_region_that_the_mean_misses() {
        let a = vec![100.0f32; 1000];
        let mut b = vec![101.0f32; 1000];
        for v in b.iter_mut().take(20) {
            *v = 160.0;
        }
        let (mean, peak) = change_stats(&a, &b);
        assert!(mean < 2.5);
        assert_eq!(peak, 60.0);
        let (_, still) = change_stats(&a, &vec![101.0f32; 1000]);
        assert_eq!(still, 1.0);
    }
}
