//! What a file holds without the analysis pipeline: [`decode_only`] decodes every frame into
//! nothing to count them (the true frame count, and the reference speed for `bench`);
//! [`probe_stream`] and [`probe_frames`] only preroll the file, for the frame rate and duration
//! known before decoding starts.

use super::pipeline::{init, pipe_err, stream_err};
use super::plumbing::{file_decodebin, link_fakesink, pad_caps};
use super::{DecodeError, DecodeOptions, StreamInfo};

use gstreamer as gst;
use gstreamer_video as gst_video;
use gst::prelude::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Decode-only pass through the same decoder: counts presented frames and reads the display
/// size, with no conversion. Used by `bench` as the reference speed and by `validate`/`eval`
/// to learn a video's true frame count.
pub fn decode_only(path: &Path, opts: &DecodeOptions) -> Result<StreamInfo, DecodeError> {
    init(path)?;
    super::container::open_check(path)?;
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
    // An MP4 without its index would hold the preroll below for its whole 5 s.
    super::container::open_check(path).ok()?;
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
    fn orientation_tags() {
        assert!(orientation_swaps_axes("rotate-90"));
        assert!(!orientation_swaps_axes("rotate-180"));
        assert!(!orientation_swaps_axes("rotate-0"));
    }
}
