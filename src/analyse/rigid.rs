//! Is the picture a live scene, or one still picture being moved?
//!
//! A camera films a world in which something happens: over half a second, people move,
//! leaves stir, the view's parallax changes as the camera travels. A still photograph that an
//! editor pans and zooms over (the "Ken Burns" effect), scrolling credits, a logo sliding in:
//! each later picture is the earlier one moved by one rigid map, and nothing else changed.
//! Per-frame numbers cannot tell these apart (both move smoothly, both have natural-image
//! detail), and a translation-only camera estimate reads a zoom as motion.
//!
//! So, on the analysis picture, about ten times a second (every third frame at 25 and 30 fps):
//! the picture half a second earlier (same shot) is aligned to this one by the affine map
//! that explains most of the change
//! (Lucas–Kanade, Gauss–Newton with Huber weights, coarse to fine at ¼ and ½ size, started
//! from the camera's measured shift), and what the map leaves unexplained is measured in
//! pixels: each pixel's remaining difference over its local gradient (how far the picture
//! would have to move there to explain it), 99th percentile. A moved still leaves only
//! resampling and compression noise at its edges, a fraction of a pixel; a living scene leaves
//! its moving parts, pixels, whatever the camera does. Both pictures are blurred first
//! (σ ≈ 1.2 px): without that, re-sampling a detailed picture at sub-pixel offsets alone
//! leaves 20–30 grey levels at edges, as much as real motion.
//!
//! The number is absolute (this frame against its own past), so no other stretch of the
//! video can move it. A failed alignment can only leave more unexplained, which reads as
//! "live": the error is on the side of keeping footage.
//!
//! What it does not see: the analysis picture is scaled down from the decoded frame by a
//! two-tap filter, which aliases fine texture, and aliasing does not move with the picture.
//! A pan over a small or soft still (a frame grabbed from a video, enlarged) leaves 0.4–0.7 px;
//! a pan over a detailed photograph made with ffmpeg's `zoompan` left 1.0 and 1.4 px, the level
//! of the quietest real shots, and passes. Measured instead on the networks' larger picture,
//! box-averaged down, those pans leave about half a pixel, but so does a drone hovering over a
//! harbour (0.75 px against 1.2–1.3 here), so that was not kept (session 18).
//!
//! The same alignment also says *where* the scene moves of its own accord: the picture a fifth
//! of a second earlier, aligned the same way, leaves unexplained the parts that moved against
//! the background, whatever the camera did ([`RigidMotion::motion_map`], a coarse grid). Framing
//! weighs the saliency map by it (see [`super::subjects::weigh_by_motion`]). A fifth of a
//! second, not half: over half a second a walking subject's old and new places no longer
//! overlap, and the map lights two places (measured, session 24: half a second framed worse
//! than a fifth on each of the seven annotated sets, `engines/studies/motion_framing.py`).

use super::image::{quantile_bin, Plane};
use std::collections::VecDeque;

/// How far back the reference picture is, seconds.
pub const GAP_S: f64 = 0.5;
/// The shortest gap accepted at the start of a shot, seconds.
const MIN_GAP_S: f64 = 0.2;
/// Measure about this often, seconds: every `round(STEP_S × fps)`-th frame, so every third at
/// 25 and 30 fps and every thirteenth at 120 (the half-second gap holds at any frame rate).
/// The evidence is a median over the shot, and a few measures a second keep the cost at
/// about a millisecond each.
const STEP_S: f64 = 0.11;
/// Pictures kept: a step apart, enough for the gap many times over.
const KEEP: usize = 16;
/// Residuals above this (grey levels) are down-weighted (Huber): a moving subject must not
/// drag the map off the background.
const HUBER: f32 = 8.0;
/// Border (pixels of each level) left out: gradients and blur are one-sided there.
const MARGIN: usize = 2;
/// Gauss–Newton iterations at ¼ and ½ size.
const ITERATIONS: [usize; 2] = [6, 4];
/// Grey levels per pixel added to the gradient (see [`residual_p99`]): where the picture is
/// flat, a change of this many grey levels counts as a pixel's motion.
const GRADIENT_FLOOR: f32 = 2.0;
/// Histogram bins per pixel of the residual, and its top (pixels).
const PER_PIXEL: f32 = 32.0;
const BINS: usize = 256;
const TOP: f32 = BINS as f32 / PER_PIXEL;
/// Share of the picture that must overlap after the map for a measure.
const MIN_OVERLAP: f64 = 0.25;
/// How far back the picture of the motion map is, seconds (see the module docs).
pub const MAP_GAP_S: f64 = 0.2;
/// Columns of the motion map; its rows follow the picture's shape.
pub const MAP_COLS: usize = 32;
/// A motion map from a picture older than this (seconds) describes another moment: none is
/// given.
const MAP_MAX_AGE_S: f64 = 0.25;

