//! Classical saliency, until the neural models arrive: where in the picture the subject is.
//!
//! Two cues on a coarse grid (64 px on the long side):
//! - **motion residual**: the difference to the previous frame after removing the dominant
//!   (camera) translation, so a tracked subject stands out from a panning background and a
//!   moving subject from a fixed one;
//! - **spectral residual** (Hou & Zhang, CVPR 2007): what the log-amplitude spectrum has beyond
//!   its local average, transformed back, marks statistically unusual regions in a still frame.
//!
//! The motion cue is used where there is motion, the still cue otherwise; the map is then
//! centre-biased and summarised as a centroid with an evidence weight
//! that says how concentrated the map is (a uniform map says nothing).

use super::image::Plane;
use rustfft::{num_complex::Complex, FftPlanner};
use std::sync::Arc;

/// Long side of the saliency grid.
pub const GRID: usize = 64;
/// Largest camera shift searched between frames, in grid cells.
const MAX_SHIFT: isize = 4;
/// Residual (grey levels) below which nothing is taken to move: compression noise.
const MOTION_FLOOR: f32 = 2.0;

/// Where the subject is on one frame, in picture fractions `[0, 1]`, and how sure that is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Subject {
    pub x: f32,
    pub y: f32,
    /// In `[0, 1]`: 0 for a uniform map, towards 1 for one compact salient region.
    pub evidence: f32,
    /// Mean motion residual (grey levels): how much moves against the camera.
    pub action: f32,
    /// The camera's own motion since the previous frame: the dominant translation, in
    /// picture fractions (its length along the picture diagonal's axes).
    pub camera: f32,
    /// The same motion as a signed vector: how far the picture content moved since the
    /// previous frame, picture fractions across and down. The subject's motion minus this is
    /// its motion against the scenery, which is what activity in the world means.
    pub camera_dx: f32,
    pub camera_dy: f32,
    /// `1 − r`, r the correlation of this grid with the previous one moved by the camera's
    /// shift (see [`decorrelation`]); 0 when there is no previous grid (first frame, after a cut).
    pub decorrelation: f32,
}

/// Stateful per-video saliency: keeps the previous grid and the FFT plans.
pub struct Saliency {
    prev: Option<Plane>,
    fft: Arc<dyn rustfft::Fft<f32>>,
    ifft: Arc<dyn rustfft::Fft<f32>>,
}

impl Default for Saliency {
    fn default() -> Self {
        Self::new()
    }
}

impl Saliency {
    pub fn new() -> Self {
        let mut planner = FftPlanner::new();
        Self { prev: None, fft: planner.plan_fft_forward(GRID), ifft: planner.plan_fft_inverse(GRID) }
    }

    /// Forgets the previous frame (at a cut the motion cue would be meaningless).
    pub fn reset(&mut self) {
        self.prev = None;
    }

    pub fn push(&mut self, luma: &Plane) -> Subject {
        let factor = (luma.width.max(luma.height) / GRID).max(1);
        let grid = luma.downscale(factor);
        let sr = self.spectral_residual(&grid);
        let (motion, action, (camera, camera_dx, camera_dy), decorrelation) = match &self.prev {
            Some(prev) if prev.width == grid.width && prev.height == grid.height => {
                let ((dx, dy), (fx, fy)) = camera_shift(prev, &grid);
                let r = residual(prev, &grid, dx, dy);
                let a = r.data.iter().sum::<f32>() / r.data.len().max(1) as f32;
                let (cx, cy) = (fx / grid.width as f32, fy / grid.height as f32);
                (Some(r.box_blur(1)), a, ((cx * cx + cy * cy).sqrt(), cx, cy), decorrelation(prev, &grid, dx, dy))
            }
            _ => (None, 0.0, (0.0, 0.0, 0.0), 0.0),
        };
        self.prev = Some(grid);
        let mut map = mix(&sr, motion.as_ref());
        centre_bias(&mut map);
        let (x, y, evidence) = centroid(&map);
        Subject { x, y, evidence, action, camera, camera_dx, camera_dy, decorrelation }
    }

