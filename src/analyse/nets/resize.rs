//! Bilinear resize of packed RGB to a network's input size.
//!
//! Every network takes the whole frame squeezed to its own fixed size, a few times a second,
//! so the taps (source index and weight per output column and row) are computed once per
//! (source size, target size) pair and reused: the per-frame work is then four multiply-adds
//! per channel and nothing else.

/// One bilinear tap along an axis: blend `src[i0]` and `src[i0 + 1]` (or `src[i1]`, equal to
/// `i0` at the edge) with weight `w` on the second.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    i0: usize,
    i1: usize,
    w: f32,
}

/// Taps for resizing `src` samples to `dst` samples with pixel centres aligned (the
/// `align_corners = false` convention of OpenCV's `INTER_LINEAR` and PIL), which is what the
/// models' reference pipelines resized with.
fn taps(src: usize, dst: usize) -> Vec<Tap> {
    let scale = src as f32 / dst.max(1) as f32;
    let last = src.saturating_sub(1);
    (0..dst)
        .map(|d| {
            let s = ((d as f32 + 0.5) * scale - 0.5).clamp(0.0, last as f32);
            let i0 = (s.floor() as usize).min(last);
            let i1 = (i0 + 1).min(last);
            Tap { i0, i1, w: s - i0 as f32 }
        })
        .collect()
}

/// A precomputed resize from one picture size to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Resizer {
    src_w: usize,
    src_h: usize,
    dst_w: usize,
    dst_h: usize,
    xs: Vec<Tap>,
    ys: Vec<Tap>,
}

impl Resizer {
    pub fn new(src_w: usize, src_h: usize, dst_w: usize, dst_h: usize) -> Self {
        Self { src_w, src_h, dst_w, dst_h, xs: taps(src_w, dst_w), ys: taps(src_h, dst_h) }
    }

    /// Whether this resizer was built for these sizes (so a wrapper can keep one and rebuild it
    /// only when the frame size changes).
    pub fn fits(&self, src_w: usize, src_h: usize, dst_w: usize, dst_h: usize) -> bool {
        (self.src_w, self.src_h, self.dst_w, self.dst_h) == (src_w, src_h, dst_w, dst_h)
    }

    /// Resizes packed RGB (`src_w * src_h * 3` bytes) and writes packed RGB floats, 0..255,
    /// `dst_w * dst_h * 3` of them. `None` when `rgb` has the wrong length or a side is 0.
    pub fn resize(&self, rgb: &[u8]) -> Option<Vec<f32>> {
        if self.src_w == 0 || self.src_h == 0 || rgb.len() != self.src_w * self.src_h * 3 {
            return None;
        }
        let row = self.src_w * 3;
        // The horizontal pass of the two source rows a target row blends is kept, since
        // consecutive target rows mostly share them.
        let mut out = vec![0.0f32; self.dst_w * self.dst_h * 3];
        let mut cache: [(usize, Vec<f32>); 2] =
            [(usize::MAX, vec![0.0; self.dst_w * 3]), (usize::MAX, vec![0.0; self.dst_w * 3])];
        let hpass = |y: usize, buf: &mut Vec<f32>| {
            let src = &rgb[y * row..(y + 1) * row];
            for (x, t) in self.xs.iter().enumerate() {
                let (a, b) = (&src[t.i0 * 3..t.i0 * 3 + 3], &src[t.i1 * 3..t.i1 * 3 + 3]);
                for c in 0..3 {
                    let (pa, pb) = (a[c] as f32, b[c] as f32);
                    buf[x * 3 + c] = pa + (pb - pa) * t.w;
                }
            }
        };
        for (y, t) in self.ys.iter().enumerate() {
            // Moving down by one source row: yesterday's bottom row is today's top.
            if cache[0].0 != t.i0 && cache[1].0 == t.i0 {
                cache.swap(0, 1);
            }
            for (slot, want) in [(0usize, t.i0), (1, t.i1)] {
                if cache[slot].0 != want {
                    hpass(want, &mut cache[slot].1);
                    cache[slot].0 = want;
                }
            }
            let (top, bottom) = (&cache[0].1, &cache[1].1);
            let dst = &mut out[y * self.dst_w * 3..(y + 1) * self.dst_w * 3];
            for ((d, &a), &b) in dst.iter_mut().zip(top).zip(bottom) {
                *d = a + (b - a) * t.w;
            }
        }
        Some(out)
    }
}

