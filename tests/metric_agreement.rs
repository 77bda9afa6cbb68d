//! The Rust metric (`highlightd::metric`) and the independent Python reference
//! (`tests/tools/metric_reference.py`, written from SPEC.md) must agree, per video and on the
//! score, on many random prediction files: valid windows, out-of-range frames, negative and
//! overflowing boxes, garbage values, duplicate frames, nested `[[x, y, w]]`, missing videos,
//! non-integer coordinates, empty lists, other ratios. Malformed files must be rejected by both.
//!
//! Runs against a synthetic ground truth always, and against the dev set
//! (`../shared/evalsets/dev`) when it exists. Needs `python3` on PATH: without it the test
//! fails (it must not pass silently).

use highlightd::metric::{evaluate, load_meta};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FILES_PER_SET: usize = 60;
const TOLERANCE: f64 = 1e-6;

// ------------------------------------------------------------------------- PRNG

/// xorshift64*: small, seeded, good enough to draw test cases.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
}

// ------------------------------------------------------------------------- data sets

#[derive(Clone)]
struct Video {
    id: String,
    ratio: (u32, u32),
    width: u32,
    height: u32,
    frames: u64,
    /// Ground-truth frame -> `[x, y, w]`.
    truth: BTreeMap<i64, [f64; 3]>,
}

struct Set {
    name: &'static str,
    gt: PathBuf,
    meta: PathBuf,
    videos: Vec<Video>,
}

fn read_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// Reads a ground truth + meta pair with plain serde_json (not through the metric).
fn read_set(name: &'static str, gt: PathBuf, meta: PathBuf) -> Set {
    let metas: BTreeMap<String, Value> = read_lines(&meta)
        .into_iter()
        .map(|m| (m["video_id"].as_str().unwrap_or_default().to_owned(), m))
        .collect();
    let videos = read_lines(&gt)
        .into_iter()
        .map(|g| {
            let id = g["video_id"].as_str().expect("gt video_id").to_owned();
            let m = &metas[&id];
            let r = g["targetRatioWH"].as_array().expect("gt ratio");
            let truth = g["predictions"]
                .as_array()
                .expect("gt predictions")
                .iter()
                .map(|p| {
                    let b = p["bboxes"].as_array().expect("gt bboxes");
                    let n = |i: usize| b[i].as_f64().expect("gt number");
                    (p["frame"].as_i64().expect("gt frame"), [n(0), n(1), n(2)])
                })
                .collect();
            Video {
                id,
                ratio: (r[0].as_u64().unwrap() as u32, r[1].as_u64().unwrap() as u32),
                width: m["width"].as_u64().unwrap() as u32,
                height: m["height"].as_u64().unwrap() as u32,
                frames: m["frames"].as_u64().unwrap(),
                truth,
            }
        })
        .collect();
    Set {
        name,
        gt,
        meta,
        videos,
    }
}

/// Width of the largest window of `ratio` in the picture (floored), at least 1.
fn largest_w(width: u32, height: u32, (tw, th): (u32, u32)) -> f64 {
    let (wf, hf, twf, thf) = (
        f64::from(width),
        f64::from(height),
        f64::from(tw),
        f64::from(th),
    );
    let w = if wf / hf > twf / thf {
        (hf * twf / thf).floor()
    } else {
        wf
    };
    w.max(1.0)
}

fn height_of(w: f64, (tw, th): (u32, u32)) -> f64 {
    w * f64::from(th) / f64::from(tw)
}

