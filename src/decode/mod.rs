//! Decoding with GStreamer: every presented frame, in order, as a small RGB picture for
//! analysis (optionally with a larger "detail" picture on sampled frames, for neural
//! networks), plus the audio track as short-window loudness and, on request, as raw mono
//! 16 kHz samples streamed to a callback.
//!
//! Frame k is the k-th buffer the decoder presents (after the demuxer applied edit lists and
//! segment clipping, as a player would). Nothing re-times or drops frames on the way: there is
//! no `videorate`, the sink does not sync to a clock and QoS is off. Rotation metadata is
//! applied (`videoflip video-direction=auto`) after scaling, so it costs nothing at full size.
//!
//! With [`DecodeOptions::detail`] set, the decoded video is split by a `tee` into the analysis
//! branch and a detail branch. The detail branch drops the frames it does not sample before
//! its scaler (a pad probe that counts buffers), so the cost of the large picture is paid only
//! on sampled frames; both branches count the same tee buffers, which is what makes detail
//! picture `k` belong to analysis frame `k` (the timestamps are checked as well).

pub mod hardware;
pub(crate) mod plumbing;

use plumbing::{file_decodebin, link_chain, link_fakesink, pad_caps};

use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gst::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Frames kept coming but the whole decode outlived its deadline (a stream whose
    /// timestamps never reach the end its container announced, or a lying duration).
    #[error("{path}: decoding stopped after its deadline of {secs:.1} s ({why})")]
    Deadline { path: PathBuf, secs: f64, why: String },
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
    /// A larger picture on sampled frames (for neural networks); `None` costs nothing.
    pub detail: Option<DetailOptions>,
    /// Longest the whole decode may take, with how it was derived (for the message); `None`:
    /// no limit. The stall timeout only catches a file that stops producing frames; this
    /// bounds one that never stops.
    pub deadline: Option<Deadline>,
}

/// A whole-decode time limit and the reason it has the value it has (quoted in the error).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deadline {
    pub limit: Duration,
    /// The probed duration it was derived from, seconds (`None`: unknown, assumed).
    pub from_duration_s: Option<f64>,
}

impl Deadline {
    fn error(&self, path: &Path) -> DecodeError {
        let why = match self.from_duration_s {
            Some(d) => format!("video of {d:.1} s; serve.decode_deadline_factor × duration + serve.decode_deadline_floor_s"),
            None => "duration unknown; serve.decode_deadline_factor × serve.max_duration_s + serve.decode_deadline_floor_s".to_string(),
        };
        DecodeError::Deadline { path: path.into(), secs: self.limit.as_secs_f64(), why }
    }
}

/// Which frames get a detail picture, and how large it is.
///
/// Neural networks want more pixels than the analysis picture has, but scaling and converting
/// a large picture on every frame would cost more than the rest of the analysis: the detail
/// picture is made only for every `every`-th presented frame (frame 0 always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailOptions {
    /// Longest side of the detail picture, in pixels (aspect kept, both sides even, never
    /// larger than the source; see [`analysis_size`]).
    pub side: u32,
    /// Keep every `every`-th presented frame: 0, every, 2·every, … (0 counts as 1).
    pub every: u32,
}

impl DetailOptions {
    /// Whether presented frame `index` gets a detail picture.
    pub fn samples(&self, index: u64) -> bool {
        index.is_multiple_of(u64::from(self.every.max(1)))
    }
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
        Self { analysis_side: 192, audio: true, stall_timeout: Duration::from_secs(60), detail: None, deadline: None }
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
    /// The detail picture of this frame, when [`DecodeOptions::detail`] samples it.
    pub detail: Option<DetailImage>,
}

