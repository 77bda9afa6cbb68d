//! `highlightd report` end to end through the binary: a generated video goes through
//! `predict`, `render` and `report` (with a hand-made ground truth), the page is checked as
//! text (self-contained, everything present, the metric agreeing with `eval`), then opened in
//! headless Chromium and the screenshot checked to be a real, non-blank picture.
//!
//! Chromium is a test requirement like ffmpeg: when `/usr/bin/chromium` is missing the
//! screenshot test fails with a message saying so, it never passes silently.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const FPS: u32 = 25;
const SIZE: (u32, u32) = (320, 180);

/// What one run of the pipeline produced.
struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    html: PathBuf,
    /// F of the clip as `eval` computes it.
    clip_f: f64,
}

/// 2 s of real footage (the bundled clip: the scorer rightly calls a test pattern a
/// graphic), then 1 s of black, one H.264 stream.
fn moving_then_black(dir: &Path) -> PathBuf {
    let out = dir.join("clip.mp4");
    let bunny = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/bigbuckbunny.mp4");
    let black = format!("color=c=black:s={}x{}:r={FPS}:d=1", SIZE.0, SIZE.1);
    let filter = format!("[0:v]scale={}:{},setsar=1,fps={FPS},trim=end_frame={},setpts=PTS-STARTPTS[c];[c][1:v]concat=n=2:v=1:a=0,format=yuv420p", SIZE.0, SIZE.1, 2 * FPS);
    let mut args = vec!["-i", bunny, "-f", "lavfi", "-i", &black, "-an", "-filter_complex", &filter];
    args.extend_from_slice(H264);
    let o = out.to_str().expect("utf-8 path");
    args.push(o);
    ffmpeg(&args);
    out
}

/// Index with three videos: the clip (9:16), the same file as `blank` whose prediction list
/// is then emptied (the "nothing selected" section), and `missing`, whose file does not exist
/// (the error section). Ground truth: the 50 moving frames of the clip, centred window.
fn fixture() -> Fixture {
    let tmp = tempdir();
    let dir = tmp.path().to_path_buf();
    let dir = dir.as_path();
    let video = moving_then_black(dir);
    let (frames, w, h) = probe_video(&video);
    assert_eq!((frames, w, h), (75, SIZE.0, SIZE.1), "generated clip");
    let index = dir.join("index.jsonl");
    write_jsonl(
        &index,
        &[
            json!({"video_id": "clip", "video": "clip.mp4", "targetRatioWH": [9, 16]}),
            json!({"video_id": "blank", "video": "clip.mp4", "targetRatioWH": [16, 9]}),
            json!({"video_id": "missing", "video": "nope.mp4", "targetRatioWH": [9, 16]}),
        ],
    );
    let preds = dir.join("p.jsonl");
    highlightd([Path::new("predict").as_os_str(), index.as_os_str(), "-o".as_ref(), preds.as_os_str()]).expect_success("predict");
    let mut lines = read_jsonl(&preds);
    assert_eq!(lines.len(), 3);
    assert!(!predictions(&lines[0]).is_empty(), "the engine selects part of the moving clip: {}", lines[0]);
    lines[1]["predictions"] = json!([]);
    write_jsonl(&preds, &lines);

    let gt = dir.join("gt.jsonl");
    let gt_preds: Vec<Value> = (0..50).map(|f| json!({"frame": f, "bboxes": [109, 0, 101]})).collect();
    write_jsonl(&gt, &[json!({"video_id": "clip", "targetRatioWH": [9, 16], "predictions": gt_preds})]);
    let meta = dir.join("meta.jsonl");
    write_jsonl(&meta, &[json!({"video_id": "clip", "width": w, "height": h, "frames": frames})]);

    let shorts = dir.join("shorts");
    std::fs::create_dir_all(&shorts).expect("shorts folder");
    let short = shorts.join("clip.mp4");
    highlightd([Path::new("render").as_os_str(), video.as_os_str(), "--predictions".as_ref(), preds.as_os_str(), "--video-id".as_ref(), "clip".as_ref(), "-o".as_ref(), short.as_os_str()])
        .expect_success("render");

    let eval = highlightd([Path::new("eval").as_os_str(), preds.as_os_str(), "--gt".as_ref(), gt.as_os_str(), "--meta".as_ref(), meta.as_os_str(), "--json".as_ref()]);
    eval.expect_success("eval");
    let ev: Value = serde_json::from_str(&eval.stdout).unwrap_or_else(|e| panic!("eval --json: {e}\n{}", eval.stdout));
    let clip_f = ev["videos"][0]["f"].as_f64().expect("eval F of the clip");

    let html = dir.join("report.html");
    let run = highlightd([
        Path::new("report").as_os_str(),
        index.as_os_str(),
        "--predictions".as_ref(),
        preds.as_os_str(),
        "--gt".as_ref(),
        gt.as_os_str(),
        "--shorts".as_ref(),
        shorts.as_os_str(),
        "-o".as_ref(),
        html.as_os_str(),
    ]);
    run.expect_success("report");
    assert!(run.stdout.contains("report.html"), "prints the output path: {}", run.stdout);
    Fixture { dir: dir.to_path_buf(), html, clip_f, _dir: tmp }
}

