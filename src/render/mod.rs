//! `render`: the highlight short as an MP4 that plays in browsers.
//!
//! The selected frames are decoded at full size, cut to their crop window (which moves per
//! frame exactly as predicted), scaled to a standard size (never upscaled past a limit), and
//! encoded as H.264 with the AAC audio of the same frames. Two pipelines joined by `appsrc`:
//!
//! ```text
//! filesrc ! decodebin ! videoconvert ! videoflip ! appsink     (I420, full size)
//!     ── crop (and cross-fade) in Rust ──►
//! appsrc ! videoscale ! H.264 encoder ! h264parse ! mp4mux faststart ! filesink
//! appsrc (audio of the same frames, decoded in a first pass) ! audioconvert ! AAC ! mux
//! ```
//! The output is written to a temporary name and renamed into place when complete.

pub mod crop;
pub mod encoder;

use crate::format::{AspectRatio, Prediction};
use crate::write::Destination;
use crate::decode::plumbing::{file_decodebin, link_chain, link_fakesink, pad_caps, wait_eos};
use crop::I420;
use encoder::Encoder;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gst::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const AUDIO_RATE: usize = 48_000;
const AUDIO_CHANNELS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{path}: nothing to render: the prediction list is empty")]
    Empty { path: PathBuf },
    #[error("{path}: {msg}")]
    Pipeline { path: PathBuf, msg: String },
    #[error("{path}: no H.264 encoder (install gstreamer1.0-plugins-ugly for x264enc)")]
    NoEncoder { path: PathBuf },
    #[error("{path}: cannot write: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// How to render; `[render]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenderOptions {
    /// Long side of the output, pixels (1920 gives 1080×1920 or 1920×1080).
    pub long_side: u32,
    /// Largest upscale of the crop allowed to reach that size.
    pub max_upscale: f64,
    /// Cross-fade between segments, seconds; 0 joins them with hard cuts.
    pub crossfade_s: f64,
    /// Never use the hardware encoder.
    pub force_software: bool,
    /// x264 speed preset (ultrafast … veryslow).
    pub x264_preset: String,
    /// Video bitrate, kbit/s.
    pub bitrate_kbps: u32,
    /// Include the audio of the selected frames.
    pub audio: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { long_side: 1920, max_upscale: 2.0, crossfade_s: 0.0, force_software: false, x264_preset: "veryfast".into(), bitrate_kbps: 8000, audio: true }
    }
}

/// What was rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderStats {
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub encoder: String,
    pub audio: bool,
    pub seconds: f64,
}

/// Output size for a crop of `cw × ch` and a target ratio: the standard size with the long side
/// `long_side`, reduced so the crop is not upscaled more than `max_upscale`; even sides.
pub fn output_size(cw: u32, ch: u32, ratio: AspectRatio, long_side: u32, max_upscale: f64) -> (u32, u32) {
    let (tw, th) = (f64::from(ratio.w()), f64::from(ratio.h()));
    let l = f64::from(long_side.max(2));
    let (mut ow, mut oh) = if th > tw { (l * tw / th, l) } else { (l, l * th / tw) };
    let up = (ow / f64::from(cw.max(1))).max(oh / f64::from(ch.max(1)));
    if up > max_upscale {
        let k = max_upscale / up;
        ow *= k;
        oh *= k;
    }
    let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    (even(ow), even(oh))
}

fn perr(path: &Path, msg: impl std::fmt::Display) -> RenderError {
    RenderError::Pipeline { path: path.into(), msg: msg.to_string() }
}

fn make(path: &Path, name: &str) -> Result<gst::Element, RenderError> {
    gst::ElementFactory::make(name).build().map_err(|_| perr(path, format!("GStreamer element `{name}` is missing")))
}