/// A sampled frame at detail size, rotated as displayed, packed RGB rows (`width * 3` bytes
/// each, no padding).
#[derive(Debug, Clone, PartialEq)]
pub struct DetailImage {
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

/// Sample rate of the mono audio the decoder reads (RMS windows and raw samples).
pub const AUDIO_RATE: i32 = 16_000;
const AUDIO_WINDOW_S: f64 = 0.02;
/// Raw audio reaches the callback of [`decode_with_audio`] in chunks of this many samples
/// (0.256 s; the last chunk of a track is shorter). Larger than a decoder buffer (about 370
/// samples at 16 kHz for AAC) so a callback's fixed cost per call is paid a few times a
/// second, small enough that nothing waits long.
pub const AUDIO_CHUNK_SAMPLES: usize = 4096;
/// Chunks that may wait for the audio callback (about 4 s of audio, 256 KiB): room for a
/// callback that is slow now and then, while a callback slower than decoding on average
/// still holds the pipeline back instead of filling memory.
const AUDIO_CHANNEL_CHUNKS: usize = 16;
/// Analysis frames between the appsink and the caller.
const FRAME_CHANNEL: usize = 8;
/// Detail pictures between their appsink and the caller. A detail picture waits here until
/// the caller has taken the analysis frames before it; those frames were already split off
/// by the tee, so a small bound cannot deadlock.
const DETAIL_CHANNEL: usize = 4;
/// Decoded buffers each branch behind the tee may hold. Decoded 1080p frames are 3 MB each
/// and hardware decoders have a fixed number of them: the queues only have to let the two
/// branches run in their own threads, not store frames.
const TEE_QUEUE_BUFFERS: u32 = 3;

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
    loudness: Loudness,
    has_audio: bool,
}

/// RMS of consecutive windows of `window` samples; a trailing partial window is left out.
#[derive(Debug, Default)]
struct Loudness {
    window: usize,
    acc: Vec<f32>,
    rms: Vec<f32>,
}

impl Loudness {
    fn new(window: usize) -> Self {
        Self { window: window.max(1), acc: Vec::with_capacity(window), rms: Vec::new() }
    }

    fn push(&mut self, samples: &[f32]) {
        for &v in samples {
            self.acc.push(v);
            if self.acc.len() == self.window {
                let rms = (self.acc.iter().map(|v| v * v).sum::<f32>() / self.window as f32).sqrt();
                self.rms.push(rms);
                self.acc.clear();
            }
        }
    }
}

/// Cuts a stream of samples into chunks of `size` (the last one shorter, from [`Self::finish`]).
#[derive(Debug)]
struct Rechunker {
    size: usize,
    acc: Vec<f32>,
}

impl Rechunker {
    fn new(size: usize) -> Self {
        let size = size.max(1);
        Self { size, acc: Vec::with_capacity(size) }
    }

    /// Takes `samples` and returns the chunks they completed, in order.
    fn push(&mut self, mut samples: &[f32]) -> Vec<Vec<f32>> {
        let mut full = Vec::new();
        while !samples.is_empty() {
            let take = (self.size - self.acc.len()).min(samples.len());
            self.acc.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.acc.len() == self.size {
                full.push(std::mem::replace(&mut self.acc, Vec::with_capacity(self.size)));
            }
        }
        full
    }

    /// What is left after the last full chunk, if anything.
    fn finish(&mut self) -> Option<Vec<f32>> {
        (!self.acc.is_empty()).then(|| std::mem::take(&mut self.acc))
    }
}

/// The raw-audio path of [`decode_with_audio`]: the streaming thread cuts samples into chunks
/// and sends them to the callback's thread.
struct AudioStream {
    /// `None` once decoding ended: dropping the sender ends the callback's thread.
    tx: Option<mpsc::SyncSender<Vec<f32>>>,
    chunks: Rechunker,
}

/// A detail picture on its way to the caller, with what pairs it with its analysis frame.
struct DetailFrame {
    index: u64,
    pts_ns: Option<u64>,
    image: DetailImage,
}

/// Attaches `d` to frame `f`: they must be the same presented frame (same index, same
/// timestamp), else the two branches lost step and the picture would belong to another frame.
fn pair(mut f: AnalysisFrame, d: DetailFrame) -> Result<AnalysisFrame, String> {
    if d.index != f.index || d.pts_ns != f.pts_ns {
        return Err(format!(
            "detail picture out of step: frame {} (pts {:?}) got the picture of frame {} (pts {:?})",
            f.index, f.pts_ns, d.index, d.pts_ns
        ));
    }
    f.detail = Some(d.image);
    Ok(f)
}

/// Counts what reaches the caller, for [`StreamInfo`].
#[derive(Default)]
struct Delivered {
    frames: u64,
    first_pts: Option<u64>,
    last_pts: Option<u64>,
}

