//! The detail picture and the raw audio of `decode`.
//!
//! Detail: frame k's detail picture must be frame k (not a neighbour), checked on generated
//! videos whose frames each carry their own grey level (`common::ramp_luma`) plus a white
//! corner (so that a wrong turn shows): the detail picture, shrunk to the analysis size, must
//! look like analysis frame k and like no other frame. With B-frames, rotation metadata, an
//! edit list, and a 1080p file (same frames with the detail on and off).
//!
//! Audio: a sine track arrives as about duration × 16000 samples at the right frequency, in
//! chunks, while the callback is slow; a file without audio never calls the callback.

mod common;

use common::*;
use highlightd::decode::{decode, decode_with_audio, AnalysisFrame, DecodeOptions, DetailOptions, StreamInfo, AUDIO_CHUNK_SAMPLES};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn decode_frames(path: &Path, opts: &DecodeOptions) -> (StreamInfo, Vec<AnalysisFrame>) {
    let mut frames = Vec::new();
    let info = decode(path, opts, |f| frames.push(f)).unwrap_or_else(|e| panic!("{}: decode failed: {e}", path.display()));
    (info, frames)
}

fn opts(analysis_side: u32, detail: Option<DetailOptions>) -> DecodeOptions {
    DecodeOptions { analysis_side, audio: false, detail, ..DecodeOptions::default() }
}

/// `frames` frames of 320×192: frame N uniformly grey at `ramp_luma(N)` (under 63 frames:
/// frame 63 comes back to within one grey level of frame 0), with a white
/// 80×96 box in the top-left corner (so that every turn and flip changes the picture).
fn ramp_with_corner(dir: &Path, name: &str, frames: u32, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let src = format!("color=c=black:s=320x192:r=25,{RAMP_GEQ},drawbox=x=0:y=0:w=80:h=96:color=white:t=fill");
    let n = frames.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &src, "-frames:v", &n];
    args.extend_from_slice(H264_BFRAMES);
    args.extend_from_slice(extra);
    args.push(out.to_str().expect("utf-8 path"));
    ffmpeg(&args);
    out
}

/// Box-filter shrink of a packed RGB picture to `w × h`.
fn shrink(rgb: &[u8], sw: usize, sh: usize, w: usize, h: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        let (y0, y1) = (y * sh / h, ((y + 1) * sh / h).max(y * sh / h + 1));
        for x in 0..w {
            let (x0, x1) = (x * sw / w, ((x + 1) * sw / w).max(x * sw / w + 1));
            for c in 0..3 {
                let mut sum = 0.0;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        sum += f64::from(rgb[(yy * sw + xx) * 3 + c]);
                    }
                }
                out.push(sum / ((y1 - y0) * (x1 - x0)) as f64);
            }
        }
    }
    out
}

fn mean_abs_diff(a: &[f64], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, &y)| (x - f64::from(y)).abs()).sum::<f64>() / a.len() as f64
}

/// Every sampled frame (and only those) has a detail picture of `size`, and that picture,
/// shrunk to the analysis size, is closest to its own analysis frame, and close.
fn assert_details_match(what: &str, frames: &[AnalysisFrame], d: DetailOptions, size: (u32, u32)) {
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f.index, k as u64, "{what}: indices count 0, 1, 2, …");
        let Some(p) = &f.detail else {
            assert!(!d.samples(f.index), "{what}: frame {k} is sampled but has no detail picture");
            continue;
        };
        assert!(d.samples(f.index), "{what}: frame {k} is not sampled but has a detail picture");
        assert_eq!((p.width, p.height), size, "{what}: frame {k} detail size");
        assert_eq!(p.rgb.len(), (p.width * p.height * 3) as usize, "{what}: frame {k}: packed RGB");
        let small = shrink(&p.rgb, p.width as usize, p.height as usize, f.width as usize, f.height as usize);
        let diffs: Vec<f64> = frames.iter().map(|g| mean_abs_diff(&small, &g.rgb)).collect();
        let (best, best_diff) = diffs.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).expect("frames");
        assert_eq!(best, k, "{what}: the detail picture of frame {k} looks like frame {best} (diff {best_diff:.2}; own {:.2})", diffs[k]);
        assert!(diffs[k] < 4.0, "{what}: frame {k}: detail picture differs from its analysis picture by {:.2} on average", diffs[k]);
    }
    let want = frames.iter().filter(|f| d.samples(f.index)).count();
    assert_eq!(frames.iter().filter(|f| f.detail.is_some()).count(), want, "{what}: detail pictures");
}