    /// Spectral residual saliency of `p`, computed on a zero-padded GRID × GRID square and
    /// cropped back to the size of `p`.
    fn spectral_residual(&self, p: &Plane) -> Plane {
        let n = GRID;
        let (mean, std) = super::image::mean_std(&p.data);
        if std < 1.0 {
            // A flat picture has an empty spectrum: its "residual" would be a lone spike at
            // the origin, not a subject.
            return Plane::new(p.width.min(n), p.height.min(n));
        }
        let mut buf = vec![Complex::new(0.0f32, 0.0); n * n];
        for y in 0..p.height.min(n) {
            for x in 0..p.width.min(n) {
                buf[y * n + x].re = p.at(x, y) - mean;
            }
        }
        fft2(&mut buf, n, &*self.fft);
        let log_amp: Vec<f32> = buf.iter().map(|c| (c.norm() + 1e-3).ln()).collect();
        let avg = Plane { width: n, height: n, data: log_amp.clone() }.box_blur(1);
        for (i, c) in buf.iter_mut().enumerate() {
            let phase = c.arg();
            let mag = (log_amp[i] - avg.data[i]).exp();
            *c = Complex::from_polar(mag, phase);
        }
        fft2(&mut buf, n, &*self.ifft);
        let mut out = Plane::new(p.width.min(n), p.height.min(n));
        for y in 0..out.height {
            for x in 0..out.width {
                out.data[y * out.width + x] = buf[y * n + x].norm_sqr();
            }
        }
        out.box_blur(2).box_blur(1)
    }
}

fn fft2(buf: &mut [Complex<f32>], n: usize, fft: &dyn rustfft::Fft<f32>) {
    for row in buf.chunks_exact_mut(n) {
        fft.process(row);
    }
    let mut col = vec![Complex::new(0.0, 0.0); n];
    for x in 0..n {
        for y in 0..n {
            col[y] = buf[y * n + x];
        }
        fft.process(&mut col);
        for y in 0..n {
            buf[y * n + x] = col[y];
        }
    }
}

/// The camera's motion from one search over the shifts: the integer translation `(dx, dy)`
/// that best maps `prev` onto `cur` (least mean absolute difference over the overlap), and the same
/// refined on each axis by the vertex of the parabola through its cost and its two
/// neighbours' (a cell is 1/64 of the picture, too coarse for the slow pans of a followed
/// subject). One search serves both, since both come from the same costs.
pub fn camera_shift(prev: &Plane, cur: &Plane) -> ((isize, isize), (f32, f32)) {
    let (costs, dx, dy) = shift_search(prev, cur);
    let at = |x: isize, y: isize| costs.get(((y + MAX_SHIFT) * (2 * MAX_SHIFT + 1) + x + MAX_SHIFT) as usize).copied().flatten();
    let vertex = |a: Option<f32>, b: Option<f32>, c: Option<f32>| match (a, b, c) {
        (Some(a), Some(b), Some(c)) if a + c - 2.0 * b > 1e-6 => (0.5 * (a - c) / (a + c - 2.0 * b)).clamp(-0.5, 0.5),
        _ => 0.0,
    };
    let ox = vertex(at(dx - 1, dy), at(dx, dy), at(dx + 1, dy));
    let oy = vertex(at(dx, dy - 1), at(dx, dy), at(dx, dy + 1));
    ((dx, dy), (dx as f32 + ox, dy as f32 + oy))
}

/// Every shift's cost (row-major over dy, dx in `-MAX_SHIFT..=MAX_SHIFT`; `None` where the
/// overlap is too small) and the best shift.
fn shift_search(prev: &Plane, cur: &Plane) -> (Vec<Option<f32>>, isize, isize) {
    let (w, h) = (cur.width as isize, cur.height as isize);
    let mut best = (f32::MAX, 0, 0);
    let mut costs = Vec::with_capacity(((2 * MAX_SHIFT + 1) * (2 * MAX_SHIFT + 1)) as usize);
    for dy in -MAX_SHIFT..=MAX_SHIFT {
        for dx in -MAX_SHIFT..=MAX_SHIFT {
            let (x0, x1) = ((dx).max(0), (w + dx).min(w));
            let (y0, y1) = ((dy).max(0), (h + dy).min(h));
            if x1 - x0 < w / 2 || y1 - y0 < h / 2 {
                costs.push(None);
                continue;
            }
            let mut s = 0.0f32;
            for y in y0..y1 {
                let pr = ((y - dy) * w) as usize;
                let cr = (y * w) as usize;
                for x in x0..x1 {
                    s += (cur.data[cr + x as usize] - prev.data[pr + (x - dx) as usize]).abs();
                }
            }
            let raw = s / ((x1 - x0) * (y1 - y0)) as f32;
            costs.push(Some(raw));
            // Prefer no motion on ties: a still camera is the common case.
            let cost = raw + 0.01 * (dx.abs() + dy.abs()) as f32;
            if cost < best.0 {
                best = (cost, dx, dy);
            }
        }
    }
    (costs, best.1, best.2)
}

