//! One connection to a camera as a GStreamer pipeline that writes the stream, without
//! re-encoding, into fixed-length segments:
//!
//! ```text
//! rtspsrc ─► rtph26Xdepay ─► h26Xparse ─► h26Xtimestamper ─► h26Xparse ─┐
//! filesrc ─► parsebin ─► h26Xparse ─────────────────────────────────────┤
//! souphttpsrc ─► parsebin (hlsdemux2: TS or fMP4) ─► h26Xparse ─────────┼─► [identity sync] ─► queue ─► splitmuxsink
//! v4l2src ─► (encode) ─► h264parse ─────────────────────────────────────┘      ▲ probe: last buffer, frames   (mpegtsmux | mp4mux)
//! ```
//! (the source half is [`super::source`] and [`super::v4l2`]; the timestamper gives RTP's
//! B-frames the decode times the muxers need).
//!
//! A new pipeline per connection: after an error nothing of the old one (a half-negotiated
//! session, a stuck jitter buffer) can leak into the next. Segments are written as
//! `<start_ms>.<ext>.part` and renamed to `<start_ms>-<end_ms>.<ext>` once splitmuxsink has
//! closed them, so only finalised segments ever count (see [`super::retention`]).

use super::config::{SegmentFormat, SourceUrl, Transport};
use super::retention::segment_name;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("GStreamer element `{0}` is missing (install the GStreamer plugins: scripts/setup.sh)")]
    Element(&'static str),
    #[error("cannot build the pipeline: {0}")]
    Build(String),
    #[error("cannot start the pipeline")]
    Start,
    /// A local capture device that is missing, busy or unusable (see [`super::v4l2`]).
    #[error("{0}")]
    Device(String),
}

/// What the streaming threads report to the supervisor, lock-free.
#[derive(Debug, Default)]
pub struct Counters {
    /// Milliseconds since `epoch` of the last video buffer (0: none yet).
    pub last_buffer_ms: AtomicU64,
    /// Video buffers (access units) seen.
    pub frames: AtomicU64,
    /// Buffers marked as following a discontinuity (lost packets, a jump in the stream).
    pub discont: AtomicU64,
}

/// Where and how segments are written.
#[derive(Debug, Clone)]
pub struct SegmentSpec {
    pub dir: PathBuf,
    pub format: SegmentFormat,
    pub segment: Duration,
}

/// What the source needs to connect.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub url: SourceUrl,
    pub transport: Transport,
    /// (user, password) for RTSP; never logged.
    pub credentials: Option<(String, String)>,
}

/// A finalised segment, reported by [`Connection::poll`].
#[derive(Debug, Clone)]
pub struct Finalised {
    pub path: PathBuf,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Video frames (access units) recorded in it, as counted at the parser; what the
    /// analysis reports as analysed or dropped.
    pub frames: u64,
}

/// What the bus said.
#[derive(Debug)]
pub enum Event {
    Segment(Finalised),
    /// The stream ended (a file at its end; a server that closed the session).
    Ended,
    Error(String),
    /// A write failed for want of space (ENOSPC, quota): the disk is full.
    NoSpace(String),
}