#[test]
fn detail_picture_is_the_same_frame_with_bframes() {
    let dir = tempdir();
    let file = ramp_with_corner(dir.path(), "bframes.mp4", 62, &[]);
    let b = ffprobe_json(&file, true)["frames"].as_array().expect("frames").iter().filter(|f| f["pict_type"] == "B").count();
    assert!(b >= 20, "the test video must contain B-frames, ffprobe found {b}");

    let (plain_info, plain) = decode_frames(&file, &opts(96, None));
    assert!(plain.iter().all(|f| f.detail.is_none()), "detail: None gives no detail pictures");
    for every in [1, 3, 7] {
        let d = DetailOptions { side: 240, every };
        let (info, frames) = decode_frames(&file, &opts(96, Some(d)));
        assert_eq!(info, StreamInfo { decode_seconds: info.decode_seconds, ..plain_info.clone() }, "every {every}: same stream info");
        assert_eq!(frames.len(), 62, "every {every}: frame count");
        for (a, b) in frames.iter().zip(&plain) {
            assert!(a.rgb == b.rgb && a.pts_ns == b.pts_ns, "every {every}: frame {}: the analysis picture must not change with the detail on", a.index);
        }
        assert_details_match(&format!("B-frames, every {every}"), &frames, d, (240, 144));
    }
}

#[test]
fn detail_picture_follows_rotation_metadata() {
    let dir = tempdir();
    let plain = ramp_with_corner(dir.path(), "plain.mp4", 50, &[]);
    let rot = dir.path().join("rotated.mp4");
    ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=90", rot.to_str().unwrap()]);
    let d = DetailOptions { side: 240, every: 4 };
    let (info, frames) = decode_frames(&rot, &opts(96, Some(d)));
    assert_eq!((info.width, info.height, info.rotated, info.frames), (192, 320, true, 50), "{info:?}");
    assert!(frames.iter().all(|f| (f.width, f.height) == (58, 96)), "portrait analysis pictures");
    // Turned the same way as the analysis picture (which tests/decode_frames.rs checks against
    // ffmpeg): a turn the other way would put the white corner elsewhere.
    assert_details_match("rotated", &frames, d, (144, 240));
}

#[test]
fn detail_picture_with_an_edit_list() {
    let dir = tempdir();
    let full = ramp_with_corner(dir.path(), "full.mp4", 75, &[]);
    // Starts at a non-keyframe: the decoder decodes frames 0–11 and hides them.
    let cut = dir.path().join("edit.mp4");
    ffmpeg(&["-ss", "0.48", "-i", full.to_str().unwrap(), "-c", "copy", cut.to_str().unwrap()]);
    let (_, plain) = decode_frames(&cut, &opts(96, None));
    let d = DetailOptions { side: 160, every: 2 };
    let (_, frames) = decode_frames(&cut, &opts(96, Some(d)));
    assert_eq!(frames.len(), plain.len(), "same presented frames");
    assert!((60..=66).contains(&frames.len()), "{} frames presented", frames.len());
    assert_details_match("edit list", &frames, d, (160, 96));
}

#[test]
fn detail_on_1080p_delivers_the_same_frames() {
    let dir = tempdir();
    let file = pattern(dir.path(), "hd.mp4", 2.0, (1920, 1080), 25);
    let (info, plain) = decode_frames(&file, &DecodeOptions { audio: false, ..DecodeOptions::default() });
    assert_eq!(info.frames, 50);
    for every in [5, 1] {
        let d = DetailOptions { side: 640, every };
        let (info2, frames) = decode_frames(&file, &DecodeOptions { audio: false, detail: Some(d), ..DecodeOptions::default() });
        assert_eq!(info2.frames, info.frames, "every {every}: frame count with the detail on");
        assert_eq!(frames.len(), plain.len());
        for (a, b) in frames.iter().zip(&plain) {
            assert!(a.rgb == b.rgb, "every {every}: frame {}: analysis picture changed", a.index);
        }
        assert_details_match(&format!("1080p every {every}"), &frames, d, (640, 360));
    }
}

// ------------------------------------------------------------------------------ audio

/// Frequency of a sine from its zero crossings (rising and falling).
fn zero_crossing_hz(samples: &[f32], rate: f64) -> f64 {
    let crossings = samples.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    crossings as f64 / 2.0 / (samples.len() as f64 / rate)
}

#[test]
fn raw_audio_streams_the_sine_at_16k() {
    let dir = tempdir();
    let file = moving_with_sine(dir.path(), "sine.mp4", 3.0, (160, 96), 25);
    let duration: f64 = ffprobe_json(&file, false)["streams"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["codec_type"] == "audio"))
        .and_then(|s| s["duration"].as_str())
        .and_then(|d| d.parse().ok())
        .expect("audio stream duration");

    let mut samples = Vec::new();
    let mut calls = Vec::new();
    let mut frames = 0u64;
    let started = Instant::now();
    let info = decode_with_audio(&file, &DecodeOptions::default(), |_| frames += 1, |chunk| {
        calls.push(chunk.len());
        samples.extend_from_slice(chunk);
        // A callback with real work to do must not stop the video.
        std::thread::sleep(Duration::from_millis(5));
    })
    .expect("decode_with_audio");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!((info.frames, frames), (75, 75), "every video frame still arrives");

    let want = duration * 16_000.0;
    let n = samples.len() as f64;
    assert!((n - want).abs() <= 0.02 * want, "{n} samples for {duration:.3} s of audio (want {want:.0} ± 2 %)");
    // Streamed in chunks, never the whole track at once.
    assert!(calls.len() >= 10, "{} calls", calls.len());
    assert!(calls.iter().all(|&c| c > 0 && c <= AUDIO_CHUNK_SAMPLES), "chunk sizes {calls:?}");
    assert!(calls[..calls.len() - 1].iter().all(|&c| c == AUDIO_CHUNK_SAMPLES), "all chunks but the last are full: {calls:?}");
    // The middle of the track is the 440 Hz sine at ffmpeg's amplitude 1/8.
    let mid = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let hz = zero_crossing_hz(mid, 16_000.0);
    assert!((hz - 440.0).abs() < 440.0 * 0.01, "zero crossings say {hz:.1} Hz, want 440");
    let peak = mid.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((0.08..0.2).contains(&peak), "peak {peak}");

    // The loudness is the same as without the raw samples.
    let plain = decode(&file, &DecodeOptions::default(), |_| {}).expect("decode");
    assert_eq!(plain.audio, info.audio, "RMS windows unchanged");
    let rms = info.audio.expect("loudness");
    assert_eq!(rms.rms.len(), samples.len() / 320, "one RMS window per 320 samples delivered");
}