impl Delivered {
    fn deliver(&mut self, f: AnalysisFrame, on_frame: &mut dyn FnMut(AnalysisFrame)) {
        self.frames += 1;
        if self.first_pts.is_none() {
            self.first_pts = f.pts_ns;
        }
        self.last_pts = f.pts_ns.or(self.last_pts);
        on_frame(f);
    }
}

/// Decodes `path` and calls `on_frame` for every presented frame, in order.
pub fn decode(path: &Path, opts: &DecodeOptions, mut on_frame: impl FnMut(AnalysisFrame)) -> Result<StreamInfo, DecodeError> {
    run::<fn(&[f32])>(path, opts, &mut on_frame, None)
}

/// [`decode`], and the audio track (when `opts.audio` and the file has one) as raw samples:
/// mono f32 at [`AUDIO_RATE`] (16 kHz), in stream order from the first sample, handed to
/// `on_audio` in chunks of [`AUDIO_CHUNK_SAMPLES`] (the last one shorter) while the file
/// decodes. The whole track is never held.
///
/// `on_audio` runs on a thread of its own that reads a bounded channel, not on GStreamer's
/// streaming thread: a call may take milliseconds (feature extraction, a network) without
/// holding up video decoding, as long as it keeps up with decoding on average; a callback
/// slower than that slows decoding down rather than queueing the track in memory. Every call
/// has returned when this function returns. A file without audio never calls it.
pub fn decode_with_audio(
    path: &Path,
    opts: &DecodeOptions,
    mut on_frame: impl FnMut(AnalysisFrame),
    on_audio: impl FnMut(&[f32]) + Send,
) -> Result<StreamInfo, DecodeError> {
    run(path, opts, &mut on_frame, Some(on_audio))
}

fn run<A: FnMut(&[f32]) + Send>(path: &Path, opts: &DecodeOptions, on_frame: &mut dyn FnMut(AnalysisFrame), on_audio: Option<A>) -> Result<StreamInfo, DecodeError> {
    init(path)?;
    if std::fs::File::open(path).is_err() {
        return Err(DecodeError::NotReadable { path: path.into() });
    }
    // A scope, so that the audio callback may borrow from the caller; the scope joins its
    // thread (and passes on its panic) before returning.
    std::thread::scope(|scope| {
        let audio_stream = match on_audio {
            None => None,
            Some(mut on_audio) => {
                let (atx, arx) = mpsc::sync_channel::<Vec<f32>>(AUDIO_CHANNEL_CHUNKS);
                std::thread::Builder::new()
                    .name("decode-audio".into())
                    .spawn_scoped(scope, move || {
                        for chunk in arx {
                            on_audio(&chunk);
                        }
                    })
                    .map_err(|e| pipe_err(path, format!("cannot start the audio thread: {e}")))?;
                Some(Arc::new(Mutex::new(AudioStream { tx: Some(atx), chunks: Rechunker::new(AUDIO_CHUNK_SAMPLES) })))
            }
        };
        let res = run_pipeline(path, opts, on_frame, audio_stream.clone());
        // Whatever happened, the sender must go, or the audio thread (and the scope) would
        // wait for ever. The pipeline is stopped: no streaming thread sends any more.
        if let Some(a) = audio_stream {
            let mut a = a.lock().unwrap_or_else(|p| p.into_inner());
            let tx = a.tx.take();
            if let (Some(tx), Some(rest), true) = (tx, a.chunks.finish(), res.is_ok()) {
                let _ = tx.send(rest);
            }
        }
        res
    })
}

