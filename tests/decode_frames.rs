//! Frame k is the k-th presented frame (SPEC.md section 3), checked on generated videos whose
//! frames each carry their own index as a uniform grey level (`common::ramp_luma`): B-frames,
//! a non-zero start time, an edit list, a variable frame rate, rotation metadata, and files
//! with and without audio. Through the library (`decode::decode`, `decode::decode_only`) and,
//! for B-frames and rotation, through the binary as well.

mod common;

use common::*;
use highlightd::decode::{decode, decode_only, DecodeOptions, StreamInfo};
use serde_json::{json, Value};
use std::path::Path;

/// One decoded frame, reduced to what the tests check.
#[derive(Debug, Clone)]
struct Seen {
    index: u64,
    pts_ns: Option<u64>,
    width: u32,
    height: u32,
    /// Mean of every RGB byte.
    mean: f64,
}

fn decode_all(path: &Path, opts: &DecodeOptions) -> (StreamInfo, Vec<Seen>) {
    let mut seen = Vec::new();
    let info = decode(path, opts, |f| {
        assert_eq!(f.rgb.len(), (f.width * f.height * 3) as usize, "frame {}: packed RGB size", f.index);
        let mean = f.rgb.iter().map(|&b| f64::from(b)).sum::<f64>() / f.rgb.len().max(1) as f64;
        seen.push(Seen { index: f.index, pts_ns: f.pts_ns, width: f.width, height: f.height, mean });
    })
    .unwrap_or_else(|e| panic!("{}: decode failed: {e}", path.display()));
    (info, seen)
}

/// The grey levels of `seen` are those of source frames `first, first+1, …` in order, and
/// the indices are 0, 1, 2, … .
fn assert_ramp(what: &str, seen: &[Seen], first: u64) {
    // Neighbouring levels differ by at least 7 luma steps (8.15 in RGB): ±3.5 tells them apart.
    const TOL: f64 = 3.5;
    let mut bad = Vec::new();
    for (k, s) in seen.iter().enumerate() {
        assert_eq!(s.index, k as u64, "{what}: frame indices must count 0, 1, 2, … in delivery order");
        let want = ramp_rgb(first + k as u64);
        if (s.mean - want).abs() > TOL {
            // Which source frame it really is, for the message.
            let nearest = (0..300u64).min_by(|a, b| (ramp_rgb(*a) - s.mean).abs().total_cmp(&(ramp_rgb(*b) - s.mean).abs())).unwrap();
            bad.push(format!("frame {k}: mean {:.1}, want {want:.1} (source frame {}), looks like source frame {nearest}", s.mean, first + k as u64));
        }
    }
    assert!(bad.is_empty(), "{what}: {} frames out of order or wrong:\n{}", bad.len(), bad.iter().take(15).cloned().collect::<Vec<_>>().join("\n"));
}

fn assert_pts_increasing(what: &str, seen: &[Seen]) {
    let pts: Vec<u64> = seen.iter().map(|s| s.pts_ns.unwrap_or_else(|| panic!("{what}: frame {} has no timestamp", s.index))).collect();
    for w in pts.windows(2) {
        assert!(w[1] > w[0], "{what}: presentation timestamps not increasing: {} then {}", w[0], w[1]);
    }
}

