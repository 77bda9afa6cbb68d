//! `highlightd render` end to end: a generated source with a red marker, rendered through a
//! window that contains it (and one that does not), checked with ffprobe and by decoding the
//! output frames.

use highlightd::format::AspectRatio;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_highlightd");

fn tool(name: &str) -> String {
    let ok = Command::new(name).arg("-version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "`{name}` is needed by this test (Debian package ffmpeg); run scripts/setup.sh");
    name.to_string()
}

/// 2 s, 320×180, 25 fps: grey with a red 30×30 square at (240, 80), and a 440 Hz tone.
fn make_source(dir: &Path) -> PathBuf {
    let out = dir.join("src.mp4");
    let st = Command::new(tool("ffmpeg"))
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x180:r=25:d=2,drawbox=x=240:y=80:w=30:h=30:color=red:t=fill"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-bf", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success(), "ffmpeg could not make the source");
    out
}

/// Prediction line with a 9:16 window of width 100 at `x` on frames 5–29 and 35–44.
fn write_predictions(dir: &Path, x: u32) -> PathBuf {
    let preds: Vec<String> = (5..30).chain(35..45).map(|f| format!(r#"{{"frame":{f},"bboxes":[{x},0,100]}}"#)).collect();
    let line = format!(r#"{{"video_id":"s","video":"src.mp4","targetRatioWH":[9,16],"predictions":[{}]}}"#, preds.join(","));
    let p = dir.join(format!("p{x}.jsonl"));
    std::fs::write(&p, line + "\n").expect("write predictions");
    p
}

fn render(dir: &Path, preds: &Path, out: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(out);
    let o = Command::new(BIN)
        .arg("render")
        .arg(dir.join("src.mp4"))
        .arg("--predictions")
        .arg(preds)
        .args(["--video-id", "s", "-o"])
        .arg(&out)
        .args(extra)
        .output()
        .expect("run render");
    assert!(o.status.success(), "render failed: {}", String::from_utf8_lossy(&o.stderr));
    out
}

/// `codec_type,width,height,nb_read_frames` per stream and the container duration.
fn probe(file: &Path) -> (Vec<Vec<String>>, f64) {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries", "stream=codec_type,width,height,nb_read_frames", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    let streams = String::from_utf8_lossy(&o.stdout).lines().map(|l| l.split(',').map(str::to_string).collect()).collect();
    let d = Command::new("ffprobe").args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]).arg(file).output().expect("ffprobe runs");
    let dur = String::from_utf8_lossy(&d.stdout).trim().parse().unwrap_or(-1.0);
    (streams, dur)
}

/// RGB of output frame `n`.
fn frame_rgb(file: &Path, n: u32) -> Vec<u8> {
    let o = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(file)
        .args(["-vf", &format!("select=eq(n\\,{n})"), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg decodes");
    o.stdout
}

fn red_share(rgb: &[u8]) -> f64 {
    let px = rgb.chunks_exact(3).count().max(1);
    rgb.chunks_exact(3).filter(|p| p[0] > 150 && p[1] < 90 && p[2] < 90).count() as f64 / px as f64
}

#[test]
fn render_plays_the_selected_frames_through_the_window_with_audio() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_source(dir.path());
    let out = render(dir.path(), &write_predictions(dir.path(), 200), "short.mp4", &[]);
    let (streams, duration) = probe(&out);
    let video = streams.iter().find(|s| s.first().map(String::as_str) == Some("video")).expect("a video stream");
    let audio = streams.iter().find(|s| s.first().map(String::as_str) == Some("audio"));
    assert!(audio.is_some(), "no audio stream in {streams:?}");
    // Crop 100×176 (even sides), scaled towards 1080×1920 but at most 2×.
    let (ow, oh) = highlightd::render::output_size(100, 176, AspectRatio::new(9, 16).unwrap(), 1920, 2.0);
    assert_eq!((video[1].parse::<u32>().unwrap(), video[2].parse::<u32>().unwrap()), (ow, oh));
    assert!((f64::from(ow) / f64::from(oh) - 9.0 / 16.0).abs() < 0.02);
    assert_eq!(video[3], "35", "frame count must equal the selected frames");
    assert!((duration - 35.0 / 25.0).abs() < 0.1, "duration {duration}");
    // The red square (x 240–270 in the source) is at 40–70 of the 100-wide window: present.
    let rgb = frame_rgb(&out, 10);
    assert_eq!(rgb.len(), (ow * oh * 3) as usize);
    let share = red_share(&rgb);
    assert!(share > 0.03, "marker missing from the output frame (red share {share})");
    // ... at the right place: the centre of the square, in output pixels.
    let (cx, cy) = ((55.0 / 100.0 * f64::from(ow)) as usize, (95.0 / 176.0 * f64::from(oh)) as usize);
    let i = (cy * ow as usize + cx) * 3;
    assert!(rgb[i] > 150 && rgb[i + 1] < 90, "pixel at the marker's place is {:?}", &rgb[i..i + 3]);
}

#[test]
fn a_window_away_from_the_marker_does_not_show_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_source(dir.path());
    let out = render(dir.path(), &write_predictions(dir.path(), 0), "left.mp4", &[]);
    let share = red_share(&frame_rgb(&out, 10));
    assert!(share < 0.001, "marker visible through a window that excludes it ({share})");
}

#[test]
fn crossfade_overlaps_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_source(dir.path());
    // 0.2 s at 25 fps = 5 frames overlap at the one join.
    let out = render(dir.path(), &write_predictions(dir.path(), 200), "fade.mp4", &["--crossfade", "0.2"]);
    let (streams, _) = probe(&out);
    let video = streams.iter().find(|s| s.first().map(String::as_str) == Some("video")).expect("a video stream");
    assert_eq!(video[3], "30");
}

#[test]
fn empty_prediction_list_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_source(dir.path());
    let p = dir.path().join("empty.jsonl");
    std::fs::write(&p, "{\"video_id\":\"s\",\"targetRatioWH\":[9,16],\"predictions\":[]}\n").unwrap();
    let out = dir.path().join("none.mp4");
    let o = Command::new(BIN).arg("render").arg(dir.path().join("src.mp4")).arg("--predictions").arg(&p).args(["--video-id", "s", "-o"]).arg(&out).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to render"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists());
}

/// `-o /dev/null` (a dry run) and a named pipe get the finished MP4 copied in; neither is
/// replaced by a regular file, as a rename over it would (run as root, `/dev/null` itself).
#[test]
fn a_device_or_a_pipe_gets_the_short_and_stays_what_it_is() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("tempdir");
    make_source(dir.path());
    let preds = write_predictions(dir.path(), 200);
    render(dir.path(), &preds, "/dev/null", &[]);
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    let fifo = dir.path().join("pipe.mp4");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read the pipe"))
    };
    render(dir.path(), &preds, "pipe.mp4", &[]);
    let bytes = reader.join().unwrap();
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let copy = dir.path().join("from-pipe.mp4");
    std::fs::write(&copy, bytes).unwrap();
    let (streams, _) = probe(&copy);
    let video = streams.iter().find(|s| s.first().map(String::as_str) == Some("video")).expect("a video stream");
    assert_eq!(video[3], "35", "the whole short came through the pipe");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".part")), "a staged file was left: {names:?}");
}