/// One-off resize of packed RGB: see [`Resizer::resize`].
pub fn resize_rgb(rgb: &[u8], src_w: usize, src_h: usize, dst_w: usize, dst_h: usize) -> Option<Vec<f32>> {
    Resizer::new(src_w, src_h, dst_w, dst_h).resize(rgb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn constant_stays_constant() {
        let rgb: Vec<u8> = (0..640 * 360).flat_map(|_| [10u8, 128, 250]).collect();
        let out = resize_rgb(&rgb, 640, 360, 300, 300).expect("sizes match");
        assert_eq!(out.len(), 300 * 300 * 3);
        for px in out.chunks(3) {
            assert!((px[0] - 10.0).abs() < 1e-3 && (px[1] - 128.0).abs() < 1e-3 && (px[2] - 250.0).abs() < 1e-3);
        }
    }

    #[test]
    fn horizontal_gradient_stays_monotonic_and_rows_equal() {
        let (w, h) = (200, 30);
        let rgb: Vec<u8> = (0..h).flat_map(|_| (0..w).flat_map(|x| [x as u8, 0, 255 - x as u8])).collect();
        for (dw, dh) in [(512, 288), (64, 16), (200, 30)] {
            let out = resize_rgb(&rgb, w, h, dw, dh).expect("sizes match");
            for y in 0..dh {
                let r: Vec<f32> = (0..dw).map(|x| out[(y * dw + x) * 3]).collect();
                assert!(r.windows(2).all(|p| p[1] >= p[0]), "red not increasing at {dw}x{dh}");
                let b: Vec<f32> = (0..dw).map(|x| out[(y * dw + x) * 3 + 2]).collect();
                assert!(b.windows(2).all(|p| p[1] <= p[0]), "blue not decreasing at {dw}x{dh}");
                assert_eq!(&out[y * dw * 3..(y + 1) * dw * 3], &out[..dw * 3]);
            }
        }
    }

    #[test]
    fn same_size_is_identity_and_vertical_blend_is_right() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let out = resize_rgb(&rgb, 4, 3, 4, 3).expect("sizes match");
        assert_eq!(out, rgb.iter().map(|&v| v as f32).collect::<Vec<_>>());
        // Two rows 0 and 100 to one row: the centre blends them half and half.
        let two: Vec<u8> = [0u8; 3].into_iter().chain([100u8; 3]).collect();
        let one = resize_rgb(&two, 1, 2, 1, 1).expect("sizes match");
        assert_eq!(one, vec![50.0; 3]);
    }

    #[test]
    fn wrong_length_is_refused() {
        assert!(resize_rgb(&[0; 10], 2, 2, 4, 4).is_none());
        assert!(resize_rgb(&[], 0, 0, 4, 4).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn output_within_input_range(
            w in 1usize..40, h in 1usize..40, dw in 1usize..50, dh in 1usize..50, seed in any::<u64>()
        ) {
            let mut s = seed;
            let rgb: Vec<u8> = (0..w * h * 3).map(|_| { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 56) as u8 }).collect();
            let out = resize_rgb(&rgb, w, h, dw, dh).expect("sizes match");
            prop_assert_eq!(out.len(), dw * dh * 3);
            for c in 0..3 {
                let lo = rgb.iter().skip(c).step_by(3).copied().min().unwrap_or(0) as f32;
                let hi = rgb.iter().skip(c).step_by(3).copied().max().unwrap_or(0) as f32;
                for v in out.iter().skip(c).step_by(3) {
                    prop_assert!(*v >= lo - 1e-3 && *v <= hi + 1e-3, "{} outside {}..{}", v, lo, hi);
                }
            }
        }
    }
}
