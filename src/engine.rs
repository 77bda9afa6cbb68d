//! One video through every stage: decode → analyse → select → frame.

use crate::analyse::{shots, Analyser, FrameFeatures};
use crate::config::Config;
use crate::decode::{self, DecodeError, DecodeOptions, StreamInfo};
use crate::format::{AspectRatio, Prediction};
use crate::frame::{self, Canvas, ShotPlan};
use crate::select::{self, Selection};
use std::path::Path;
use std::time::{Duration, Instant};

/// Everything learnt about one video; the predictions are what the contest format needs,
/// the rest feeds crop metadata, reports and debugging.
#[derive(Debug, Clone)]
pub struct VideoResult {
    pub info: StreamInfo,
    pub features: Vec<FrameFeatures>,
    pub shots: Vec<std::ops::Range<usize>>,
    pub selection: Selection,
    pub plans: Vec<ShotPlan>,
    pub predictions: Vec<Prediction>,
    pub seconds: f64,
}

pub fn decode_options(cfg: &Config) -> DecodeOptions {
    DecodeOptions {
        analysis_side: cfg.decode.analysis_side,
        audio: cfg.decode.audio,
        stall_timeout: Duration::from_secs(cfg.decode.stall_timeout_s),
        detail: None,
    }
}

/// Processes one video for one target ratio.
pub fn process_video(path: &Path, ratio: AspectRatio, cfg: &Config, mut progress: impl FnMut(u64)) -> Result<VideoResult, DecodeError> {
    let started = Instant::now();
    let mut analyser = Analyser::new(cfg.shots.cut_distance);
    let mut features = Vec::new();
    let info = decode::decode(path, &decode_options(cfg), |f| {
        features.push(analyser.push(&f));
        progress(f.index + 1);
    })?;
    let distances: Vec<f32> = features.iter().map(|f| f.cut_distance).collect();
    let shots = shots::detect(&distances, info.fps, &cfg.shots);
    let canvas = Canvas { width: info.width, height: info.height, fps: info.fps, ratio };
    let crop_iou = frame::expected_iou(&features, &shots, &canvas);
    let selection = select::select(&features, &shots, &crop_iou, info.fps, &cfg.select);
    let chosen: Vec<usize> = selection.frames().collect();
    let (predictions, plans) = frame::frame_video(&features, &shots, &chosen, &canvas, &cfg.framing);
    Ok(VideoResult { info, features, shots, selection, plans, predictions, seconds: started.elapsed().as_secs_f64() })
}