/// `1 − r`, with r the Pearson correlation of `cur` and `prev` shifted by `(dx, dy)` over
/// their overlap: how much of the new picture its predecessor, moved as the camera moved,
/// fails to explain. Positive evidence of a camera's picture, and a physical one: a scene
/// seen 40 ms later is mostly the same scene, so on the coarse grid r stays high through pans,
/// shake and moving subjects, while analogue static or any per-frame noise is a new picture
/// every frame (r ≈ 0, so ≈ 1). It is scale-free (neither brightness nor contrast enters) and
/// depends on no other frame of the video. A flat grid (no spread to correlate) gives 0, as
/// an unchanged one does: black and stills have detectors of their own.
pub fn decorrelation(prev: &Plane, cur: &Plane, dx: isize, dy: isize) -> f32 {
    let (w, h) = (cur.width as isize, cur.height as isize);
    if prev.width != cur.width || prev.height != cur.height {
        return 0.0;
    }
    let (x0, x1) = (dx.max(0), (w + dx).min(w));
    let (y0, y1) = (dy.max(0), (h + dy).min(h));
    if x1 <= x0 || y1 <= y0 {
        return 0.0;
    }
    let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for y in y0..y1 {
        for x in x0..x1 {
            let a = f64::from(prev.data[((y - dy) * w + x - dx) as usize]);
            let b = f64::from(cur.data[(y * w + x) as usize]);
            n += 1.0;
            sa += a;
            sb += b;
            saa += a * a;
            sbb += b * b;
            sab += a * b;
        }
    }
    let va = (saa / n - (sa / n).powi(2)).max(0.0);
    let vb = (sbb / n - (sb / n).powi(2)).max(0.0);
    // Under one grey level of spread there is nothing to correlate (black, a flat fill).
    if va < 1.0 || vb < 1.0 {
        return 0.0;
    }
    let r = (sab / n - (sa / n) * (sb / n)) / (va * vb).sqrt();
    (1.0 - r).clamp(0.0, 2.0) as f32
}

/// `|cur - prev shifted by (dx, dy)|`, zero where the shifted frame has no data.
fn residual(prev: &Plane, cur: &Plane, dx: isize, dy: isize) -> Plane {
    let (w, h) = (cur.width as isize, cur.height as isize);
    let mut out = Plane::new(cur.width, cur.height);
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x - dx, y - dy);
            if px >= 0 && px < w && py >= 0 && py < h {
                out.data[(y * w + x) as usize] = (cur.data[(y * w + x) as usize] - prev.data[(py * w + px) as usize]).abs();
            }
        }
    }
    out
}

/// The motion residual where something moves against the camera, else the spectral residual:
/// a moving subject is the stronger sign of the key subject (on the dev set motion alone
/// beat a 2:1 blend and spectral residual alone); the still-frame cue covers static shots.
fn mix(sr: &Plane, motion: Option<&Plane>) -> Plane {
    match motion {
        Some(m) if m.width == sr.width && m.height == sr.height && m.max() > MOTION_FLOOR => m.clone(),
        _ => sr.clone(),
    }
}

/// Weights the map by a broad Gaussian around the picture centre (sigma: a third of each
/// side): people frame what matters towards the middle, so of two equal responses the more
/// central is likelier the subject. The standard centre bias of saliency models.
fn centre_bias(map: &mut Plane) {
    let (w, h) = (map.width as f32, map.height as f32);
    let s2 = 2.0 * (1.0f32 / 3.0).powi(2);
    for y in 0..map.height {
        let dy = (y as f32 + 0.5) / h - 0.5;
        for x in 0..map.width {
            let dx = (x as f32 + 0.5) / w - 0.5;
            map.data[y * map.width + x] *= (-(dx * dx + dy * dy) / s2).exp();
        }
    }
}

