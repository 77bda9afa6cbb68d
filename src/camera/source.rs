//! The source half of a recording pipeline: from a camera URL to the video stream's parser
//! (`h264parse` or `h265parse`), linked to `entry` (the first element of the recording half,
//! see [`super::record`]).
//!
//! The codec is only known once the stream is (an RTSP session's SDP, a demuxed file or HLS
//! playlist), so the depayloader and the parser are made and linked from the pad-added
//! callbacks, on GStreamer's streaming threads. Either way the stream is recorded as it comes:
//! H.264 and H.265 pass through the parser into the muxer without re-encoding.
//!
//! ```text
//! rtspsrc (buffer-mode none) ─► rtph26Xdepay ─► h26Xparse ─► [avc|hvc1] ─► h26Xtimestamper ─► h26Xparse ─► entry
//! filesrc ─────────► parsebin (qtdemux, tsdemux, … ─► h26Xparse) ─► h26Xparse ─► entry
//! souphttpsrc ─────► parsebin (hlsdemux2 ─► tsdemux | qtdemux for fMP4) ─► h26Xparse ─► entry
//! ```
//!
//! Decode times: muxers want one on every buffer. RTP carries presentation times only, so the
//! RTSP chain computes them (`rtp_chain`); demuxed containers (MPEG-TS, MP4 and HLS's fMP4
//! fragments) carry their own and need nothing. An HLS master playlist is recorded at its
//! highest-bandwidth variant, without switching (`pin_best_variant`).

use super::config::{SourceUrl, Transport};
use super::record::{RecordError, SourceSpec};
use gstreamer as gst;
use gstreamer::prelude::*;

/// A video codec the recorder keeps without re-encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// From an RTP `encoding-name` (`H264`, `H265`).
    pub fn from_encoding(name: &str) -> Option<Codec> {
        match name.to_ascii_uppercase().as_str() {
            "H264" => Some(Codec::H264),
            "H265" => Some(Codec::H265),
            _ => None,
        }
    }

    /// From a caps name (`video/x-h264`, `video/x-h265`).
    pub fn from_caps(name: &str) -> Option<Codec> {
        match name {
            "video/x-h264" => Some(Codec::H264),
            "video/x-h265" => Some(Codec::H265),
            _ => None,
        }
    }

    pub fn parser(self) -> &'static str {
        match self {
            Codec::H264 => "h264parse",
            Codec::H265 => "h265parse",
        }
    }

    fn depayloader(self) -> &'static str {
        match self {
            Codec::H264 => "rtph264depay",
            Codec::H265 => "rtph265depay",
        }
    }

    /// The element that computes decode times from presentation times (gst-plugins-bad,
    /// codectimestamper).
    pub fn timestamper(self) -> &'static str {
        match self {
            Codec::H264 => "h264timestamper",
            Codec::H265 => "h265timestamper",
        }
    }

    /// What the parser hands the timestamper: the packetised form, whose caps carry the
    /// parameter sets (`codec_data`). GStreamer 1.22's timestamper learns the reordering depth
    /// from the SPS; read in-band, from the first frame itself, it learns it one frame late and
    /// gives that first frame a presentation time one reorder window too late (the first
    /// segment then shows its first pictures out of order).
    fn packetised(self) -> gst::Caps {
        let (name, format) = match self {
            Codec::H264 => ("video/x-h264", "avc"),
            Codec::H265 => ("video/x-h265", "hvc1"),
        };
        gst::Caps::builder(name).field("stream-format", format).field("alignment", "au").build()
    }
}

fn make(factory: &'static str) -> Result<gst::Element, RecordError> {
    gst::ElementFactory::make(factory).build().map_err(|_| RecordError::Element(factory))
}

fn build_err(e: impl std::fmt::Display) -> RecordError {
    RecordError::Build(e.to_string())
}

/// The parser for `codec`, added to `pipeline` and linked to `entry`. Parameter sets are
/// repeated before every key frame, so that each segment decodes on its own.
pub fn parser(pipeline: &gst::Pipeline, codec: Codec, entry: &gst::Element) -> Result<gst::Element, RecordError> {
    let parse = make(codec.parser())?;
    parse.set_property("config-interval", -1i32);
    pipeline.add(&parse).map_err(build_err)?;
    parse.link(entry).map_err(build_err)?;
    Ok(parse)
}

