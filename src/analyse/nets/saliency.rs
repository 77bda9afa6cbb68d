//! UNISAL: a saliency map (see the manifest's `postprocessing` of `unisal`).

use super::resize::Resizer;
use super::{output, resize_for, to_planar, SaliencyMap};
use crate::infer::{InferError, Model, Output, Tensor};

/// Network input width and height (the whole frame squeezed, aspect not kept).
pub const INPUT_W: usize = 416;
pub const INPUT_H: usize = 256;
/// ImageNet normalisation, which UNISAL's MobileNetV2 encoder was trained with.
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The kept map's longest side is at most this (see [`SaliencyMap`] for why).
pub const MAX_SIDE: usize = 64;

pub struct SaliencyNet {
    model: Box<dyn Model>,
    resizer: Option<Resizer>,
}

impl SaliencyNet {
    pub fn new(model: Box<dyn Model>) -> Self {
        Self { model, resizer: None }
    }

    /// The saliency map of one packed RGB picture of `width`×`height`.
    pub fn detect(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<SaliencyMap, InferError> {
        let resized = resize_for(&mut self.resizer, self.model.as_ref(), rgb, width, height, (INPUT_W, INPUT_H))?;
        let outputs = self.model.run(vec![preprocess(&resized)])?;
        decode(&outputs, self.model.name())
    }
}

/// The input tensor from the picture already resized to 416×256 (packed RGB floats 0..255):
/// N,T,C,H,W with one frame, RGB, ImageNet-normalised.
pub fn preprocess(resized: &[f32]) -> Tensor {
    Tensor::f32(vec![1, 1, 3, INPUT_H, INPUT_W], to_planar(resized, [0, 1, 2], |c, v| (v / 255.0 - MEAN[c]) / STD[c]))
}

/// The map from the log-softmax output [.., H, W]: `exp`, block-averaged to at most
/// [`MAX_SIDE`] a side, divided by its maximum (an all-zero map stays zero).
pub fn decode(outputs: &[Output], model: &str) -> Result<SaliencyMap, InferError> {
    let shape = outputs.first().map(|o| o.shape.clone()).unwrap_or_default();
    let (h, w) = match shape.as_slice() {
        [.., h, w] if *h > 0 && *w > 0 => (*h, *w),
        _ => return Err(InferError::Session { model: model.to_string(), message: format!("map shape {shape:?}") }),
    };
    let out = &output(outputs, 0, w * h, model)?.data;
    let f = block_factor(w, h, MAX_SIDE);
    let (mw, mh) = (w.div_ceil(f), h.div_ceil(f));
    let mut sum = vec![0.0f32; mw * mh];
    let mut count = vec![0u32; mw * mh];
    for y in 0..h {
        let row = &out[y * w..(y + 1) * w];
        let base = (y / f) * mw;
        for (x, &v) in row.iter().enumerate() {
            let e = v.exp();
            if e.is_finite() {
                sum[base + x / f] += e;
                count[base + x / f] += 1;
            }
        }
    }
    let mut data: Vec<f32> = sum.iter().zip(&count).map(|(s, &n)| if n > 0 { s / n as f32 } else { 0.0 }).collect();
    let max = data.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 {
        data.iter_mut().for_each(|v| *v /= max);
    }
    Ok(SaliencyMap { width: mw, height: mh, data })
}

/// The block side for averaging a `w`×`h` map down to at most `max_side` a side: the
/// smallest factor that does it, or a slightly larger one dividing both sides if there is
/// one (416×256 → 8, 52×32 cells, rather than 7 with ragged last blocks).
fn block_factor(w: usize, h: usize, max_side: usize) -> usize {
    let need = w.max(h).div_ceil(max_side.max(1)).max(1);
    (need..=need * 2).find(|&f| w.is_multiple_of(f) && h.is_multiple_of(f)).unwrap_or(need)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_map_normalises_to_max_one() {
        let (w, h) = (INPUT_W, INPUT_H);
        // A uniform density with one 8×8 block (one output cell) eight times denser.
        let mut p = vec![1.0f32; w * h];
        for y in 64..72 {
            for x in 296..304 {
                p[y * w + x] = 8.0;
            }
        }
        let total: f32 = p.iter().sum();
        let data: Vec<f32> = p.iter().map(|v| (v / total).ln()).collect();
        let m = decode(&[Output { shape: vec![1, 1, 1, h, w], data }], "t").expect("decodes");
        assert_eq!((m.width, m.height), (52, 32));
        let max = m.data.iter().copied().fold(f32::MIN, f32::max);
        assert!((max - 1.0).abs() < 1e-6);
        assert!((m.at(296 / 8, 64 / 8) - 1.0).abs() < 1e-6);
        assert!((m.at(0, 0) - 0.125).abs() < 1e-4);
        let (px, py) = m.peak().expect("non-empty");
        assert!((px - 37.5 / 52.0).abs() < 1e-6 && (py - 8.5 / 32.0).abs() < 1e-6);
    }

    #[test]
    fn block_factor_prefers_exact_division() {
        assert_eq!(block_factor(416, 256, 64), 8);
        assert_eq!(block_factor(64, 64, 64), 1);
        assert_eq!(block_factor(101, 50, 64), 2);
        assert_eq!(block_factor(0, 0, 64), 1);
    }

    #[test]
    fn ragged_blocks_and_bad_values_do_not_panic() {
        let (w, h) = (101, 7);
        let mut data = vec![-3.0f32; w * h];
        data[5] = f32::NAN;
        let m = decode(&[Output { shape: vec![h, w], data }], "t").expect("decodes");
        assert_eq!((m.width, m.height), (51, 4));
        assert!(m.data.iter().all(|v| (*v - 1.0).abs() < 1e-6));
        assert!(decode(&[Output { shape: vec![1, 5], data: vec![0.0; 4] }], "t").is_err());
    }

    #[test]
    fn preprocess_normalises_like_imagenet() {
        let px: Vec<f32> = (0..INPUT_W * INPUT_H).flat_map(|_| [255.0, 0.0, 127.5]).collect();
        let t = preprocess(&px);
        assert_eq!(t.shape, vec![1, 1, 3, INPUT_H, INPUT_W]);
        let n = INPUT_W * INPUT_H;
        match t.data {
            crate::infer::TensorData::F32(v) => {
                assert!((v[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
                assert!((v[n] - (-0.456 / 0.224)).abs() < 1e-5);
                assert!((v[2 * n] - (0.5 - 0.406) / 0.225).abs() < 1e-5);
            }
            _ => panic!("f32 expected"),
        }
    }
}