/// Centroid of the most salient tenth of the map, and how concentrated the map is.
fn centroid(map: &Plane) -> (f32, f32, f32) {
    let total: f32 = map.data.iter().sum();
    if total <= 1e-6 || map.data.is_empty() {
        return (0.5, 0.5, 0.0);
    }
    let mut sorted = map.data.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = (sorted.len() / 10).max(1);
    let thresh = sorted[k - 1];
    let top_mass: f32 = sorted[..k].iter().sum();
    let (mut sx, mut sy, mut sw) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..map.height {
        for x in 0..map.width {
            let v = map.at(x, y);
            if v >= thresh {
                sx += v * (x as f32 + 0.5);
                sy += v * (y as f32 + 0.5);
                sw += v;
            }
        }
    }
    if sw <= 0.0 {
        return (0.5, 0.5, 0.0);
    }
    // Share of mass in the top 10 % of cells: 0.1 for a uniform map, 1 for a single blob.
    let share = top_mass / total;
    let evidence = ((share - 0.1) / 0.5).clamp(0.0, 1.0);
    (sx / sw / map.width as f32, sy / sw / map.height as f32, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(w: usize, h: usize, bx: usize, by: usize, bg_shift: usize) -> Plane {
        // A textured background moving by `bg_shift` and a bright 6×6 block at (bx, by).
        let mut p = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let t = ((x + bg_shift) * 7 + y * 13) % 23;
                p.data[y * w + x] = 60.0 + t as f32;
            }
        }
        for y in by..by + 6 {
            for x in bx..bx + 6 {
                p.data[y * w + x] = 250.0;
            }
        }
        p
    }

    #[test]
    fn global_shift_finds_camera_pan() {
        let a = scene(64, 36, 10, 10, 0);
        let b = scene(64, 36, 10, 10, 2);
        assert_eq!(camera_shift(&a, &b).0, (-2, 0));
        let (fx, fy) = camera_shift(&a, &b).1;
        assert!((fx - -2.0).abs() <= 0.5 && fy.abs() <= 0.5, "({fx}, {fy})");
    }

    #[test]
    fn subcell_shift_sees_a_half_cell_pan() {
        // A smooth horizontal ramp moved by half a cell: the integer search says 0 or -1,
        // the refinement lands in between.
        let ramp = |off: f32| Plane { width: 64, height: 36, data: (0..64 * 36).map(|i| (((i % 64) as f32 + off) * 0.3).sin() * 80.0 + 128.0).collect() };
        let (fx, _) = camera_shift(&ramp(0.0), &ramp(0.5)).1;
        assert!(fx < -0.2 && fx > -0.8, "{fx}");
    }

    #[test]
    fn moving_block_is_found_on_panning_background() {
        let mut s = Saliency::new();
        let mut last = None;
        for i in 0..5 {
            last = Some(s.push(&scene(64, 36, 40 + i, 20, i * 2)));
        }
        let subj = last.unwrap();
        assert!(subj.evidence > 0.2, "{subj:?}");
        assert!((subj.x - 43.0 / 64.0).abs() < 0.1, "{subj:?}");
        assert!((subj.y - 23.0 / 36.0).abs() < 0.15, "{subj:?}");
    }

    #[test]
    fn flat_frame_has_no_evidence() {
        let mut s = Saliency::new();
        let subj = s.push(&Plane { width: 64, height: 36, data: vec![128.0; 64 * 36] });
        assert_eq!(subj.evidence, 0.0);
    }

    #[test]
    fn decorrelation_is_low_for_a_panned_scene_and_high_for_noise() {
        // A pan with a subject moving against it (a bright block, a large share of the
        // picture's spread): once moved back, the old picture explains most of the new one.
        let (a, b) = (scene(64, 36, 10, 10, 0), scene(64, 36, 12, 10, 2));
        let (dx, dy) = camera_shift(&a, &b).0;
        assert!(decorrelation(&a, &b, dx, dy) < 0.5, "{}", decorrelation(&a, &b, dx, dy));
        assert_eq!(decorrelation(&a, &a, 0, 0), 0.0);
        // Two independent noise pictures: nothing of one is in the other, at any shift.
        let mut seed = 7u32;
        let mut noise = || {
            Plane {
                width: 64,
                height: 36,
                data: (0..64 * 36)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (seed >> 24) as f32
                    })
                    .collect(),
            }
        };
        let (n1, n2) = (noise(), noise());
        let (dx, dy) = camera_shift(&n1, &n2).0;
        let d = decorrelation(&n1, &n2, dx, dy);
        assert!((0.8..1.2).contains(&d), "{d}");
        // Flat or mismatched pictures: nothing to correlate, no verdict.
        let flat = Plane { width: 64, height: 36, data: vec![128.0; 64 * 36] };
        assert_eq!(decorrelation(&flat, &n1, 0, 0), 0.0);
        assert_eq!(decorrelation(&Plane::new(8, 8), &n1, 0, 0), 0.0);
        // Scale-free: brightness and contrast do not enter.
        let dim = Plane { width: 64, height: 36, data: b.data.iter().map(|v| v * 0.5 + 10.0).collect() };
        let (dx, dy) = camera_shift(&a, &b).0;
        assert!((decorrelation(&a, &dim, dx, dy) - decorrelation(&a, &b, dx, dy)).abs() < 1e-4);
    }

    #[test]
    fn the_first_frame_and_the_first_after_a_reset_have_no_decorrelation() {
        let mut s = Saliency::new();
        assert_eq!(s.push(&scene(64, 36, 10, 10, 0)).decorrelation, 0.0);
        assert!(s.push(&scene(64, 36, 11, 10, 1)).decorrelation < 0.5);
        s.reset();
        assert_eq!(s.push(&scene(64, 36, 30, 10, 9)).decorrelation, 0.0);
    }
}
