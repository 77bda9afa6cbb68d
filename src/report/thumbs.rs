//! Thumbnails: a few frames of the video decoded again (through the same decoder and frame
//! numbering as the analysis, [`crate::decode::decode`]) and encoded as JPEG with GStreamer's
//! `jpegenc`, so the report can embed them as `data:` URIs with the crop windows drawn over
//! them in SVG.

use crate::decode::{self, AnalysisFrame, DecodeError, DecodeOptions};
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gst::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("cannot encode a thumbnail as JPEG: {0}")]
    Encode(String),
}

/// One thumbnail: which frame, its pixel size and the JPEG bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    pub frame: usize,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Up to `count` frames spread evenly over `selected` (ascending frame numbers), or over the
/// whole video of `total` frames when nothing is selected: the middle of each of `count`
/// equal slices, so the first and last thumbnails are not the often-uninformative ends.
pub fn pick_frames(selected: &[usize], total: usize, count: usize) -> Vec<usize> {
    let pool: Vec<usize> = if selected.is_empty() { (0..total).collect() } else { selected.to_vec() };
    let k = pool.len();
    if k == 0 || count == 0 {
        return Vec::new();
    }
    let picks: BTreeSet<usize> = (0..count.min(k)).map(|i| pool[((2 * i + 1) * k / (2 * count.min(k))).min(k - 1)]).collect();
    picks.into_iter().collect()
}

/// Decodes `path` once and returns the wanted frames (ascending) as JPEG thumbnails whose
/// longest side is at most `side` pixels. Frames past the end of the stream are left out.
pub fn grab(path: &Path, frames: &[usize], side: u32, stall: Duration) -> Result<Vec<Thumb>, ThumbError> {
    let wanted: BTreeSet<u64> = frames.iter().map(|&f| f as u64).collect();
    let last = wanted.iter().next_back().copied();
    let mut kept: Vec<AnalysisFrame> = Vec::with_capacity(wanted.len());
    let opts = DecodeOptions { analysis_side: side, audio: false, stall_timeout: stall, detail: None, deadline: None };
    decode::decode(path, &opts, |f| {
        // The whole stream is still read (decode has no early stop); only the kept frames
        // are held, so memory stays at a handful of small pictures.
        if last.is_some_and(|l| f.index <= l) && wanted.contains(&f.index) {
            kept.push(f);
        }
    })?;
    kept.iter()
        .map(|f| Ok(Thumb { frame: f.index as usize, width: f.width, height: f.height, jpeg: encode_jpeg(f, 82)? }))
        .collect()
}

fn element(name: &str) -> Result<gst::Element, ThumbError> {
    gst::ElementFactory::make(name)
        .build()
        .map_err(|_| ThumbError::Encode(format!("GStreamer element `{name}` is missing (install the GStreamer plugins)")))
}

/// Packed RGB rows padded to the stride GStreamer expects for this size (rows of RGB are
/// 4-byte aligned, so an odd `3 × width` needs padding).
fn padded(f: &AnalysisFrame, info: &gst_video::VideoInfo) -> Result<Vec<u8>, ThumbError> {
    let row = f.width as usize * 3;
    let stride = usize::try_from(info.stride()[0]).map_err(|_| ThumbError::Encode("negative stride".into()))?;
    if f.rgb.len() < row * f.height as usize {
        return Err(ThumbError::Encode(format!("frame {} holds {} bytes, {}×{} RGB needs {}", f.index, f.rgb.len(), f.width, f.height, row * f.height as usize)));
    }
    let mut out = vec![0u8; info.size()];
    for y in 0..f.height as usize {
        out[y * stride..y * stride + row].copy_from_slice(&f.rgb[y * row..(y + 1) * row]);
    }
    Ok(out)
}

/// Encodes one RGB frame: `appsrc ! videoconvert ! jpegenc ! appsink`.
pub fn encode_jpeg(f: &AnalysisFrame, quality: i32) -> Result<Vec<u8>, ThumbError> {
    let err = |e: &dyn std::fmt::Display| ThumbError::Encode(e.to_string());
    gst::init().map_err(|e| err(&e))?;
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, f.width, f.height)
        .fps(gst::Fraction::new(1, 1))
        .build()
        .map_err(|e| err(&e))?;
    let caps = info.to_caps().map_err(|e| err(&e))?;
    let src = gst_app::AppSrc::builder().caps(&caps).format(gst::Format::Time).build();
    let convert = element("videoconvert")?;
    let enc = element("jpegenc")?;
    enc.set_property("quality", quality.clamp(1, 100));
    let sink = gst_app::AppSink::builder().sync(false).build();
    let pipeline = gst::Pipeline::new();
    pipeline.add_many([src.upcast_ref(), &convert, &enc, sink.upcast_ref()]).map_err(|e| err(&e))?;
    gst::Element::link_many([src.upcast_ref(), &convert, &enc, sink.upcast_ref()]).map_err(|e| err(&e))?;
    let result = (|| {
        pipeline.set_state(gst::State::Playing).map_err(|e| err(&e))?;
        let mut buffer = gst::Buffer::from_mut_slice(padded(f, &info)?);
        if let Some(b) = buffer.get_mut() {
            b.set_pts(gst::ClockTime::ZERO);
            b.set_duration(gst::ClockTime::from_seconds(1));
        }
        src.push_buffer(buffer).map_err(|e| err(&e))?;
        src.end_of_stream().map_err(|e| err(&e))?;
        match sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            Some(sample) => {
                let buf = sample.buffer().ok_or_else(|| ThumbError::Encode("empty sample".into()))?;
                let map = buf.map_readable().map_err(|e| err(&e))?;
                Ok(map.as_slice().to_vec())
            }
            None => {
                let msg = pipeline
                    .bus()
                    .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
                    .and_then(|m| match m.view() {
                        gst::MessageView::Error(e) => Some(e.error().to_string()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "jpegenc produced nothing within 10 s".into());
                Err(ThumbError::Encode(msg))
            }
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_spread_over_the_selection_or_the_video() {
        assert_eq!(pick_frames(&[], 80, 8), vec![5, 15, 25, 35, 45, 55, 65, 75]);
        let sel: Vec<usize> = (100..116).collect();
        assert_eq!(pick_frames(&sel, 500, 8), vec![101, 103, 105, 107, 109, 111, 113, 115]);
        assert_eq!(pick_frames(&[7, 9], 500, 8), vec![7, 9]);
        assert!(pick_frames(&[], 0, 8).is_empty());
        assert_eq!(pick_frames(&[], 3, 8), vec![0, 1, 2]);
    }

    #[test]
    fn odd_width_frame_encodes_to_jpeg() {
        let (w, h) = (33u32, 10u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
        let f = AnalysisFrame { index: 0, pts_ns: None, width: w, height: h, rgb, detail: None };
        let jpeg = encode_jpeg(&f, 80).unwrap();
        assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "JPEG SOI marker");
    }
}
