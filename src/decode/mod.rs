//! Decoding with GStreamer: every presented frame, in order, as a small RGB picture for
//! analysis, plus the audio track as short-window loudness.
//!
//! Frame k is the k-th buffer the decoder presents (after the demuxer applied edit lists and
//! segment clipping, as a player would). Nothing re-times or drops frames on the way: there is
//! no `videorate`, the sink does not sync to a clock and QoS is off. Rotation metadata is
//! applied (`videoflip video-direction=auto`) after scaling, so it costs nothing at full size.

pub mod hardware;
pub(crate) mod plumbing;

use plumbing::{file_decodebin, link_chain, link_fakesink, pad_caps};

use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gst::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What went wrong decoding one file; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{path}: cannot initialise GStreamer: {msg}")]
    Init { path: PathBuf, msg: String },
    #[error("{path}: file not found or not readable")]
    NotReadable { path: PathBuf },
    #[error("{path}: cannot build the decode pipeline: {msg}")]
    Pipeline { path: PathBuf, msg: String },
    #[error("{path}: decoding failed: {msg}")]
    Stream { path: PathBuf, msg: String },
    #[error("{path}: no video stream")]
    NoVideo { path: PathBuf },
    #[error("{path}: no frame decoded within {secs} s")]
    Stalled { path: PathBuf, secs: u64 },
    #[error("{path}: no video stream found within {secs} s (truncated, or not a video)")]
    NoStreamFound { path: PathBuf, secs: u64 },
}

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    /// Longest side of the analysis picture, in pixels.
    pub analysis_side: u32,
    /// Read the audio track (mono, 16 kHz) when there is one.
    pub audio: bool,
    /// Give up when no frame or message arrives for this long.
    pub stall_timeout: Duration,
}

impl DecodeOptions {
    /// How long a file may take to show its streams. A local file does so in milliseconds;
    /// GStreamer 1.22's decodebin sometimes swallows the demuxer's error on a truncated MP4
    /// (no `moov`), and the pipeline then stays silent: this bounds that case.
    pub fn startup_timeout(&self) -> Duration {
        self.stall_timeout.min(Duration::from_secs(5))
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self { analysis_side: 192, audio: true, stall_timeout: Duration::from_secs(60) }
    }
}

/// One decoded frame, scaled for analysis, rotated as displayed, packed RGB rows.
#[derive(Debug, Clone)]
pub struct AnalysisFrame {
    pub index: u64,
    pub pts_ns: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// Audio loudness: RMS of consecutive windows of `window_s` seconds, from the stream start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioLoudness {
    pub window_s: f64,
    pub rms: Vec<f32>,
}

/// What the decoder learnt about the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// Picture size as displayed (after rotation).
    pub width: u32,
    pub height: u32,
    /// Frames presented.
    pub frames: u64,
    /// Nominal frame rate, or the measured one for variable-rate streams.
    pub fps: f64,
    /// Whether rotation metadata turned the picture by 90° or 270°.
    pub rotated: bool,
    /// The decoder element decodebin picked.
    pub decoder: Option<String>,
    pub audio: Option<AudioLoudness>,
    pub decode_seconds: f64,
}

const AUDIO_RATE: i32 = 16_000;
const AUDIO_WINDOW_S: f64 = 0.02;

fn init(path: &Path) -> Result<(), DecodeError> {
    gst::init().map_err(|e| DecodeError::Init { path: path.into(), msg: e.to_string() })
}

/// Size of the analysis picture for a `w × h` source: the longest side becomes `side`, the
/// other keeps the aspect ratio; both even, at least 2.
pub fn analysis_size(w: u32, h: u32, side: u32) -> (u32, u32) {
    let side = side.max(16);
    let (w, h) = (w.max(1) as f64, h.max(1) as f64);
    let scale = (f64::from(side) / w.max(h)).min(1.0);
    let even = |v: f64| (((v * scale) / 2.0).round() as u32 * 2).max(2);
    (even(w), even(h))
}

struct Shared {
    scaled: Option<(u32, u32)>,
    source: Option<(u32, u32)>,
    fps: Option<f64>,
    decoder: Option<String>,
    audio_acc: Vec<f32>,
    audio_rms: Vec<f32>,
    has_audio: bool,
}