/// One stored picture: its time, the camera's accumulated shift up to it (picture fractions)
/// and the blurred picture at full, ½ and ¼ analysis size.
struct Stored {
    t: f64,
    shift: (f64, f64),
    levels: [Plane; 3],
}

/// The per-video state: the recent pictures of the current shot.
#[derive(Default)]
pub struct RigidMotion {
    stored: VecDeque<Stored>,
    /// The camera's accumulated shift since the shot began (picture fractions).
    shift: (f64, f64),
    /// The previous frame's index and time, for the frame interval.
    last: Option<(u64, f64)>,
    /// Measure frames whose index is a multiple of this (3 until the interval is known).
    stride: Option<u64>,
}

impl RigidMotion {
    /// A cut: the pictures before it are another scene.
    pub fn reset(&mut self) {
        self.stored.clear();
        self.shift = (0.0, 0.0);
    }

    /// Where the scene moved against the background over the last [`MAP_GAP_S`], as of the
    /// last frame pushed: a grid of [`MAP_COLS`] columns of the mean unexplained motion
    /// (pixels, as [`residual_p99`] measures it) of each cell, between the newest picture kept
    /// and the one a gap before it. Made when asked, from the pictures the residual keeps
    /// anyway, so only the frames whose saliency map is weighed pay for the alignment. `None`
    /// when the newest picture is too old or has none a gap before it in this shot (the first
    /// fifth of a second of a shot), or too little overlaps.
    pub fn motion_map(&self) -> Option<Plane> {
        let (_, now) = self.last?;
        let cur = self.stored.back().filter(|c| now >= c.t && now - c.t <= MAP_MAX_AGE_S)?;
        let reference = self.stored.iter().rev().find(|s| cur.t - s.t >= MAP_GAP_S - 0.02)?;
        moving_parts(reference, cur)
    }

    /// Frame `index` at time `t` (seconds), with the camera's shift since the previous frame
    /// (picture fractions, see [`super::saliency::Subject::camera_dx`]). Returns the residual
    /// on the frames it measures (about one every [`STEP_S`], from a fifth of a second into a
    /// shot), in pixels (see [`residual_p99`]); `None` on the others.
    pub fn push(&mut self, luma: &Plane, index: u64, t: f64, camera: (f32, f32)) -> Option<f32> {
        self.shift.0 += f64::from(camera.0);
        self.shift.1 += f64::from(camera.1);
        if let Some((_, s)) = self.last.filter(|&(i, s)| index == i + 1 && t > s) {
            self.stride = Some(((STEP_S / (t - s)).round() as u64).clamp(1, 1000));
        }
        self.last = Some((index, t));
        if index % self.stride.unwrap_or(3) != 0 || luma.width < 16 || luma.height < 16 {
            return None;
        }
        let blurred = luma.box_blur(1).box_blur(1);
        let half = blurred.downscale(2);
        let quarter = half.downscale(2);
        let cur = Stored { t, shift: self.shift, levels: [blurred, half, quarter] };
        let reference = self
            .stored
            .iter()
            .rev()
            .find(|s| cur.t - s.t >= GAP_S - 0.02)
            .or_else(|| self.stored.front().filter(|s| cur.t - s.t >= MIN_GAP_S));
        let out = reference.and_then(|r| unexplained(r, &cur));
        if self.stored.len() == KEEP {
            self.stored.pop_front();
        }
        self.stored.push_back(cur);
        // Older pictures than one gap before the newest are never needed again.
        while self.stored.len() > 2 && self.stored.get(1).is_some_and(|s| t - s.t >= GAP_S) {
            self.stored.pop_front();
        }
        out
    }
}