/// A synthetic ground truth and meta, written to `dir`: several shapes and ratios, an empty
/// ground truth, a one-frame video, real-valued windows, a blank line, extra fields.
fn synthetic(dir: &Path, rng: &mut Rng) -> Set {
    let shapes: [(u32, u32); 7] = [
        (640, 360),
        (360, 640),
        (480, 480),
        (134, 240),
        (1280, 720),
        (320, 240),
        (404, 720),
    ];
    let ratios = [(16, 9), (9, 16), (16, 9), (9, 16), (1, 1), (4, 3)];
    let mut videos = Vec::new();
    for i in 0..10 {
        let (width, height) = if i == 9 {
            (32 + rng.below(700) as u32, 32 + rng.below(700) as u32)
        } else {
            shapes[i % shapes.len()]
        };
        let ratio = *rng.pick(&ratios);
        let frames = match i {
            3 => 1,
            _ => 20 + rng.below(300),
        };
        let w = largest_w(width, height, ratio);
        let h = height_of(w, ratio);
        let real = i == 5 || i == 8;
        let mut truth = BTreeMap::new();
        if i != 2 {
            // A highlight run (or, for one video, scattered frames).
            let start = rng.below(frames);
            let len = 1 + rng.below(frames - start);
            let mut x = rng.unit() * (f64::from(width) - w);
            for f in start..start + len {
                if i == 7 && rng.chance(0.5) {
                    continue;
                }
                x = (x + rng.unit() * 6.0 - 3.0).clamp(0.0, f64::from(width) - w);
                let y = (f64::from(height) - h).max(0.0) * 0.5;
                let (x, y) = if real { (x, y) } else { (x.floor(), y.floor()) };
                truth.insert(f as i64, [x, y, w]);
            }
        }
        let id = match i {
            0 => "000".to_owned(),
            1 => "clip one".to_owned(),
            _ => format!("v{i:02}"),
        };
        videos.push(Video {
            id,
            ratio,
            width,
            height,
            frames,
            truth,
        });
    }

    let mut gt = String::new();
    let mut meta = String::new();
    for (i, v) in videos.iter().enumerate() {
        let preds: Vec<Value> = v
            .truth
            .iter()
            .map(|(f, b)| json!({"frame": f, "bboxes": [num(b[0]), num(b[1]), num(b[2])]}))
            .collect();
        let line = json!({"video_id": v.id, "video": format!("{}.mp4", v.id),
                          "targetRatioWH": [v.ratio.0, v.ratio.1], "predictions": preds});
        gt.push_str(&format!("{line}\n"));
        if i == 4 {
            gt.push('\n');
        }
        let m = json!({"video_id": v.id, "width": v.width, "height": v.height,
                       "frames": v.frames, "fps": 30});
        meta.push_str(&format!("{m}\n"));
    }
    let gt_path = dir.join("gt.jsonl");
    let meta_path = dir.join("meta.jsonl");
    std::fs::write(&gt_path, gt).unwrap();
    std::fs::write(&meta_path, meta).unwrap();
    Set {
        name: "synthetic",
        gt: gt_path,
        meta: meta_path,
        videos,
    }
}

/// A JSON number the way writers emit it: integral values as integers.
fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

// ------------------------------------------------------------------------- random predictions

/// Knobs drawn once per file so files differ in character, not only in detail.
struct Style {
    p_bad: f64,
    p_dup: f64,
    p_missing: f64,
    p_empty: f64,
    shuffle: bool,
}

fn window_entry(frame: Value, b: [f64; 3], nested: bool) -> Value {
    let triple = json!([num(b[0]), num(b[1]), num(b[2])]);
    if nested {
        json!({"frame": frame, "bboxes": [triple]})
    } else {
        json!({"frame": frame, "bboxes": triple})
    }
}

