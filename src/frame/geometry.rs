//! Crop-window geometry: the largest window of a target ratio, and turning a wanted centre
//! into an integer window that the checker accepts with its real-valued implied height.

use crate::format::{AspectRatio, Window};

/// Size of the largest window of `ratio` inside a `width × height` picture.
///
/// The width is an integer (the output format writes it so); the height is the real number the
/// checker derives from it, never above the picture height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowSize {
    pub w: u32,
    pub h: f64,
}

/// The largest window of `ratio` that fits the picture. Full height when the target is narrower
/// than the picture, full width otherwise (SPEC.md section 5: ground truth looks like this).
/// `None` when not even a 1-pixel-wide window fits (a picture a few pixels tall and a very
/// tall target): such a video cannot be framed.
pub fn largest_window(width: u32, height: u32, ratio: AspectRatio) -> Option<WindowSize> {
    let (tw, th) = (u64::from(ratio.w()), u64::from(ratio.h()));
    // Integer arithmetic: w = floor(H * tw / th) when that fits in the width.
    let w_full_h = u64::from(height) * tw / th;
    let w = w_full_h.min(u64::from(width));
    let w = u32::try_from(w).ok().filter(|&w| w > 0)?;
    Some(WindowSize { w, h: f64::from(w) * th as f64 / tw as f64 })
}

/// Smallest crop window accepted on either side, pixels. Below this a "crop" is a line or a
/// dot: the job would report done with windows nobody can use (a 2000×4 picture framed
/// 9:16 gives 2×3.6 px), so such a picture/ratio pair is refused with a reason instead.
pub const MIN_WINDOW_SIDE_PX: f64 = 8.0;

/// A picture/ratio pair whose largest window is under [`MIN_WINDOW_SIDE_PX`] on a side.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a {ratio} crop window in a {width}×{height} px picture would be {w}×{h:.1} px, under the {MIN_WINDOW_SIDE_PX} px minimum on a side: this video cannot be framed at {ratio}")]
pub struct WindowTooSmall {
    pub width: u32,
    pub height: u32,
    pub ratio: AspectRatio,
    /// The largest window's width (0: not even one pixel fits).
    pub w: u32,
    pub h: f64,
}

/// [`largest_window`], refusing a window under [`MIN_WINDOW_SIDE_PX`] on either side.
pub fn usable_window(width: u32, height: u32, ratio: AspectRatio) -> Result<WindowSize, WindowTooSmall> {
    let size = largest_window(width, height, ratio);
    match size {
        Some(s) if f64::from(s.w) >= MIN_WINDOW_SIDE_PX && s.h >= MIN_WINDOW_SIDE_PX => Ok(s),
        _ => Err(WindowTooSmall { width, height, ratio, w: size.map_or(0, |s| s.w), h: size.map_or(0.0, |s| s.h) }),
    }
}

/// Range of valid integer top-left positions along each axis for a window of `size`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slack {
    pub x_max: u32,
    pub y_max: u32,
}

/// How far a window of `size` may move in a `width × height` picture, such that
/// `x + w <= width` and `y + h <= height` hold exactly in floating point.
pub fn slack(width: u32, height: u32, size: WindowSize) -> Slack {
    let x_max = width.saturating_sub(size.w);
    let mut y_max = (f64::from(height) - size.h).floor().max(0.0) as u32;
    while y_max > 0 && f64::from(y_max) + size.h > f64::from(height) {
        y_max -= 1;
    }
    Slack { x_max, y_max }
}

