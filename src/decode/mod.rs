//! Decoding with GStreamer: every presented frame, in order, as a small RGB picture for
//! analysis (optionally with a larger "detail" picture on sampled frames, for neural
//! networks), plus the audio track as short-window loudness and, on request, as raw mono
//! 16 kHz samples streamed to a callback.
//!
//! Frame k is the k-th buffer the decoder presents (after the demuxer applied edit lists and
//! segment clipping, as a player would). Nothing re-times or drops frames on the way: there is
//! no `videorate`, the sink does not sync to a clock and QoS is off. Rotation metadata is
//! applied (`videoflip video-direction=auto`) after scaling, so it costs nothing at full size.
//!
//! With [`DecodeOptions::detail`] set, the decoded video is split by a `tee` into the analysis
//! branch and a detail branch. The detail branch drops the frames it does not sample before
//! its scaler (a pad probe that counts buffers), so the cost of the large picture is paid only
//! on sampled frames; both branches count the same tee buffers, which is what makes detail
//! picture `k` belong to analysis frame `k` (the timestamps are checked as well).
//!
//! The module is split by what each part holds: `pipeline` builds the decode pipeline and
//! runs the loop that hands frames to the caller; `video` and `audio` are the branches
//! linked for each decoded stream; `probe` holds the passes that only learn about a file
//! (the decode-only frame count, the prerolled frame rate and duration); `container` looks at an
//! MP4's top-level boxes first, so that a recording cut short fails at once, named as such,
//! rather than after the start-up bound. This file keeps the
//! public types, and re-exports the entry points so that their paths stay `crate::decode::…`.

pub mod hardware;
pub(crate) mod plumbing;

mod audio;
mod container;
mod pipeline;
mod probe;
mod video;

pub use pipeline::{decode, decode_with_audio};
pub use probe::{decode_only, orientation_swaps_axes, probe_frames, probe_stream};
pub use video::analysis_size;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What went wrong decoding one file; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{path}: cannot initialise GStreamer: {msg}")]
    Init { path: PathBuf, msg: String },
    #[error("{path}: file not found or not readable")]
    NotReadable { path: PathBuf },
    #[error("{path}: {source}")]
    Incomplete { path: PathBuf, source: container::Incomplete },
    #[error("{path}: cannot build the decode pipeline: {msg}")]
    Pipeline { path: PathBuf, msg: String },
    #[error("{path}: decoding failed: {msg}")]
    Stream { path: PathBuf, msg: String },
    #[error("{path}: no video stream")]
    NoVideo { path: PathBuf },
    #[error("{path}: no frame decoded within {secs} s")]
    Stalled { path: PathBuf, secs: u64 },
    #[error("{path}: no video stream found within {secs} s (truncated, or not a video)")]
    NoStreamFound { path: PathBuf, secs: u64 },
    /// Frames kept coming but the whole decode outlived its deadline (a stream whose
    /// timestamps never reach the end its container announced, or a lying duration).
    #[error("{path}: decoding stopped after its deadline of {secs:.1} s ({why})")]
    Deadline { path: PathBuf, secs: f64, why: String },
}

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    /// Longest side of the analysis picture, in pixels.
    pub analysis_side: u32,
    /// Read the audio track (mono, 16 kHz) when there is one.
    pub audio: bool,
    /// Give up when no frame or message arrives for this long.
    pub stall_timeout: Duration,
    /// A larger picture on sampled frames (for neural networks); `None` costs nothing.
    pub detail: Option<DetailOptions>,
    /// Longest the whole decode may take, with how it was derived (for the message); `None`:
    /// no limit. The stall timeout only catches a file that stops producing frames; this
    /// bounds one that never stops.
    pub deadline: Option<Deadline>,
}

/// A whole-decode time limit and the reason it has the value it has (quoted in the error).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deadline {
    pub limit: Duration,
    /// The probed duration it was derived from, seconds (`None`: unknown, assumed).
    pub from_duration_s: Option<f64>,
}