fn available(names: &[&'static str]) -> Vec<&'static str> {
    names.iter().copied().filter(|n| gst::ElementFactory::find(n).is_some()).collect()
}

/// Samples so far, stream time of the first, and whether an audio stream was linked.
type AudioStore = (Vec<f32>, Option<u64>, bool);

/// Audio of the whole file as interleaved stereo f32 at 48 kHz, and the stream time of its
/// first sample; `None` when the file has no audio.
fn decode_audio(path: &Path) -> Result<Option<(Vec<f32>, u64)>, RenderError> {
    let (pipeline, dbin) = file_decodebin(path).map_err(|e| perr(path, e))?;
    // Stop autoplugging at compressed video: this pass only needs the audio.
    let stop = gst::Caps::from_str("audio/x-raw; video/x-h264; video/x-h265; video/mpeg; video/x-vp8; video/x-vp9; video/x-av1; image/jpeg; video/x-raw")
        .map_err(|e| perr(path, e))?;
    dbin.set_property("caps", &stop);
    let store: Arc<Mutex<AudioStore>> = Arc::new(Mutex::new((Vec::new(), None, false)));
    {
        let weak = pipeline.downgrade();
        let store = store.clone();
        dbin.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else { return };
            let caps = pad_caps(pad);
            let is_audio = caps.structure(0).is_some_and(|s| s.name().starts_with("audio/x-raw"));
            let mut taken = store.lock().unwrap_or_else(|p| p.into_inner());
            let chain: Result<Vec<gst::Element>, String> = if is_audio && !taken.2 {
                taken.2 = true;
                let sink = gst_app::AppSink::builder()
                    .caps(&gst::Caps::builder("audio/x-raw").field("format", "F32LE").field("rate", AUDIO_RATE as i32).field("channels", AUDIO_CHANNELS as i32).field("layout", "interleaved").build())
                    .sync(false)
                    .build();
                let st = store.clone();
                sink.set_callbacks(
                    gst_app::AppSinkCallbacks::builder()
                        .new_sample(move |s| {
                            let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                            let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                            let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                            let mut g = st.lock().unwrap_or_else(|p| p.into_inner());
                            if g.1.is_none() {
                                g.1 = Some(buf.pts().map_or(0, |t| t.nseconds()));
                            }
                            g.0.extend(map.as_slice().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
                            Ok(gst::FlowSuccess::Ok)
                        })
                        .build(),
                );
                ["audioconvert", "audioresample"].iter().map(|n| gst::ElementFactory::make(n).build().map_err(|e| e.to_string())).chain([Ok(sink.upcast())]).collect()
            } else {
                drop(taken);
                let _ = link_fakesink(&pipeline, pad);
                return;
            };
            drop(taken);
            if let Ok(chain) = chain {
                let _ = link_chain(&pipeline, pad, &chain);
            }
        });
    }
    run_to_eos(&pipeline, path)?;
    let g = store.lock().unwrap_or_else(|p| p.into_inner());
    Ok(g.2.then(|| (g.0.clone(), g.1.unwrap_or(0))))
}

fn run_to_eos(pipeline: &gst::Pipeline, path: &Path) -> Result<(), RenderError> {
    pipeline.set_state(gst::State::Playing).map_err(|e| perr(path, e))?;
    let bus = pipeline.bus().ok_or_else(|| perr(path, "no bus"))?;
    let res = wait_eos(&bus, 120).map_err(|e| perr(path, e));
    let _ = pipeline.set_state(gst::State::Null);
    res
}

/// Renders `predictions` of `video` into `out`.
pub fn render(video: &Path, ratio: AspectRatio, predictions: &[Prediction], out: &Path, opts: &RenderOptions) -> Result<RenderStats, RenderError> {
    let started = Instant::now();
    gst::init().map_err(|e| perr(video, e))?;
    if predictions.is_empty() {
        return Err(RenderError::Empty { path: video.into() });
    }
    let names = available(&["nvv4l2h264enc", "nvvidconv", "x264enc", "fdkaacenc", "avenc_aac", "voaacenc"]);
    let enc = encoder::choose(&names, opts.force_software, &opts.x264_preset).ok_or_else(|| RenderError::NoEncoder { path: video.into() })?;
    let audio = if opts.audio { decode_audio(video)? } else { None };
    let aac = encoder::choose_aac(&names);
    let audio = audio.filter(|_| aac.is_some());

    let wanted: HashMap<i64, crate::format::Window> = predictions.iter().map(|p| (p.frame, p.window)).collect();
    let last_frame = predictions.iter().map(|p| p.frame).max().unwrap_or(0);

    // Decode pipeline.
    let (dec, dbin) = file_decodebin(video).map_err(|e| perr(video, e))?;
    let vsink = gst_app::AppSink::builder().caps(&gst::Caps::builder("video/x-raw").field("format", "I420").build()).sync(false).max_buffers(4).build();
    // In the pipeline from the start, so it is running when frames are pulled from it.
    dec.add(&vsink).map_err(|e| perr(video, e))?;
    {
        let weak = dec.downgrade();
        let vsink = vsink.clone();
        let linked = Arc::new(Mutex::new(false));
        dbin.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else { return };
            let caps = pad_caps(pad);
            let is_video = caps.structure(0).is_some_and(|s| s.name().starts_with("video/"));
            let first_video = {
                let mut l = linked.lock().unwrap_or_else(|p| p.into_inner());
                let first = is_video && !*l;
                *l |= first;
                first
            };
            if !first_video {
                let _ = link_fakesink(&pipeline, pad);
                return;
            }
            // videoconvert ! videoflip (rotation as displayed) ! the appsink already in place.
            let (Ok(conv), Ok(flip)) = (gst::ElementFactory::make("videoconvert").build(), gst::ElementFactory::make("videoflip").build()) else { return };
            flip.set_property_from_str("video-direction", "auto");
            if pipeline.add_many([&conv, &flip]).is_err() || gst::Element::link_many([&conv, &flip, vsink.upcast_ref()]).is_err() {
                return;
            }
            let _ = conv.sync_state_with_parent();
            let _ = flip.sync_state_with_parent();
            if let Some(sinkpad) = conv.static_pad("sink") {
                let _ = pad.link(&sinkpad);
            }
        });
    }
    dec.set_state(gst::State::Playing).map_err(|e| perr(video, e))?;

    let mut writer: Option<Writer> = None;
    let mut index: i64 = -1;
    let mut prev_selected: Option<i64> = None;
    let mut pending: VecDeque<(I420, u64)> = VecDeque::new();
    let mut fade: Vec<(I420, u64)> = Vec::new();
    let mut fps = 25.0;
    let mut fade_n = 0usize;
    let bus = dec.bus().ok_or_else(|| perr(video, "no bus"))?;
    let mut idle = Instant::now();
    loop {
        let Some(sample) = vsink.try_pull_sample(gst::ClockTime::from_mseconds(50)) else {
            if vsink.is_eos() {
                break;
            }
            while let Some(msg) = bus.pop() {
                if let gst::MessageView::Error(e) = msg.view() {
                    let _ = dec.set_state(gst::State::Null);
                    return Err(perr(video, e.error()));
                }
            }
            if idle.elapsed().as_secs() > 60 {
                let _ = dec.set_state(gst::State::Null);
                return Err(perr(video, "decoding stalled"));
            }
            continue;
        };
        idle = Instant::now();
        index += 1;
        if index > last_frame {
            break;
        }
        let Some(win) = wanted.get(&index) else { continue };
        let (Some(buf), Some(caps)) = (sample.buffer(), sample.caps()) else { continue };
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| perr(video, e))?;
        let pts = buf.pts().map_or(0, |t| t.nseconds());
        let rect = crop::crop_rect(*win, ratio, info.width(), info.height());
        let map = buf.map_readable().map_err(|e| perr(video, e))?;
        let strides = [info.stride()[0] as usize, info.stride()[1] as usize, info.stride()[2] as usize];
        let offsets = [info.offset()[0], info.offset()[1], info.offset()[2]];
        let Some(pic) = crop::crop_i420(map.as_slice(), strides, offsets, rect) else { continue };
        if writer.is_none() {
            let f = info.fps();
            fps = if f.numer() > 0 && f.denom() > 0 { f64::from(f.numer()) / f64::from(f.denom()) } else { 25.0 };
            fade_n = (opts.crossfade_s * fps).round() as usize;
            writer = Some(Writer::start(out, &enc, aac, audio.is_some(), pic.width, pic.height, fps, ratio, opts)?);
        }
        let Some(w) = writer.as_mut() else { continue };
        let new_segment = prev_selected.is_some_and(|p| index != p + 1);
        prev_selected = Some(index);
        if fade_n == 0 {
            w.push(&pic, pts, audio.as_ref())?;
            continue;
        }
        // Cross-fade: hold back the last `fade_n` frames of a segment; at a join blend them
        // into the first frames of the next one.
        if new_segment {
            fade = pending.drain(..).collect();
        }
        if !fade.is_empty() {
            let (old, _) = fade.remove(0);
            let t = 1.0 - fade.len() as f32 / (fade.len() + 1) as f32;
            w.push(&crop::blend(&old, &pic, t), pts, audio.as_ref())?;
            continue;
        }
        pending.push_back((pic, pts));
        if pending.len() > fade_n {
            if let Some((p, t)) = pending.pop_front() {
                w.push(&p, t, audio.as_ref())?;
            }
        }
    }
    let _ = dec.set_state(gst::State::Null);
    let Some(mut w) = writer else {
        return Err(perr(video, "none of the predicted frames could be decoded"));
    };
    for (p, t) in pending.drain(..).chain(fade.drain(..)) {
        w.push(&p, t, audio.as_ref())?;
    }
    w.finish(video, out, started, fps, &enc)
}