fn run_pipeline(
    path: &Path,
    opts: &DecodeOptions,
    on_frame: &mut dyn FnMut(AnalysisFrame),
    audio_stream: Option<Arc<Mutex<AudioStream>>>,
) -> Result<StreamInfo, DecodeError> {
    let started = Instant::now();
    let (pipeline, dbin) = file_decodebin(path).map_err(|e| pipe_err(path, e))?;

    let shared = Arc::new(Mutex::new(Shared {
        scaled: None,
        source: None,
        fps: None,
        decoder: None,
        loudness: Loudness::new((f64::from(AUDIO_RATE) * AUDIO_WINDOW_S) as usize),
        has_audio: false,
    }));
    let (tx, rx) = mpsc::sync_channel::<AnalysisFrame>(FRAME_CHANNEL);
    let (dtx, drx) = mpsc::sync_channel::<DetailFrame>(DETAIL_CHANNEL);
    let want_audio = opts.audio;
    let side = opts.analysis_side;
    let detail = opts.detail;
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
                    let detail = detail.map(|d| (d, dtx.clone()));
                    link_video(&pipeline, pad, &caps, side, tx.clone(), detail, shared.clone())
                }
            } else if name.starts_with("audio/") && want_audio {
                link_audio(&pipeline, pad, shared.clone(), audio_stream.clone())
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

    let mut out = Delivered::default();
    // A sampled frame waiting for its detail picture: frames reach the caller in order, so
    // nothing else is taken from the analysis channel meanwhile.
    let mut waiting: Option<AnalysisFrame> = None;
    let out_of_step = |e: String| DecodeError::Stream { path: path.into(), msg: e };
    let mut last_activity = Instant::now();
    let result = loop {
        // Checked before anything else: a decode that keeps delivering frames never reaches
        // the stall check below.
        if let Some(d) = opts.deadline.filter(|d| started.elapsed() > d.limit) {
            break Err(d.error(path));
        }
        let mut got = false;
        if let Some(f) = waiting.take() {
            match drx.recv_timeout(Duration::from_millis(5)) {
                Ok(d) => {
                    got = true;
                    match pair(f, d) {
                        Ok(f) => out.deliver(f, on_frame),
                        Err(e) => break Err(out_of_step(e)),
                    }
                }
                Err(_) => waiting = Some(f),
            }
        } else if let Ok(f) = rx.recv_timeout(Duration::from_millis(5)) {
            got = true;
            if detail.is_some_and(|d| d.samples(f.index)) {
                waiting = Some(f);
            } else {
                out.deliver(f, on_frame);
            }
        }
        if got {
            last_activity = Instant::now();
            continue;
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
            // Frames still queued were presented before the end: keep them. At end of stream
            // every sink has handed over all it had, so each sampled frame finds its picture.
            let mut d = d;
            for f in waiting.take().into_iter().chain(rx.try_iter()) {
                if !detail.is_some_and(|o| o.samples(f.index)) {
                    out.deliver(f, on_frame);
                    continue;
                }
                match drx.try_recv() {
                    Ok(p) => match pair(f, p) {
                        Ok(f) => out.deliver(f, on_frame),
                        Err(e) => {
                            d = d.and(Err(out_of_step(e)));
                            break;
                        }
                    },
                    Err(_) => {
                        d = d.and(Err(out_of_step(format!("no detail picture for frame {}", f.index))));
                        break;
                    }
                }
            }
            break d;
        }
        if out.frames == 0 && waiting.is_none() && !*video_linked.lock().unwrap_or_else(|p| p.into_inner()) && started.elapsed() > opts.startup_timeout() {
            break Err(DecodeError::NoStreamFound { path: path.into(), secs: opts.startup_timeout().as_secs() });
        }
        if last_activity.elapsed() > opts.stall_timeout {
            break Err(DecodeError::Stalled { path: path.into(), secs: opts.stall_timeout.as_secs() });
        }
    };
    // Stopped while frames still flow (the deadline): the streaming threads may be blocked
    // handing a frame to a full channel, and the state change below waits for them. Closing
    // the channels first makes their sends fail at once.
    drop(rx);
    drop(drx);
    let _ = pipeline.set_state(gst::State::Null);
    result?;

    let frames = out.frames;
    let sh = shared.lock().unwrap_or_else(|p| p.into_inner());
    let (Some((sw, shh)), Some(scaled)) = (sh.source, sh.scaled) else {
        return Err(DecodeError::NoVideo { path: path.into() });
    };
    if frames == 0 {
        return Err(DecodeError::Stream { path: path.into(), msg: "no frame could be decoded".into() });
    }
    let rotated = scaled.0 != scaled.1 && sh.scaled_is_transposed();
    let (width, height) = if rotated { (shh, sw) } else { (sw, shh) };
    let measured = match (out.first_pts, out.last_pts) {
        (Some(a), Some(b)) if b > a && frames > 1 => Some((frames - 1) as f64 * 1e9 / (b - a) as f64),
        _ => None,
    };
    let fps = sh.fps.filter(|f| *f > 0.0).or(measured).unwrap_or(25.0);
    let audio = sh.has_audio.then(|| AudioLoudness { window_s: AUDIO_WINDOW_S, rms: sh.loudness.rms.clone() });
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

/// scaler → capsfilter(`w × h`) → videoconvert → videoflip(auto): a decoded picture at
/// `w × h` (before rotation), turned as displayed, ready for an RGB appsink.
fn scale_chain(in_nvmm: bool, (w, h): (u32, u32)) -> Result<Vec<gst::Element>, String> {
    // Hardware decoders on Jetson hand out NVMM buffers: their own converter scales them in
    // hardware into system memory; elsewhere videoscale does it on the CPU.
    let scaler = if in_nvmm { el("nvvidconv")? } else { el("videoscale")? };
    if scaler.has_property("n-threads") {
        scaler.set_property("n-threads", 2u32);
    }
    let size = gst::ElementFactory::make("capsfilter")
        .property("caps", gst::Caps::builder("video/x-raw").field("width", w as i32).field("height", h as i32).build())
        .build()
        .map_err(|e| e.to_string())?;
    let convert = el("videoconvert")?;
    let flip = el("videoflip")?;
    flip.set_property_from_str("video-direction", "auto");
    Ok(vec![scaler, size, convert, flip])
}

/// The packed RGB rows of an RGB sample (strides removed), its size and timestamp.
fn sample_rgb(sample: &gst::Sample) -> Result<(u32, u32, Vec<u8>, Option<u64>), gst::FlowError> {
    let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
    let caps = sample.caps().ok_or(gst::FlowError::NotNegotiated)?;
    let vinfo = gst_video::VideoInfo::from_caps(caps).map_err(|_| gst::FlowError::NotNegotiated)?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &vinfo).map_err(|_| gst::FlowError::Error)?;
    let (fw, fh) = (vinfo.width(), vinfo.height());
    let stride = usize::try_from(vinfo.stride()[0]).map_err(|_| gst::FlowError::NotSupported)?;
    let data = frame.plane_data(0).map_err(|_| gst::FlowError::Error)?;
    let row = fw as usize * 3;
    let mut rgb = Vec::with_capacity(row * fh as usize);
    for y in 0..fh as usize {
        rgb.extend_from_slice(data.get(y * stride..y * stride + row).ok_or(gst::FlowError::Error)?);
    }
    Ok((fw, fh, rgb, buffer.pts().map(|t| t.nseconds())))
}

