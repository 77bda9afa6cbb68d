//! SSDLite-MobileNetV2 with a person-only head: person boxes (see the manifest's
//! `postprocessing` of `ssdlite`; the graph is cut before its own NMS, which is done here).

use super::resize::Resizer;
use super::{nms, output, resize_for, to_planar, Detection};
use crate::infer::{InferError, Model, Output, Tensor};

/// Network input side: the whole frame squeezed to 300×300, as the TF graph itself does.
pub const INPUT_SIDE: usize = 300;
/// Anchors of SSDLite-MobileNetV2 at 300×300.
pub const ANCHORS: usize = 1917;

/// Default person score. 0.5 is the source package's threshold and keeps false people (posts,
/// coats on hooks) rare; lower (0.3–0.4) finds more small, distant people at the cost of
/// more false boxes, which matters less when people are only evidence for selection than when
/// they steer the crop. Set [`PersonDetector::threshold`] to change it.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// NMS overlap, the TF graph's own setting: people standing close overlap a lot, so a lower
/// value would merge them.
pub const NMS_IOU: f32 = 0.6;

pub struct PersonDetector {
    model: Box<dyn Model>,
    resizer: Option<Resizer>,
    /// Person score an anchor needs; see [`DEFAULT_THRESHOLD`].
    pub threshold: f32,
}

impl PersonDetector {
    pub fn new(model: Box<dyn Model>) -> Self {
        Self { model, resizer: None, threshold: DEFAULT_THRESHOLD }
    }

    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// People in one packed RGB picture of `width`×`height`, best first.
    pub fn detect(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<Vec<Detection>, InferError> {
        let resized = resize_for(&mut self.resizer, self.model.as_ref(), rgb, width, height, (INPUT_SIDE, INPUT_SIDE))?;
        let outputs = self.model.run(vec![preprocess(&resized)])?;
        decode(&outputs, self.threshold, self.model.name())
    }
}

/// The input tensor from the picture already resized to 300×300 (packed RGB floats 0..255):
/// NCHW RGB, raw 0..255; the graph scales to -1..1 itself.
pub fn preprocess(resized: &[f32]) -> Tensor {
    Tensor::f32(vec![1, 3, INPUT_SIDE, INPUT_SIDE], to_planar(resized, [0, 1, 2], |_, v| v))
}

/// Person boxes from the outputs (`boxes` [1,A,4] ymin,xmin,ymax,xmax in fractions; `scores`
/// [1,A,2] sigmoid, class 1 = person), after NMS.
pub fn decode(outputs: &[Output], threshold: f32, model: &str) -> Result<Vec<Detection>, InferError> {
    let anchors = outputs.first().map_or(0, |o| o.data.len() / 4);
    let boxes = &output(outputs, 0, anchors * 4, model)?.data;
    let scores = &output(outputs, 1, anchors * 2, model)?.data;
    let mut found = Vec::new();
    for (b, s) in boxes.chunks_exact(4).zip(scores.chunks_exact(2)) {
        let score = s[1];
        if score.is_nan() || score <= threshold {
            continue;
        }
        let d = Detection { x0: b[1], y0: b[0], x1: b[3], y1: b[2], score }.clamped();
        if d.x1 > d.x0 && d.y1 > d.y0 {
            found.push(d);
        }
    }
    Ok(nms(found, NMS_IOU))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(found: &[([f32; 4], f32)]) -> Vec<Output> {
        let mut boxes = vec![0.0; ANCHORS * 4];
        let mut scores: Vec<f32> = (0..ANCHORS).flat_map(|_| [0.99, 0.01]).collect();
        for (a, (b, s)) in found.iter().enumerate() {
            let a = a * 100; // spread over the anchors
            boxes[a * 4..a * 4 + 4].copy_from_slice(b);
            scores[a * 2 + 1] = *s;
        }
        vec![Output { shape: vec![1, ANCHORS, 4], data: boxes }, Output { shape: vec![1, ANCHORS, 2], data: scores }]
    }

    #[test]
    fn boxes_are_reordered_to_x_y_and_kept_above_threshold() {
        let out = outputs(&[([0.1, 0.2, 0.9, 0.4], 0.8), ([0.0, 0.6, 0.5, 0.7], 0.3)]);
        let d = decode(&out, 0.5, "t").expect("decodes");
        assert_eq!(d, vec![Detection { x0: 0.2, y0: 0.1, x1: 0.4, y1: 0.9, score: 0.8 }]);
        assert_eq!(decode(&out, 0.25, "t").expect("decodes").len(), 2);
    }

    #[test]
    fn nms_keeps_the_better_of_two_overlapping_people_but_not_neighbours() {
        let out = outputs(&[
            ([0.1, 0.2, 0.9, 0.4], 0.7),
            ([0.12, 0.21, 0.9, 0.41], 0.9),
            // Next to the first, overlapping by IoU 1/3: a second person, kept at 0.6.
            ([0.1, 0.3, 0.9, 0.5], 0.6),
        ]);
        let d = decode(&out, 0.5, "t").expect("decodes");
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!((d[0].score, d[1].score), (0.9, 0.6));
    }

    #[test]
    fn boxes_outside_the_frame_are_clamped() {
        let out = outputs(&[([-0.1, -0.2, 1.3, 0.5], 0.9)]);
        let d = decode(&out, 0.5, "t").expect("decodes");
        assert_eq!(d, vec![Detection { x0: 0.0, y0: 0.0, x1: 0.5, y1: 1.0, score: 0.9 }]);
    }

    #[test]
    fn mismatched_outputs_are_errors() {
        let mut out = outputs(&[]);
        out[1].data.truncate(10);
        assert!(decode(&out, 0.5, "t").is_err());
        assert!(decode(&out[..1], 0.5, "t").is_err());
    }
}
