//! Small single-channel images and the few operations the analysis needs on them.

/// A row-major single-channel picture of `f32` samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Plane {
    pub fn new(width: usize, height: usize) -> Self {
        Self { width, height, data: vec![0.0; width * height] }
    }

    /// BT.601 luma of packed RGB rows.
    pub fn luma_from_rgb(width: usize, height: usize, rgb: &[u8]) -> Self {
        let data = rgb
            .chunks_exact(3)
            .take(width * height)
            .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
            .collect::<Vec<_>>();
        let mut plane = Self { width, height, data };
        plane.data.resize(width * height, 0.0);
        plane
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Box-filter downscale by an integer factor (the last partial cells are dropped).
    pub fn downscale(&self, factor: usize) -> Plane {
        let f = factor.max(1);
        let (w, h) = ((self.width / f).max(1), (self.height / f).max(1));
        let mut out = Plane::new(w, h);
        let norm = 1.0 / (f * f) as f32;
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0;
                for dy in 0..f {
                    let row = ((y * f + dy).min(self.height - 1)) * self.width;
                    for dx in 0..f {
                        s += self.data[row + (x * f + dx).min(self.width - 1)];
                    }
                }
                out.data[y * w + x] = s * norm;
            }
        }
        out
    }

    /// Separable box blur of radius `r` (clamped edges); three passes approximate a Gaussian.
    pub fn box_blur(&self, r: usize) -> Plane {
        if r == 0 {
            return self.clone();
        }
        let pass = |src: &[f32], w: usize, h: usize, horizontal: bool| -> Vec<f32> {
            let mut out = vec![0.0; w * h];
            let (len, lines) = if horizontal { (w, h) } else { (h, w) };
            let idx = |line: usize, i: usize| if horizontal { line * w + i } else { i * w + line };
            for line in 0..lines {
                for i in 0..len {
                    let lo = i.saturating_sub(r);
                    let hi = (i + r).min(len - 1);
                    let mut s = 0.0;
                    for k in lo..=hi {
                        s += src[idx(line, k)];
                    }
                    out[idx(line, i)] = s / (hi - lo + 1) as f32;
                }
            }
            out
        };
        let h1 = pass(&self.data, self.width, self.height, true);
        let v1 = pass(&h1, self.width, self.height, false);
        Plane { width: self.width, height: self.height, data: v1 }
    }

    pub fn max(&self) -> f32 {
        self.data.iter().copied().fold(0.0, f32::max)
    }
}

/// Mean and standard deviation.
pub fn mean_std(v: &[f32]) -> (f32, f32) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, var.sqrt() as f32)
}

/// The first bin of `hist` at which the running count reaches `q` of `n` (the `q`-quantile's
/// bin, counting up from the lowest); `None` when the bins hold fewer than that (a top bin
/// left out of the histogram, or `n` larger than its counts).
pub fn quantile_bin(hist: &[u32], n: u64, q: f64) -> Option<usize> {
    let target = (n as f64 * q).ceil() as u64;
    let mut acc = 0u64;
    hist.iter().position(|&count| {
        acc += u64::from(count);
        acc >= target
    })
}

/// The picture's local detail, all three numbers from one pass of the 4-neighbour Laplacian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detail {
    /// Mean absolute Laplacian: high for sharp detail, low for blur and flat fills.
    pub sharpness: f32,
    /// Share of pixels with no local detail (|Laplacian| under one grey level): near 1 for black
    /// frames, flat fills and drawn graphics; low for camera footage, whose sensor noise and
    /// texture leave few pixels perfectly flat even when it is soft.
    pub flat_share: f32,
    /// Share of the total |Laplacian| carried by the most detailed tenth of pixels: a
    /// natural-image statistic, positive evidence of a camera's picture. A scene's detail is
    /// sparse — edges and texture in places, smooth surfaces between — so the top tenth carries
    /// about 0.35–0.6 of it. Detail spread evenly over the picture is not a scene: noise or
    /// analogue static (≈ 0.25, Gaussian), a smooth synthetic animation (≈ 0.28), heavy blur;
    /// drawn graphics put nearly all of it in their edges (0.8–1). Measured on the four
    /// annotated sets (session 10): real footage 0.31–0.86 (tenth percentile 0.36), plasma
    /// 0.27–0.29, static 0.24–0.26, blur 0.27–0.35, title cards and tickers 0.74–1. A flat
    /// picture (no detail at all) is 1, as drawn graphics are. Scale-free: the picture's
    /// contrast does not enter.
    pub sparsity: f32,
}