/// The encode side: two `appsrc`s into one MP4.
struct Writer {
    pipeline: gst::Pipeline,
    vsrc: gst_app::AppSrc,
    asrc: Option<gst_app::AppSrc>,
    /// Where the finished MP4 goes, and the file it is encoded into until then.
    dest: Destination,
    tmp: PathBuf,
    frames: u64,
    fps: f64,
    audio_written: usize,
    size: (u32, u32),
    /// GStreamer's I420 layout for the crop size: plane strides, plane offsets, total size.
    layout: ([usize; 3], [usize; 3], usize),
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    fn start(out: &Path, enc: &Encoder, aac: Option<&str>, with_audio: bool, cw: u32, ch: u32, fps: f64, ratio: AspectRatio, opts: &RenderOptions) -> Result<Self, RenderError> {
        let (ow, oh) = output_size(cw, ch, ratio, opts.long_side, opts.max_upscale);
        let dest = Destination::of(out);
        let tmp = dest.staging("part");
        let pipeline = gst::Pipeline::new();
        let fr = gst::Fraction::approximate_f64(fps).unwrap_or(gst::Fraction::new(25, 1));
        let vsrc = gst_app::AppSrc::builder()
            .caps(&gst::Caps::builder("video/x-raw").field("format", "I420").field("width", cw as i32).field("height", ch as i32).field("framerate", fr).build())
            .format(gst::Format::Time)
            .block(true)
            .max_bytes(4 * I420::size_for(cw, ch) as u64 + 4096)
            .build();
        let scale = make(out, "videoscale")?;
        let size = gst::ElementFactory::make("capsfilter")
            .property("caps", gst::Caps::builder("video/x-raw").field("width", ow as i32).field("height", oh as i32).field("pixel-aspect-ratio", gst::Fraction::new(1, 1)).build())
            .build()
            .map_err(|e| perr(out, e))?;
        let mut chain: Vec<gst::Element> = vec![vsrc.clone().upcast(), make(out, "queue")?, scale, size];
        match enc {
            Encoder::JetsonHardware => {
                chain.push(make(out, "nvvidconv")?);
                let e = make(out, "nvv4l2h264enc")?;
                e.set_property("bitrate", opts.bitrate_kbps.saturating_mul(1000));
                chain.push(e);
            }
            Encoder::X264 { preset } => {
                let e = make(out, "x264enc")?;
                e.set_property_from_str("speed-preset", preset);
                e.set_property("bitrate", opts.bitrate_kbps);
                e.set_property("key-int-max", ((fps * 2.0).round() as u32).max(1));
                chain.push(e);
                // Browsers play High profile 8-bit 4:2:0.
                chain.push(gst::ElementFactory::make("capsfilter").property("caps", gst::Caps::builder("video/x-h264").field("profile", "high").build()).build().map_err(|e| perr(out, e))?);
            }
        }
        chain.push(make(out, "h264parse")?);
        let mux = make(out, "mp4mux")?;
        mux.set_property("faststart", true);
        let sink = make(out, "filesink")?;
        sink.set_property("location", tmp.to_string_lossy().as_ref());
        pipeline.add_many(&chain).map_err(|e| perr(out, e))?;
        pipeline.add_many([&mux, &sink]).map_err(|e| perr(out, e))?;
        gst::Element::link_many(&chain).map_err(|e| perr(out, e))?;
        if let Some(last) = chain.last() {
            last.link(&mux).map_err(|e| perr(out, e))?;
        }
        mux.link(&sink).map_err(|e| perr(out, e))?;
        let asrc = match (with_audio, aac) {
            (true, Some(aac)) => {
                let a = gst_app::AppSrc::builder()
                    .caps(&gst::Caps::builder("audio/x-raw").field("format", "F32LE").field("rate", AUDIO_RATE as i32).field("channels", AUDIO_CHANNELS as i32).field("layout", "interleaved").build())
                    .format(gst::Format::Time)
                    .block(true)
                    .build();
                let achain = [a.clone().upcast(), make(out, "queue")?, make(out, "audioconvert")?, make(out, aac)?];
                pipeline.add_many(&achain).map_err(|e| perr(out, e))?;
                gst::Element::link_many(&achain).map_err(|e| perr(out, e))?;
                achain[3].link(&mux).map_err(|e| perr(out, e))?;
                Some(a)
            }
            _ => None,
        };
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, cw, ch).build().map_err(|e| perr(out, e))?;
        let layout = (
            [info.stride()[0] as usize, info.stride()[1] as usize, info.stride()[2] as usize],
            [info.offset()[0], info.offset()[1], info.offset()[2]],
            info.size(),
        );
        pipeline.set_state(gst::State::Playing).map_err(|e| perr(out, e))?;
        Ok(Self { pipeline, vsrc, asrc, dest, tmp, frames: 0, fps, audio_written: 0, size: (ow, oh), layout })
    }

    /// Pushes one output frame and, when there is audio, the source audio under that frame.
    fn push(&mut self, pic: &I420, src_pts: u64, audio: Option<&(Vec<f32>, u64)>) -> Result<(), RenderError> {
        let dur = 1e9 / self.fps;
        let pts = (self.frames as f64 * dur).round() as u64;
        let mut buf = gst::Buffer::from_mut_slice(crop::to_layout(pic, self.layout.0, self.layout.1, self.layout.2));
        if let Some(b) = buf.get_mut() {
            b.set_pts(gst::ClockTime::from_nseconds(pts));
            b.set_duration(gst::ClockTime::from_nseconds(dur.round() as u64));
        }
        self.vsrc.push_buffer(buf).map_err(|e| perr(&self.tmp, format!("video encoder refused a frame: {e:?}")))?;
        self.frames += 1;
        if let (Some(asrc), Some((samples, a0))) = (&self.asrc, audio) {
            // Exactly as many samples as the output timeline needs, so sound stays in sync.
            let target = ((self.frames as f64) * AUDIO_RATE as f64 / self.fps).round() as usize;
            let need = target.saturating_sub(self.audio_written);
            let start = (src_pts.saturating_sub(*a0) as f64 * AUDIO_RATE as f64 / 1e9).round() as usize;
            let mut chunk = vec![0.0f32; need * AUDIO_CHANNELS];
            let from = start * AUDIO_CHANNELS;
            if from < samples.len() {
                let n = (samples.len() - from).min(chunk.len());
                chunk[..n].copy_from_slice(&samples[from..from + n]);
            }
            let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut abuf = gst::Buffer::from_mut_slice(bytes);
            if let Some(b) = abuf.get_mut() {
                b.set_pts(gst::ClockTime::from_nseconds((self.audio_written as f64 * 1e9 / AUDIO_RATE as f64).round() as u64));
                b.set_duration(gst::ClockTime::from_nseconds((need as f64 * 1e9 / AUDIO_RATE as f64).round() as u64));
            }
            asrc.push_buffer(abuf).map_err(|e| perr(&self.tmp, format!("audio encoder refused a buffer: {e:?}")))?;
            self.audio_written = target;
        }
        Ok(())
    }

    fn finish(self, video: &Path, out: &Path, started: Instant, fps: f64, enc: &Encoder) -> Result<RenderStats, RenderError> {
        let _ = self.vsrc.end_of_stream();
        if let Some(a) = &self.asrc {
            let _ = a.end_of_stream();
        }
        let bus = self.pipeline.bus().ok_or_else(|| perr(video, "no bus"))?;
        let res = wait_eos(&bus, 120).map_err(|e| perr(video, format!("encoding: {e}")));
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Err(e) = res {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        // A regular file is replaced whole; /dev/null or a pipe gets the finished MP4 copied in.
        self.dest.commit_staged(&self.tmp).map_err(|source| RenderError::Write { path: out.into(), source })?;
        Ok(RenderStats {
            frames: self.frames,
            width: self.size.0,
            height: self.size.1,
            fps,
            encoder: enc.element().to_string(),
            audio: self.asrc.is_some(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

use std::str::FromStr;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_sizes_and_upscale_limit() {
        let r916 = AspectRatio::new(9, 16).unwrap();
        let r169 = AspectRatio::new(16, 9).unwrap();
        assert_eq!(output_size(606, 1076, r916, 1920, 2.0), (1080, 1920));
        assert_eq!(output_size(1920, 1080, r169, 1920, 2.0), (1920, 1080));
        // A 202×358 crop may be doubled at most.
        assert_eq!(output_size(202, 358, r916, 1920, 2.0), (402, 716)); // height 2 × 358 at most
        assert_eq!(output_size(202, 358, r916, 1920, 1.0), (202, 358));
    }
}