/// A window that fits (up to float rounding, which both sides see identically).
fn fitting_window(
    rng: &mut Rng,
    v: &Video,
    ratio: (u32, u32),
    frame: i64,
    gt_ratio: bool,
) -> [f64; 3] {
    let (wf, hf) = (f64::from(v.width), f64::from(v.height));
    let wmax = largest_w(v.width, v.height, ratio);
    match (gt_ratio, v.truth.get(&frame)) {
        // Near the truth: shifted a little, sometimes a bit smaller, clamped back inside.
        (true, Some(t)) if rng.chance(0.8) => {
            let w = if rng.chance(0.7) {
                t[2]
            } else {
                (t[2] * (0.6 + 0.4 * rng.unit())).floor().max(1.0)
            };
            let h = height_of(w, ratio);
            let dx = (rng.below(41) as f64) - 20.0;
            let dy = (rng.below(21) as f64) - 10.0;
            let x = (t[0] + dx).clamp(0.0, (wf - w).max(0.0));
            let y = (t[1] + dy).clamp(0.0, (hf - h).max(0.0));
            [x, y, w]
        }
        _ => {
            let w = if rng.chance(0.6) {
                wmax
            } else {
                (1.0 + rng.unit() * (wmax - 1.0)).floor()
            };
            let h = height_of(w, ratio);
            if rng.chance(0.3) {
                // Centred.
                [
                    ((wf - w) / 2.0).floor(),
                    ((hf - h) / 2.0).floor().max(0.0),
                    w,
                ]
            } else {
                [
                    rng.below((wf - w) as u64 + 1) as f64,
                    (rng.unit() * (hf - h).max(0.0)).floor(),
                    w,
                ]
            }
        }
    }
}

fn garbage(rng: &mut Rng, frame: i64) -> Value {
    match rng.below(22) {
        0 => Value::Null,
        1 => json!("NaN"),
        2 => json!(42),
        3 => json!([frame, 0, 0, 10]),
        4 => json!({}),
        5 => json!({"frame": Value::Null, "bboxes": [0, 0, 10]}),
        6 => json!({"frame": frame.to_string(), "bboxes": [0, 0, 10]}),
        7 => json!({"frame": frame, "bboxes": "0,0,10"}),
        8 => json!({"frame": frame, "bboxes": Value::Null}),
        9 => json!({"frame": frame, "bboxes": [Value::Null, 0, 10]}),
        10 => json!({"frame": frame, "bboxes": ["NaN", 0, 10]}),
        11 => json!({"frame": frame, "bboxes": [true, 0, 10]}),
        12 => json!({"frame": true, "bboxes": [0, 0, 10]}),
        13 => json!({"frame": frame}),
        14 => json!({"bboxes": [0, 0, 10]}),
        15 => json!({"frame": frame, "bboxes": [0, 10]}),
        16 => json!({"frame": frame, "bboxes": [0, 0, 10, 10]}),
        17 => json!({"frame": frame as f64 + 0.5, "bboxes": [0, 0, 10]}),
        18 => json!({"frame": frame, "bboxes": [[0, 0, 10], [0, 0, 10]]}),
        19 => json!({"frame": frame, "bboxes": [[0, 0]]}),
        20 => json!({"frame": frame, "bboxes": []}),
        _ => json!({"frame": frame, "bboxes": {"x": 0, "y": 0, "w": 10}}),
    }
}

/// A readable but invalid entry (or an oddity that is valid: `frame` written as `12.0`).
fn bad_entry(rng: &mut Rng, v: &Video, ratio: (u32, u32), frame: i64) -> Value {
    let (wf, hf) = (f64::from(v.width), f64::from(v.height));
    let good = fitting_window(rng, v, ratio, frame, false);
    let f = json!(frame);
    match rng.below(14) {
        0 => window_entry(json!(v.frames as i64 + rng.below(5) as i64), good, false),
        1 => window_entry(json!(-1 - rng.below(3) as i64), good, false),
        2 => window_entry(f, [-(1.0 + rng.below(10) as f64), good[1], good[2]], false),
        3 => window_entry(f, [good[0], -0.5, good[2]], false),
        4 => window_entry(
            f,
            [wf - good[2] + 1.0 + rng.below(5) as f64, good[1], good[2]],
            false,
        ),
        5 => {
            let y = hf - height_of(good[2], ratio) + 0.25 + rng.below(4) as f64;
            window_entry(f, [good[0], y, good[2]], false)
        }
        6 => window_entry(f, [good[0], good[1], 0.0], false),
        7 => window_entry(f, [good[0], good[1], -(1.0 + rng.below(50) as f64)], false),
        8 => window_entry(f, [0.0, 0.0, 1e308], false),
        9 => window_entry(f, [1e300, 0.0, 10.0], false),
        10 => window_entry(json!(10_000_000_000_000_000_000u64), good, false),
        11 => window_entry(json!(frame as f64), good, false),
        12 => window_entry(f, [-0.0, good[1], good[2]], false),
        _ => window_entry(f, [good[0], good[1], wf + 1.0], true),
    }
}

