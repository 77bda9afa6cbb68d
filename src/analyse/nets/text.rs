//! PP-OCR text detection (DB): text-line boxes from a text probability map (see the
//! manifest's `postprocessing` of `ppocr_det`).
//!
//! PaddleOCR fits a rotated rectangle to each contour and unclips the polygon; video text
//! (titles, captions, signs) is nearly always horizontal and only its position matters here,
//! so each connected component gets its axis-aligned bounding box, unclipped the same way.

use super::resize::Resizer;
use super::{output, resize_for, to_planar, Detection};
use crate::infer::{InferError, Model, Output, Tensor};

/// Network input width and height (multiples of 32; 16:9 frames get a 2% vertical squash).
pub const INPUT_W: usize = 640;
pub const INPUT_H: usize = 352;

/// How the probability map becomes boxes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextParams {
    /// A pixel is text when its probability exceeds this (PaddleOCR and RapidOCR: 0.3).
    pub pixel_threshold: f32,
    /// A component is kept when its mean probability exceeds this. PaddleOCR's 0.6 rather than
    /// RapidOCR's 0.5: the mean here is over the component's own pixels (all above 0.3), which
    /// runs a little higher than PaddleOCR's mean over the whole box.
    pub box_threshold: f32,
    /// Each side grows by `area * unclip_ratio / perimeter`: DB's map covers a shrunk core of
    /// each text line, and this restores the line's full extent (PaddleOCR: 1.5).
    pub unclip_ratio: f32,
    /// Components whose short side is under this many map pixels are noise (PaddleOCR: 3).
    pub min_size: usize,
}

impl Default for TextParams {
    fn default() -> Self {
        Self { pixel_threshold: 0.3, box_threshold: 0.6, unclip_ratio: 1.5, min_size: 3 }
    }
}

/// At most this many boxes per frame (PaddleOCR's `max_candidates`), largest first: a frame of
/// noise should not make a thousand tiny boxes.
const MAX_BOXES: usize = 1000;

pub struct TextDetector {
    model: Box<dyn Model>,
    resizer: Option<Resizer>,
    pub params: TextParams,
}

impl TextDetector {
    pub fn new(model: Box<dyn Model>) -> Self {
        Self { model, resizer: None, params: TextParams::default() }
    }