fn rgb_appsink(max_buffers: u32) -> gst_app::AppSink {
    let rgb = gst::Caps::builder("video/x-raw").field("format", "RGB").build();
    gst_app::AppSink::builder().caps(&rgb).sync(false).qos(false).max_buffers(max_buffers).build()
}

fn link_video(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    caps: &gst::Caps,
    side: u32,
    tx: mpsc::SyncSender<AnalysisFrame>,
    detail: Option<(DetailOptions, mpsc::SyncSender<DetailFrame>)>,
    shared: Arc<Mutex<Shared>>,
) -> Result<(), String> {
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("unusable video caps {caps}: {e}"))?;
    let (w, h) = (info.width(), info.height());
    let fps = info.fps();
    {
        let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
        sh.source = Some((w, h));
        sh.fps = (fps.numer() > 0 && fps.denom() > 0).then(|| f64::from(fps.numer()) / f64::from(fps.denom()));
    }
    let in_nvmm = caps.features(0).is_some_and(|f| f.contains("memory:NVMM"));
    let mut analysis = scale_chain(in_nvmm, analysis_size(w, h, side))?;
    let sink = rgb_appsink(4);
    let index = Arc::new(Mutex::new(0u64));
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let (fw, fh, rgb, pts_ns) = sample_rgb(&sample)?;
                let mut idx = index.lock().unwrap_or_else(|p| p.into_inner());
                {
                    let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
                    sh.scaled = Some((fw, fh));
                }
                let f = AnalysisFrame { index: *idx, pts_ns, width: fw, height: fh, rgb, detail: None };
                *idx += 1;
                tx.send(f).map_err(|_| gst::FlowError::Flushing)?;
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    analysis.push(sink.upcast());
    let Some((opts, dtx)) = detail else {
        return link_chain(pipeline, pad, &analysis);
    };
    link_detail(pipeline, pad, in_nvmm, (w, h), opts, dtx, analysis)
}