#[test]
fn report_is_self_contained_and_complete() {
    let f = fixture();
    let html = std::fs::read_to_string(&f.html).expect("report written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Three sections, input order, the summary first.
    let (c, b, m) = (html.find("<h2>clip</h2>").expect("clip section"), html.find("<h2>blank</h2>").expect("blank section"), html.find("<h2>missing</h2>").expect("missing section"));
    assert!(c < b && b < m, "sections in input order");
    assert!(html.find("<table class=\"summary\"").is_some_and(|t| t < c), "summary table on top");
    // Timelines: one per analysed video, with the GT row where a GT exists.
    assert!(html.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\"").count() == 2, "two timelines");
    assert!(html.contains("class=\"sel-row\"") && html.contains("class=\"gt-row\"") && html.contains("class=\"curve\""));
    // Thumbnails as JPEG data URIs, crops drawn on the clip's.
    let thumbs = html.matches("href=\"data:image/jpeg;base64,/9j/").count();
    assert!(thumbs >= 10, "thumbnails of clip and blank as JPEG data URIs, got {thumbs}");
    assert!(html.contains("class=\"pred\"") && html.contains("class=\"gt\""), "predicted and GT windows drawn");
    // The short, embedded.
    assert!(html.contains("<video controls preload=\"metadata\" src=\"data:video/mp4;base64,"), "embedded short");
    // The per-video F as `eval` computes it, and the overall score (one scored video).
    let f3 = format!("<b>{:.3}</b>", f.clip_f);
    assert!(html.contains(&f3), "summary shows F {f3}");
    assert!(html.contains(&format!("<span>F</span>{:.3}", f.clip_f)), "section header shows F");
    assert!(html.contains(&format!("score <b>{:.2}</b>", 100.0 * f.clip_f)), "overall score");
    assert!(html.contains("temporal F") && html.contains("crop IoU"));
    // The empty and the failed video.
    assert!(html.contains("nothing selected"), "note for the empty list");
    let missing = &html[m..];
    assert!(missing.contains("analysis failed") && missing.contains("nope.mp4"), "error section names the file");
    // Nothing fetched: no scheme but the SVG namespace, no script, every src/href inline.
    let stripped = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!stripped.contains("http://") && !stripped.contains("https://"), "no network reference");
    assert!(!html.contains("<script"), "no script");
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let v = &html[i + attr.len()..];
            assert!(v.starts_with("data:") || v.starts_with('#'), "{attr} not inline: {}", &v[..v.len().min(60)]);
        }
    }
    // Written atomically: nothing but the page and the inputs left in the folder.
    let leftovers: Vec<String> = std::fs::read_dir(&f.dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Runs a command, killing it after `limit` so a hung browser fails the test instead of
/// hanging it.
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("collect output"),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("collect output");
                panic!("{cmd:?} did not finish within {limit:?}\n{}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    }
}

/// Grey pixels of a PNG, decoded and scaled to 128 × 200 by ffmpeg.
fn grey_pixels(png: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(png)
        .args(["-vf", "scale=128:200,format=gray", "-f", "rawvideo", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg cannot decode the screenshot: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn report_renders_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: this test needs Chromium to render the report (Debian: apt-get install -y chromium)"
    );
    let f = fixture();
    let png = f.dir.join("report.png");
    let profile = tempdir();
    let out = run_with_timeout(
        Command::new(CHROMIUM)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--window-size=1280,2000")
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", f.html.display())),
        Duration::from_secs(90),
    );
    assert!(png.is_file(), "no screenshot written ({})\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).expect("read screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "screenshot is a PNG");
    assert!(bytes.len() > 20 * 1024, "screenshot is only {} bytes: blank page?", bytes.len());
    let px = grey_pixels(&png);
    assert_eq!(px.len(), 128 * 200);
    let mean = px.iter().map(|&v| f64::from(v)).sum::<f64>() / px.len() as f64;
    let var = px.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / px.len() as f64;
    let mut levels = [false; 256];
    px.iter().for_each(|&v| levels[v as usize] = true);
    let distinct = levels.iter().filter(|&&l| l).count();
    assert!(var > 100.0 && distinct > 32, "screenshot looks like a single colour: variance {var:.1}, {distinct} grey levels");
}