/// The integer window of `size` whose centre is nearest to `(cx, cy)` (source pixels),
/// clamped into the picture.
pub fn place(width: u32, height: u32, size: WindowSize, cx: f64, cy: f64) -> Window {
    let s = slack(width, height, size);
    let clamp = |v: f64, max: u32| -> f64 {
        if v.is_finite() {
            v.round().clamp(0.0, f64::from(max))
        } else {
            (f64::from(max) / 2.0).floor()
        }
    };
    let x = clamp(cx - f64::from(size.w) / 2.0, s.x_max);
    let y = clamp(cy - size.h / 2.0, s.y_max);
    Window { x, y, w: f64::from(size.w) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(w: u32, h: u32) -> AspectRatio {
        AspectRatio::new(w, h).unwrap()
    }

    #[test]
    fn portrait_window_in_landscape_picture_is_full_height() {
        let s = largest_window(640, 360, r(9, 16)).unwrap();
        assert_eq!(s.w, 202);
        assert!(s.h <= 360.0 && s.h > 359.0);
    }

    #[test]
    fn same_ratio_is_whole_picture() {
        let s = largest_window(1280, 720, r(16, 9)).unwrap();
        assert_eq!((s.w, s.h), (1280, 720.0));
        let w = place(1280, 720, s, 10.0, 10.0);
        assert_eq!((w.x, w.y), (0.0, 0.0));
    }

    #[test]
    fn landscape_window_in_portrait_strip_is_full_width() {
        let s = largest_window(134, 240, r(16, 9)).unwrap();
        assert_eq!(s.w, 134);
        assert!((s.h - 75.375).abs() < 1e-9);
        assert_eq!(slack(134, 240, s).y_max, 164);
    }

    #[test]
    fn windows_under_a_few_pixels_are_refused_naming_picture_and_ratio() {
        let e = usable_window(2000, 4, r(9, 16)).unwrap_err();
        assert_eq!((e.width, e.height, e.w), (2000, 4, 2));
        let msg = e.to_string();
        assert!(msg.contains("2000×4") && msg.contains("9:16") && msg.contains("minimum"), "{msg}");
        // Not even one pixel wide.
        assert_eq!(usable_window(2000, 1, r(1, 40)).unwrap_err().w, 0);
        // Too short the other way: a 16:9 window in a 10 px wide strip is 10×5.6.
        assert!(usable_window(10, 4000, r(16, 9)).is_err());
        // At the minimum exactly, and ordinary pictures, pass unchanged.
        assert_eq!(usable_window(8, 8, r(1, 1)).unwrap(), WindowSize { w: 8, h: 8.0 });
        assert_eq!(usable_window(640, 360, r(9, 16)).unwrap(), largest_window(640, 360, r(9, 16)).unwrap());
    }

    proptest! {
        #[test]
        fn placed_windows_are_always_valid(
            width in 1u32..4000, height in 1u32..4000,
            tw in 1u32..40, th in 1u32..40,
            cx in -5000.0f64..9000.0, cy in -5000.0f64..9000.0,
        ) {
            let ratio = r(tw, th);
            let Some(size) = largest_window(width, height, ratio) else {
                // Only when even one pixel of width would be too tall.
                prop_assert!(u64::from(height) * u64::from(tw) < u64::from(th));
                return Ok(());
            };
            let w = place(width, height, size, cx, cy);
            let h = w.height(ratio);
            prop_assert!(w.x >= 0.0 && w.y >= 0.0 && w.w > 0.0);
            prop_assert!(w.x + w.w <= f64::from(width));
            prop_assert!(w.y + h <= f64::from(height), "y {} h {} H {}", w.y, h, height);
            prop_assert_eq!(w.x.fract(), 0.0);
            prop_assert_eq!(w.y.fract(), 0.0);
        }

        #[test]
        fn largest_window_touches_two_sides(
            width in 2u32..4000, height in 2u32..4000, tw in 1u32..40, th in 1u32..40,
        ) {
            let Some(size) = largest_window(width, height, r(tw, th)) else { return Ok(()) };
            // Either it spans the width or one more pixel of width would overflow the height.
            let wider_h = f64::from(size.w + 1) * f64::from(th) / f64::from(tw);
            prop_assert!(size.w == width || wider_h > f64::from(height));
        }

        #[test]
        fn centre_is_respected_when_there_is_room(
            width in 100u32..2000, height in 100u32..2000, frac in 0.0f64..1.0,
        ) {
            let size = largest_window(width, height, r(9, 16)).unwrap();
            let s = slack(width, height, size);
            let cx = f64::from(size.w) / 2.0 + frac * f64::from(s.x_max);
            let w = place(width, height, size, cx, f64::from(height) / 2.0);
            prop_assert!((w.x + f64::from(size.w) / 2.0 - cx).abs() <= 0.5 + 1e-9);
        }
    }
}