/// decodebin pad → tee → queue → `analysis`, and tee → queue → (drop the frames not sampled)
/// → scale to detail size → RGB appsink. Each branch has its own queue (thread): the tee
/// pushes a buffer to one branch after the other, so without them a slow detail scale would
/// hold up the analysis of the same frame, and a blocked branch would block both.
fn link_detail(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    in_nvmm: bool,
    (w, h): (u32, u32),
    opts: DetailOptions,
    dtx: mpsc::SyncSender<DetailFrame>,
    analysis: Vec<gst::Element>,
) -> Result<(), String> {
    let tee = el("tee")?;
    let queue = || -> Result<gst::Element, String> {
        let q = el("queue")?;
        q.set_property("max-size-buffers", TEE_QUEUE_BUFFERS);
        q.set_property("max-size-bytes", 0u32);
        q.set_property("max-size-time", 0u64);
        Ok(q)
    };
    let (qa, qd) = (queue()?, queue()?);
    let mut detail = scale_chain(in_nvmm, analysis_size(w, h, opts.side))?;
    let sink = rgb_appsink(2);
    let every = u64::from(opts.every.max(1));
    let kept = Arc::new(AtomicU64::new(0));
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let (width, height, rgb, pts_ns) = sample_rgb(&sample)?;
                // The k-th picture kept is presented frame k·every: the probe keeps exactly
                // those, and nothing after it drops or adds a buffer.
                let index = kept.fetch_add(1, Ordering::Relaxed) * every;
                let d = DetailFrame { index, pts_ns, image: DetailImage { width, height, rgb } };
                dtx.send(d).map_err(|_| gst::FlowError::Flushing)?;
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    detail.push(sink.upcast());

    // Dropped before the queue, so that unsampled frames are neither held nor scaled.
    // `Handled`, not `Drop`: gstreamer-rs has already taken the buffer out of the probe info
    // (it is released on the Rust side), and GStreamer 1.22 answers `Drop` by unreffing the
    // emptied pointer, a CRITICAL per frame; `Handled` means "the probe consumed it".
    let seen = AtomicU64::new(0);
    let keep = move || opts.samples(seen.fetch_add(1, Ordering::Relaxed));
    qd.static_pad("sink").ok_or("queue has no sink pad")?.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, info| {
        match &mut info.data {
            Some(gst::PadProbeData::Buffer(_)) => {
                if keep() {
                    gst::PadProbeReturn::Ok
                } else {
                    gst::PadProbeReturn::Handled
                }
            }
            Some(gst::PadProbeData::BufferList(list)) => {
                list.make_mut().foreach_mut(|b, _| std::ops::ControlFlow::Continue(keep().then_some(b)));
                if list.is_empty() {
                    gst::PadProbeReturn::Handled
                } else {
                    gst::PadProbeReturn::Ok
                }
            }
            _ => gst::PadProbeReturn::Ok,
        }
    });

    let mut all = vec![tee.clone(), qa.clone(), qd.clone()];
    all.extend(analysis.iter().cloned());
    all.extend(detail.iter().cloned());
    pipeline.add_many(&all).map_err(|e| e.to_string())?;
    let mut a = vec![tee.clone(), qa];
    a.extend(analysis);
    gst::Element::link_many(&a).map_err(|e| e.to_string())?;
    let mut d = vec![tee.clone(), qd];
    d.extend(detail);
    gst::Element::link_many(&d).map_err(|e| e.to_string())?;
    for e in all.iter().rev() {
        e.sync_state_with_parent().map_err(|e| e.to_string())?;
    }
    let head = tee.static_pad("sink").ok_or("tee has no sink pad")?;
    pad.link(&head).map_err(|e| e.to_string())?;
    Ok(())
}

