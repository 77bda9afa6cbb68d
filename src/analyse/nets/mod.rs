//! The image networks' pre- and post-processing: pictures in, boxes and a saliency map out.
//!
//! Each network has a wrapper with a pure `preprocess` (packed RGB → the input tensor the
//! manifest describes), a pure `decode` (output tensors → detections in picture fractions) and
//! `detect`, which runs the two around [`Model::run`]. The pure halves are what the unit tests
//! cover with hand-made tensors; the real networks are exercised in `tests/nets.rs`.
//!
//! - [`faces`]: CenterFace, face boxes.
//! - [`people`]: SSDLite-MobileNetV2, person boxes.
//! - [`text`]: PP-OCR detection (DB), text-line boxes.
//! - [`saliency`]: UNISAL, a saliency map.
//! - [`resize`]: the bilinear resize they share.

pub mod faces;
pub mod people;
pub mod resize;
pub mod saliency;
pub mod text;
pub mod worker;

pub use faces::FaceDetector;
pub use people::PersonDetector;
pub use saliency::SaliencyNet;
pub use text::TextDetector;

use crate::infer::{InferError, Model, Output, Runtime, Task};
use resize::Resizer;

/// A box in picture fractions (0..1 of the frame width/height), with the detector's score.
///
/// Fractions rather than pixels because the networks each see the frame squeezed to their own
/// size, and the consumers (framing, selection) work on yet other sizes: fractions are the one
/// coordinate system they all share without carrying the frame size along.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub score: f32,
}

impl Detection {
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Centre `(x, y)`, in picture fractions.
    pub fn centre(&self) -> (f32, f32) {
        ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }

    /// Intersection over union with `other`; 0 when both are empty.
    pub fn iou(&self, other: &Detection) -> f32 {
        let w = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let h = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    /// The box clamped to the picture, `0..1` on both axes.
    fn clamped(self) -> Detection {
        Detection {
            x0: self.x0.clamp(0.0, 1.0),
            y0: self.y0.clamp(0.0, 1.0),
            x1: self.x1.clamp(0.0, 1.0),
            y1: self.y1.clamp(0.0, 1.0),
            score: self.score,
        }
    }
}

/// Greedy non-maximum suppression: best score first, dropping every box that overlaps an
/// already kept one by more than `iou`. The detectors fire on several neighbouring cells or
/// anchors for one object; this keeps one box per object. Result is sorted by score, best
/// first. Boxes with a NaN score are dropped (a broken output must not rank first).
pub fn nms(mut boxes: Vec<Detection>, iou: f32) -> Vec<Detection> {
    boxes.retain(|b| !b.score.is_nan());
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(boxes.len().min(64));
    for b in boxes {
        if kept.iter().all(|k| k.iou(&b) <= iou) {
            kept.push(b);
        }
    }
    kept
}

/// A saliency map, values 0..1 (max 1), row-major, any small size.
///
/// UNISAL's output is 416×256, but kept at ≤ 64×64 by block-averaging: the map is only used
/// to find where the subject is (a centroid, a peak, how concentrated it is), for which a
/// coarse grid is enough — the network's own decoder works at a fraction of that resolution
/// and upsamples smoothly — while a full map is 100 000 floats per analysed frame, which
/// would make memory grow with the video's length if kept per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SaliencyMap {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl SaliencyMap {
    /// Value at column `x`, row `y`; 0 outside.
    pub fn at(&self, x: usize, y: usize) -> f32 {
        if x < self.width && y < self.height {
            self.data.get(y * self.width + x).copied().unwrap_or(0.0)
        } else {
            0.0
        }
    }

    /// Centre of the cell with the highest value, in picture fractions (`None` if empty).
    pub fn peak(&self) -> Option<(f32, f32)> {
        let (i, _) = self.data.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let (x, y) = (i % self.width.max(1), i / self.width.max(1));
        Some(((x as f32 + 0.5) / self.width as f32, (y as f32 + 0.5) / self.height.max(1) as f32))
    }
}

/// What the networks saw on one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameDetections {
    pub faces: Vec<Detection>,
    pub people: Vec<Detection>,
    pub text: Vec<Detection>,
    pub saliency: Option<SaliencyMap>,
}

/// Which networks to run on this frame (they run at different rates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Which {
    pub face: bool,
    pub person: bool,
    pub text: bool,
    pub saliency: bool,
}

impl Which {
    pub const ALL: Which = Which { face: true, person: true, text: true, saliency: true };
}

/// The image networks that were loaded; any of them may be absent (not asked for, or not in
/// the manifest), in which case [`Networks::analyse`] skips it.
#[derive(Default)]
pub struct Networks {
    pub face: Option<FaceDetector>,
    pub person: Option<PersonDetector>,
    pub text: Option<TextDetector>,
    pub saliency: Option<SaliencyNet>,
}

impl Networks {
    /// Loads the networks of `tasks` that are image networks (ignore Task::Audio).
    pub fn load(rt: &Runtime, tasks: &[Task]) -> Result<Networks, InferError> {
        let mut n = Networks::default();
        for &task in tasks {
            match task {
                Task::Face if n.face.is_none() => n.face = Some(FaceDetector::new(Box::new(rt.load(task)?))),
                Task::Person if n.person.is_none() => n.person = Some(PersonDetector::new(Box::new(rt.load(task)?))),
                Task::Text if n.text.is_none() => n.text = Some(TextDetector::new(Box::new(rt.load(task)?))),
                Task::Saliency if n.saliency.is_none() => n.saliency = Some(SaliencyNet::new(Box::new(rt.load(task)?))),
                _ => {}
            }
        }
        Ok(n)
    }

