//! `v4l2:///dev/videoN`: a USB camera or capture card on this box.
//!
//! Unlike an IP camera, such a device mostly gives raw pictures (YUYV) or MJPEG, which cannot
//! be written into H.264 segments as they come: the recording then has to encode (x264enc,
//! `ultrafast`/`zerolatency`, a key frame every second so that segments can be cut), which
//! costs CPU that an RTSP camera does not. A device that offers H.264 itself is recorded
//! without re-encoding, like RTSP. The format is chosen from what the device offers, best
//! first ([`choose`]): H.264, then MJPEG (less USB bandwidth than raw at the same size), then
//! raw.
//!
//! ```text
//! v4l2src ─► capsfilter ─┬─(H.264)──────────────────────────────► h264parse ─► …
//!                        ├─(MJPEG)─► jpegdec ─► videoconvert ─► x264enc ─┘
//!                        └─(raw)──────────────► videoconvert ─► x264enc ─┘
//! ```
//!
//! A missing device is refused before any pipeline is built, with an error naming it; the
//! supervisor shows `reconnecting` with that error and tries again with back-off (a USB
//! camera plugged in later is picked up).

use super::record::RecordError;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;

/// What the device sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    H264,
    Mjpeg,
    Raw,
}

impl Input {
    /// The caps name the capsfilter asks the device for.
    pub fn caps_name(self) -> &'static str {
        match self {
            Input::H264 => "video/x-h264",
            Input::Mjpeg => "image/jpeg",
            Input::Raw => "video/x-raw",
        }
    }

    /// Elements between the capsfilter and h264parse.
    pub fn chain(self) -> &'static [&'static str] {
        match self {
            Input::H264 => &[],
            Input::Mjpeg => &["jpegdec", "videoconvert", "x264enc"],
            Input::Raw => &["videoconvert", "x264enc"],
        }
    }
}

/// The best input among the caps names a device offers (None: nothing recordable).
pub fn choose<S: AsRef<str>>(offered: &[S]) -> Option<Input> {
    [Input::H264, Input::Mjpeg, Input::Raw].into_iter().find(|i| offered.iter().any(|o| o.as_ref() == i.caps_name()))
}

/// Adds `v4l2src ! capsfilter ! <chain>` for `device` to `pipeline`, linked into `parse`.
pub fn build(pipeline: &gst::Pipeline, device: &Path, parse: &gst::Element) -> Result<Input, RecordError> {
    if !device.exists() {
        return Err(RecordError::Device(format!("{}: no such device (is the camera plugged in?)", device.display())));
    }
    let make = |f: &'static str| gst::ElementFactory::make(f).build().map_err(|_| RecordError::Element(f));
    let src = make("v4l2src")?;
    src.set_property("device", device.to_string_lossy().as_ref());
    // Opening the device (READY) makes it list its formats; local and quick.
    if src.set_state(gst::State::Ready).is_err() {
        let _ = src.set_state(gst::State::Null);
        return Err(RecordError::Device(format!("{}: cannot open the device (busy, or not a video capture device)", device.display())));
    }
    let offered: Vec<String> = src.static_pad("src").map(|p| p.query_caps(None)).map(|c| c.iter().map(|s| s.name().to_string()).collect()).unwrap_or_default();
    let _ = src.set_state(gst::State::Null);
    let input = choose(&offered).ok_or_else(|| RecordError::Device(format!("{}: offers no H.264, MJPEG or raw video ({offered:?})", device.display())))?;
    let filter = make("capsfilter")?;
    filter.set_property("caps", gst::Caps::builder(input.caps_name()).build());
    let mut elements = vec![src, filter];
    for f in input.chain() {
        let e = make(f)?;
        if *f == "x264enc" {
            e.set_property_from_str("tune", "zerolatency");
            e.set_property_from_str("speed-preset", "ultrafast");
            e.set_property("key-int-max", 30u32);
        }
        elements.push(e);
    }
    pipeline.add_many(&elements).map_err(|e| RecordError::Build(e.to_string()))?;
    gst::Element::link_many(&elements).map_err(|e| RecordError::Build(e.to_string()))?;
    elements.last().map(|last| last.link(parse)).transpose().map_err(|e| RecordError::Build(e.to_string()))?;
    tracing::info!(device = %device.display(), input = ?input, "v4l2 device opened");
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_first_then_mjpeg_then_raw() {
        assert_eq!(choose(&["video/x-raw", "image/jpeg", "video/x-h264"]), Some(Input::H264));
        assert_eq!(choose(&["video/x-raw", "image/jpeg"]), Some(Input::Mjpeg));
        assert_eq!(choose(&["video/x-raw"]), Some(Input::Raw));
        assert_eq!(choose(&["video/x-bayer"]), None);
        assert_eq!(choose::<&str>(&[]), None);
    }

    #[test]
    fn only_h264_is_recorded_without_encoding() {
        assert!(Input::H264.chain().is_empty());
        assert_eq!(Input::Mjpeg.chain(), ["jpegdec", "videoconvert", "x264enc"]);
        assert_eq!(Input::Raw.chain().last(), Some(&"x264enc"));
    }

    #[test]
    fn a_missing_device_is_refused_with_its_name() {
        gst::init().unwrap();
        let p = gst::Pipeline::new();
        let parse = gst::ElementFactory::make("h264parse").build().unwrap();
        let e = build(&p, Path::new("/dev/video-missing-99"), &parse).unwrap_err().to_string();
        assert!(e.contains("/dev/video-missing-99: no such device"), "{e}");
    }
}