/// Decodes `path` and calls `on_frame` for every presented frame, in order.
pub fn decode(path: &Path, opts: &DecodeOptions, mut on_frame: impl FnMut(AnalysisFrame)) -> Result<StreamInfo, DecodeError> {
    init(path)?;
    if std::fs::File::open(path).is_err() {
        return Err(DecodeError::NotReadable { path: path.into() });
    }
    let started = Instant::now();
    let (pipeline, dbin) = file_decodebin(path).map_err(|e| pipe_err(path, e))?;

    let shared = Arc::new(Mutex::new(Shared {
        scaled: None,
        source: None,
        fps: None,
        decoder: None,
        audio_acc: Vec::new(),
        audio_rms: Vec::new(),
        has_audio: false,
    }));
    let (tx, rx) = mpsc::sync_channel::<AnalysisFrame>(8);
    let want_audio = opts.audio;
    let side = opts.analysis_side;
    let video_linked = Arc::new(Mutex::new(false));

    {
        let pipeline_weak = pipeline.downgrade();
        let shared = shared.clone();
        let video_linked = video_linked.clone();
        let path_owned = path.to_path_buf();
        dbin.connect_pad_added(move |_dbin, pad| {
            let Some(pipeline) = pipeline_weak.upgrade() else { return };
            let caps = pad_caps(pad);
            let Some(s) = caps.structure(0) else { return };
            let name = s.name().to_string();
            let res = if name.starts_with("video/") {
                let mut linked = video_linked.lock().unwrap_or_else(|p| p.into_inner());
                if *linked {
                    link_fakesink(&pipeline, pad)
                } else {
                    *linked = true;
                    link_video(&pipeline, pad, &caps, side, tx.clone(), shared.clone())
                }
            } else if name.starts_with("audio/") && want_audio {
                link_audio(&pipeline, pad, shared.clone())
            } else {
                link_fakesink(&pipeline, pad)
            };
            if let Err(e) = res {
                tracing::warn!(file = %path_owned.display(), "cannot link decoded stream {name}: {e}");
            }
        });
    }
    {
        let shared = shared.clone();
        dbin.connect("element-added", false, move |args| {
            if let Some(el) = args.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
                if let Some(f) = el.factory() {
                    let k = f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default();
                    if k.contains("Decoder") && k.contains("Video") {
                        shared.lock().unwrap_or_else(|p| p.into_inner()).decoder = Some(f.name().to_string());
                    }
                }
            }
            None
        });
    }

    let bus = pipeline.bus().ok_or_else(|| pipe_err(path, "pipeline has no bus"))?;
    pipeline.set_state(gst::State::Playing).map_err(|_| stream_err(path, &bus))?;

    let mut frames = 0u64;
    let mut first_pts = None;
    let mut last_pts = None;
    let mut last_activity = Instant::now();
    let result = loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(f) => {
                last_activity = Instant::now();
                frames += 1;
                if first_pts.is_none() {
                    first_pts = f.pts_ns;
                }
                last_pts = f.pts_ns.or(last_pts);
                on_frame(f);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        let mut done = None;
        while let Some(msg) = bus.pop() {
            last_activity = Instant::now();
            match msg.view() {
                gst::MessageView::Eos(..) => {
                    done = Some(Ok(()));
                    break;
                }
                gst::MessageView::Error(e) => {
                    let dbg = e.debug().map(|d| format!(" ({d})")).unwrap_or_default();
                    done = Some(Err(DecodeError::Stream { path: path.into(), msg: format!("{}{}", e.error(), short(&dbg)) }));
                    break;
                }
                _ => {}
            }
        }
        if let Some(d) = done {
            // Frames still queued were presented before the end: keep them.
            while let Ok(f) = rx.try_recv() {
                frames += 1;
                last_pts = f.pts_ns.or(last_pts);
                on_frame(f);
            }
            break d;
        }
        if frames == 0 && !*video_linked.lock().unwrap_or_else(|p| p.into_inner()) && started.elapsed() > opts.startup_timeout() {
            break Err(DecodeError::NoStreamFound { path: path.into(), secs: opts.startup_timeout().as_secs() });
        }
        if last_activity.elapsed() > opts.stall_timeout {
            break Err(DecodeError::Stalled { path: path.into(), secs: opts.stall_timeout.as_secs() });
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result?;

    let sh = shared.lock().unwrap_or_else(|p| p.into_inner());
    let (Some((sw, shh)), Some(scaled)) = (sh.source, sh.scaled) else {
        return Err(DecodeError::NoVideo { path: path.into() });
    };
    if frames == 0 {
        return Err(DecodeError::Stream { path: path.into(), msg: "no frame could be decoded".into() });
    }
    let rotated = scaled.0 != scaled.1 && sh.scaled_is_transposed();
    let (width, height) = if rotated { (shh, sw) } else { (sw, shh) };
    let measured = match (first_pts, last_pts) {
        (Some(a), Some(b)) if b > a && frames > 1 => Some((frames - 1) as f64 * 1e9 / (b - a) as f64),
        _ => None,
    };
    let fps = sh.fps.filter(|f| *f > 0.0).or(measured).unwrap_or(25.0);
    let audio = sh.has_audio.then(|| AudioLoudness { window_s: AUDIO_WINDOW_S, rms: sh.audio_rms.clone() });
    Ok(StreamInfo {
        width,
        height,
        frames,
        fps,
        rotated,
        decoder: sh.decoder.clone(),
        audio,
        decode_seconds: started.elapsed().as_secs_f64(),
    })
}

impl Shared {
    /// The appsink records the size it received in `scaled` after rotation; `source` ×
    /// scale before rotation. A swap of the aspect means the picture was turned.
    fn scaled_is_transposed(&self) -> bool {
        match (self.source, self.scaled) {
            (Some((sw, sh)), Some((aw, ah))) => (sw >= sh) != (aw >= ah) && sw != sh,
            _ => false,
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(300).collect()
}

fn pipe_err(path: &Path, e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Pipeline { path: path.into(), msg: e.to_string() }
}

fn stream_err(path: &Path, bus: &gst::Bus) -> DecodeError {
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_mseconds(200), &[gst::MessageType::Error])
        .and_then(|m| match m.view() {
            gst::MessageView::Error(e) => Some(e.error().to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "the pipeline refused to start".into());
    DecodeError::Stream { path: path.into(), msg }
}

fn el(factory: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(factory).build().map_err(|_| format!("GStreamer element `{factory}` is missing"))
}

fn link_video(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    caps: &gst::Caps,
    side: u32,
    tx: mpsc::SyncSender<AnalysisFrame>,
    shared: Arc<Mutex<Shared>>,
) -> Result<(), String> {
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("unusable video caps {caps}: {e}"))?;
    let (w, h) = (info.width(), info.height());
    let fps = info.fps();
    let (aw, ah) = analysis_size(w, h, side);
    {
        let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
        sh.source = Some((w, h));
        sh.fps = (fps.numer() > 0 && fps.denom() > 0).then(|| f64::from(fps.numer()) / f64::from(fps.denom()));
    }
    // Hardware decoders on Jetson hand out NVMM buffers: their own converter scales them in
    // hardware into system memory; elsewhere videoscale does it on the CPU.
    let in_nvmm = caps.features(0).is_some_and(|f| f.contains("memory:NVMM"));
    let scaler = if in_nvmm { el("nvvidconv")? } else { el("videoscale")? };
    if scaler.has_property("n-threads") {
        scaler.set_property("n-threads", 2u32);
    }
    let size = gst::ElementFactory::make("capsfilter")
        .property("caps", gst::Caps::builder("video/x-raw").field("width", aw as i32).field("height", ah as i32).build())
        .build()
        .map_err(|e| e.to_string())?;
    let convert = el("videoconvert")?;
    let flip = el("videoflip")?;
    flip.set_property_from_str("video-direction", "auto");
    let rgb = gst::Caps::builder("video/x-raw").field("format", "RGB").build();
    let sink = gst_app::AppSink::builder().caps(&rgb).sync(false).qos(false).max_buffers(4).build();
    let index = Arc::new(Mutex::new(0u64));
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let caps = sample.caps().ok_or(gst::FlowError::NotNegotiated)?;
                let vinfo = gst_video::VideoInfo::from_caps(caps).map_err(|_| gst::FlowError::NotNegotiated)?;
                let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &vinfo).map_err(|_| gst::FlowError::Error)?;
                let (fw, fh) = (vinfo.width(), vinfo.height());
                let stride = vinfo.stride()[0] as usize;
                let data = frame.plane_data(0).map_err(|_| gst::FlowError::Error)?;
                let row = fw as usize * 3;
                let mut rgb = Vec::with_capacity(row * fh as usize);
                for y in 0..fh as usize {
                    rgb.extend_from_slice(data.get(y * stride..y * stride + row).ok_or(gst::FlowError::Error)?);
                }
                let mut idx = index.lock().unwrap_or_else(|p| p.into_inner());
                {
                    let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
                    sh.scaled = Some((fw, fh));
                }
                let f = AnalysisFrame { index: *idx, pts_ns: buffer.pts().map(|t| t.nseconds()), width: fw, height: fh, rgb };
                *idx += 1;
                tx.send(f).map_err(|_| gst::FlowError::Flushing)?;
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    link_chain(pipeline, pad, &[scaler, size, convert, flip, sink.upcast()])
}

fn link_audio(pipeline: &gst::Pipeline, pad: &gst::Pad, shared: Arc<Mutex<Shared>>) -> Result<(), String> {
    let convert = el("audioconvert")?;
    let resample = el("audioresample")?;
    let caps = gst::Caps::builder("audio/x-raw").field("format", "F32LE").field("rate", AUDIO_RATE).field("channels", 1).field("layout", "interleaved").build();
    let sink = gst_app::AppSink::builder().caps(&caps).sync(false).build();
    shared.lock().unwrap_or_else(|p| p.into_inner()).has_audio = true;
    let window = (f64::from(AUDIO_RATE) * AUDIO_WINDOW_S) as usize;
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
                for c in map.as_slice().chunks_exact(4) {
                    sh.audio_acc.push(f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
                    if sh.audio_acc.len() == window {
                        let rms = (sh.audio_acc.iter().map(|v| v * v).sum::<f32>() / window as f32).sqrt();
                        sh.audio_rms.push(rms);
                        sh.audio_acc.clear();
                    }
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    link_chain(pipeline, pad, &[convert, resample, sink.upcast()])
}

/// Decode-only pass through the same decoder: counts presented frames and reads the display
/// size, with no conversion. Used by `bench` as the reference speed and by `validate`/`eval`
/// to learn a video's true frame count.
pub fn decode_only(path: &Path, opts: &DecodeOptions) -> Result<StreamInfo, DecodeError> {
    init(path)?;
    if std::fs::File::open(path).is_err() {
        return Err(DecodeError::NotReadable { path: path.into() });
    }
    let started = Instant::now();
    let (pipeline, dbin) = file_decodebin(path).map_err(|e| pipe_err(path, e))?;
    let counter = Arc::new(Mutex::new((0u64, None::<(u32, u32, f64)>)));
    let video_seen = Arc::new(Mutex::new(false));
    {
        let pipeline_weak = pipeline.downgrade();
        let counter = counter.clone();
        let video_seen = video_seen.clone();
        dbin.connect_pad_added(move |_d, pad| {
            let Some(pipeline) = pipeline_weak.upgrade() else { return };
            let caps = pad_caps(pad);
            let is_video = caps.structure(0).is_some_and(|s| s.name().starts_with("video/"));
            let mut seen = video_seen.lock().unwrap_or_else(|p| p.into_inner());
            if is_video && !*seen {
                *seen = true;
                if let Ok(info) = gst_video::VideoInfo::from_caps(&caps) {
                    let fps = info.fps();
                    let fps = if fps.numer() > 0 && fps.denom() > 0 { f64::from(fps.numer()) / f64::from(fps.denom()) } else { 0.0 };
                    counter.lock().unwrap_or_else(|p| p.into_inner()).1 = Some((info.width(), info.height(), fps));
                }
                let c = counter.clone();
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                    c.lock().unwrap_or_else(|p| p.into_inner()).0 += 1;
                    gst::PadProbeReturn::Ok
                });
            }
            if let Err(e) = link_fakesink(&pipeline, pad) {
                tracing::warn!("cannot link decoded stream: {e}");
            }
        });
    }
    let bus = pipeline.bus().ok_or_else(|| pipe_err(path, "pipeline has no bus"))?;
    pipeline.set_state(gst::State::Playing).map_err(|_| stream_err(path, &bus))?;
    let mut rotated = false;
    let mut last_activity = Instant::now();
    let mut last_count = 0u64;
    let res = loop {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            let count = counter.lock().unwrap_or_else(|p| p.into_inner()).0;
            if count != last_count {
                last_count = count;
                last_activity = Instant::now();
            }
            if !*video_seen.lock().unwrap_or_else(|p| p.into_inner()) && started.elapsed() > opts.startup_timeout() {
                break Err(DecodeError::NoStreamFound { path: path.into(), secs: opts.startup_timeout().as_secs() });
            }
            if last_activity.elapsed() > opts.stall_timeout {
                break Err(DecodeError::Stalled { path: path.into(), secs: opts.stall_timeout.as_secs() });
            }
            continue;
        };
        last_activity = Instant::now();
        match msg.view() {
            gst::MessageView::Eos(..) => break Ok(()),
            gst::MessageView::Error(e) => break Err(DecodeError::Stream { path: path.into(), msg: e.error().to_string() }),
            gst::MessageView::Tag(t) => {
                if let Some(o) = t.tags().get::<gst::tags::ImageOrientation>() {
                    rotated = orientation_swaps_axes(o.get());
                }
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    res?;
    let c = counter.lock().unwrap_or_else(|p| p.into_inner());
    let Some((w, h, fps)) = c.1 else { return Err(DecodeError::NoVideo { path: path.into() }) };
    let (width, height) = if rotated { (h, w) } else { (w, h) };
    Ok(StreamInfo {
        width,
        height,
        frames: c.0,
        fps: if fps > 0.0 { fps } else { 25.0 },
        rotated,
        decoder: None,
        audio: None,
        decode_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Whether an `image-orientation` tag value turns the picture by a quarter.
pub fn orientation_swaps_axes(tag: &str) -> bool {
    matches!(tag, "rotate-90" | "rotate-270" | "flip-rotate-90" | "flip-rotate-270")
}

/// An estimate of the number of frames, from the container's duration and the stream's frame
/// rate, read by prerolling the pipeline (no decoding of the whole file). For progress
/// reporting only; `None` when either is unknown.
pub fn probe_frames(path: &Path) -> Option<u64> {
    gst::init().ok()?;
    let (pipeline, dbin) = file_decodebin(path).ok()?;
    let fps = Arc::new(Mutex::new(None::<f64>));
    {
        let weak = pipeline.downgrade();
        let fps = fps.clone();
        dbin.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else { return };
            let caps = pad_caps(pad);
            if let Ok(info) = gst_video::VideoInfo::from_caps(&caps) {
                let f = info.fps();
                if f.numer() > 0 && f.denom() > 0 {
                    *fps.lock().unwrap_or_else(|p| p.into_inner()) = Some(f64::from(f.numer()) / f64::from(f.denom()));
                }
            }
            let _ = link_fakesink(&pipeline, pad);
        });
    }
    let _ = pipeline.set_state(gst::State::Paused);
    let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(5));
    let duration = res.ok().and_then(|_| pipeline.query_duration::<gst::ClockTime>());
    let _ = pipeline.set_state(gst::State::Null);
    let fps = *fps.lock().unwrap_or_else(|p| p.into_inner());
    Some((duration?.nseconds() as f64 / 1e9 * fps?).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_size_keeps_aspect_and_is_even() {
        assert_eq!(analysis_size(1920, 1080, 192), (192, 108));
        assert_eq!(analysis_size(1080, 1920, 192), (108, 192));
        assert_eq!(analysis_size(134, 240, 192), (108, 192));
        assert_eq!(analysis_size(100, 50, 192), (100, 50));
        let (w, h) = analysis_size(3, 1, 192);
        assert!(w % 2 == 0 && h % 2 == 0 && h >= 2);
    }

    #[test]
    fn orientation_tags() {
        assert!(orientation_swaps_axes("rotate-90"));
        assert!(!orientation_swaps_axes("rotate-180"));
        assert!(!orientation_swaps_axes("rotate-0"));
    }
}
