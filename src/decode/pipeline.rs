//! The decode pipeline: `filesrc ! decodebin`, a pad-added handler that links the first video
//! stream to the video branch ([`super::video`]) and, when asked, the audio stream to the audio
//! branch ([`super::audio`]), the loop that takes frames (and their detail pictures) from the
//! branches and hands them to the caller in order while watching the bus, the stall timeout and
//! the deadline; and the error helpers the other parts share.

use super::audio::{link_audio, AudioStream, Loudness, Rechunker};
use super::plumbing::{file_decodebin, link_fakesink, pad_caps};
use super::video::{link_video, pair, DetailFrame};
use super::{AnalysisFrame, AudioLoudness, DecodeError, DecodeOptions, StreamInfo, AUDIO_CHUNK_SAMPLES, AUDIO_RATE};

use gstreamer as gst;
use gst::prelude::*;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AUDIO_WINDOW_S: f64 = 0.02;
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

pub(super) fn init(path: &Path) -> Result<(), DecodeError> {
    gst::init().map_err(|e| DecodeError::Init { path: path.into(), msg: e.to_string() })
}

pub(super) struct Shared {
    pub(super) scaled: Option<(u32, u32)>,
    pub(super) source: Option<(u32, u32)>,
    pub(super) fps: Option<f64>,
    decoder: Option<String>,
    pub(super) loudness: Loudness,
    pub(super) has_audio: bool,
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
    super::container::open_check(path)?;
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

pub(super) fn pipe_err(path: &Path, e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Pipeline { path: path.into(), msg: e.to_string() }
}

pub(super) fn stream_err(path: &Path, bus: &gst::Bus) -> DecodeError {
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_mseconds(200), &[gst::MessageType::Error])
        .and_then(|m| match m.view() {
            gst::MessageView::Error(e) => Some(e.error().to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "the pipeline refused to start".into());
    DecodeError::Stream { path: path.into(), msg }
}

pub(super) fn el(factory: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(factory).build().map_err(|_| format!("GStreamer element `{factory}` is missing"))
}