/// An affine map from a pixel of the current picture to the reference's, about the picture
/// centre: `X = x + a·xc + b·yc + tx`, `Y = y + c·xc + d·yc + ty`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub c: f32,
    pub d: f32,
    pub ty: f32,
}

impl Affine {
    /// The same map on a picture `factor` times larger.
    fn scaled(self, factor: f32) -> Affine {
        Affine { tx: self.tx * factor, ty: self.ty * factor, ..self }
    }

    fn apply(&self, x: f32, y: f32, xc: f32, yc: f32) -> (f32, f32) {
        (x + self.a * xc + self.b * yc + self.tx, y + self.c * xc + self.d * yc + self.ty)
    }
}

/// What the best affine map from `r` to `cur` leaves unexplained (see the module docs).
fn unexplained(r: &Stored, cur: &Stored) -> Option<f32> {
    let m = align(r, cur)?;
    residual_p99(&r.levels[0], &cur.levels[0], m)
}

/// Where the best affine map from `r` to `cur` leaves the picture unexplained: the motion map
/// (see [`RigidMotion::motion_map`]).
fn moving_parts(r: &Stored, cur: &Stored) -> Option<Plane> {
    let m = align(r, cur)?;
    residual_grid(&r.levels[0], &cur.levels[0], m, MAP_COLS)
}

/// The affine map from a pixel of `cur`'s full-size picture to `r`'s that explains most of the
/// change, started from the camera's measured shift; `None` when the sizes differ.
fn align(r: &Stored, cur: &Stored) -> Option<Affine> {
    let [full, ..] = &cur.levels;
    if r.levels[0].width != full.width || r.levels[0].height != full.height {
        return None;
    }
    // The content moved by Δshift (picture fractions); the map points back to where it was.
    let start = Affine {
        tx: (-(cur.shift.0 - r.shift.0) * full.width as f64) as f32,
        ty: (-(cur.shift.1 - r.shift.1) * full.height as f64) as f32,
        ..Affine::default()
    };
    let mut m = start.scaled(0.25);
    m = refine(&r.levels[2], &cur.levels[2], m, ITERATIONS[0]);
    m = refine(&r.levels[1], &cur.levels[1], m.scaled(2.0), ITERATIONS[1]);
    Some(m.scaled(2.0))
}

/// Bilinear sample of `p` at `(x, y)`; `None` outside the picture.
#[inline]
fn sample(p: &Plane, x: f32, y: f32) -> Option<f32> {
    // Checked before the casts: a wild map must give "outside", never an index past the end.
    if !(x >= 0.0 && y >= 0.0 && x < (p.width as f32 - 1.0) && y < (p.height as f32 - 1.0)) {
        return None;
    }
    let (x0, y0) = (x as usize, y as usize);
    if x0 + 1 >= p.width || y0 + 1 >= p.height {
        return None;
    }
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let i = y0 * p.width + x0;
    let (a, b, c, d) = (p.data[i], p.data[i + 1], p.data[i + p.width], p.data[i + p.width + 1]);
    Some(a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy)
}

/// Central-difference gradients of `p` (zero on the border).
fn gradients(p: &Plane) -> (Plane, Plane) {
    let (w, h) = (p.width, p.height);
    let (mut gx, mut gy) = (Plane::new(w, h), Plane::new(w, h));
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            gx.data[i] = 0.5 * (p.data[i + 1] - p.data[i - 1]);
            gy.data[i] = 0.5 * (p.data[i + w] - p.data[i - w]);
        }
    }
    (gx, gy)
}