#[test]
fn raw_audio_with_detail_on() {
    let dir = tempdir();
    let file = moving_with_sine(dir.path(), "sine.mp4", 2.0, (320, 192), 25);
    let calls = AtomicUsize::new(0);
    let mut details = 0;
    let info = decode_with_audio(&file, &DecodeOptions { detail: Some(DetailOptions { side: 240, every: 5 }), ..DecodeOptions::default() }, |f| details += usize::from(f.detail.is_some()), |c| {
        calls.fetch_add(c.len(), Ordering::Relaxed);
    })
    .expect("decode_with_audio");
    assert_eq!((info.frames, details), (50, 10));
    let n = calls.load(Ordering::Relaxed) as f64;
    assert!((n - 32_000.0).abs() < 0.03 * 32_000.0, "{n} samples");
}

#[test]
fn raw_audio_callback_is_never_called_without_audio() {
    let dir = tempdir();
    let silent = pattern(dir.path(), "silent.mp4", 2.0, (160, 96), 25);
    let calls = AtomicUsize::new(0);
    let info = decode_with_audio(&silent, &DecodeOptions::default(), |_| {}, |_| {
        calls.fetch_add(1, Ordering::Relaxed);
    })
    .expect("decode_with_audio");
    assert_eq!(info.frames, 50);
    assert!(info.audio.is_none());
    assert_eq!(calls.load(Ordering::Relaxed), 0, "no audio track: no call");

    // Audio switched off: the track is not read.
    let sine = moving_with_sine(dir.path(), "sine.mp4", 2.0, (160, 96), 25);
    let info = decode_with_audio(&sine, &DecodeOptions { audio: false, ..DecodeOptions::default() }, |_| {}, |_| {
        calls.fetch_add(1, Ordering::Relaxed);
    })
    .expect("decode_with_audio");
    assert_eq!(info.frames, 50);
    assert_eq!(calls.load(Ordering::Relaxed), 0, "audio off: no call");

    // No video at all: an error, promptly, not a hang.
    let only = audio_only(dir.path(), "only.mp4", 2.0);
    let started = Instant::now();
    let res = decode_with_audio(&only, &DecodeOptions { stall_timeout: Duration::from_secs(10), ..DecodeOptions::default() }, |_| {}, |_| {});
    assert!(res.is_err(), "an audio-only file is not a video: {res:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
}

// ------------------------------------------------------------------------------ timing

/// Decode speed on the 1080p bench file (`scripts/bench.sh` makes it), with the detail off
/// and with `{side: 640, every: 5}`, best of three:
/// `cargo test --release --test decode_detail -- --ignored --nocapture`.
/// `HIGHLIGHTD_BENCH_VIDEO` names another file.
#[test]
#[ignore]
fn time_detail_on_1080p() {
    let file = std::env::var_os("HIGHLIGHTD_BENCH_VIDEO").map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("highlightd-bench-1080p.mp4"));
    assert!(file.exists(), "{}: missing; run scripts/bench.sh once to make it", file.display());
    for (name, detail) in [("detail off", None), ("detail 640/5", Some(DetailOptions { side: 640, every: 5 })), ("detail 640/1", Some(DetailOptions { side: 640, every: 1 }))] {
        let (mut best, mut best_cpu) = (f64::MAX, f64::MAX);
        let mut frames = 0;
        for _ in 0..3 {
            let cpu = cpu_seconds();
            let info = decode(&file, &DecodeOptions { audio: false, detail, ..DecodeOptions::default() }, |_| {}).expect("decode");
            best_cpu = best_cpu.min(cpu_seconds() - cpu);
            best = best.min(info.decode_seconds);
            frames = info.frames;
        }
        println!("{name:<14} {frames} frames in {best:.2} s = {:.1} frames/s; CPU {best_cpu:.2} s", frames as f64 / best);
    }
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, 100 ticks/s): on a
/// shared machine wall time says little about what a change costs.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start at state = field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).expect("stat format");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f[i].parse::<f64>().expect("tick count") / 100.0;
    tick(11) + tick(12)
}