fn entries_for(
    rng: &mut Rng,
    v: &Video,
    ratio: (u32, u32),
    gt_ratio: bool,
    style: &Style,
) -> Vec<Value> {
    // Which frames: every frame, the GT frames (give or take), or a random subset.
    let frames: Vec<i64> = match rng.below(4) {
        0 => (0..v.frames as i64).collect(),
        1 => {
            let mut fs: Vec<i64> = v
                .truth
                .keys()
                .copied()
                .filter(|_| rng.chance(0.9))
                .collect();
            let extra = rng.below(10);
            fs.extend((0..extra).map(|_| rng.below(v.frames.max(1)) as i64));
            fs.sort_unstable();
            fs.dedup();
            fs
        }
        _ => {
            let p = rng.unit();
            (0..v.frames as i64).filter(|_| rng.chance(p)).collect()
        }
    };
    let mut out = Vec::with_capacity(frames.len());
    for f in frames {
        let roll = rng.unit();
        let e = if roll < style.p_bad * 0.4 {
            garbage(rng, f)
        } else if roll < style.p_bad {
            bad_entry(rng, v, ratio, f)
        } else {
            let mut b = fitting_window(rng, v, ratio, f, gt_ratio);
            if rng.chance(0.1) {
                // Non-integer coordinates, kept inside.
                let h = height_of(b[2], ratio);
                b[0] = (b[0] + rng.unit()).min(f64::from(v.width) - b[2]).max(0.0);
                b[1] = (b[1] + rng.unit()).min(f64::from(v.height) - h).max(0.0);
            }
            if rng.chance(0.05) {
                // Flush with the right and bottom edges: exact boundary comparisons.
                let h = height_of(b[2], ratio);
                b[0] = f64::from(v.width) - b[2];
                b[1] = (f64::from(v.height) - h).max(0.0);
            }
            window_entry(json!(f), b, rng.chance(0.08))
        };
        out.push(e);
        while rng.chance(style.p_dup) {
            // Duplicate frame: the same entry, another window, or a bad one.
            let d = match rng.below(3) {
                0 => out[out.len() - 1].clone(),
                1 => window_entry(json!(f), fitting_window(rng, v, ratio, f, gt_ratio), false),
                _ => bad_entry(rng, v, ratio, f),
            };
            // Sometimes before the original, so an invalid first entry precedes a valid one.
            if rng.chance(0.5) {
                out.push(d);
            } else {
                let at = out.len() - 1;
                out.insert(at, d);
            }
        }
    }
    if style.shuffle {
        rng.shuffle(&mut out);
    }
    out
}