/// Gauss–Newton refinement of `m` (forward additive) aligning `prev` to `cur`.
fn refine(prev: &Plane, cur: &Plane, mut m: Affine, iterations: usize) -> Affine {
    let (w, h) = (cur.width, cur.height);
    if w <= 2 * MARGIN + 2 || h <= 2 * MARGIN + 2 || prev.width != w || prev.height != h {
        return m;
    }
    let (gx, gy) = gradients(prev);
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    for _ in 0..iterations {
        let mut ata = [[0.0f64; 6]; 6];
        let mut atb = [0.0f64; 6];
        let mut used = 0usize;
        for y in MARGIN..h - MARGIN {
            let yc = y as f32 - cy;
            for x in MARGIN..w - MARGIN {
                let xc = x as f32 - cx;
                let (sx, sy) = m.apply(x as f32, y as f32, xc, yc);
                let (Some(v), Some(ix), Some(iy)) = (sample(prev, sx, sy), sample(&gx, sx, sy), sample(&gy, sx, sy)) else {
                    continue;
                };
                let r = cur.data[y * w + x] - v;
                let weight = if r.abs() <= HUBER { 1.0 } else { HUBER / r.abs() };
                let j = [ix * xc, ix * yc, ix, iy * xc, iy * yc, iy].map(f64::from);
                let (wt, wr) = (f64::from(weight), f64::from(weight * r));
                for p in 0..6 {
                    atb[p] += j[p] * wr;
                    for q in p..6 {
                        ata[p][q] += j[p] * j[q] * wt;
                    }
                }
                used += 1;
            }
        }
        if (used as f64) < MIN_OVERLAP * (w * h) as f64 {
            break;
        }
        for p in 0..6 {
            for q in 0..p {
                ata[p][q] = ata[q][p];
            }
        }
        let Some(step) = solve6(ata, atb) else { break };
        m.a += step[0] as f32;
        m.b += step[1] as f32;
        m.tx += step[2] as f32;
        m.c += step[3] as f32;
        m.d += step[4] as f32;
        m.ty += step[5] as f32;
        if step[2].abs().max(step[5].abs()) < 0.01 && [step[0], step[1], step[3], step[4]].iter().all(|s| s.abs() < 1e-4) {
            break;
        }
    }
    m
}

