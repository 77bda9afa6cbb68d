//! Shared helpers of the integration tests: the binary under test, test videos generated on
//! the fly with `ffmpeg` (or `gst-launch-1.0`) into a temporary folder, running the binary and
//! reading its JSONL output.
//!
//! Nothing is cached outside the caller's temporary folder. A missing generator tool makes
//! the calling test fail with a message naming the tool: no test passes without its videos.

#![allow(dead_code)]

use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

// ------------------------------------------------------------------------- the binary

/// The `highlightd` binary Cargo built for these tests, or the one named by
/// `HIGHLIGHTD_TEST_BIN`: that is how a new test is shown to fail on an older build.
pub fn bin() -> PathBuf {
    std::env::var_os("HIGHLIGHTD_TEST_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_highlightd")))
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    /// Standard error with terminal colour codes removed.
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with both streams unless the exit status is `code`.
    pub fn expect_code(&self, code: i32, what: &str) -> &Self {
        assert_eq!(self.code(), Some(code), "{what}: exit status {:?}, expected {code}\n--- stdout\n{}\n--- stderr\n{}", self.status, self.stdout, self.stderr);
        self
    }

    pub fn expect_success(&self, what: &str) -> &Self {
        self.expect_code(0, what)
    }
}

/// Runs `highlightd ARGS…` and captures everything. Log colours are off and `RUST_LOG` is
/// cleared so the log level is the CLI's default (`info`).
pub fn highlightd<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
    let out = Command::new(bin())
        .args(&args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin().display()));
    Run { status: out.status, stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)) }
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

// ------------------------------------------------------------------------- JSONL

/// The non-blank lines of a JSONL file, each parsed (panics naming file and line otherwise).
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{} line {}: not JSON ({e}): {l}", path.display(), i + 1)))
        .collect()
}

/// Writes JSON values as JSONL.
pub fn write_jsonl(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: cannot write: {e}", path.display()));
}

/// The `predictions` array of one output line (panics if it is missing or not an array).
pub fn predictions(line: &Value) -> &Vec<Value> {
    line.get("predictions").and_then(Value::as_array).unwrap_or_else(|| panic!("no `predictions` array in {line}"))
}

/// The frames of one output line, in file order.
pub fn frames(line: &Value) -> Vec<i64> {
    predictions(line).iter().map(|p| p["frame"].as_i64().unwrap_or_else(|| panic!("prediction without integer frame: {p}"))).collect()
}

/// The `[x, y, w]` of one prediction.
pub fn bbox(p: &Value) -> [f64; 3] {
    let b = p["bboxes"].as_array().unwrap_or_else(|| panic!("no bboxes array: {p}"));
    assert_eq!(b.len(), 3, "bboxes must be [x, y, w]: {p}");
    let n = |i: usize| b[i].as_f64().unwrap_or_else(|| panic!("bboxes[{i}] not a number: {p}"));
    [n(0), n(1), n(2)]
}

/// Asserts every prediction of `line` is valid for a `width × height` picture with
/// `frames` frames and the line's own `targetRatioWH` (SPEC.md section 3), and that the list
/// is sorted by frame with unique frames.
pub fn assert_valid_predictions(line: &Value, width: f64, height: f64, frames: u64) {
    let r = line["targetRatioWH"].as_array().expect("targetRatioWH");
    let (rw, rh) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
    let mut last = -1i64;
    for p in predictions(line) {
        let f = p["frame"].as_i64().unwrap_or_else(|| panic!("frame not an integer: {p}"));
        assert!(f > last, "frames not strictly increasing (sorted, unique) at {p} in {line}");
        last = f;
        assert!((f as u64) < frames, "frame {f} out of 0..{frames}: {line}");
        let [x, y, w] = bbox(p);
        let h = w * rh / rw;
        assert!(x.is_finite() && y.is_finite() && w.is_finite(), "non-finite window {p}");
        assert!(x >= 0.0 && y >= 0.0 && w > 0.0, "negative or empty window {p}");
        assert!(x + w <= width + 1e-9, "window {p} beyond width {width}");
        assert!(y + h <= height + 1e-9, "window {p} (h = {h}) beyond height {height}");
    }
}

// ------------------------------------------------------------------------- generators