/// ffmpeg's own count of presented frames (decoding the file, edit lists applied).
fn ffmpeg_frame_count(file: &Path) -> u64 {
    let t = ffprobe(file, &["-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]);
    first_number(&t).unwrap_or_else(|| panic!("ffprobe frame count: {t:?}")) as u64
}

/// The first number of an ffprobe CSV answer (some containers repeat the stream section).
fn first_number(text: &str) -> Option<f64> {
    text.lines().map(|l| l.trim().trim_end_matches(',')).find(|l| !l.is_empty())?.parse().ok()
}

fn picture_types(file: &Path) -> Vec<String> {
    let v = ffprobe_json(file, true);
    v["frames"].as_array().expect("ffprobe frames").iter().map(|f| f["pict_type"].as_str().unwrap_or("?").to_string()).collect()
}

fn stream_start(file: &Path) -> f64 {
    let t = ffprobe(file, &["-select_streams", "v:0", "-show_entries", "stream=start_time", "-of", "csv=p=0"]);
    first_number(&t).unwrap_or_else(|| panic!("ffprobe start_time: {t:?}"))
}

// --------------------------------------------------------------------------- 1. B-frames

#[test]
fn bframes_decode_in_presentation_order_library_and_binary() {
    let dir = tempdir();
    const N: u32 = 75;
    let file = grey_ramp(dir.path(), "bframes.mp4", N, 25, (160, 120), H264_BFRAMES, &[]);
    // The file really has B-frames (so decode order differs from presentation order).
    let types = picture_types(&file);
    assert_eq!(types.len(), N as usize, "ffprobe sees every encoded frame");
    let b = types.iter().filter(|t| *t == "B").count();
    assert!(b >= 20, "the test video must contain B-frames, ffprobe found {b}: {types:?}");

    let (info, seen) = decode_all(&file, &DecodeOptions::default());
    assert_eq!(info.frames, u64::from(N), "StreamInfo.frames");
    assert_eq!(seen.len(), N as usize, "frames delivered");
    assert_eq!((info.width, info.height, info.rotated), (160, 120, false));
    assert!((info.fps - 25.0).abs() < 0.01, "fps {}", info.fps);
    assert_ramp("B-frames (decode)", &seen, 0);
    assert_pts_increasing("B-frames", &seen);
    assert!(seen.iter().all(|s| (s.width, s.height) == (160, 120)), "analysis picture of a 160x120 source is 160x120");

    let only = decode_only(&file, &DecodeOptions::default()).expect("decode_only");
    assert_eq!((only.frames, only.width, only.height, only.rotated), (u64::from(N), 160, 120, false), "decode_only agrees: {only:?}");

    // The binary sees the same sequence: its per-frame features carry the frame's mean luma.
    let index = dir.path().join("index.jsonl");
    write_jsonl(&index, &[json!({"video_id": "bframes", "video": "bframes.mp4", "targetRatioWH": [9, 16]})]);
    let feats = dir.path().join("features");
    let out = dir.path().join("out.jsonl");
    highlightd(["predict".as_ref(), index.as_os_str(), "-o".as_ref(), out.as_os_str(), "--dump-features".as_ref(), feats.as_os_str()]).expect_success("predict --dump-features");
    let mut rows = read_jsonl(&feats.join("bframes.jsonl"));
    let header = rows.remove(0);
    assert_eq!(header["header"]["frames"].as_u64(), Some(u64::from(N)), "the dump's header: {header}");
    assert_eq!(rows.len(), N as usize, "one feature row per frame");
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r["frame"].as_u64(), Some(k as u64));
        let luma = r["f"]["luma_mean"].as_f64().expect("luma_mean");
        assert!((luma - ramp_rgb(k as u64)).abs() <= 3.5, "binary: frame {k} has luma {luma:.1}, want {:.1}", ramp_rgb(k as u64));
    }
    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), 1);
    assert_valid_predictions(&lines[0], 160.0, 120.0, u64::from(N));
}

// --------------------------------------------------------------------- 2. start time

