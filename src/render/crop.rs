//! Cutting a crop window out of an I420 picture, and blending two pictures (cross-fades).
//! Plain functions over byte buffers.

use crate::format::{AspectRatio, Window};

/// An I420 picture with tightly packed planes (Y, then U, then V).
#[derive(Debug, Clone, PartialEq)]
pub struct I420 {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl I420 {
    pub fn size_for(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
    }
}

/// Integer, chroma-aligned rectangle `(x, y, w, h)` for a window: even position and size, the
/// height from the ratio, everything clamped into the picture.
pub fn crop_rect(win: Window, ratio: AspectRatio, width: u32, height: u32) -> (u32, u32, u32, u32) {
    let even_down = |v: f64| ((v.max(0.0) as u32) / 2) * 2;
    let w = even_down(win.w).clamp(2, width.max(2) / 2 * 2);
    let h = even_down(f64::from(w) * f64::from(ratio.h()) / f64::from(ratio.w())).clamp(2, height.max(2) / 2 * 2);
    let x = even_down(win.x).min(width.saturating_sub(w) / 2 * 2);
    let y = even_down(win.y).min(height.saturating_sub(h) / 2 * 2);
    (x, y, w, h)
}

/// Copies the rectangle out of a packed I420 picture with plane strides `strides` and plane
/// offsets `offsets` (as GStreamer describes the buffer).
pub fn crop_i420(src: &[u8], strides: [usize; 3], offsets: [usize; 3], rect: (u32, u32, u32, u32)) -> Option<I420> {
    let (x, y, w, h) = (rect.0 as usize, rect.1 as usize, rect.2 as usize, rect.3 as usize);
    let mut data = Vec::with_capacity(I420::size_for(rect.2, rect.3));
    for (plane, &(sx, sy, sw, sh)) in [(x, y, w, h), (x / 2, y / 2, w / 2, h / 2), (x / 2, y / 2, w / 2, h / 2)].iter().enumerate() {
        for row in 0..sh {
            let start = offsets[plane] + (sy + row) * strides[plane] + sx;
            data.extend_from_slice(src.get(start..start + sw)?);
        }
    }
    Some(I420 { width: rect.2, height: rect.3, data })
}

/// Lays a packed picture out with the given plane strides and offsets (GStreamer pads rows,
/// e.g. chroma rows to 4 bytes), in a buffer of `total` bytes.
pub fn to_layout(pic: &I420, strides: [usize; 3], offsets: [usize; 3], total: usize) -> Vec<u8> {
    let (w, h) = (pic.width as usize, pic.height as usize);
    let (cw, chh) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = vec![0u8; total];
    let mut src = 0usize;
    for (plane, (pw, ph)) in [(w, h), (cw, chh), (cw, chh)].into_iter().enumerate() {
        for row in 0..ph {
            let dst = offsets[plane] + row * strides[plane];
            if let (Some(d), Some(s)) = (out.get_mut(dst..dst + pw), pic.data.get(src..src + pw)) {
                d.copy_from_slice(s);
            }
            src += pw;
        }
    }
    out
}

/// `a·(1 − t) + b·t`, pixel by pixel; pictures of different sizes are not blended (`b` wins).
pub fn blend(a: &I420, b: &I420, t: f32) -> I420 {
    if a.width != b.width || a.height != b.height || a.data.len() != b.data.len() {
        return b.clone();
    }
    let t = t.clamp(0.0, 1.0);
    let data = a.data.iter().zip(&b.data).map(|(&x, &y)| (f32::from(x) * (1.0 - t) + f32::from(y) * t).round() as u8).collect();
    I420 { width: b.width, height: b.height, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crop_copies_the_right_pixels() {
        // 8×4 picture whose luma is x + 10·y, chroma planes 4×2 constant.
        let (w, h) = (8usize, 4usize);
        let mut src: Vec<u8> = (0..h).flat_map(|y| (0..w).map(move |x| (x + 10 * y) as u8)).collect();
        src.extend(std::iter::repeat_n(100u8, 8));
        src.extend(std::iter::repeat_n(200u8, 8));
        let out = crop_i420(&src, [8, 4, 4], [0, 32, 40], (2, 2, 4, 2)).unwrap();
        assert_eq!(&out.data[..8], &[22, 23, 24, 25, 32, 33, 34, 35]);
        assert_eq!(&out.data[8..], &[100, 100, 200, 200]);
    }

    proptest! {
        #[test]
        fn crop_rect_is_inside_and_even(
            width in 2u32..4000, height in 2u32..4000, x in -10.0f64..5000.0, y in -10.0f64..5000.0,
            w in 1.0f64..5000.0, tw in 1u32..20, th in 1u32..20,
        ) {
            let r = AspectRatio::new(tw, th).unwrap();
            let (cx, cy, cw, ch) = crop_rect(Window { x, y, w }, r, width, height);
            prop_assert!(cx % 2 == 0 && cy % 2 == 0 && cw % 2 == 0 && ch % 2 == 0);
            prop_assert!(cw >= 2 && ch >= 2);
            prop_assert!(cx + cw <= width.max(2) && cy + ch <= height.max(2));
        }
    }

    #[test]
    fn layout_pads_rows() {
        // 6×2: luma rows of 6 (stride 8), chroma rows of 3 (stride 4).
        let pic = I420 { width: 6, height: 2, data: (1..=12).chain([50, 51, 52, 60, 61, 62]).collect() };
        let out = to_layout(&pic, [8, 4, 4], [0, 16, 20], 24);
        assert_eq!(&out[..8], &[1, 2, 3, 4, 5, 6, 0, 0]);
        assert_eq!(&out[16..24], &[50, 51, 52, 0, 60, 61, 62, 0]);
    }

    #[test]
    fn blend_midpoint() {
        let a = I420 { width: 2, height: 2, data: vec![0; 6] };
        let b = I420 { width: 2, height: 2, data: vec![200; 6] };
        assert_eq!(blend(&a, &b, 0.5).data, vec![100; 6]);
    }
}