/// The [`Detail`] of a plane; a plane under 3×3 has none (flat).
pub fn detail(p: &Plane) -> Detail {
    if p.width < 3 || p.height < 3 {
        return Detail { sharpness: 0.0, flat_share: 1.0, sparsity: 1.0 };
    }
    let mut l: Vec<f32> = Vec::with_capacity((p.width - 2) * (p.height - 2));
    for y in 1..p.height - 1 {
        for x in 1..p.width - 1 {
            l.push((4.0 * p.at(x, y) - p.at(x - 1, y) - p.at(x + 1, y) - p.at(x, y - 1) - p.at(x, y + 1)).abs());
        }
    }
    let n = l.len();
    let total: f64 = l.iter().map(|&v| f64::from(v)).sum();
    let flat = l.iter().filter(|&&v| v < 1.0).count();
    let sparsity = if total > 0.0 && total.is_finite() {
        let cut = n - (n / 10).max(1);
        l.select_nth_unstable_by(cut, f32::total_cmp);
        (l[cut..].iter().map(|&v| f64::from(v)).sum::<f64>() / total) as f32
    } else {
        1.0
    };
    Detail { sharpness: (total / n as f64) as f32, flat_share: flat as f32 / n as f32, sparsity }
}

/// Mean colourfulness of packed RGB: `max − min` of each pixel's channels, 0–1.
pub fn saturation(rgb: &[u8]) -> f32 {
    let n = rgb.len() / 3;
    if n == 0 {
        return 0.0;
    }
    let s: u64 = rgb.chunks_exact(3).map(|p| u64::from(p[0].max(p[1]).max(p[2]) - p[0].min(p[1]).min(p[2]))).sum();
    s as f32 / (n as f32 * 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_bin_is_where_the_running_count_reaches_it() {
        let hist = [5u32, 0, 3, 2];
        assert_eq!(quantile_bin(&hist, 10, 0.5), Some(0));
        assert_eq!(quantile_bin(&hist, 10, 0.6), Some(2));
        assert_eq!(quantile_bin(&hist, 10, 0.99), Some(3));
        // More counted than the bins hold (a top bin left out): no bin reaches it.
        assert_eq!(quantile_bin(&hist, 20, 0.99), None);
    }

    #[test]
    fn flat_image_has_no_sharpness_and_checkerboard_has_much() {
        let flat = Plane { width: 8, height: 8, data: vec![100.0; 64] };
        assert_eq!(detail(&flat).sharpness, 0.0);
        let checker = Plane { width: 8, height: 8, data: (0..64).map(|i| if (i % 8 + i / 8) % 2 == 0 { 0.0 } else { 255.0 }).collect() };
        assert!(detail(&checker).sharpness > 500.0);
        assert!(detail(&checker.box_blur(2)).sharpness < detail(&checker).sharpness / 4.0);
    }

    #[test]
    fn detail_sparsity_tells_a_scene_from_noise_and_graphics() {
        let detail_sparsity = |p: &Plane| detail(p).sparsity;
        // Pseudo-random noise: detail everywhere, the top tenth carries little more than a tenth.
        let mut seed = 12345u32;
        let noise: Vec<f32> = (0..64 * 64)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as f32
            })
            .collect();
        let noisy = detail_sparsity(&Plane { width: 64, height: 64, data: noise });
        assert!((0.15..0.35).contains(&noisy), "{noisy}");
        // A drawn square on a flat fill: all the detail in its outline.
        let square: Vec<f32> = (0..64 * 64).map(|i| if (20..40).contains(&(i % 64)) && (20..40).contains(&(i / 64)) { 200.0 } else { 30.0 }).collect();
        assert!(detail_sparsity(&Plane { width: 64, height: 64, data: square }) > 0.95);
        // A smooth scene with a few edges: in between, and the same at any contrast.
        let scene: Vec<f32> = (0..64 * 64).map(|i| { let (x, y) = ((i % 64) as f32, (i / 64) as f32); 100.0 + 20.0 * (x / 9.0).sin() * (y / 7.0).cos() + if x > 40.0 { 50.0 } else { 0.0 } }).collect();
        let s = detail_sparsity(&Plane { width: 64, height: 64, data: scene.clone() });
        let half = detail_sparsity(&Plane { width: 64, height: 64, data: scene.iter().map(|v| v * 0.5).collect() });
        assert!(s > noisy && s < 0.95 && (s - half).abs() < 1e-4, "{s} {half}");
        assert_eq!(detail_sparsity(&Plane { width: 8, height: 8, data: vec![100.0; 64] }), 1.0);
        assert_eq!(detail_sparsity(&Plane { width: 2, height: 8, data: vec![0.0; 16] }), 1.0);
    }

    #[test]
    fn flat_share_tells_fills_from_texture() {
        let flat = Plane { width: 8, height: 8, data: vec![100.0; 64] };
        assert_eq!(detail(&flat).flat_share, 1.0);
        let checker = Plane { width: 8, height: 8, data: (0..64).map(|i| if (i % 8 + i / 8) % 2 == 0 { 0.0 } else { 255.0 }).collect() };
        assert_eq!(detail(&checker).flat_share, 0.0);
        assert_eq!(detail(&Plane { width: 2, height: 8, data: vec![0.0; 16] }), Detail { sharpness: 0.0, flat_share: 1.0, sparsity: 1.0 });
        assert_eq!(saturation(&[10, 10, 10, 255, 0, 0]), 0.5);
    }

    #[test]
    fn downscale_averages() {
        let p = Plane { width: 4, height: 2, data: vec![0.0, 2.0, 4.0, 6.0, 0.0, 2.0, 4.0, 6.0] };
        assert_eq!(p.downscale(2).data, vec![1.0, 5.0]);
    }
}
