//! Crop windows: the largest window of the target ratio, moved per shot by a virtual camera
//! that follows the subject (see [`path`]), rounded so that every window is valid.

pub mod geometry;
pub mod path;

use crate::analyse::FrameFeatures;
use crate::format::{AspectRatio, Prediction};
use geometry::WindowSize;
use path::{Axis, CameraMode, Observation, PathParams};
use serde::Serialize;
use std::ops::Range;

/// The camera plan of one shot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShotPlan {
    pub start: usize,
    pub end: usize,
    pub mode: CameraMode,
}

/// Picture and target of one video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub ratio: AspectRatio,
}

impl Canvas {
    /// The window size, `None` for a picture too small to hold one.
    pub fn size(&self) -> Option<WindowSize> {
        geometry::largest_window(self.width, self.height, self.ratio)
    }

    /// Whether the window covers the whole picture (nothing to frame).
    pub fn is_full_frame(&self) -> bool {
        self.size().is_some_and(|size| {
            let s = geometry::slack(self.width, self.height, size);
            s.x_max == 0 && s.y_max == 0
        })
    }
}

/// A prior for the IoU a crop of this frame will have with the truth: 1 when the window is
/// the whole picture; otherwise between a centred guess and a confident track, by how
/// concentrated the shot's saliency is.
pub fn expected_iou(features: &[FrameFeatures], shots: &[Range<usize>], canvas: &Canvas) -> Vec<f64> {
    if canvas.is_full_frame() {
        return vec![1.0; features.len()];
    }
    let mut out = vec![0.5; features.len()];
    for shot in shots {
        let ev = features[shot.clone()].iter().map(|f| f64::from(f.subject_evidence)).sum::<f64>() / shot.len().max(1) as f64;
        for v in &mut out[shot.clone()] {
            *v = 0.5 + 0.3 * ev.clamp(0.0, 1.0);
        }
    }
    out
}

/// Windows for the `selected` frames (ascending), planned shot by shot over all frames so the
/// path is the same whichever frames are kept. No windows for a picture too small to hold one.
pub fn frame_video(
    features: &[FrameFeatures],
    shots: &[Range<usize>],
    selected: &[usize],
    canvas: &Canvas,
    params: &PathParams,
) -> (Vec<Prediction>, Vec<ShotPlan>) {
    let Some(size) = canvas.size() else {
        return (Vec::new(), Vec::new());
    };
    let (w, h) = (f64::from(canvas.width), f64::from(canvas.height));
    let x_axis = Axis { picture: w, window: f64::from(size.w) };
    let y_axis = Axis { picture: h, window: size.h };
    let slack = geometry::slack(canvas.width, canvas.height, size);
    let mut centres = vec![(w / 2.0, h / 2.0); features.len()];
    let mut plans = Vec::with_capacity(shots.len());
    for shot in shots {
        let fs = &features[shot.clone()];
        let aims: Vec<_> = fs.iter().map(FrameFeatures::aim_point).collect();
        let obs_x: Vec<Observation> = aims.iter().map(|a| Observation { pos: f64::from(a.x) * w, weight: f64::from(a.evidence) }).collect();
        let obs_y: Vec<Observation> = aims.iter().map(|a| Observation { pos: f64::from(a.y) * h, weight: f64::from(a.evidence) }).collect();
        let (mx, px) = path::plan_shot(&obs_x, x_axis, canvas.fps, params);
        let (my, py) = path::plan_shot(&obs_y, y_axis, canvas.fps, params);
        for (k, i) in shot.clone().enumerate() {
            centres[i] = (px[k], py[k]);
        }
        let mode = if slack.x_max > 0 { mx } else if slack.y_max > 0 { my } else { CameraMode::Stationary };
        plans.push(ShotPlan { start: shot.start, end: shot.end, mode });
    }
    let preds = selected
        .iter()
        .filter_map(|&i| centres.get(i).map(|&(cx, cy)| (i, cx, cy)))
        .map(|(i, cx, cy)| Prediction { frame: i as i64, window: geometry::place(canvas.width, canvas.height, size, cx, cy) })
        .collect();
    (preds, plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::Aim;

    /// Where the 9:16 window of a 320×180 shot of 50 frames sits (its left edge, px) on its
    /// middle frame, with every frame's subject at x 0.2 and the given aim.
    fn window_x(aim: Option<Aim>) -> f64 {
        let f = FrameFeatures { subject_x: 0.2, subject_y: 0.5, subject_evidence: 0.9, aim, ..FrameFeatures::default() };
        let features = vec![f; 50];
        let canvas = Canvas { width: 320, height: 180, fps: 25.0, ratio: AspectRatio::PORTRAIT };
        let (preds, _) = frame_video(&features, std::slice::from_ref(&(0..50)), &[25], &canvas, &PathParams::default());
        preds[0].window.x
    }

    #[test]
    fn framing_follows_the_aim_and_the_subject_where_there_is_none() {
        // The window is 101 px wide (180 × 9 / 16): centred on x 64 it starts at 13.4, on 256
        // it is clamped to the right edge, 219.
        let on_subject = window_x(None);
        assert!((on_subject - (64.0 - 50.625)).abs() < 2.0, "{on_subject}");
        let on_aim = window_x(Some(Aim { x: 0.8, y: 0.5, evidence: 0.9 }));
        assert!(on_aim > 200.0, "{on_aim}");
    }
}