/// Runs a generator tool, panicking with a clear message when it is missing or fails.
fn run_tool(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("`{tool}` is needed to generate the test videos but cannot be run ({e}); install it (ffmpeg / gstreamer1.0-tools) and put it on PATH")
    });
    assert!(
        out.status.success(),
        "`{tool} {}` failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ffmpeg -y ARGS…` (quiet, no stdin).
pub fn ffmpeg(args: &[&str]) {
    let mut all = vec!["-hide_banner", "-nostdin", "-loglevel", "error", "-y"];
    all.extend_from_slice(args);
    run_tool("ffmpeg", &all);
}

/// `ffprobe -v error ARGS… FILE`, stdout.
pub fn ffprobe(file: &Path, args: &[&str]) -> String {
    let mut all = vec!["-v", "error"];
    all.extend_from_slice(args);
    let f = file.to_str().expect("utf-8 path");
    all.push(f);
    run_tool("ffprobe", &all)
}

/// `ffprobe` as JSON: streams, format and (when `frames`) every video frame.
pub fn ffprobe_json(file: &Path, frames: bool) -> Value {
    let mut args = vec!["-of", "json", "-show_streams", "-show_format"];
    if frames {
        args.extend_from_slice(&["-select_streams", "v:0", "-show_frames"]);
    }
    serde_json::from_str(&ffprobe(file, &args)).expect("ffprobe printed JSON")
}

/// `gst-launch-1.0 -q PIPELINE…` (each element of `pipeline` one argument, as the shell would
/// split it).
pub fn gst_launch(pipeline: &[&str]) {
    let mut all = vec!["-q"];
    all.extend_from_slice(pipeline);
    run_tool("gst-launch-1.0", &all);
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// H.264 in yuv420p with a fixed GOP and B-frames forced on (`b-adapt=0`: every possible
/// B-frame is used, so the decode order really differs from the presentation order).
pub const H264_BFRAMES: &[&str] = &["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-bf", "3", "-g", "30", "-x264-params", "b-adapt=0:scenecut=0", "-crf", "8"];
/// Plain H.264 for content videos.
pub const H264: &[&str] = &["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-crf", "20"];

/// The luma (limited range, 16–235) of frame `n` of a [`grey_ramp`] video: every frame has
/// its own level and neighbours differ by 7 (or 213 at the wrap), so a frame shifted by one is
/// seen at once.
pub fn ramp_luma(n: u64) -> f64 {
    16.0 + ((n * 7) % 220) as f64
}

/// The mean RGB value a player shows for frame `n` of a [`grey_ramp`] video (limited-range
/// luma expanded to 0–255).
pub fn ramp_rgb(n: u64) -> f64 {
    (ramp_luma(n) - 16.0) * 255.0 / 219.0
}

/// The `geq` filter that paints frame N in the uniform grey [`ramp_luma`]`(N)`.
pub const RAMP_GEQ: &str = "format=yuv420p,geq=lum='16+mod(N*7\\,220)':cb=128:cr=128";

/// A video of `frames` frames at `fps` whose frame N is uniformly grey at [`ramp_luma`]`(N)`,
/// encoded with `codec` (e.g. [`H264_BFRAMES`]) plus `extra` output options.
pub fn grey_ramp(dir: &Path, name: &str, frames: u32, fps: u32, size: (u32, u32), codec: &[&str], extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let src = format!("color=c=black:s={}x{}:r={fps},{RAMP_GEQ}", size.0, size.1);
    let n = frames.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &src, "-frames:v", &n];
    args.extend_from_slice(codec);
    args.extend_from_slice(extra);
    args.push(s(&out));
    ffmpeg(&args);
    out
}

/// `secs` seconds of moving content: real footage (see [`footage`]), because the highlight
/// scorer rightly calls a test pattern (`testsrc2`) a graphic, not a highlight.
pub fn moving(dir: &Path, name: &str, secs: f64, size: (u32, u32), fps: u32) -> PathBuf {
    footage(dir, name, secs, size, fps, 0)
}

/// `secs` seconds of ffmpeg's `testsrc2` (a moving box over a colour chart and a running
/// counter): every frame differs from every other, which decode tests that match frames need.
/// Not a highlight: the scorer calls it a graphic.
pub fn pattern(dir: &Path, name: &str, secs: f64, size: (u32, u32), fps: u32) -> PathBuf {
    let out = dir.join(name);
    let src = format!("testsrc2=s={}x{}:r={fps}:d={secs}", size.0, size.1);
    let mut args = vec!["-f", "lavfi", "-i", &src];
    args.extend_from_slice(H264);
    args.push(s(&out));
    ffmpeg(&args);
    out
}

/// `secs` seconds of real footage: the bundled Big Buck Bunny clip from `seed` × 1.3 s on
/// (looped), scaled to `size` at `fps`. For tests that need a highlight: the scorer rightly
/// calls test patterns (`testsrc2`) and fractal zooms graphics, not camera content.
pub fn footage(dir: &Path, name: &str, secs: f64, size: (u32, u32), fps: u32, seed: u32) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let out = dir.join(name);
    let bunny = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/bigbuckbunny.mp4");
    let from = (f64::from(seed % 4) * 1.3).to_string();
    // Exactly secs × fps frames (a looped, trimmed input can give one more).
    let frames = ((secs * f64::from(fps)).round() as u64).to_string();
    let filter = format!("scale={}:{},setsar=1,fps={fps},format=yuv420p", size.0, size.1);
    let mut args = vec!["-ss", &from, "-stream_loop", "-1", "-i", bunny, "-an", "-vf", &filter, "-frames:v", &frames];
    args.extend_from_slice(H264);
    args.push(s(&out));
    ffmpeg(&args);
    out
}