/// Solves `A·x = b` for a symmetric 6×6 system with a little damping (Gaussian elimination
/// with partial pivoting); `None` when singular (a flat picture: nothing to align).
fn solve6(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> Option<[f64; 6]> {
    let trace: f64 = (0..6).map(|i| a[i][i]).sum();
    if !(trace > 1e-9) {
        return None;
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-6 * trace;
    }
    for col in 0..6 {
        let pivot = (col..6).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..6 {
            let f = a[row][col] / a[col][col];
            for k in col..6 {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; 6];
    for row in (0..6).rev() {
        let s: f64 = (row + 1..6).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// 99th percentile, over the overlap, of how far (pixels) the picture would have to move for
/// the map to explain it: `|cur − prev moved by m|` over the local gradient `|∇cur|` plus
/// [`GRADIENT_FLOOR`] (histogram of [`PER_PIXEL`]ths up to [`TOP`] pixels; more counts as
/// `TOP`). `None` when too little overlaps.
///
/// Why over the gradient: what a moved still leaves is where the map is a fraction of a pixel
/// off or the picture was re-sampled differently, at edges, where a tenth of a pixel is
/// several grey levels; what a living scene leaves is things that moved by pixels, or changed
/// where the picture is flat. Measured on the annotated sets' Ken Burns stretches and real
/// sequences (session 18): 0.4–0.7 px against 1–8 px (8, [`TOP`], is where it stops counting).
fn residual_p99(prev: &Plane, cur: &Plane, m: Affine) -> Option<f32> {
    let (w, h) = (cur.width, cur.height);
    if w <= 2 * MARGIN + 2 || h <= 2 * MARGIN + 2 {
        return None;
    }
    let (gx, gy) = gradients(cur);
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let mut hist = [0u32; BINS + 1];
    let mut n = 0u32;
    for y in MARGIN + 1..h - MARGIN - 1 {
        let yc = y as f32 - cy;
        for x in MARGIN + 1..w - MARGIN - 1 {
            let (sx, sy) = m.apply(x as f32, y as f32, x as f32 - cx, yc);
            if let Some(v) = sample(prev, sx, sy) {
                let i = y * w + x;
                let g = (gx.data[i] * gx.data[i] + gy.data[i] * gy.data[i]).sqrt();
                let e = (cur.data[i] - v).abs() / (g + GRADIENT_FLOOR) * PER_PIXEL;
                hist[(e as usize).min(BINS)] += 1;
                n += 1;
            }
        }
    }
    if f64::from(n) < MIN_OVERLAP * (w * h) as f64 {
        return None;
    }
    Some(quantile_bin(&hist, u64::from(n), 0.99).map_or(TOP, |bin| ((bin as f32 + 1.0) / PER_PIXEL).min(TOP)))
}

/// The mean over each cell of a `cols`-column grid (rows in proportion to the picture, at
/// least 2) of the distance the picture would have to move there for `m` to explain it, as in
/// [`residual_p99`]; cells the map takes outside `prev` are 0. `None` when too little overlaps.
fn residual_grid(prev: &Plane, cur: &Plane, m: Affine, cols: usize) -> Option<Plane> {
    let (w, h) = (cur.width, cur.height);
    if w <= 2 * MARGIN + 2 || h <= 2 * MARGIN + 2 || cols == 0 {
        return None;
    }
    let cols = cols.min(w);
    let rows = ((cols as f64 * h as f64 / w as f64).round() as usize).clamp(2, h);
    let (gx, gy) = gradients(cur);
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let mut sum = Plane::new(cols, rows);
    let mut count = vec![0u32; cols * rows];
    let mut n = 0usize;
    for y in MARGIN + 1..h - MARGIN - 1 {
        let yc = y as f32 - cy;
        let row = y * rows / h;
        for x in MARGIN + 1..w - MARGIN - 1 {
            let (sx, sy) = m.apply(x as f32, y as f32, x as f32 - cx, yc);
            if let Some(v) = sample(prev, sx, sy) {
                let i = y * w + x;
                let g = (gx.data[i] * gx.data[i] + gy.data[i] * gy.data[i]).sqrt();
                let cell = row * cols + x * cols / w;
                sum.data[cell] += ((cur.data[i] - v).abs() / (g + GRADIENT_FLOOR)).min(TOP);
                count[cell] += 1;
                n += 1;
            }
        }
    }
    if (n as f64) < MIN_OVERLAP * (w * h) as f64 {
        return None;
    }
    for (v, &c) in sum.data.iter_mut().zip(&count) {
        *v = if c > 0 { *v / c as f32 } else { 0.0 };
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A detailed still, 0–255: a few waves and soft-edged blobs.
    fn still(x: f32, y: f32) -> f32 {
        let v = 128.0 + 50.0 * (x * 0.21).sin() * (y * 0.17).cos() + 40.0 * ((x + 2.0 * y) * 0.09).sin() + 30.0 * ((x * 0.05).sin() * (y * 0.07).sin() * 6.0).tanh();
        v.clamp(0.0, 255.0)
    }

    /// The still seen through a window zoomed by `z` about `(ox, oy)` of the still.
    fn view(w: usize, h: usize, z: f32, ox: f32, oy: f32) -> Plane {
        let mut p = Plane::new(w, h);
        for y in 0..h {
            for x in 0..w {
                p.data[y * w + x] = still(ox + (x as f32 - w as f32 / 2.0) / z, oy + (y as f32 - h as f32 / 2.0) / z);
            }
        }
        p
    }

    /// Pushes frames 0, 3, …, 12 (25 fps) of a sequence and returns the last measure.
    fn measure(frames: impl Fn(u64) -> Plane) -> Option<f32> {
        let mut r = RigidMotion::default();
        let mut last = None;
        for i in 0..=12u64 {
            last = r.push(&frames(i), i, i as f64 / 25.0, (0.0, 0.0));
        }
        last
    }

    #[test]
    fn a_still_panned_and_zoomed_is_explained_and_a_moving_subject_is_not() {
        let (w, h) = (192, 108);
        let moved = measure(|i| view(w, h, 1.0 + 0.004 * i as f32, 100.0 + 0.6 * i as f32, 60.0 - 0.3 * i as f32)).unwrap();
        assert!(moved < 0.3, "a moved still left {moved} px");
        // The same view, with a subject (a bright square) walking across it.
        let live = measure(|i| {
            let mut p = view(w, h, 1.0 + 0.004 * i as f32, 100.0 + 0.6 * i as f32, 60.0 - 0.3 * i as f32);
            let x0 = 40 + 3 * i as usize;
            for y in 40..64 {
                for x in x0..x0 + 24 {
                    p.data[y * w + x] = 250.0;
                }
            }
            p
        })
        .unwrap();
        assert!(live > 2.0, "a walking subject left only {live} px");
    }

    /// The panned, zoomed still with a bright square walking right across it, its left edge
    /// at `40 + 3i` px on frame `i`.
    fn walking(w: usize, h: usize, i: u64) -> Plane {
        let mut p = view(w, h, 1.0 + 0.004 * i as f32, 100.0 + 0.6 * i as f32, 60.0 - 0.3 * i as f32);
        let x0 = 40 + 3 * i as usize;
        for y in 40..64 {
            for x in x0..x0 + 24 {
                p.data[y * w + x] = 250.0;
            }
        }
        p
    }

    #[test]
    fn the_motion_map_finds_the_walking_subject_and_not_the_moved_background() {
        let (w, h) = (192, 108);
        let mut r = RigidMotion::default();
        for i in 0..=12u64 {
            r.push(&walking(w, h, i), i, i as f64 / 25.0, (0.0, 0.0));
        }
        let map = r.motion_map().expect("a map a fifth of a second into the shot");
        assert_eq!((map.width, map.height), (MAP_COLS, 18));
        let (best, _) = map.data.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        // Against frame 6, the square spans x 58–100 (cells 9–16), rows 40–64 (cells 6–10).
        let (cx, cy) = (best % map.width, best / map.width);
        assert!((9..=16).contains(&cx) && (6..=10).contains(&cy), "peak at cell ({cx}, {cy})");
        // Away from it, the panned and zoomed background is explained.
        let far = map.data[2 * map.width + 28];
        assert!(far < 0.1 * map.data[best], "background cell {far} against the subject's {}", map.data[best]);
        // It goes with the shot, and grows stale without measures.
        r.reset();
        assert!(r.motion_map().is_none());
    }

    #[test]
    fn a_motion_map_older_than_a_quarter_second_is_not_given() {
        let (w, h) = (192, 108);
        let mut r = RigidMotion::default();
        for i in 0..=9u64 {
            r.push(&walking(w, h, i / 4), i, i as f64 / 25.0, (0.0, 0.0));
        }
        // Measured on frame 9; frames 10 and 17 are not measured (index 1 and 2 mod 3), and
        // frame 17 comes 0.28 s after the measure.
        assert!(r.motion_map().is_some());
        r.push(&walking(w, h, 3), 10, 10.0 / 25.0, (0.0, 0.0));
        assert!(r.motion_map().is_some());
        r.push(&walking(w, h, 3), 17, 16.0 / 25.0, (0.0, 0.0));
        assert!(r.motion_map().is_none());
    }

    #[test]
    fn it_measures_every_third_frame_from_a_fifth_of_a_second_and_forgets_at_a_cut() {
        let p = view(96, 54, 1.0, 50.0, 30.0);
        let mut r = RigidMotion::default();
        let got: Vec<bool> = (0..16u64).map(|i| r.push(&p, i, i as f64 / 25.0, (0.0, 0.0)).is_some()).collect();
        // Frames 0–5 have no picture a fifth of a second back; 6, 9, 12 and 15 do.
        let want: Vec<bool> = (0..16).map(|i| i >= 6 && i % 3 == 0).collect();
        assert_eq!(got, want);
        r.reset();
        assert_eq!(r.push(&p, 18, 18.0 / 25.0, (0.0, 0.0)), None);
        // A frozen picture is fully explained (the first bin's upper edge).
        assert_eq!(measure(|_| p.clone()), Some(1.0 / PER_PIXEL));
    }

    #[test]
    fn a_fast_pan_is_found_from_the_cameras_shift() {
        let (w, h) = (192, 108);
        // 2 px per frame: 24 px over the half second, beyond a plain start's reach at ¼ size.
        let mut r = RigidMotion::default();
        let mut last = None;
        for i in 0..=12u64 {
            let camera = if i == 0 { (0.0, 0.0) } else { (-2.0 / w as f32, 0.0) };
            last = r.push(&view(w, h, 1.0, 100.0 + 2.0 * i as f32, 60.0), i, i as f64 / 25.0, camera);
        }
        let v = last.unwrap();
        assert!(v < 0.3, "a fast pan of a still left {v} px");
    }

    #[test]
    fn flat_and_tiny_pictures_give_no_map_and_no_panic() {
        assert_eq!(solve6([[0.0; 6]; 6], [0.0; 6]), None);
        let mut r = RigidMotion::default();
        for i in 0..13u64 {
            assert_eq!(r.push(&Plane::new(8, 8), i, i as f64 / 25.0, (0.0, 0.0)), None);
        }
        let flat = Plane { width: 64, height: 36, data: vec![90.0; 64 * 36] };
        assert_eq!(measure(|_| flat.clone()), Some(1.0 / PER_PIXEL));
    }

    #[test]
    fn the_gap_is_half_a_second_at_any_frame_rate() {
        // 120 fps: every thirteenth frame is measured, against the picture half a second back
        // (60 frames), so a still moved slowly is still explained and measures keep coming.
        let mut r = RigidMotion::default();
        let mut measured = Vec::new();
        for i in 0..=240u64 {
            let v = r.push(&view(96, 54, 1.0, 50.0 + 0.05 * i as f32, 30.0), i, i as f64 / 120.0, (0.0, 0.0));
            if let Some(v) = v {
                measured.push((i, v));
            }
        }
        assert!(measured.len() >= 12, "{measured:?}");
        assert!(measured.iter().all(|&(i, v)| i % 13 == 0 && v < 0.3), "{measured:?}");
    }

    #[test]
    fn odd_and_narrow_pictures_are_measured_without_panic() {
        for (w, h) in [(16usize, 16usize), (17, 31), (200, 16), (16, 200), (33, 19)] {
            let frozen = measure(|_| view(w, h, 1.0, 20.0, 20.0));
            assert_eq!(frozen, Some(1.0 / PER_PIXEL), "{w}×{h}");
            let moved = measure(|i| view(w, h, 1.0 + 0.004 * i as f32, 20.0 + 0.3 * i as f32, 20.0));
            assert!(moved.is_some_and(|v| v.is_finite() && (0.0..=TOP).contains(&v)), "{w}×{h}: {moved:?}");
        }
    }

    proptest! {
        #[test]
        fn the_residual_is_finite_and_in_range_whatever_the_pictures(seed in 0u64..1000, w in 16usize..80, h in 16usize..60) {
            let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let mut noise = |n: usize| -> Plane {
                let data = (0..n).map(|_| { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 56) as f32 }).collect();
                Plane { width: w, height: h, data }
            };
            let mut r = RigidMotion::default();
            for i in 0..13u64 {
                if let Some(v) = r.push(&noise(w * h), i, i as f64 / 25.0, (0.01, -0.02)) {
                    prop_assert!(v.is_finite() && (0.0..=TOP).contains(&v), "{v}");
                }
                if let Some(m) = r.motion_map() {
                    prop_assert_eq!(m.data.len(), m.width * m.height);
                    prop_assert!(m.data.iter().all(|v| v.is_finite() && (0.0..=TOP).contains(v)));
                }
            }
        }
    }
}