/// One live pipeline.
pub struct Connection {
    pipeline: gst::Pipeline,
    /// Where EOS is pushed to finalise the open segment (the queue before splitmuxsink).
    tail: gst::Element,
    pub counters: Arc<Counters>,
    spec: SegmentSpec,
    /// `.part` location → wall-clock start (ms) and running time at opening.
    open: HashMap<String, (u64, Option<u64>)>,
    /// Start (wall-clock ms) of each fragment by its `.part` location, from the naming
    /// callback (a streaming thread).
    starts: Arc<std::sync::Mutex<HashMap<String, u64>>>,
    /// [`Counters::frames`] when the previous segment closed: frames of a segment are the
    /// difference (counted when the bus message is read, so a few frames may be attributed
    /// to the neighbour segment, but the sum over the segments is exact).
    frames_at_close: u64,
    /// A write failed for want of space: the segment open then lacks its tail, and so does
    /// any closed after; they are deleted instead of finalised (see [`super::space`]).
    write_failed: bool,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn make(factory: &'static str) -> Result<gst::Element, RecordError> {
    gst::ElementFactory::make(factory).build().map_err(|_| RecordError::Element(factory))
}

impl Connection {
    /// Builds and starts the pipeline; returns at once (the connection is made by GStreamer's
    /// own threads, so an unanswering camera never blocks the caller). `epoch` is the
    /// supervisor's clock origin for [`Counters::last_buffer_ms`].
    pub fn start(src: &SourceSpec, spec: &SegmentSpec, epoch: Instant) -> Result<Connection, RecordError> {
        gst::init().map_err(|e| RecordError::Build(e.to_string()))?;
        let pipeline = gst::Pipeline::new();
        let queue = make("queue")?;
        let mux = make(spec.format.muxer())?;
        let split = make("splitmuxsink")?;
        split.set_property("max-size-time", spec.segment.as_nanos() as u64);
        split.set_property("muxer", &mux);
        split.set_property("async-finalize", false);
        let build = |e: String| RecordError::Build(e);
        pipeline.add_many([&queue, &split]).map_err(|e| build(e.to_string()))?;
        queue.link(&split).map_err(|e| build(e.to_string()))?;
        // A file or an HLS playlist is read as fast as it can be: paced to the clock it looks
        // like a camera (and segments last what they say).
        let entry = if matches!(src.url, SourceUrl::File { .. } | SourceUrl::Hls(_)) {
            let pace = make("identity")?;
            pace.set_property("sync", true);
            pipeline.add(&pace).map_err(|e| build(e.to_string()))?;
            pace.link(&queue).map_err(|e| build(e.to_string()))?;
            pace
        } else {
            queue.clone()
        };

        // Counted where the parsed video enters the recording half, whichever parser it
        // came through.
        let counters = Arc::new(Counters::default());
        if let Some(pad) = entry.static_pad("sink") {
            let c = counters.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(buf) = info.buffer() {
                    c.frames.fetch_add(1, Ordering::Relaxed);
                    if buf.flags().contains(gst::BufferFlags::DISCONT) {
                        c.discont.fetch_add(1, Ordering::Relaxed);
                    }
                    c.last_buffer_ms.store((epoch.elapsed().as_millis() as u64).max(1), Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            });
        }

        let starts: Arc<std::sync::Mutex<HashMap<String, u64>>> = Default::default();
        {
            let dir = spec.dir.clone();
            let ext = spec.format.extension();
            let starts = starts.clone();
            split.connect("format-location-full", false, move |_| {
                let start = now_ms();
                let loc = dir.join(format!("{start}.{ext}.part")).to_string_lossy().into_owned();
                starts.lock().unwrap_or_else(|p| p.into_inner()).insert(loc.clone(), start);
                Some(loc.to_value())
            });
        }

        match &src.url {
            SourceUrl::V4l2 { device } => {
                let parse = super::source::parser(&pipeline, super::source::Codec::H264, &entry)?;
                super::v4l2::build(&pipeline, device, &parse)?;
            }
            _ => super::source::build(&pipeline, src, &entry)?,
        }
        if pipeline.set_state(gst::State::Playing).is_err() {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(RecordError::Start);
        }
        Ok(Connection { pipeline, tail: queue, counters, spec: spec.clone(), open: HashMap::new(), starts, frames_at_close: 0, write_failed: false })
    }

    /// The next bus event within `wait`, if any.
    pub fn poll(&mut self, wait: Duration) -> Option<Event> {
        let bus = self.pipeline.bus()?;
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64))?;
            if let Some(ev) = self.handle(&msg) {
                return Some(ev);
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }

    fn handle(&mut self, msg: &gst::Message) -> Option<Event> {
        use gst::MessageView as V;
        match msg.view() {
            V::Eos(_) => Some(Event::Ended),
            V::Error(e) => {
                let mut text = e.error().to_string();
                if e.error().matches(gst::ResourceError::NoSpaceLeft) || super::space::is_no_space(&text) {
                    self.write_failed = true;
                    return Some(Event::NoSpace(text));
                }
                // Debug text of rtspsrc may carry the URL: only the error itself is kept.
                if text.is_empty() {
                    text = "stream error".into();
                }
                Some(Event::Error(text))
            }
            V::Element(el) => {
                let s = el.structure()?;
                let loc = s.get::<String>("location").ok()?;
                let rt = s.get::<u64>("running-time").ok();
                match s.name().as_str() {
                    "splitmuxsink-fragment-opened" => {
                        let start = self.starts.lock().unwrap_or_else(|p| p.into_inner()).remove(&loc).unwrap_or_else(now_ms);
                        self.open.insert(loc, (start, rt));
                        None
                    }
                    "splitmuxsink-fragment-closed" => {
                        let (start, opened_rt) = self.open.remove(&loc).unwrap_or((now_ms(), None));
                        let end = match (opened_rt, rt) {
                            (Some(a), Some(b)) if b >= a => start + (b - a) / 1_000_000,
                            _ => now_ms().max(start),
                        };
                        self.finalise(&loc, start, end).map(Event::Segment)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Renames a closed `.part` to its final name; None when it vanished or is empty.
    fn finalise(&mut self, loc: &str, start: u64, end: u64) -> Option<Finalised> {
        let part = Path::new(loc);
        if self.write_failed {
            tracing::warn!("deleting {}: a write into it failed (disk full), its tail is missing", part.display());
            let _ = std::fs::remove_file(part);
            return None;
        }
        let total = self.counters.frames.load(Ordering::Relaxed);
        let frames = total.saturating_sub(self.frames_at_close);
        self.frames_at_close = total;
        let size = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            let _ = std::fs::remove_file(part);
            return None;
        }
        let path = self.spec.dir.join(segment_name(start, end, self.spec.format.extension()));
        match std::fs::rename(part, &path) {
            Ok(()) => Some(Finalised { path, start_ms: start, end_ms: end, frames }),
            Err(e) => {
                tracing::warn!("cannot finalise segment {}: {e}", part.display());
                None
            }
        }
    }

    /// Whether splitmuxsink has a fragment open (opened, or named and about to be).
    fn anything_open(&self) -> bool {
        !self.open.is_empty() || !self.starts.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// Finalises the open segment (EOS into splitmuxsink, waiting at most `wait` for it to
    /// close the file) and tears the pipeline down. Returns the segments finalised meanwhile.
    pub fn stop(mut self, wait: Duration) -> Vec<Finalised> {
        let mut out = Vec::new();
        // After a failed write the pipeline is in error: no EOS would get through.
        if !self.write_failed && self.anything_open() {
            if let Some(pad) = self.tail.static_pad("sink") {
                pad.send_event(gst::event::Eos::new());
            }
            let deadline = Instant::now() + wait;
            // Also a fragment whose opening the bus has not told yet (a connection stopped
            // just after its first picture): it is known by its name only.
            while self.anything_open() && Instant::now() < deadline {
                match self.poll(Duration::from_millis(100)) {
                    Some(Event::Segment(f)) => out.push(f),
                    Some(Event::Ended) => break,
                    _ => {}
                }
            }
        }
        // splitmuxsink closes on NULL; what it leaves open is still a readable MPEG-TS.
        let _ = self.pipeline.set_state(gst::State::Null);
        let mut leftovers: Vec<(String, (u64, Option<u64>))> = self.open.drain().collect();
        leftovers.extend(self.starts.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(loc, start)| (loc, (start, None))));
        for (loc, (start, _)) in leftovers {
            if self.spec.format == SegmentFormat::Mpegts && !self.write_failed {
                if let Some(f) = self.finalise(&loc, start, now_ms().max(start)) {
                    out.push(f);
                }
            } else {
                let _ = std::fs::remove_file(&loc);
            }
        }
        out
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// At start-up: `.part` files a crash left behind. MPEG-TS ones are playable up to where
/// they stop and are kept (end = their modification time); MP4 ones lack their index and go.
pub fn recover_parts(dir: &Path, format: SegmentFormat) -> usize {
    let ext = format.extension();
    let suffix = format!(".{ext}.part");
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(start) = name.strip_suffix(&suffix).and_then(|s| s.parse::<u64>().ok()) else { continue };
        let path = e.path();
        let meta = e.metadata().ok();
        let end = meta.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(start, |d| d.as_millis() as u64).max(start);
        if format == SegmentFormat::Mpegts && meta.is_some_and(|m| m.len() > 0) {
            if std::fs::rename(&path, dir.join(segment_name(start, end, ext))).is_ok() {
                n += 1;
            }
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    n
}