/// `black_s` seconds of black, then `content_s` seconds of real footage (the bundled Big Buck
/// Bunny clip, scaled to `size`, looped if needed), one stream. Real footage rather than a
/// test pattern: the highlight scorer rightly calls `testsrc2` a graphic, not camera content.
pub fn black_then_moving(dir: &Path, name: &str, black_s: f64, content_s: f64, size: (u32, u32), fps: u32) -> PathBuf {
    let out = dir.join(name);
    let black = format!("color=c=black:s={}x{}:r={fps}:d={black_s}", size.0, size.1);
    let bunny = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/bigbuckbunny.mp4");
    let filter = format!(
        "[1:v]scale={}:{},setsar=1,fps={fps},setpts=PTS-STARTPTS[c];[0:v][c]concat=n=2:v=1:a=0,format=yuv420p",
        size.0, size.1
    );
    let secs = content_s.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &black, "-stream_loop", "-1", "-t", &secs, "-i", bunny, "-an", "-filter_complex", &filter];
    args.extend_from_slice(H264);
    args.push(s(&out));
    ffmpeg(&args);
    out
}

/// Whether ffmpeg's `drawtext` filter works here (it needs libfreetype and a font).
/// A DejaVu font file for ffmpeg's `drawtext` (`scripts/setup.sh` installs fonts-dejavu-core
/// for the tests); panics naming the package when none is there.
pub fn dejavu_font() -> String {
    let candidates = ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"];
    candidates.iter().find(|p| Path::new(p).is_file()).map(|p| p.to_string()).unwrap_or_else(|| panic!("no DejaVu font ({candidates:?}): install fonts-dejavu-core"))
}

pub fn drawtext_available(dir: &Path) -> bool {
    let probe = dir.join(".drawtext_probe.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=navy:s=64x64:r=5:d=0.2,drawtext=text=T:fontsize=20:fontcolor=white"])
        .args(H264)
        .arg(&probe)
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    let _ = std::fs::remove_file(&probe);
    ok
}

/// `black_s` seconds of black, then a still title card for `card_s` seconds: white text on a
/// navy background when `drawtext` works, else a uniform navy still.
pub fn black_then_title(dir: &Path, name: &str, black_s: f64, card_s: f64, size: (u32, u32), fps: u32, with_text: bool) -> PathBuf {
    let out = dir.join(name);
    let black = format!("color=c=black:s={}x{}:r={fps}:d={black_s}", size.0, size.1);
    let mut card = format!("color=c=navy:s={}x{}:r={fps}:d={card_s}", size.0, size.1);
    if with_text {
        card.push_str(",drawtext=text='SEASON OPENER':fontsize=24:fontcolor=white:x=(w-tw)/2:y=(h-th)/2");
    }
    let mut args = vec!["-f", "lavfi", "-i", &black, "-f", "lavfi", "-i", &card, "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p"];
    args.extend_from_slice(H264);
    args.push(s(&out));
    ffmpeg(&args);
    out
}

/// Moving content with a sine tone as an AAC track.
pub fn moving_with_sine(dir: &Path, name: &str, secs: f64, size: (u32, u32), fps: u32) -> PathBuf {
    let out = dir.join(name);
    let video = format!("testsrc2=s={}x{}:r={fps}:d={secs}", size.0, size.1);
    let audio = format!("sine=frequency=440:sample_rate=44100:duration={secs}");
    let mut args = vec!["-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio];
    args.extend_from_slice(H264);
    args.extend_from_slice(&["-c:a", "aac", "-b:a", "64k", "-shortest"]);
    args.push(s(&out));
    ffmpeg(&args);
    out
}

/// An audio-only file (AAC sine), whatever its extension says.
pub fn audio_only(dir: &Path, name: &str, secs: f64) -> PathBuf {
    let out = dir.join(name);
    let audio = format!("sine=frequency=440:duration={secs}");
    ffmpeg(&["-f", "lavfi", "-i", &audio, "-c:a", "aac", "-f", "mp4", s(&out)]);
    out
}

/// Random bytes (a fixed xorshift sequence, so every run sees the same file).
pub fn random_bytes(dir: &Path, name: &str, len: usize) -> PathBuf {
    let out = dir.join(name);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(&out, bytes).unwrap();
    out
}

/// The first half of `src`'s bytes, as `name`.
pub fn truncated_copy(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let bytes = std::fs::read(src).unwrap();
    std::fs::write(&out, &bytes[..bytes.len() / 2]).unwrap();
    out
}

/// Frame count, width and height of the first video stream, by ffprobe (counting packets).
pub fn probe_video(file: &Path) -> (u64, u32, u32) {
    let v = ffprobe_json(file, false);
    let st = v["streams"].as_array().and_then(|a| a.iter().find(|s| s["codec_type"] == "video")).unwrap_or_else(|| panic!("{}: no video stream", file.display())).clone();
    let text = ffprobe(file, &["-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"]);
    let n: u64 = text
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .find(|l| !l.is_empty())
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("ffprobe packet count: {text:?}"));
    (n, st["width"].as_u64().unwrap() as u32, st["height"].as_u64().unwrap() as u32)
}

/// A fresh temporary folder for one test's videos and outputs (removed when dropped).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("highlightd-test-").tempdir().expect("temporary folder")
}
