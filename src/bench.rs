//! `bench`: end-to-end throughput next to the decode-only speed of the same file through the
//! same decoder, so that the cost of analysis is seen as a ratio.

use crate::config::Config;
use crate::decode::{self, DecodeError};
use crate::engine;
use crate::format::AspectRatio;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub fps_nominal: f64,
    pub decoder: Option<String>,
    pub decode_only_fps: f64,
    pub predict_fps: f64,
    /// Frames the networks analysed, and the audio patches tagged (0 when they are off).
    pub network_frames: usize,
    pub audio_patches: usize,
    /// Wall time of the best `predict` run spent inside the image networks, seconds (the
    /// decoder runs beside them, so this is where the time goes, not a sum of parts).
    pub network_seconds: f64,
    /// `predict` wall time of the best run, seconds.
    pub predict_seconds: f64,
    /// Processor time of the best `predict` run over its wall time: about the number of
    /// cores it kept busy (2.0 on two cores means it is bound by the processor, not waiting).
    pub predict_cores: Option<f64>,
    /// Peak resident memory of the process (VmHWM), MiB; `None` where /proc is not there.
    pub peak_rss_mib: Option<f64>,
    /// `predict_fps / decode_only_fps`.
    pub ratio: f64,
    /// Times real time (`predict_fps / nominal fps`).
    pub realtime: f64,
}

pub fn run(path: &Path, ratio: AspectRatio, cfg: &Config, repeat: u32) -> Result<BenchResult, engine::EngineError> {
    let opts = engine::decode_options(cfg);
    let mut best_decode = f64::MAX;
    let mut best_predict = f64::MAX;
    let mut best = None;
    for _ in 0..repeat.max(1) {
        let d = decode::decode_only(path, &opts)?;
        best_decode = best_decode.min(d.decode_seconds);
        let cpu0 = cpu_seconds();
        let r = engine::process_video(path, ratio, cfg, |_| {})?;
        let cores = cpu0.zip(cpu_seconds()).map(|(a, b)| (b - a) / r.seconds.max(1e-9));
        if r.seconds < best_predict {
            best_predict = r.seconds;
            best = Some((d, r, cores));
        }
    }
    let Some((d, r, predict_cores)) = best else { return Err(DecodeError::NoVideo { path: path.into() }.into()) };
    let frames = r.info.frames;
    let decode_only_fps = d.frames as f64 / best_decode.max(1e-9);
    let predict_fps = frames as f64 / best_predict.max(1e-9);
    Ok(BenchResult {
        file: path.display().to_string(),
        width: r.info.width,
        height: r.info.height,
        frames,
        fps_nominal: r.info.fps,
        decoder: r.info.decoder.clone(),
        decode_only_fps,
        predict_fps,
        network_frames: r.subjects_sampled,
        audio_patches: r.audio.patches.len(),
        network_seconds: r.network_seconds,
        predict_seconds: r.seconds,
        predict_cores,
        peak_rss_mib: peak_rss_mib(),
        ratio: predict_fps / decode_only_fps.max(1e-9),
        realtime: predict_fps / r.info.fps.max(1e-9),
    })
}

/// User + system processor time of this process so far, seconds (every thread's).
fn cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return None;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Some(secs(u.ru_utime) + secs(u.ru_stime))
}

/// The process's peak resident set, from `/proc/self/status` (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}
