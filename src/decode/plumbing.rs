//! GStreamer plumbing shared by the decode and render pipelines.

use gstreamer as gst;
use gst::prelude::*;

/// Adds `chain` to the pipeline, links it in order, starts it, and links `pad` to its head:
/// what a `decodebin` pad-added handler does with each stream it wants.
pub(crate) fn link_chain(pipeline: &gst::Pipeline, pad: &gst::Pad, chain: &[gst::Element]) -> Result<(), String> {
    pipeline.add_many(chain).map_err(|e| e.to_string())?;
    gst::Element::link_many(chain).map_err(|e| e.to_string())?;
    for el in chain {
        el.sync_state_with_parent().map_err(|e| e.to_string())?;
    }
    let first = chain.first().and_then(|e| e.static_pad("sink")).ok_or("chain has no sink pad")?;
    pad.link(&first).map_err(|e| e.to_string())?;
    Ok(())
}

/// Sends a stream nobody needs into a `fakesink`: an unlinked decodebin pad would stop the
/// whole pipeline with not-linked.
pub(crate) fn link_fakesink(pipeline: &gst::Pipeline, pad: &gst::Pad) -> Result<(), String> {
    let sink = gst::ElementFactory::make("fakesink").property("sync", false).build().map_err(|e| e.to_string())?;
    link_chain(pipeline, pad, &[sink])
}

/// Waits for end of stream; an error message or `timeout_s` without any message ends it.
pub(crate) fn wait_eos(bus: &gst::Bus, timeout_s: u64) -> Result<(), String> {
    loop {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(timeout_s)) else {
            return Err(format!("no progress for {timeout_s} s"));
        };
        match msg.view() {
            gst::MessageView::Eos(..) => return Ok(()),
            gst::MessageView::Error(e) => return Err(e.error().to_string()),
            _ => {}
        }
    }
}

/// `filesrc location=PATH ! decodebin` in a new pipeline; the caller links decodebin's pads.
pub(crate) fn file_decodebin(path: &std::path::Path) -> Result<(gst::Pipeline, gst::Element), String> {
    let missing = |name: &str| format!("GStreamer element `{name}` is missing (install the GStreamer plugins)");
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc").property("location", path.to_string_lossy().as_ref()).build().map_err(|_| missing("filesrc"))?;
    let dbin = gst::ElementFactory::make("decodebin").build().map_err(|_| missing("decodebin"))?;
    pipeline.add_many([&src, &dbin]).map_err(|e| e.to_string())?;
    src.link(&dbin).map_err(|e| e.to_string())?;
    Ok((pipeline, dbin))
}

/// The caps of a newly added decodebin pad (negotiated, else what it could carry).
pub(crate) fn pad_caps(pad: &gst::Pad) -> gst::Caps {
    pad.current_caps().unwrap_or_else(|| pad.query_caps(None))
}