impl Deadline {
    fn error(&self, path: &Path) -> DecodeError {
        let why = match self.from_duration_s {
            Some(d) => format!("video of {d:.1} s; serve.decode_deadline_factor × duration + serve.decode_deadline_floor_s"),
            None => "duration unknown; serve.decode_deadline_factor × serve.max_duration_s + serve.decode_deadline_floor_s".to_string(),
        };
        DecodeError::Deadline { path: path.into(), secs: self.limit.as_secs_f64(), why }
    }
}

/// Which frames get a detail picture, and how large it is.
///
/// Neural networks want more pixels than the analysis picture has, but scaling and converting
/// a large picture on every frame would cost more than the rest of the analysis: the detail
/// picture is made only for every `every`-th presented frame (frame 0 always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailOptions {
    /// Longest side of the detail picture, in pixels (aspect kept, both sides even, never
    /// larger than the source; see [`analysis_size`]).
    pub side: u32,
    /// Keep every `every`-th presented frame: 0, every, 2·every, … (0 counts as 1).
    pub every: u32,
}

impl DetailOptions {
    /// Whether presented frame `index` gets a detail picture.
    pub fn samples(&self, index: u64) -> bool {
        index.is_multiple_of(u64::from(self.every.max(1)))
    }
}

impl DecodeOptions {
    /// How long a file may take to show its streams. A local file does so in milliseconds on
    /// an idle machine, but the first file of a process also loads the demuxer and decoder
    /// plugins, and on a loaded two-core box that took over 5 s once (session 20: `validate`
    /// gave up on dev2's first video while two test lanes and other jobs ran). GStreamer
    /// 1.22's decodebin sometimes swallows the demuxer's error on a truncated MP4 (no `moov`),
    /// and the pipeline then stays silent. `container` catches the usual form of that file
    /// before GStreamer opens it; this bounds whatever other file goes quiet so, well under
    /// the stall timeout.
    pub fn startup_timeout(&self) -> Duration {
        self.stall_timeout.min(Duration::from_secs(20))
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self { analysis_side: 192, audio: true, stall_timeout: Duration::from_secs(60), detail: None, deadline: None }
    }
}

/// One decoded frame, scaled for analysis, rotated as displayed, packed RGB rows.
#[derive(Debug, Clone)]
pub struct AnalysisFrame {
    pub index: u64,
    pub pts_ns: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    /// The detail picture of this frame, when [`DecodeOptions::detail`] samples it.
    pub detail: Option<DetailImage>,
}

/// A sampled frame at detail size, rotated as displayed, packed RGB rows (`width * 3` bytes
/// each, no padding).
#[derive(Debug, Clone, PartialEq)]
pub struct DetailImage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// Audio loudness: RMS of consecutive windows of `window_s` seconds, from the stream start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioLoudness {
    pub window_s: f64,
    pub rms: Vec<f32>,
}

/// What the decoder learnt about the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// Picture size as displayed (after rotation).
    pub width: u32,
    pub height: u32,
    /// Frames presented.
    pub frames: u64,
    /// Nominal frame rate, or the measured one for variable-rate streams.
    pub fps: f64,
    /// Whether rotation metadata turned the picture by 90° or 270°.
    pub rotated: bool,
    /// The decoder element decodebin picked.
    pub decoder: Option<String>,
    pub audio: Option<AudioLoudness>,
    pub decode_seconds: f64,
}

/// Sample rate of the mono audio the decoder reads (RMS windows and raw samples).
pub const AUDIO_RATE: i32 = 16_000;
/// Raw audio reaches the callback of [`decode_with_audio`] in chunks of this many samples
/// (0.256 s; the last chunk of a track is shorter). Larger than a decoder buffer (about 370
/// samples at 16 kHz for AAC) so a callback's fixed cost per call is paid a few times a
/// second, small enough that nothing waits long.
pub const AUDIO_CHUNK_SAMPLES: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_samples_every_nth_frame_from_zero() {
        let d = DetailOptions { side: 640, every: 5 };
        let kept: Vec<u64> = (0..12).filter(|&i| d.samples(i)).collect();
        assert_eq!(kept, vec![0, 5, 10]);
        assert!((0..4).all(|i| DetailOptions { side: 640, every: 1 }.samples(i)));
        // 0 is taken as 1 rather than dividing by zero.
        assert!((0..4).all(|i| DetailOptions { side: 640, every: 0 }.samples(i)));
    }
}