fn link_audio(pipeline: &gst::Pipeline, pad: &gst::Pad, shared: Arc<Mutex<Shared>>, stream: Option<Arc<Mutex<AudioStream>>>) -> Result<(), String> {
    let convert = el("audioconvert")?;
    let resample = el("audioresample")?;
    let caps = gst::Caps::builder("audio/x-raw").field("format", "F32LE").field("rate", AUDIO_RATE).field("channels", 1).field("layout", "interleaved").build();
    let sink = gst_app::AppSink::builder().caps(&caps).sync(false).build();
    shared.lock().unwrap_or_else(|p| p.into_inner()).has_audio = true;
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let samples: Vec<f32> = map.as_slice().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                shared.lock().unwrap_or_else(|p| p.into_inner()).loudness.push(&samples);
                if let Some(stream) = &stream {
                    // Only this thread and, after the pipeline stopped, the caller lock this:
                    // waiting on the bounded channel with it held blocks nobody else.
                    let mut st = stream.lock().unwrap_or_else(|p| p.into_inner());
                    for chunk in st.chunks.push(&samples) {
                        let tx = st.tx.as_ref().ok_or(gst::FlowError::Flushing)?;
                        // The receiver only goes away when the callback panicked.
                        tx.send(chunk).map_err(|_| gst::FlowError::Error)?;
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
    let (fps, duration_s) = probe_stream(path)?;
    Some((duration_s? * fps?).round() as u64)
}

/// The nominal frame rate and the duration in seconds, from prerolling the file (no frame
/// is decoded beyond the first): what the engine needs to pick the detail sampling step
/// before decoding starts.
pub fn probe_stream(path: &Path) -> Option<(Option<f64>, Option<f64>)> {
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
    Some((fps, duration.map(|d| d.nseconds() as f64 / 1e9)))
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
    fn detail_samples_every_nth_frame_from_zero() {
        let d = DetailOptions { side: 640, every: 5 };
        let kept: Vec<u64> = (0..12).filter(|&i| d.samples(i)).collect();
        assert_eq!(kept, vec![0, 5, 10]);
        assert!((0..4).all(|i| DetailOptions { side: 640, every: 1 }.samples(i)));
        // 0 is taken as 1 rather than dividing by zero.
        assert!((0..4).all(|i| DetailOptions { side: 640, every: 0 }.samples(i)));
    }

    #[test]
    fn detail_size_reuses_analysis_size() {
        assert_eq!(analysis_size(1920, 1080, 640), (640, 360));
        assert_eq!(analysis_size(1080, 1920, 640), (360, 640));
        // Never larger than the source.
        assert_eq!(analysis_size(320, 192, 640), (320, 192));
    }

    fn frame(index: u64, pts_ns: Option<u64>) -> AnalysisFrame {
        AnalysisFrame { index, pts_ns, width: 2, height: 2, rgb: vec![0; 12], detail: None }
    }

    fn detail(index: u64, pts_ns: Option<u64>) -> DetailFrame {
        DetailFrame { index, pts_ns, image: DetailImage { width: 4, height: 4, rgb: vec![1; 48] } }
    }

    #[test]
    fn pair_attaches_only_the_same_frame() {
        let f = pair(frame(5, Some(200)), detail(5, Some(200))).expect("same frame");
        assert_eq!(f.detail.map(|d| (d.width, d.height)), Some((4, 4)));
        assert!(pair(frame(5, None), detail(5, None)).is_ok());
        assert!(pair(frame(5, Some(200)), detail(10, Some(400))).is_err(), "other index");
        assert!(pair(frame(5, Some(200)), detail(5, Some(240))).is_err(), "same count, other timestamp");
    }

    #[test]
    fn rechunker_keeps_order_and_every_sample() {
        let mut r = Rechunker::new(4);
        let input: Vec<f32> = (0..11).map(|v| v as f32).collect();
        let mut out = r.push(&input[..3]);
        assert!(out.is_empty());
        out.extend(r.push(&input[3..10]));
        assert_eq!(out, vec![vec![0.0, 1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0, 7.0]]);
        assert!(r.push(&[]).is_empty());
        out.extend(r.push(&input[10..]));
        assert_eq!(r.finish(), Some(vec![8.0, 9.0, 10.0]));
        assert_eq!(r.finish(), None, "the rest is handed over once");
        let mut exact = Rechunker::new(2);
        assert_eq!(exact.push(&[1.0, 2.0, 3.0, 4.0]).len(), 2);
        assert_eq!(exact.finish(), None);
    }

    #[test]
    fn loudness_is_rms_of_whole_windows() {
        let mut l = Loudness::new(4);
        l.push(&[1.0, -1.0, 1.0]);
        assert!(l.rms.is_empty());
        l.push(&[-1.0, 0.5, 0.5, 0.5, 0.5, 9.0]);
        assert_eq!(l.rms, vec![1.0, 0.5]);
    }

    #[test]
    fn orientation_tags() {
        assert!(orientation_swaps_axes("rotate-90"));
        assert!(!orientation_swaps_axes("rotate-180"));
        assert!(!orientation_swaps_axes("rotate-0"));
    }
}