    /// Which networks are loaded.
    pub fn loaded(&self) -> Which {
        Which { face: self.face.is_some(), person: self.person.is_some(), text: self.text.is_some(), saliency: self.saliency.is_some() }
    }

    /// Runs the networks selected by `which` on one RGB picture (packed rows, w*h*3).
    /// A selected network that is not loaded gives nothing (an empty list, no map).
    pub fn analyse(&mut self, rgb: &[u8], width: u32, height: u32, which: Which) -> Result<FrameDetections, InferError> {
        let mut out = FrameDetections::default();
        if which.face {
            if let Some(n) = &mut self.face {
                out.faces = n.detect(rgb, width, height)?;
            }
        }
        if which.person {
            if let Some(n) = &mut self.person {
                out.people = n.detect(rgb, width, height)?;
            }
        }
        if which.text {
            if let Some(n) = &mut self.text {
                out.text = n.detect(rgb, width, height)?;
            }
        }
        if which.saliency {
            if let Some(n) = &mut self.saliency {
                out.saliency = Some(n.detect(rgb, width, height)?);
            }
        }
        Ok(out)
    }
}

/// The resize for this frame size, rebuilt only when the size changes, applied to `rgb`.
/// Errors (as an input error of `model`) when `rgb` is not `width * height * 3` bytes.
fn resize_for(
    cache: &mut Option<Resizer>,
    model: &dyn Model,
    rgb: &[u8],
    width: u32,
    height: u32,
    dst: (usize, usize),
) -> Result<Vec<f32>, InferError> {
    let (w, h) = (width as usize, height as usize);
    let r = match cache {
        Some(r) if r.fits(w, h, dst.0, dst.1) => r,
        _ => cache.insert(Resizer::new(w, h, dst.0, dst.1)),
    };
    r.resize(rgb).ok_or_else(|| InferError::Input {
        model: model.name().to_string(),
        index: 0,
        message: format!("picture of {} bytes is not {width}x{height} RGB", rgb.len()),
    })
}

/// Packed HWC floats to planar CHW, each value mapped by `f(channel, value)`; `order` picks
/// the source channel of each plane (`[0, 1, 2]` RGB, `[2, 1, 0]` BGR).
fn to_planar(hwc: &[f32], order: [usize; 3], f: impl Fn(usize, f32) -> f32) -> Vec<f32> {
    let n = hwc.len() / 3;
    let mut out = vec![0.0f32; n * 3];
    for (plane, &src) in order.iter().enumerate() {
        let dst = &mut out[plane * n..(plane + 1) * n];
        for (d, px) in dst.iter_mut().zip(hwc.chunks_exact(3)) {
            *d = f(plane, px[src]);
        }
    }
    out
}

/// Checks that output `index` exists and has `len` elements, so decoding can index freely.
fn output<'a>(outputs: &'a [Output], index: usize, len: usize, model: &str) -> Result<&'a Output, InferError> {
    let o = outputs.get(index).ok_or_else(|| InferError::Session { model: model.to_string(), message: format!("no output {index}") })?;
    if o.data.len() != len || o.shape.iter().product::<usize>() != len {
        return Err(InferError::Session {
            model: model.to_string(),
            message: format!("output {index} has shape {:?} ({} values), expected {len} values", o.shape, o.data.len()),
        });
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x0: f32, y0: f32, x1: f32, y1: f32, score: f32) -> Detection {
        Detection { x0, y0, x1, y1, score }
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = b(0.0, 0.0, 0.2, 0.2, 1.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.iou(&b(0.5, 0.5, 0.6, 0.6, 1.0)), 0.0);
        // Half overlap along x: inter 0.02, union 0.06.
        assert!((a.iou(&b(0.1, 0.0, 0.3, 0.2, 1.0)) - 1.0 / 3.0).abs() < 1e-5);
        assert_eq!(b(0.1, 0.1, 0.1, 0.1, 1.0).iou(&b(0.1, 0.1, 0.1, 0.1, 1.0)), 0.0);
    }

    #[test]
    fn nms_removes_overlapping_lower_score_box_keeps_distant_one_drops_nan() {
        let kept = nms(
            vec![b(0.0, 0.0, 0.2, 0.2, 0.7), b(0.01, 0.0, 0.21, 0.2, 0.9), b(0.5, 0.5, 0.7, 0.7, 0.6), b(0.0, 0.0, 0.1, 0.1, f32::NAN)],
            0.3,
        );
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.6);
    }

    #[test]
    fn saliency_peak_is_the_max_cell_centre() {
        let m = SaliencyMap { width: 4, height: 2, data: vec![0.0, 0.1, 0.2, 0.0, 0.0, 0.0, 1.0, 0.3] };
        assert_eq!(m.peak(), Some((0.625, 0.75)));
        assert_eq!(m.at(2, 1), 1.0);
        assert_eq!(m.at(9, 9), 0.0);
    }

    #[test]
    fn planar_conversion_reorders_channels() {
        let hwc = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(to_planar(&hwc, [0, 1, 2], |_, v| v), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(to_planar(&hwc, [2, 1, 0], |c, v| v + c as f32 * 10.0), vec![3.0, 6.0, 12.0, 15.0, 21.0, 24.0]);
    }
}
