//! Joining a moment's recorded segments into one clip, without re-encoding.
//!
//! MPEG-TS segments are joined byte for byte: the format allows it, and every segment starts
//! at a key frame with its parameter sets (the recorder's parser repeats them). MP4 segments
//! cannot be concatenated (each has its own index), so they are read back to back by
//! `splitmuxsrc` (which makes their timestamps continuous) and written again by `mp4mux`:
//! the compressed frames are copied, nothing is decoded.
//!
//! ```text
//! splitmuxsrc (the segments, in order) ─► h264parse | h265parse ─► mp4mux ─► filesink
//! ```

use super::source::Codec;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest a join may take: a clip is a few segments; a pipeline stuck longer is abandoned.
const JOIN_LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("joining the MP4 segments into {path}: {message}")]
    Join { path: PathBuf, message: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> ClipError {
    ClipError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// Concatenates MPEG-TS `segments` into `out`, synced to disk.
pub fn join_ts(segments: &[PathBuf], out: &Path) -> Result<(), ClipError> {
    let mut file = std::fs::File::create(out).map_err(|e| io(out, e))?;
    for s in segments {
        let mut f = std::fs::File::open(s).map_err(|e| io(s, e))?;
        std::io::copy(&mut f, &mut file).map_err(|e| io(out, e))?;
    }
    file.flush().map_err(|e| io(out, e))?;
    file.sync_all().map_err(|e| io(out, e))
}

/// Joins MP4 `segments` (in order) into the MP4 `out`; its video only (the recording keeps
/// no other stream).
pub fn join_mp4(segments: &[PathBuf], out: &Path) -> Result<(), ClipError> {
    let err = |message: String| ClipError::Join { path: out.to_path_buf(), message };
    if segments.is_empty() {
        return Err(err("no segments".into()));
    }
    gst::init().map_err(|e| err(e.to_string()))?;
    let make = |f: &str| gst::ElementFactory::make(f).build().map_err(|_| err(format!("GStreamer element `{f}` is missing")));
    let pipeline = gst::Pipeline::new();
    let src = make("splitmuxsrc")?;
    let mux = make("mp4mux")?;
    let sink = make("filesink")?;
    sink.set_property("location", out.to_string_lossy().as_ref());
    let files: Vec<String> = segments.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    // The list of parts, instead of a glob over the folder (which holds every segment).
    src.connect("format-location", false, move |_| Some(gst::glib::StrV::from(files.clone()).to_value()));
    pipeline.add_many([&src, &mux, &sink]).map_err(|e| err(e.to_string()))?;
    mux.link(&sink).map_err(|e| err(e.to_string()))?;
    let weak = pipeline.downgrade();
    let mux_w = mux.downgrade();
    src.connect_pad_added(move |_, pad| {
        let codec = pad.current_caps().or_else(|| Some(pad.query_caps(None))).and_then(|c| c.structure(0).and_then(|s| Codec::from_caps(s.name())));
        let (Some(codec), Some(p), Some(mux)) = (codec, weak.upgrade(), mux_w.upgrade()) else { return };
        let Ok(parse) = gst::ElementFactory::make(codec.parser()).build() else { return };
        if p.add(&parse).is_err() || parse.link(&mux).is_err() || parse.sync_state_with_parent().is_err() {
            return;
        }
        if let Some(sink) = parse.static_pad("sink") {
            let _ = pad.link(&sink);
        }
    });
    let result = run(&pipeline).map_err(err);
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    // On disk before the caller renames it into place, like the MPEG-TS join: a clip that
    // exists after a power cut is complete.
    std::fs::File::open(out).and_then(|f| f.sync_all()).map_err(|e| io(out, e))
}

/// Plays `pipeline` to its end.
fn run(pipeline: &gst::Pipeline) -> Result<(), String> {
    pipeline.set_state(gst::State::Playing).map_err(|_| "cannot start the pipeline".to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let deadline = Instant::now() + JOIN_LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("not done within {} s", JOIN_LIMIT.as_secs()));
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(e) => return Err(e.error().to_string()),
            _ => {}
        }
    }
}
