//! The audio branch: the decoded audio converted to mono f32 at [`AUDIO_RATE`], measured as
//! short-window loudness ([`Loudness`]) and, for `decode_with_audio`, cut into chunks
//! ([`Rechunker`]) for the callback's thread ([`AudioStream`]).

use super::pipeline::{el, Shared};
use super::plumbing::link_chain;
use super::AUDIO_RATE;

use gstreamer as gst;
use gstreamer_app as gst_app;
use gst::prelude::*;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// RMS of consecutive windows of `window` samples; a trailing partial window is left out.
#[derive(Debug, Default)]
pub(super) struct Loudness {
    window: usize,
    acc: Vec<f32>,
    pub(super) rms: Vec<f32>,
}

impl Loudness {
    pub(super) fn new(window: usize) -> Self {
        Self { window: window.max(1), acc: Vec::with_capacity(window), rms: Vec::new() }
    }

    fn push(&mut self, samples: &[f32]) {
        for &v in samples {
            self.acc.push(v);
            if self.acc.len() == self.window {
                let rms = (self.acc.iter().map(|v| v * v).sum::<f32>() / self.window as f32).sqrt();
                self.rms.push(rms);
                self.acc.clear();
            }
        }
    }
}

/// Cuts a stream of samples into chunks of `size` (the last one shorter, from [`Self::finish`]).
#[derive(Debug)]
pub(super) struct Rechunker {
    size: usize,
    acc: Vec<f32>,
}

impl Rechunker {
    pub(super) fn new(size: usize) -> Self {
        let size = size.max(1);
        Self { size, acc: Vec::with_capacity(size) }
    }

    /// Takes `samples` and returns the chunks they completed, in order.
    fn push(&mut self, mut samples: &[f32]) -> Vec<Vec<f32>> {
        let mut full = Vec::new();
        while !samples.is_empty() {
            let take = (self.size - self.acc.len()).min(samples.len());
            self.acc.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.acc.len() == self.size {
                full.push(std::mem::replace(&mut self.acc, Vec::with_capacity(self.size)));
            }
        }
        full
    }

    /// What is left after the last full chunk, if anything.
    pub(super) fn finish(&mut self) -> Option<Vec<f32>> {
        (!self.acc.is_empty()).then(|| std::mem::take(&mut self.acc))
    }
}

/// The raw-audio path of [`decode_with_audio`]: the streaming thread cuts samples into chunks
/// and sends them to the callback's thread.
pub(super) struct AudioStream {
    /// `None` once decoding ended: dropping the sender ends the callback's thread.
    pub(super) tx: Option<mpsc::SyncSender<Vec<f32>>>,
    pub(super) chunks: Rechunker,
}

pub(super) fn link_audio(pipeline: &gst::Pipeline, pad: &gst::Pad, shared: Arc<Mutex<Shared>>, stream: Option<Arc<Mutex<AudioStream>>>) -> Result<(), String> {
    let convert = el("audioconvert")?;
    let resample = el("audioresample")?;
    let caps = gst::Caps::builder("audio/x-raw").field("format", "F32LE").field("rate", AUDIO_RATE).field("channels", 1).field("layout", "interleaved").build();
    let sink = gst_app::AppSink::builder().caps(&caps).sync(false).build();
    shared.lock().unwrap_or_else(|p| p.into_inner()).has_audio = true;
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let samples: Vec<f32> = map.as_slice().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                shared.lock().unwrap_or_else(|p| p.into_inner()).loudness.push(&samples);
                if let Some(stream) = &stream {
                    // Only this thread and, after the pipeline stopped, the caller lock this:
                    // waiting on the bounded channel with it held blocks nobody else.
                    let mut st = stream.lock().unwrap_or_else(|p| p.into_inner());
                    for chunk in st.chunks.push(&samples) {
                        let tx = st.tx.as_ref().ok_or(gst::FlowError::Flushing)?;
                        // The receiver only goes away when the callback panicked.
                        tx.send(chunk).map_err(|_| gst::FlowError::Error)?;
                    }
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    link_chain(pipeline, pad, &[convert, resample, sink.upcast()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rechunker_keeps_order_and_every_sample() {
        let mut r = Rechunker::new(4);
        let input: Vec<f32> = (0..11).map(|v| v as f32).collect();
        let mut out = r.push(&input[..3]);
        assert!(out.is_empty());
        out.extend(r.push(&input[3..10]));
        assert_eq!(out, vec![vec![0.0, 1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0, 7.0]]);
        assert!(r.push(&[]).is_empty());
        out.extend(r.push(&input[10..]));
        assert_eq!(r.finish(), Some(vec![8.0, 9.0, 10.0]));
        assert_eq!(r.finish(), None, "the rest is handed over once");
        let mut exact = Rechunker::new(2);
        assert_eq!(exact.push(&[1.0, 2.0, 3.0, 4.0]).len(), 2);
        assert_eq!(exact.finish(), None);
    }

    #[test]
    fn loudness_is_rms_of_whole_windows() {
        let mut l = Loudness::new(4);
        l.push(&[1.0, -1.0, 1.0]);
        assert!(l.rms.is_empty());
        l.push(&[-1.0, 0.5, 0.5, 0.5, 0.5, 9.0]);
        assert_eq!(l.rms, vec![1.0, 0.5]);
    }
}