#[test]
fn nonzero_start_time_does_not_shift_frames() {
    let dir = tempdir();
    const N: u32 = 50;
    let cases: Vec<(&str, Vec<&str>, f64)> = vec![
        // Container-level offsets. In an mp4 the offset is an empty edit before the media; it
        // stays under 80 % of the movie here because GStreamer's qtdemux drops a track shorter
        // than 20 % of the movie as a "preview" (a 2 s clip 10 s late is not playable in
        // GStreamer 1.22 at all; ffmpeg plays it).
        ("offset.mp4", vec!["-output_ts_offset", "2"], 2.0),
        ("offset.mkv", vec!["-output_ts_offset", "10"], 10.0),
        // MPEG-TS starts at 1.4 s by default (plus the B-frame delay).
        ("offset.ts", vec![], 1.4),
    ];
    for (name, extra, min_start) in &cases {
        let file = grey_ramp(dir.path(), name, N, 25, (160, 120), H264_BFRAMES, extra);
        let start = stream_start(&file);
        assert!(start >= *min_start - 0.01, "{name}: the test video must start late, ffprobe start_time {start}");
        let (info, seen) = decode_all(&file, &DecodeOptions::default());
        assert_eq!(info.frames, u64::from(N), "{name}: frame count");
        assert_ramp(name, &seen, 0);
        assert_pts_increasing(name, &seen);
        assert_eq!(decode_only(&file, &DecodeOptions::default()).expect("decode_only").frames, u64::from(N), "{name}: decode_only count");
    }
}

#[test]
fn edit_list_start_hides_the_cut_frames() {
    let dir = tempdir();
    let full = grey_ramp(dir.path(), "full.mp4", 75, 25, (160, 120), H264_BFRAMES, &[]);
    // A stream copy from 0.48 s (source frame 12, not a keyframe): the mp4 keeps the packets
    // from the previous keyframe and an edit list hides frames 0–11.
    let cut = dir.path().join("edit.mp4");
    ffmpeg(&["-ss", "0.48", "-i", full.to_str().unwrap(), "-c", "copy", cut.to_str().unwrap()]);
    let trace = std::process::Command::new("ffprobe").args(["-v", "trace"]).arg(&cut).output().expect("ffprobe");
    let trace = String::from_utf8_lossy(&trace.stderr);
    assert!(trace.contains("elst"), "the test video must carry an edit list");
    let (packets, _, _) = probe_video(&cut);
    let presented = ffmpeg_frame_count(&cut);
    assert_eq!(presented, 63, "ffmpeg presents frames 12–74");
    assert!(packets > presented, "the file must hold hidden frames: {packets} packets, {presented} presented");

    let (info, seen) = decode_all(&cut, &DecodeOptions::default());
    assert_eq!(info.frames, presented, "presented frame count (packets: {packets})");
    assert_ramp("edit list", &seen, 12);
    assert_eq!(decode_only(&cut, &DecodeOptions::default()).expect("decode_only").frames, presented, "decode_only count");
}

// ------------------------------------------------------------------ 3. variable rate

#[test]
fn variable_frame_rate_counts_every_frame_once_in_order() {
    let dir = tempdir();
    const N: u32 = 40;
    // 20 frames at 25 fps, then 20 frames at 10 fps, on a millisecond time base so that both
    // steps are exact.
    let vfr = "settb=1/1000,setpts='if(lt(N\\,20)\\,N/25/TB\\,(20/25+(N-20)/10)/TB)'";
    for name in ["vfr.mp4", "vfr.mkv"] {
        let out = dir.path().join(name);
        let src = format!("color=c=black:s=160x120:r=25,{RAMP_GEQ},{vfr}");
        let n = N.to_string();
        let mut args = vec!["-f", "lavfi", "-i", &src, "-frames:v", &n, "-fps_mode", "vfr", "-enc_time_base", "-1"];
        args.extend_from_slice(H264_BFRAMES);
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
        // The file really is variable-rate: 40 ms and 100 ms frame steps.
        let probe = ffprobe_json(&out, true);
        let ts: Vec<f64> = probe["frames"].as_array().unwrap().iter().map(|f| f["pts_time"].as_str().or(f["best_effort_timestamp_time"].as_str()).unwrap().parse().unwrap()).collect();
        assert_eq!(ts.len(), N as usize, "{name}: ffprobe frames");
        let steps: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().any(|d| (d - 0.04).abs() < 0.002) && steps.iter().any(|d| (d - 0.1).abs() < 0.002), "{name}: not variable-rate: {steps:?}");

        let (info, seen) = decode_all(&out, &DecodeOptions::default());
        assert_eq!(info.frames, u64::from(N), "{name}: every frame counted once");
        assert_ramp(name, &seen, 0);
        assert_pts_increasing(name, &seen);
        let pts: Vec<f64> = seen.iter().map(|s| s.pts_ns.unwrap() as f64 / 1e9).collect();
        for (k, w) in pts.windows(2).enumerate() {
            // Frame 20 is at 20/25 s, 40 ms after frame 19; from there on 100 ms apart.
            let want = if k < 20 { 0.04 } else { 0.1 };
            assert!((w[1] - w[0] - want).abs() < 0.002, "{name}: frame {} comes {:.3} s after frame {k}, want {want}", k + 1, w[1] - w[0]);
        }
        assert_eq!(decode_only(&out, &DecodeOptions::default()).expect("decode_only").frames, u64::from(N), "{name}: decode_only count");
    }
}

