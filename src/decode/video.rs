//! The video branch: the first decoded video stream scaled to the analysis size, turned as
//! displayed and converted to packed RGB for an appsink; with detail pictures asked for, a `tee`
//! in front of it and a second branch that keeps only the sampled frames and scales them to the
//! detail size. [`pair`] checks that a detail picture belongs to the frame it is attached to.

use super::pipeline::{el, Shared};
use super::plumbing::link_chain;
use super::{AnalysisFrame, DetailImage, DetailOptions};

use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gst::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Decoded buffers each branch behind the tee may hold. Decoded 1080p frames are 3 MB each
/// and hardware decoders have a fixed number of them: the queues only have to let the two
/// branches run in their own threads, not store frames.
const TEE_QUEUE_BUFFERS: u32 = 3;

/// Size of the analysis picture for a `w × h` source: the longest side becomes `side`, the
/// other keeps the aspect ratio; both even, at least 2.
pub fn analysis_size(w: u32, h: u32, side: u32) -> (u32, u32) {
    let side = side.max(16);
    let (w, h) = (w.max(1) as f64, h.max(1) as f64);
    let scale = (f64::from(side) / w.max(h)).min(1.0);
    let even = |v: f64| (((v * scale) / 2.0).round() as u32 * 2).max(2);
    (even(w), even(h))
}

/// A detail picture on its way to the caller, with what pairs it with its analysis frame.
pub(super) struct DetailFrame {
    index: u64,
    pts_ns: Option<u64>,
    image: DetailImage,
}

/// Attaches `d` to frame `f`: they must be the same presented frame (same index, same
/// timestamp), else the two branches lost step and the picture would belong to another frame.
pub(super) fn pair(mut f: AnalysisFrame, d: DetailFrame) -> Result<AnalysisFrame, String> {
    if d.index != f.index || d.pts_ns != f.pts_ns {
        return Err(format!(
            "detail picture out of step: frame {} (pts {:?}) got the picture of frame {} (pts {:?})",
            f.index, f.pts_ns, d.index, d.pts_ns
        ));
    }
    f.detail = Some(d.image);
    Ok(f)
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

pub(super) fn link_video(
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
}