/// The elements from RTP to the recording half, upstream first.
///
/// RTP carries presentation times only, and with B-frames they do not rise in decode order;
/// the muxers want a decode time on every buffer (mp4mux refuses buffers without one,
/// mpegtsmux guesses some and the segment's pictures then decode out of order). So:
/// `depay ! parse ! capsfilter (packetised) ! timestamper ! parse`, the second parser giving
/// back the byte-stream with parameter sets before every key frame. Without B-frames the
/// timestamper's window is empty and each decode time is the presentation time. On a box
/// without the timestamper (gst-plugins-bad older than 1.22) it is left out with a warning:
/// streams without B-frames record as before.
fn rtp_chain(codec: Codec) -> Result<Vec<gst::Element>, RecordError> {
    let depay = make(codec.depayloader())?;
    let parse = make(codec.parser())?;
    if gst::ElementFactory::find(codec.timestamper()).is_none() {
        tracing::warn!(codec = ?codec, "{} missing (gst-plugins-bad 1.22 or later): a camera sending B-frames may not record", codec.timestamper());
        parse.set_property("config-interval", -1i32);
        return Ok(vec![depay, parse]);
    }
    let filter = make("capsfilter")?;
    filter.set_property("caps", codec.packetised());
    let stamp = make(codec.timestamper())?;
    let reparse = make(codec.parser())?;
    reparse.set_property("config-interval", -1i32);
    Ok(vec![depay, parse, filter, stamp, reparse])
}

/// Whether `entry` still waits for its video stream (only the first video is recorded).
fn free(entry: &gst::glib::WeakRef<gst::Element>) -> Option<gst::Element> {
    let e = entry.upgrade()?;
    let linked = e.static_pad("sink").is_some_and(|p| p.is_linked());
    (!linked).then_some(e)
}

/// Links a stream the recording does not keep (audio, metadata, a second video, a codec it
/// cannot record) to a `fakesink`, so that an unlinked pad cannot stop the whole session
/// with not-linked.
fn discard_pad(pipeline: &gst::glib::WeakRef<gst::Pipeline>, pad: &gst::Pad) {
    let Some(p) = pipeline.upgrade() else { return };
    if let Ok(fake) = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build() {
        let _ = p.add(&fake);
        let _ = fake.sync_state_with_parent();
        if let Some(sink) = fake.static_pad("sink") {
            let _ = pad.link(&sink);
        }
    }
}

/// Makes the chain `elements` (upstream first) in a running pipeline, links it to `entry` and
/// `pad` to its head. False when something failed (the pad then goes to a fakesink).
fn plug(pipeline: &gst::Pipeline, pad: &gst::Pad, elements: &[gst::Element], entry: &gst::Element) -> bool {
    if pipeline.add_many(elements).is_err() {
        return false;
    }
    let mut chain: Vec<&gst::Element> = elements.iter().collect();
    chain.push(entry);
    if gst::Element::link_many(chain).is_err() {
        return false;
    }
    for e in elements.iter().rev() {
        if e.sync_state_with_parent().is_err() {
            return false;
        }
    }
    elements.first().and_then(|e| e.static_pad("sink")).is_some_and(|sink| pad.link(&sink).is_ok())
}

/// Adds the source for `src` to `pipeline` and arranges for its video to reach `entry`
/// (V4L2 devices are built by [`super::v4l2`]).
pub fn build(pipeline: &gst::Pipeline, src: &SourceSpec, entry: &gst::Element) -> Result<(), RecordError> {
    // Made only once the stream is known, but a box without the H.264 ones is told at once
    // (state `reconnecting` with the missing element), not by a stall.
    for f in ["h264parse", "rtph264depay"] {
        if gst::ElementFactory::find(f).is_none() {
            return Err(RecordError::Element(f));
        }
    }
    let weak = pipeline.downgrade();
    let entry_w = entry.downgrade();
    match &src.url {
        SourceUrl::Rtsp(url) => {
            let rtsp = make("rtspsrc")?;
            rtsp.set_property("location", url);
            rtsp.set_property("latency", 200u32);
            // The camera's own RTP timestamps, not re-derived from arrival times ("slave"):
            // the skew correction assumes timestamps that rise, and with B-frames it moves
            // pictures by up to a frame and out of order. Nothing here plays against a clock,
            // so the drift it would correct does not matter.
            rtsp.set_property_from_str("buffer-mode", "none");
            rtsp.set_property_from_str("protocols", if src.transport == Transport::Udp { "udp" } else { "tcp" });
            // Our own stall detection reconnects; rtspsrc's would retry in place.
            rtsp.set_property("tcp-timeout", 5_000_000u64);
            if let Some((user, pw)) = &src.credentials {
                rtsp.set_property("user-id", user);
                rtsp.set_property("user-pw", pw);
            }
            pipeline.add(&rtsp).map_err(build_err)?;
            rtsp.connect_pad_added(move |_, pad| {
                let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
                let s = caps.as_ref().and_then(|c| c.structure(0).map(|s| s.to_owned()));
                let media = s.as_ref().and_then(|s| s.get::<String>("media").ok()).unwrap_or_default();
                let enc = s.as_ref().and_then(|s| s.get::<String>("encoding-name").ok()).unwrap_or_default();
                let codec = if media == "video" { Codec::from_encoding(&enc) } else { None };
                if let (Some(codec), Some(entry), Some(p)) = (codec, free(&entry_w), weak.upgrade()) {
                    if let Ok(chain) = rtp_chain(codec) {
                        if plug(&p, pad, &chain, &entry) {
                            tracing::info!(codec = ?codec, "recording the camera's video");
                            return;
                        }
                    }
                    tracing::warn!(codec = ?codec, "cannot record the camera's video: depayloader or parser missing or refused");
                }
                // Audio, metadata or a second video stream: not recorded (yet), but
                // linked so that it does not stop the session with not-linked.
                discard_pad(&weak, pad);
                if media == "video" && codec.is_none() {
                    tracing::warn!(encoding = %enc, "camera video is neither H.264 nor H.265: not recorded");
                }
            });
        }
        SourceUrl::File { path, .. } => {
            let file = make("filesrc")?;
            file.set_property("location", path.to_string_lossy().as_ref());
            parsed(pipeline, &file, entry)?;
        }
        SourceUrl::Hls(url) => {
            // parsebin finds the playlist (hlsdemux), the MPEG-TS (tsdemux) and the parser;
            // souphttpsrc fetches the playlist, hlsdemux its refreshes and the fragments.
            let http = make("souphttpsrc")?;
            http.set_property("location", url);
            pin_best_variant(&parsed(pipeline, &http, entry)?);
        }
        SourceUrl::V4l2 { .. } => return Err(RecordError::Build("v4l2 sources are built by camera::v4l2".into())),
    }
    Ok(())
}

