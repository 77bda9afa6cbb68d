//! Per-frame evidence for selection and framing, computed while the video decodes.
//!
//! Everything here works on the small analysis picture and keeps only a few numbers per
//! frame, so memory stays flat however long the video is.

pub mod image;
pub mod saliency;
pub mod shots;

use crate::decode::AnalysisFrame;
use image::Plane;
use serde::Serialize;

/// What one frame looks like, in numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameFeatures {
    /// Mean luma, 0–255.
    pub luma_mean: f32,
    /// Luma standard deviation: near 0 for black or flat frames.
    pub luma_std: f32,
    /// Mean absolute Laplacian: low for blur and flat graphics.
    pub sharpness: f32,
    /// Mean absolute luma change from the previous frame (0 for the first): ~0 when frozen.
    pub change: f32,
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
}

/// Turns decoded frames into [`FrameFeatures`], one call per frame, in order.
#[derive(Default)]
pub struct Analyser {
    prev_luma: Option<Plane>,
    prev_hist: Option<shots::Histogram>,
    saliency: saliency::Saliency,
    cut_threshold: f32,
}

impl Analyser {
    pub fn new(cut_threshold: f32) -> Self {
        Self { cut_threshold, ..Self::default() }
    }

    pub fn push(&mut self, f: &AnalysisFrame) -> FrameFeatures {
        let (w, h) = (f.width as usize, f.height as usize);
        let luma = Plane::luma_from_rgb(w, h, &f.rgb);
        let (luma_mean, luma_std) = image::mean_std(&luma.data);
        let hist = shots::histogram(&f.rgb);
        let dominant_share = hist.iter().copied().fold(0.0, f32::max);
        let cut_distance = self.prev_hist.as_ref().map_or(0.0, |p| shots::distance(p, &hist));
        let change = match &self.prev_luma {
            Some(p) if p.data.len() == luma.data.len() => {
                p.data.iter().zip(&luma.data).map(|(a, b)| (a - b).abs()).sum::<f32>() / luma.data.len().max(1) as f32
            }
            _ => 0.0,
        };
        if cut_distance > self.cut_threshold {
            self.saliency.reset();
        }
        let subject = self.saliency.push(&luma);
        let sharpness = image::sharpness(&luma);
        self.prev_luma = Some(luma);
        self.prev_hist = Some(hist);
        FrameFeatures {
            luma_mean,
            luma_std,
            sharpness,
            change,
            dominant_share,
            cut_distance,
            subject_x: subject.x,
            subject_y: subject.y,
            subject_evidence: subject.evidence,
            action: subject.action,
        }
    }
}