/// One random prediction file for a set, as JSONL text.
fn random_file(rng: &mut Rng, set: &Set) -> String {
    let style = Style {
        p_bad: *rng.pick(&[0.0, 0.02, 0.1, 0.3, 0.8]),
        p_dup: *rng.pick(&[0.0, 0.02, 0.1, 0.3]),
        p_missing: *rng.pick(&[0.0, 0.05, 0.2]),
        p_empty: *rng.pick(&[0.0, 0.05, 0.2, 0.9]),
        shuffle: rng.chance(0.2),
    };
    let mut lines: Vec<Value> = Vec::new();
    for v in &set.videos {
        if rng.chance(style.p_missing) {
            continue;
        }
        let swapped = (v.ratio.1, v.ratio.0);
        let (ratio_field, ratio) = match rng.below(8) {
            0 => (Some(swapped), swapped),
            1 | 2 => (Some(v.ratio), v.ratio),
            _ => (None, v.ratio),
        };
        let entries = if rng.chance(style.p_empty) {
            Vec::new()
        } else {
            entries_for(rng, v, ratio, ratio == v.ratio, &style)
        };
        let mut line = serde_json::Map::new();
        line.insert("video_id".into(), json!(v.id));
        line.insert("video".into(), json!(format!("{}.mp4", v.id)));
        if let Some((w, h)) = ratio_field {
            line.insert("targetRatioWH".into(), json!([w, h]));
        }
        line.insert("predictions".into(), Value::Array(entries));
        lines.push(Value::Object(line));
    }
    if rng.chance(0.3) {
        // A video the ground truth does not know: ignored, whatever it holds.
        let junk = if rng.chance(0.5) {
            json!("not a list")
        } else {
            json!([{"frame": 0, "bboxes": [0, 0, 1]}])
        };
        lines.push(json!({"video_id": format!("ghost{}", rng.below(1000)), "predictions": junk}));
    }
    if rng.chance(0.5) {
        rng.shuffle(&mut lines);
    }
    let mut text = String::new();
    for l in lines {
        text.push_str(&format!("{l}\n"));
        if rng.chance(0.05) {
            text.push_str("   \n");
        }
    }
    text
}

/// Files both implementations must reject.
fn malformed_files(set: &Set) -> Vec<(&'static str, String)> {
    let a = &set.videos[0].id;
    let b = &set.videos[1].id;
    let ok = |id: &str| json!({"video_id": id, "predictions": []}).to_string();
    vec![
        (
            "predictions not an array",
            format!(
                "{}\n{}\n",
                ok(a),
                json!({"video_id": b, "predictions": {"frame": 0}})
            ),
        ),
        (
            "predictions missing",
            format!("{}\n", json!({"video_id": a})),
        ),
        (
            "video_id missing",
            format!("{}\n{}\n", ok(a), json!({"predictions": []})),
        ),
        (
            "video_id not a string",
            format!("{}\n", json!({"video_id": 1, "predictions": []})),
        ),
        ("duplicate video line", format!("{}\n{}\n", ok(a), ok(a))),
        (
            "bad targetRatioWH",
            format!(
                "{}\n",
                json!({"video_id": a, "targetRatioWH": [9, 0], "predictions": []})
            ),
        ),
        ("line not an object", format!("{}\n[1, 2]\n", ok(a))),
        ("invalid JSON", format!("{}\n{{\"video_id\": \n", ok(a))),
    ]
}

// ------------------------------------------------------------------------- running both

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/metric_reference.py")
}

/// Runs the Python reference: `Ok(output)` or `Err(stderr)` when it rejects the input.
fn python(pred: &Path, set: &Set) -> Result<Value, String> {
    let out = Command::new("python3")
        .arg(script())
        .arg(pred)
        .arg(&set.gt)
        .arg(&set.meta)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `python3` ({e}). This test compares the metric with the reference \
                 implementation tests/tools/metric_reference.py and needs python3 on PATH."
            )
        });
    if out.status.success() {
        let stdout = String::from_utf8_lossy(&out.stdout);
        Ok(serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("python3 printed something that is not JSON ({e}): {stdout}")
        }))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Keeps a failing input where it survives the temp dir, and says where.
fn keep(pred: &Path, set: &Set) -> String {
    let dest = std::env::temp_dir().join(format!("metric_agreement_failure_{}.jsonl", set.name));
    let _ = std::fs::copy(pred, &dest);
    format!(
        "input kept at {} (gt {}, meta {})",
        dest.display(),
        set.gt.display(),
        set.meta.display()
    )
}