/// Pins the HLS demuxer that `parsebin` plugs (hlsdemux2, or the older hlsdemux) to the
/// variant of a multi-variant (master) playlist with the highest bandwidth, and keeps it there.
///
/// Left alone, the demuxer starts with the first variant listed and switches as its measure
/// of the download speed changes: the recording would change resolution mid-segment (an MP4
/// segment cannot) and keep the worst picture after a slow moment. A recorder wants one
/// picture quality, the best: told that the connection is as fast as can be (4 Gbit/s, above
/// any camera's variant), the demuxer chooses the highest variant and never leaves it. A link
/// too slow for it shows as a stall, with its reason, not as a quietly worse recording. A
/// playlist with a single variant is not affected.
///
/// Set on parsebin, which hands its `connection-speed` (kbit/s) to the demuxers it plugs: set
/// on the demuxer itself, it would be overwritten by parsebin's (0, "measure it").
fn pin_best_variant(parsebin: &gst::Element) {
    parsebin.set_property("connection-speed", 4_000_000u64);
    tracing::info!("HLS: the highest-bandwidth variant is recorded (of a master playlist's)");
}

/// `src ! parsebin`, its first H.264 or H.265 stream into a parser linked to `entry`, anything
/// else discarded. Returns the parsebin.
fn parsed(pipeline: &gst::Pipeline, src: &gst::Element, entry: &gst::Element) -> Result<gst::Element, RecordError> {
    let pb = make("parsebin")?;
    pipeline.add_many([src, &pb]).map_err(build_err)?;
    src.link(&pb).map_err(build_err)?;
    let weak = pipeline.downgrade();
    let entry_w = entry.downgrade();
    pb.connect_pad_added(move |_, pad| {
        let codec = pad.current_caps().or_else(|| Some(pad.query_caps(None))).and_then(|c| c.structure(0).and_then(|s| Codec::from_caps(s.name())));
        if let (Some(codec), Some(entry), Some(p)) = (codec, free(&entry_w), weak.upgrade()) {
            if let Ok(parse) = make(codec.parser()) {
                parse.set_property("config-interval", -1i32);
                if plug(&p, pad, &[parse], &entry) {
                    tracing::info!(codec = ?codec, "recording the source's video");
                    return;
                }
            }
            tracing::warn!(codec = ?codec, "cannot record the source's video: parser missing or refused");
        }
        discard_pad(&weak, pad);
    });
    Ok(pb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_from_rtp_and_caps() {
        assert_eq!(Codec::from_encoding("h265"), Some(Codec::H265));
        assert_eq!(Codec::from_encoding("H264"), Some(Codec::H264));
        assert_eq!(Codec::from_encoding("JPEG"), None);
        assert_eq!(Codec::from_caps("video/x-h265"), Some(Codec::H265));
        assert_eq!(Codec::from_caps("video/x-vp8"), None);
    }

    /// With the timestamper installed (GStreamer 1.22 here), RTP goes depay, parse, the
    /// packetised caps, timestamper, parse again; without it, depay and parse as before.
    #[test]
    fn rtp_chain_stamps_decode_times_when_it_can() {
        gst::init().unwrap();
        for codec in [Codec::H264, Codec::H265] {
            let names: Vec<String> = rtp_chain(codec).unwrap().iter().filter_map(|e| e.factory()).map(|f| f.name().to_string()).collect();
            if gst::ElementFactory::find(codec.timestamper()).is_some() {
                assert_eq!(names, [codec.depayloader(), codec.parser(), "capsfilter", codec.timestamper(), codec.parser()]);
                let format = codec.packetised().structure(0).and_then(|s| s.get::<String>("stream-format").ok());
                assert!(matches!(format.as_deref(), Some("avc" | "hvc1")), "{format:?}");
            } else {
                assert_eq!(names, [codec.depayloader(), codec.parser()]);
            }
        }
    }
}