    /// Text lines in one packed RGB picture of `width`×`height`, best score first.
    pub fn detect(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<Vec<Detection>, InferError> {
        let resized = resize_for(&mut self.resizer, self.model.as_ref(), rgb, width, height, (INPUT_W, INPUT_H))?;
        let outputs = self.model.run(vec![preprocess(&resized)])?;
        decode(&outputs, &self.params, self.model.name())
    }
}

/// The input tensor from the picture already resized to 640×352 (packed RGB floats 0..255):
/// NCHW in BGR order (as RapidOCR feeds OpenCV images), scaled to -1..1.
pub fn preprocess(resized: &[f32]) -> Tensor {
    Tensor::f32(vec![1, 3, INPUT_H, INPUT_W], to_planar(resized, [2, 1, 0], |_, v| v / 127.5 - 1.0))
}

/// Text boxes from the DB probability map [1,1,H,W], in picture fractions, best first.
pub fn decode(outputs: &[Output], params: &TextParams, model: &str) -> Result<Vec<Detection>, InferError> {
    let shape = outputs.first().map(|o| o.shape.clone()).unwrap_or_default();
    let (h, w) = match shape.as_slice() {
        [1, 1, h, w] => (*h, *w),
        _ => return Err(InferError::Session { model: model.to_string(), message: format!("map shape {shape:?}, expected [1,1,H,W]") }),
    };
    let map = &output(outputs, 0, w * h, model)?.data;
    Ok(boxes_from_map(map, w, h, params))
}

/// A connected component's bounding box (inclusive pixel bounds) and probability sum.
#[derive(Debug, Clone, Copy)]
struct Component {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    pixels: usize,
    sum: f32,
}

/// The 8-connected components of `map > threshold`, found with an explicit stack (a long text
/// line is a single component of thousands of pixels; recursion could overflow).
fn components(map: &[f32], w: usize, h: usize, threshold: f32) -> Vec<Component> {
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for start in 0..w * h {
        if seen[start] || map[start].is_nan() || map[start] <= threshold {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut c = Component { x0: usize::MAX, y0: usize::MAX, x1: 0, y1: 0, pixels: 0, sum: 0.0 };
        while let Some(k) = stack.pop() {
            let (x, y) = (k % w, k / w);
            c.x0 = c.x0.min(x);
            c.x1 = c.x1.max(x);
            c.y0 = c.y0.min(y);
            c.y1 = c.y1.max(y);
            c.pixels += 1;
            c.sum += map[k];
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let n = ny * w + nx;
                    if !seen[n] && map[n] > threshold {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        out.push(c);
    }
    out
}

/// Boxes from a `w`×`h` probability map: components, score, size filter, unclip.
pub fn boxes_from_map(map: &[f32], w: usize, h: usize, params: &TextParams) -> Vec<Detection> {
    if w == 0 || h == 0 || map.len() != w * h {
        return Vec::new();
    }
    let mut comps = components(map, w, h, params.pixel_threshold);
    comps.sort_by_key(|c| std::cmp::Reverse(c.pixels));
    let mut out: Vec<Detection> = comps
        .into_iter()
        .take(MAX_BOXES)
        .filter_map(|c| {
            let (bw, bh) = ((c.x1 - c.x0 + 1) as f32, (c.y1 - c.y0 + 1) as f32);
            if bw.min(bh) < params.min_size as f32 {
                return None;
            }
            let score = c.sum / c.pixels.max(1) as f32;
            if score.is_nan() || score <= params.box_threshold {
                return None;
            }
            let d = bw * bh * params.unclip_ratio / (2.0 * (bw + bh));
            // Pixel x covers [x, x + 1) of the map.
            let (x0, y0) = ((c.x0 as f32 - d).max(0.0), (c.y0 as f32 - d).max(0.0));
            let (x1, y1) = ((c.x1 as f32 + 1.0 + d).min(w as f32), (c.y1 as f32 + 1.0 + d).min(h as f32));
            Some(Detection { x0: x0 / w as f32, y0: y0 / h as f32, x1: x1 / w as f32, y1: y1 / h as f32, score })
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with(w: usize, h: usize, rects: &[(usize, usize, usize, usize, f32)]) -> Vec<f32> {
        let mut m = vec![0.02; w * h];
        for &(x0, y0, x1, y1, p) in rects {
            for y in y0..y1 {
                for x in x0..x1 {
                    m[y * w + x] = p;
                }
            }
        }
        m
    }

    #[test]
    fn two_blobs_give_two_unclipped_boxes() {
        let (w, h) = (64, 32);
        let m = map_with(w, h, &[(4, 4, 24, 10, 0.9), (30, 20, 60, 26, 0.8)]);
        let out = decode(&[Output { shape: vec![1, 1, h, w], data: m }], &TextParams::default(), "t").expect("decodes");
        assert_eq!(out.len(), 2, "{out:?}");
        // First blob 20×6: d = 120*1.5/52 ≈ 3.46 map pixels each side.
        let d = 120.0 * 1.5 / 52.0;
        let a = out[0];
        assert!((a.score - 0.9).abs() < 1e-5);
        assert!((a.x0 - (4.0 - d) / 64.0).abs() < 1e-5 && (a.x1 - (24.0 + d) / 64.0).abs() < 1e-5);
        assert!((a.y0 - (4.0 - d) / 32.0).abs() < 1e-5 && (a.y1 - (10.0 + d) / 32.0).abs() < 1e-5);
        let b = out[1];
        assert!((b.score - 0.8).abs() < 1e-5);
        assert!(b.y0 > a.y1 && b.x0 > 0.4);
        assert!(b.x1 <= 1.0 && b.y1 <= 1.0);
    }

    #[test]
    fn weak_thin_and_empty_maps_give_nothing() {
        let (w, h) = (40, 20);
        // Weak blob (mean 0.45), a 2-pixel-high line and isolated specks.
        let m = map_with(w, h, &[(2, 2, 20, 8, 0.45), (2, 12, 30, 14, 0.95), (35, 2, 36, 3, 0.99)]);
        assert!(boxes_from_map(&m, w, h, &TextParams::default()).is_empty());
        assert!(boxes_from_map(&vec![0.0; w * h], w, h, &TextParams::default()).is_empty());
        assert!(boxes_from_map(&[0.9; 3], w, h, &TextParams::default()).is_empty());
    }

    #[test]
    fn diagonal_pixels_join_one_component() {
        let (w, h) = (10, 10);
        let mut m = vec![0.0; w * h];
        for i in 0..10 {
            m[i * w + i] = 0.9;
        }
        let c = components(&m, w, h, 0.3);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].x0, c[0].y0, c[0].x1, c[0].y1, c[0].pixels), (0, 0, 9, 9, 10));
    }

    #[test]
    fn preprocess_is_bgr_minus_one_to_one() {
        let px: Vec<f32> = (0..INPUT_W * INPUT_H).flat_map(|_| [0.0, 127.5, 255.0]).collect();
        let t = preprocess(&px);
        assert_eq!(t.shape, vec![1, 3, INPUT_H, INPUT_W]);
        let n = INPUT_W * INPUT_H;
        match t.data {
            crate::infer::TensorData::F32(v) => assert_eq!((v[0], v[n], v[2 * n]), (1.0, 0.0, -1.0)),
            _ => panic!("f32 expected"),
        }
    }
}