/// Scores one file both ways and demands agreement; returns the score.
fn compare(pred: &Path, set: &Set) -> f64 {
    let meta = load_meta(&set.meta).unwrap_or_else(|e| panic!("load_meta: {e}"));
    let rust = evaluate(pred, &set.gt, &meta).unwrap_or_else(|e| {
        panic!(
            "[{}] Rust rejected a well-formed file: {e}; {}",
            set.name,
            keep(pred, set)
        )
    });
    let py = python(pred, set).unwrap_or_else(|e| {
        panic!(
            "[{}] Python rejected a well-formed file: {e}; {}",
            set.name,
            keep(pred, set)
        )
    });
    let py_videos = py["videos"].as_object().expect("python `videos` object");
    assert_eq!(
        rust.videos.len(),
        py_videos.len(),
        "[{}] video sets differ; {}",
        set.name,
        keep(pred, set)
    );
    for v in &rust.videos {
        let pf = py_videos
            .get(&v.video_id)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| {
                panic!(
                    "[{}] Python has no F for {:?}; {}",
                    set.name,
                    v.video_id,
                    keep(pred, set)
                )
            });
        assert!(
            (v.f - pf).abs() <= TOLERANCE,
            "[{}] video {:?}: Rust F {} vs Python F {} ({:?}); {}",
            set.name,
            v.video_id,
            v.f,
            pf,
            v,
            keep(pred, set)
        );
    }
    let ps = py["score"].as_f64().expect("python score");
    assert!(
        (rust.score - ps).abs() <= TOLERANCE,
        "[{}] score: Rust {} vs Python {}; {}",
        set.name,
        rust.score,
        ps,
        keep(pred, set)
    );
    rust.score
}

fn run_set(set: &Set, rng: &mut Rng, dir: &Path) {
    // The ground truth scored against itself: 100 on both sides.
    assert!(
        (compare(&set.gt, set) - 100.0).abs() < 1e-9,
        "[{}] GT vs GT is not 100",
        set.name
    );

    let mut scores = Vec::new();
    for i in 0..FILES_PER_SET {
        let path = dir.join(format!("{}_{i:03}.jsonl", set.name));
        std::fs::write(&path, random_file(rng, set)).unwrap();
        scores.push(compare(&path, set));
    }
    // The generator must produce a spread of scores, not a degenerate corner.
    let middling = scores.iter().filter(|&&s| s > 1.0 && s < 99.0).count();
    let mut distinct = scores.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    eprintln!(
        "[{}] {} random files agree; scores {:.3}..{:.3}, {} distinct",
        set.name,
        scores.len(),
        distinct.first().copied().unwrap_or(0.0),
        distinct.last().copied().unwrap_or(0.0),
        distinct.len()
    );
    assert!(
        middling >= FILES_PER_SET / 2,
        "[{}] only {middling} non-trivial scores",
        set.name
    );
    assert!(
        distinct.len() >= FILES_PER_SET / 2,
        "[{}] only {} distinct scores",
        set.name,
        distinct.len()
    );

    let meta = load_meta(&set.meta).unwrap();
    for (what, text) in malformed_files(set) {
        let path = dir.join(format!("{}_bad.jsonl", set.name));
        std::fs::write(&path, text).unwrap();
        let rust = evaluate(&path, &set.gt, &meta);
        assert!(
            rust.is_err(),
            "[{}] Rust accepted a file with {what}",
            set.name
        );
        assert!(
            python(&path, set).is_err(),
            "[{}] Python accepted a file with {what}",
            set.name
        );
    }
}

#[test]
fn python3_is_available() {
    let out = Command::new("python3").arg("--version").output();
    assert!(
        matches!(&out, Ok(o) if o.status.success()),
        "`python3 --version` failed ({out:?}): the metric agreement tests need python3 on PATH"
    );
}

#[test]
fn agrees_with_python_reference_on_synthetic_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_0001);
    let set = synthetic(dir.path(), &mut rng);
    run_set(&set, &mut rng, dir.path());
}

#[test]
fn agrees_with_python_reference_on_dev_set() {
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/evalsets/dev");
    if !dev.join("gt.jsonl").is_file() || !dev.join("meta.jsonl").is_file() {
        eprintln!(
            "{} absent: dev-set agreement skipped (synthetic one still runs)",
            dev.display()
        );
        return;
    }
    let set = read_set("dev", dev.join("gt.jsonl"), dev.join("meta.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_0002);
    run_set(&set, &mut rng, dir.path());
}