// ---------------------------------------------------------------------- 4. rotation

/// A 160×96 landscape-coded file (moving `testsrc2` with its left half painted white, so the
/// turn's direction can be seen), tagged to display turned by 90°.
fn rotated_file(dir: &Path) -> std::path::PathBuf {
    let plain = dir.join("plain.mp4");
    let src = "testsrc2=s=160x96:r=25:d=2,drawbox=x=0:y=0:w=80:h=96:color=white:t=fill";
    let mut args = vec!["-f", "lavfi", "-i", src];
    args.extend_from_slice(H264);
    args.push(plain.to_str().unwrap());
    ffmpeg(&args);
    let rot = dir.join("rotated.mp4");
    ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=90", rot.to_str().unwrap()]);
    // The tag really is there, as a display matrix.
    let v = ffprobe_json(&rot, false);
    let st = &v["streams"][0];
    let side: Vec<&Value> = st["side_data_list"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let rotation = side.iter().find_map(|s| s["rotation"].as_f64()).or_else(|| st["tags"]["rotate"].as_str().and_then(|r| r.parse().ok()));
    assert!(rotation.is_some_and(|r| (r.abs() - 90.0).abs() < 1e-6), "rotated.mp4 must carry a 90° display matrix; ffprobe: {st}");
    assert_eq!((st["width"].as_u64(), st["height"].as_u64()), (Some(160), Some(96)), "coded size stays landscape");
    rot
}

/// Mean grey of the top and bottom halves of a packed RGB picture.
fn halves(rgb: &[u8], w: usize, h: usize) -> (f64, f64) {
    let row = w * 3;
    let mean = |rows: std::ops::Range<usize>| {
        let n = rows.len() * row;
        rows.flat_map(|y| rgb[y * row..(y + 1) * row].iter()).map(|&b| f64::from(b)).sum::<f64>() / n as f64
    };
    (mean(0..h / 2), mean(h / 2..h))
}

#[test]
fn rotation_metadata_gives_displayed_size_and_valid_windows() {
    let dir = tempdir();
    let file = rotated_file(dir.path());

    // What ffmpeg shows (it applies the display matrix): which half is the white one?
    let raw = dir.path().join("first.gray");
    ffmpeg(&["-i", file.to_str().unwrap(), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", raw.to_str().unwrap()]);
    let ff = std::fs::read(&raw).unwrap();
    assert_eq!(ff.len(), 96 * 160 * 3, "ffmpeg displays the file as 96x160");
    let (ff_top, ff_bottom) = halves(&ff, 96, 160);
    assert!((ff_top - ff_bottom).abs() > 40.0, "the white half must be visible after rotation: {ff_top:.0} / {ff_bottom:.0}");

    let mut first = None;
    let info = decode(&file, &DecodeOptions::default(), |f| {
        if first.is_none() {
            first = Some(f.clone());
        }
        assert_eq!((f.width, f.height), (96, 160), "frame {}: analysis picture is the displayed (portrait) picture", f.index);
    })
    .expect("decode");
    assert_eq!((info.width, info.height, info.rotated), (96, 160, true), "StreamInfo: {info:?}");
    assert_eq!(info.frames, 50);
    let f = first.expect("a frame");
    let (top, bottom) = halves(&f.rgb, 96, 160);
    assert_eq!(top > bottom, ff_top > ff_bottom, "turned the other way than ffmpeg shows it: gst top/bottom {top:.0}/{bottom:.0}, ffmpeg {ff_top:.0}/{ff_bottom:.0}");

    let only = decode_only(&file, &DecodeOptions::default()).expect("decode_only");
    assert_eq!((only.width, only.height, only.rotated, only.frames), (96, 160, true, 50), "decode_only: {only:?}");

    // The binary frames it as a 96×160 picture: a 16:9 window spans the full width (96), a
    // 9:16 one fits the height.
    let index = dir.path().join("index.jsonl");
    write_jsonl(
        &index,
        &[
            json!({"video_id": "land", "video": "rotated.mp4", "targetRatioWH": [16, 9]}),
            json!({"video_id": "port", "video": "rotated.mp4", "targetRatioWH": [9, 16]}),
        ],
    );
    let out = dir.path().join("out.jsonl");
    highlightd(["predict".as_ref(), index.as_os_str(), "-o".as_ref(), out.as_os_str()]).expect_success("predict");
    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert!(!predictions(l).is_empty(), "moving content must give predictions: {l}");
        assert_valid_predictions(l, 96.0, 160.0, 50);
    }
    for p in predictions(&lines[0]) {
        assert_eq!(bbox(p)[2], 96.0, "16:9 window on a 96x160 picture is the full width: {p}");
    }
    // validate agrees, with sizes it reads from the file itself.
    highlightd(["validate".as_ref(), out.as_os_str(), index.as_os_str()]).expect_success("validate");
}

// ------------------------------------------------------------------------- 5. audio

#[test]
fn files_with_and_without_audio_decode() {
    let dir = tempdir();
    let with = moving_with_sine(dir.path(), "with_audio.mp4", 2.0, (160, 96), 25);
    let without = pattern(dir.path(), "without_audio.mp4", 2.0, (160, 96), 25);
    let v = ffprobe_json(&with, false);
    assert!(v["streams"].as_array().unwrap().iter().any(|s| s["codec_type"] == "audio"), "with_audio.mp4 must have an audio stream");
    let duration: f64 = v["format"]["duration"].as_str().unwrap().parse().unwrap();

    let (info, seen) = decode_all(&with, &DecodeOptions::default());
    assert_eq!(info.frames, 50);
    assert_eq!(seen.len(), 50);
    let audio = info.audio.as_ref().expect("audio: Some for a file with an audio track");
    assert!((audio.window_s - 0.02).abs() < 1e-9);
    let expected = duration / 0.02;
    let n = audio.rms.len() as f64;
    assert!((n - expected).abs() <= 0.1 * expected, "{n} RMS windows for {duration:.2} s (want {expected:.0} ± 10 %)");
    // A steady sine at ffmpeg's default amplitude (1/8): RMS about 0.088 in the middle.
    let mut mid: Vec<f32> = audio.rms[audio.rms.len() / 4..audio.rms.len() * 3 / 4].to_vec();
    mid.sort_by(|a, b| a.total_cmp(b));
    let median = f64::from(mid[mid.len() / 2]);
    assert!((0.03..0.3).contains(&median), "median RMS of the sine {median}");

    let (info2, seen2) = decode_all(&without, &DecodeOptions::default());
    assert_eq!(info2.frames, 50);
    assert_eq!(seen2.len(), 50);
    assert!(info2.audio.is_none(), "no audio track: audio must be None, got {:?}", info2.audio.as_ref().map(|a| a.rms.len()));

    // Audio off: the track is ignored, the video is the same.
    let (info3, _) = decode_all(&with, &DecodeOptions { audio: false, ..DecodeOptions::default() });
    assert_eq!(info3.frames, 50);
    assert!(info3.audio.is_none());
}
