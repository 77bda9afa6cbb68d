//! Hand-computed cases, property tests and the dev-set reference scores.

use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::io::Write as _;

fn ratio(w: u32, h: u32) -> AspectRatio {
    AspectRatio::new(w, h).unwrap()
}

fn win(x: f64, y: f64, w: f64) -> Window {
    Window { x, y, w }
}

fn pred(frame: i64, x: f64, y: f64, w: f64) -> Prediction {
    Prediction {
        frame,
        window: win(x, y, w),
    }
}

fn entry(frame: i64, x: f64, y: f64, w: f64) -> Value {
    json!({"frame": frame, "bboxes": [x, y, w]})
}

const META: VideoMeta = VideoMeta {
    width: 100,
    height: 100,
    frames: 10,
};

fn sq() -> AspectRatio {
    ratio(1, 1)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

// ---------------------------------------------------------------- IoU

#[test]
fn iou_of_known_boxes() {
    // Same box.
    assert_eq!(
        iou(win(0.0, 0.0, 10.0), win(0.0, 0.0, 10.0), sq(), sq()),
        1.0
    );
    // Two 10x10 squares shifted by 5 in x: inter 50, union 150.
    assert!(close(
        iou(win(0.0, 0.0, 10.0), win(5.0, 0.0, 10.0), sq(), sq()),
        1.0 / 3.0
    ));
    // Shifted by 5 in x and y: inter 25, union 175.
    assert!(close(
        iou(win(0.0, 0.0, 10.0), win(5.0, 5.0, 10.0), sq(), sq()),
        25.0 / 175.0
    ));
    // Touching edges only: no area in common.
    assert_eq!(
        iou(win(0.0, 0.0, 10.0), win(10.0, 0.0, 10.0), sq(), sq()),
        0.0
    );
    // Disjoint.
    assert_eq!(
        iou(win(0.0, 0.0, 10.0), win(50.0, 50.0, 10.0), sq(), sq()),
        0.0
    );
    // Contained: 5x5 inside 10x10 = 25 / 100.
    assert!(close(
        iou(win(0.0, 0.0, 10.0), win(2.0, 2.0, 5.0), sq(), sq()),
        0.25
    ));
}

#[test]
fn iou_heights_come_from_each_ratio_unrounded() {
    // 9:16, w = 202 -> h = 359.111..., not 359.
    let r = ratio(9, 16);
    let a = win(0.0, 0.0, 202.0);
    let b = win(0.0, 0.0, 202.0);
    assert_eq!(iou(a, b, r, r), 1.0);
    // Same width, one box 16:9 (h = 113.625), the other 9:16 (h = 359.111...).
    let got = iou(a, b, ratio(16, 9), r);
    let expect = (202.0 * 113.625) / (202.0 * (202.0 * 16.0 / 9.0));
    assert!(close(got, expect), "{got} vs {expect}");
    // 3:2 window of width 30 has height 20: vs a 20x20 square at the origin, inter 400,
    // union 600 + 400 - 400 = 600.
    assert!(close(
        iou(win(0.0, 0.0, 30.0), win(0.0, 0.0, 20.0), ratio(3, 2), sq()),
        400.0 / 600.0
    ));
}

#[test]
fn iou_degenerate_is_zero() {
    assert_eq!(iou(win(0.0, 0.0, 0.0), win(0.0, 0.0, 0.0), sq(), sq()), 0.0);
    assert_eq!(
        iou(win(0.0, 0.0, -5.0), win(0.0, 0.0, 10.0), sq(), sq()),
        0.0
    );
    assert_eq!(
        iou(win(f64::NAN, 0.0, 5.0), win(0.0, 0.0, 10.0), sq(), sq()),
        0.0
    );
    assert_eq!(
        iou(
            win(0.0, 0.0, f64::INFINITY),
            win(0.0, 0.0, 10.0),
            sq(),
            sq()
        ),
        0.0
    );
}

// ---------------------------------------------------------------- validity

#[test]
fn validity_rules_one_by_one() {
    let m = META;
    let ok = |p: Prediction| is_valid(&p, sq(), m);
    assert_eq!(ok(pred(0, 0.0, 0.0, 100.0)), Ok(()));
    assert_eq!(ok(pred(9, 90.0, 90.0, 10.0)), Ok(()));
    assert_eq!(
        ok(pred(10, 0.0, 0.0, 10.0)),
        Err(Invalid::FrameOutOfRange {
            frame: 10,
            frames: 10
        })
    );
    assert_eq!(
        ok(pred(-1, 0.0, 0.0, 10.0)),
        Err(Invalid::FrameOutOfRange {
            frame: -1,
            frames: 10
        })
    );
    assert_eq!(ok(pred(0, -0.5, 0.0, 10.0)), Err(Invalid::NegativeX(-0.5)));
    assert_eq!(ok(pred(0, 0.0, -1.0, 10.0)), Err(Invalid::NegativeY(-1.0)));
    assert_eq!(
        ok(pred(0, 0.0, 0.0, 0.0)),
        Err(Invalid::NonPositiveWidth(0.0))
    );
    assert_eq!(
        ok(pred(0, 0.0, 0.0, -3.0)),
        Err(Invalid::NonPositiveWidth(-3.0))
    );
    assert_eq!(
        ok(pred(0, 90.5, 0.0, 10.0)),
        Err(Invalid::BeyondWidth {
            right: 100.5,
            width: 100
        })
    );
    assert_eq!(
        ok(pred(0, 0.0, 95.0, 10.0)),
        Err(Invalid::BeyondHeight {
            bottom: 105.0,
            height: 100
        })
    );
    assert_eq!(ok(pred(0, f64::NAN, 0.0, 10.0)), Err(Invalid::NonFinite));
    assert_eq!(
        ok(pred(0, 0.0, 0.0, f64::INFINITY)),
        Err(Invalid::NonFinite)
    );
    // The height is real: 9:16 with w = 9 is 16 high, fits exactly in 16 rows, not in 15.99.
    let tall = VideoMeta {
        width: 9,
        height: 16,
        frames: 1,
    };
    assert_eq!(
        is_valid(&pred(0, 0.0, 0.0, 9.0), ratio(9, 16), tall),
        Ok(())
    );
    assert!(is_valid(&pred(0, 0.0, 0.01, 9.0), ratio(9, 16), tall).is_err());
    // Huge finite w: h overflows to infinity, still reported (as width first here).
    assert!(is_valid(&pred(0, 0.0, 0.0, f64::MAX), ratio(1, 16), META).is_err());
}

#[test]
fn no_frames_means_nothing_valid() {
    let empty = VideoMeta {
        width: 100,
        height: 100,
        frames: 0,
    };
    assert!(matches!(
        is_valid(&pred(0, 0.0, 0.0, 10.0), sq(), empty),
        Err(Invalid::FrameOutOfRange { .. })
    ));
}

// ---------------------------------------------------------------- per-video F

fn score(preds: &[Value], gt: &[Prediction]) -> VideoScore {
    score_video("v", preds, gt, sq(), sq(), META)
}

#[test]
fn both_empty_is_one_and_one_empty_is_zero() {
    let s = score(&[], &[]);
    assert_eq!((s.f, s.temporal_f, s.crop_iou), (1.0, 1.0, 1.0));
    let s = score(&[entry(0, 0.0, 0.0, 10.0)], &[]);
    assert_eq!((s.f, s.n_pred, s.n_gt, s.matched), (0.0, 1, 0, 0));
    let s = score(&[], &[pred(0, 0.0, 0.0, 10.0)]);
    assert_eq!((s.f, s.n_pred, s.n_gt, s.matched), (0.0, 0, 1, 0));
    assert_eq!(s.f, s.temporal_f * s.crop_iou);
}

#[test]
fn perfect_and_half_overlapping() {
    let gt = [pred(0, 0.0, 0.0, 10.0), pred(1, 0.0, 0.0, 10.0)];
    let s = score(&[entry(0, 0.0, 0.0, 10.0), entry(1, 0.0, 0.0, 10.0)], &gt);
    assert_eq!((s.f, s.s, s.matched), (1.0, 2.0, 2));
    // Frame 0 perfect, frame 1 shifted by 5 (IoU 1/3), frame 5 not a GT frame.
    let s = score(
        &[
            entry(0, 0.0, 0.0, 10.0),
            entry(1, 5.0, 0.0, 10.0),
            entry(5, 0.0, 0.0, 10.0),
        ],
        &gt,
    );
    assert_eq!((s.n_pred, s.n_gt, s.matched), (3, 2, 2));
    assert!(close(s.s, 4.0 / 3.0));
    assert!(close(s.f, 2.0 * (4.0 / 3.0) / 5.0));
    assert!(close(s.temporal_f, 4.0 / 5.0));
    assert!(close(s.crop_iou, 2.0 / 3.0));
}

#[test]
fn duplicates_count_but_only_the_first_valid_scores() {
    let gt = [pred(0, 0.0, 0.0, 10.0)];
    // First valid is the perfect one; the second (also valid) only adds to N_pred.
    let s = score(&[entry(0, 0.0, 0.0, 10.0), entry(0, 5.0, 0.0, 10.0)], &gt);
    assert_eq!((s.n_pred, s.matched, s.s), (2, 1, 1.0));
    assert!(close(s.f, 2.0 / 3.0));
    // Order matters: the shifted one first scores 1/3.
    let s = score(&[entry(0, 5.0, 0.0, 10.0), entry(0, 0.0, 0.0, 10.0)], &gt);
    assert!(close(s.s, 1.0 / 3.0));
    // An invalid first entry of the frame does not block the valid one after it.
    let s = score(&[entry(0, -1.0, 0.0, 10.0), entry(0, 0.0, 0.0, 10.0)], &gt);
    assert_eq!((s.n_pred, s.matched, s.s), (2, 1, 1.0));
    assert!(close(s.f, 2.0 / 3.0));
}

#[test]
fn unparsable_and_invalid_entries_count_in_n_pred() {
    let gt = [pred(0, 0.0, 0.0, 10.0)];
    let garbage = [
        json!(null),
        json!("frame 0"),
        json!({"frame": 0}),
        json!({"frame": "0", "bboxes": [0, 0, 10]}),
        json!({"frame": 0, "bboxes": [0, 0]}),
        json!({"frame": 0, "bboxes": [0, null, 10]}),
        json!({"frame": 0.5, "bboxes": [0, 0, 10]}),
        entry(0, 95.0, 0.0, 10.0),
        entry(42, 0.0, 0.0, 10.0),
    ];
    let mut preds = garbage.to_vec();
    let s = score(&preds, &gt);
    assert_eq!((s.n_pred, s.matched, s.f), (9, 0, 0.0));
    preds.push(entry(0, 0.0, 0.0, 10.0));
    let s = score(&preds, &gt);
    assert_eq!((s.n_pred, s.matched, s.s), (10, 1, 1.0));
    assert!(close(s.f, 2.0 / 11.0));
}

#[test]
fn nested_bboxes_and_real_coordinates_are_read() {
    let gt = [pred(3, 0.0, 0.0, 10.0)];
    let s = score(&[json!({"frame": 3, "bboxes": [[0, 0, 10]]})], &gt);
    assert_eq!(s.f, 1.0);
    let s = score(&[json!({"frame": 3.0, "bboxes": [2.5, 0, 10]})], &gt);
    assert!(close(s.s, 75.0 / 125.0));
}

#[test]
fn prediction_ratio_sizes_prediction_boxes() {
    // GT square 10x10; prediction declared 2:1, width 20 -> 20x10 box: IoU 100/200.
    let gt = [pred(0, 0.0, 0.0, 10.0)];
    let s = score_video(
        "v",
        &[entry(0, 0.0, 0.0, 20.0)],
        &gt,
        ratio(2, 1),
        sq(),
        META,
    );
    assert!(close(s.f, 0.5));
}

// ---------------------------------------------------------------- properties

fn any_ratio() -> impl Strategy<Value = AspectRatio> {
    (1u32..32, 1u32..32).prop_map(|(w, h)| ratio(w, h))
}

fn any_window() -> impl Strategy<Value = Window> {
    (-50.0f64..150.0, -50.0f64..150.0, -10.0f64..120.0).prop_map(|(x, y, w)| win(x, y, w))
}

/// Entries mostly valid, on a 100x100x10 video, a fair share of them on GT frames.
fn any_entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (0i64..10, 0.0f64..50.0, 0.0f64..50.0, 1.0f64..50.0)
            .prop_map(|(f, x, y, w)| entry(f, x.round(), y.round(), w.round().max(1.0))),
        1 => (-3i64..14, -20.0f64..120.0, -20.0f64..120.0, -5.0f64..120.0)
            .prop_map(|(f, x, y, w)| entry(f, x, y, w)),
        1 => Just(json!("garbage")),
        1 => Just(json!({"frame": 1, "bboxes": null})),
    ]
}

fn any_gt() -> impl Strategy<Value = Vec<Prediction>> {
    proptest::collection::btree_map(0i64..10, (0.0f64..50.0, 0.0f64..50.0, 1.0f64..50.0), 0..10)
        .prop_map(|m| {
            m.into_iter()
                .map(|(f, (x, y, w))| pred(f, x, y, w))
                .collect()
        })
}

fn invalid_entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!({"frame": 2, "bboxes": "x"})),
        (10i64..100).prop_map(|f| entry(f, 0.0, 0.0, 10.0)),
        (0i64..10).prop_map(|f| entry(f, -1.0, 0.0, 10.0)),
        (0i64..10).prop_map(|f| entry(f, 95.0, 0.0, 10.0)),
        (0i64..10).prop_map(|f| entry(f, 0.0, 0.0, 0.0)),
    ]
}

proptest! {
    #[test]
    fn iou_symmetric_and_bounded(a in any_window(), b in any_window(), ra in any_ratio(), rb in any_ratio()) {
        let ab = iou(a, b, ra, rb);
        let ba = iou(b, a, rb, ra);
        prop_assert_eq!(ab, ba);
        prop_assert!((0.0..=1.0).contains(&ab));
    }

    #[test]
    fn iou_with_itself_is_one(a in any_window(), r in any_ratio()) {
        prop_assume!(a.w > 0.0);
        // Exactly 1 up to the rounding of `(y + h) − y`: a box a thousandth of a pixel high at
        // y = 40 loses ~1e-11 of its height to it (found by a CI run), so the bound grows with
        // the coordinates over the sides instead of being a fixed 1e-12.
        let h = a.height(r);
        let tol = 8.0 * f64::EPSILON * ((a.x.abs() + a.w) / a.w + (a.y.abs() + h) / h);
        let v = iou(a, a, r, r);
        prop_assert!((v - 1.0).abs() <= tol, "iou {v} of {a:?} with itself, bound {tol}");
    }

    #[test]
    fn f_bounded_and_factorised(preds in proptest::collection::vec(any_entry(), 0..25), gt in any_gt()) {
        let s = score(&preds, &gt);
        prop_assert!((0.0..=1.0).contains(&s.f), "F = {}", s.f);
        prop_assert!((0.0..=1.0).contains(&s.temporal_f));
        prop_assert!((0.0..=1.0).contains(&s.crop_iou));
        prop_assert!(s.matched <= s.n_pred.min(s.n_gt));
        if s.n_pred + s.n_gt > 0 {
            prop_assert!(close(s.f, s.temporal_f * s.crop_iou), "{} vs {} x {}", s.f, s.temporal_f, s.crop_iou);
        }
    }

    #[test]
    fn adding_an_invalid_prediction_never_raises_f(
        preds in proptest::collection::vec(any_entry(), 0..25),
        gt in any_gt(),
        bad in invalid_entry(),
        at in 0usize..26,
    ) {
        let before = score(&preds, &gt).f;
        let mut more = preds.clone();
        more.insert(at.min(more.len()), bad);
        let after = score(&more, &gt).f;
        prop_assert!(after <= before + 1e-12, "{} -> {}", before, after);
    }

    #[test]
    fn order_does_not_matter_when_frames_are_unique(
        boxes in proptest::collection::btree_map(0i64..10, (0.0f64..50.0, 0.0f64..50.0, 1.0f64..50.0), 0..10),
        gt in any_gt(),
        seed in any::<u64>(),
    ) {
        let preds: Vec<Value> = boxes.iter().map(|(&f, &(x, y, w))| entry(f, x, y, w)).collect();
        // Fisher-Yates with a small xorshift driven by the seed.
        let mut shuffled = preds.clone();
        let mut st = seed | 1;
        for i in (1..shuffled.len()).rev() {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            shuffled.swap(i, (st % (i as u64 + 1)) as usize);
        }
        let a = score(&preds, &gt).f;
        let b = score(&shuffled, &gt).f;
        prop_assert!(close(a, b), "{} vs {}", a, b);
    }
}

// ---------------------------------------------------------------- files

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    p
}

fn small_meta() -> HashMap<String, VideoMeta> {
    let mut m = HashMap::new();
    m.insert("a".to_owned(), META);
    m.insert("b".to_owned(), META);
    m
}

const GT: &str = r#"{"video_id": "a", "targetRatioWH": [1, 1], "predictions": [{"frame": 0, "bboxes": [0, 0, 10]}]}

{"video_id": "b", "targetRatioWH": [1, 1], "predictions": []}
"#;

#[test]
fn evaluate_matches_by_id_and_scores_gt_videos_only() {
    let d = tempfile::tempdir().unwrap();
    let gt = write(d.path(), "gt.jsonl", GT);
    // "b" has no line: empty GT and no predictions, both counts 0, F = 1. "zzz" is not in the
    // GT: ignored, even though its `predictions` is not an array.
    let preds = write(
        d.path(),
        "preds.jsonl",
        r#"{"video_id": "zzz", "predictions": 5}
{"video_id": "a", "predictions": [{"frame": 0, "bboxes": [5, 0, 10]}]}
"#,
    );
    let r = evaluate(&preds, &gt, &small_meta()).unwrap();
    assert_eq!(
        r.videos
            .iter()
            .map(|v| v.video_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(close(r.videos[0].f, 1.0 / 3.0));
    assert_eq!(r.videos[1].f, 1.0);
    assert!(close(r.score, 100.0 * (1.0 / 3.0 + 1.0) / 2.0));
    let text = render_plain(&r, true);
    assert_eq!(text.lines().last(), Some("score 66.667"));
    assert!(text.ends_with("score 66.667\n"));
    assert!(text.contains("mean temporal F 1.0000"));
    assert!(text.lines().next().unwrap().starts_with("video"));
    assert_eq!(render_plain(&r, false).lines().last(), Some("score 66.667"));
    let back: Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(back["videos"][0]["video_id"], "a");
    assert!(back["score"].is_f64());
}

#[test]
fn evaluate_uses_the_prediction_lines_own_ratio() {
    let d = tempfile::tempdir().unwrap();
    let gt = write(d.path(), "gt.jsonl", GT);
    let preds = write(
        d.path(),
        "p.jsonl",
        r#"{"video_id": "a", "targetRatioWH": [2, 1], "predictions": [{"frame": 0, "bboxes": [0, 0, 20]}]}"#,
    );
    let r = evaluate(&preds, &gt, &small_meta()).unwrap();
    assert!(close(r.videos[0].f, 0.5));
}

fn eval_err(preds: &str, gt: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let g = write(d.path(), "gt.jsonl", gt);
    let p = write(d.path(), "preds.jsonl", preds);
    match evaluate(&p, &g, &small_meta()) {
        Ok(r) => panic!("expected an error, got score {}", r.score),
        Err(e) => {
            let msg = e.to_string();
            // Name only, so the assertions below do not depend on the temp dir.
            msg.replace(&format!("{}", d.path().display()), "")
                .trim_start_matches('/')
                .to_owned()
        }
    }
}

#[test]
fn evaluate_errors_name_file_line_and_field() {
    let ok_a = r#"{"video_id": "a", "predictions": []}"#;
    assert_eq!(
        eval_err(
            &format!("{ok_a}\n\n{{\"video_id\": \"b\", \"predictions\": {{}}}}\n"),
            GT
        ),
        "preds.jsonl line 3: `predictions` is not an array"
    );
    assert_eq!(
        eval_err(r#"{"video_id": "a"}"#, GT),
        "preds.jsonl line 1: `predictions` is missing"
    );
    assert_eq!(
        eval_err(r#"{"predictions": []}"#, GT),
        "preds.jsonl line 1: `video_id` is missing"
    );
    assert!(eval_err(r#"{"video_id": 7, "predictions": []}"#, GT)
        .starts_with("preds.jsonl line 1: `video_id` is not a string"));
    assert!(eval_err("{not json", GT).starts_with("preds.jsonl line 1: invalid JSON"));
    assert_eq!(eval_err("[1]", GT), "preds.jsonl line 1: not a JSON object");
    assert!(eval_err(&format!("{ok_a}\n{ok_a}"), GT)
        .starts_with("preds.jsonl line 2: video_id \"a\" already appears on line 1"));
    assert!(eval_err(
        r#"{"video_id": "a", "targetRatioWH": [0, 1], "predictions": []}"#,
        GT
    )
    .starts_with("preds.jsonl line 1: `targetRatioWH`"));
    // Ground-truth problems.
    assert_eq!(
        eval_err(
            ok_a,
            r#"{"video_id": "c", "targetRatioWH": [1, 1], "predictions": []}"#
        ),
        "gt.jsonl line 1: video \"c\" is not in the meta file"
    );
    assert_eq!(
        eval_err(ok_a, r#"{"video_id": "a", "predictions": []}"#),
        "gt.jsonl line 1: `targetRatioWH` is missing"
    );
    assert!(eval_err(
        ok_a,
        r#"{"video_id": "a", "targetRatioWH": [1, 1], "predictions": [{"frame": 0}]}"#
    )
    .starts_with("gt.jsonl line 1: `predictions[0]` missing `bboxes`"));
    assert_eq!(
        eval_err(
            ok_a,
            r#"{"video_id": "a", "targetRatioWH": [1, 1], "predictions": [{"frame": 0, "bboxes": [0, 0, 1]}, {"frame": 0, "bboxes": [0, 0, 1]}]}"#
        ),
        "gt.jsonl line 1: `predictions[1]` repeats frame 0"
    );
    assert_eq!(
        eval_err(ok_a, "\n\n"),
        "gt.jsonl: holds no video, there is nothing to score"
    );
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let e = evaluate(
        Path::new("/nonexistent/p.jsonl"),
        Path::new("/nonexistent/g.jsonl"),
        &small_meta(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/g.jsonl: cannot read"),
        "{e}"
    );
}

#[test]
fn load_meta_reads_and_checks() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "meta.jsonl",
        "{\"video_id\": \"000\", \"width\": 640, \"height\": 360, \"frames\": 142, \"fps\": 30}\n\n",
    );
    let m = load_meta(&p).unwrap();
    assert_eq!(
        m["000"],
        VideoMeta {
            width: 640,
            height: 360,
            frames: 142
        }
    );
    let p = write(
        d.path(),
        "bad.jsonl",
        "{\"video_id\": \"x\", \"width\": 640, \"height\": -1, \"frames\": 1}\n",
    );
    let e = load_meta(&p).unwrap_err().to_string();
    assert!(
        e.ends_with("bad.jsonl line 1: `height` is not a non-negative integer: -1"),
        "{e}"
    );
    let p = write(
        d.path(),
        "bad2.jsonl",
        "{\"video_id\": \"x\", \"width\": 640, \"height\": 1}\n",
    );
    let e = load_meta(&p).unwrap_err().to_string();
    assert!(e.ends_with("bad2.jsonl line 1: `frames` is missing"), "{e}");
}

// ---------------------------------------------------------------- dev-set reference scores

fn dev_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/evalsets/dev");
    d.join("gt.jsonl").is_file().then_some(d)
}

/// The largest window of ratio `r` in a `w`×`h` picture, centred. Width floored, position
/// floored: `x = floor((W - w) / 2)`, `y = floor((H - h) / 2)` with the real `h`. These
/// give the README's 47.2 (47.167...; rounding the width instead gives the same here).
fn centred_largest(width: u32, height: u32, r: AspectRatio) -> Window {
    let (tw, th) = (f64::from(r.w()), f64::from(r.h()));
    let (wf, hf) = (f64::from(width), f64::from(height));
    let w = if wf / hf > tw / th {
        (hf * tw / th).floor()
    } else {
        wf
    };
    let h = w * th / tw;
    win(((wf - w) / 2.0).floor(), ((hf - h) / 2.0).floor(), w)
}

#[test]
fn dev_set_reference_scores() {
    let Some(dir) = dev_dir() else {
        eprintln!("dev set absent, reference scores not checked");
        return;
    };
    let meta = load_meta(&dir.join("meta.jsonl")).unwrap();
    let gt_path = dir.join("gt.jsonl");
    let gt_text = std::fs::read_to_string(&gt_path).unwrap();
    let mut all = String::new();
    let mut none = String::new();
    for line in gt_text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let id = v["video_id"].as_str().unwrap();
        let r = AspectRatio::from_json(&v["targetRatioWH"]).unwrap();
        let m = meta[id];
        let c = centred_largest(m.width, m.height, r);
        let preds: Vec<Prediction> = (0..m.frames as i64)
            .map(|frame| Prediction { frame, window: c })
            .collect();
        for p in &preds {
            assert_eq!(is_valid(p, r, m), Ok(()), "centred window invalid on {id}");
        }
        let line =
            json!({"video_id": id, "targetRatioWH": v["targetRatioWH"], "predictions": preds});
        all.push_str(&format!("{line}\n"));
        none.push_str(&format!("{}\n", json!({"video_id": id, "predictions": []})));
    }
    let d = tempfile::tempdir().unwrap();
    let score = |text: &str| evaluate(&write(d.path(), "p.jsonl", text), &gt_path, &meta).unwrap();

    let r = score(&all);
    eprintln!("dev: every frame, centred largest window: {:.4}", r.score);
    assert!((r.score - 47.2).abs() < 0.05 + 1e-9, "{}", r.score);

    let r = evaluate(&gt_path, &gt_path, &meta).unwrap();
    eprintln!("dev: ground truth itself: {:.4}", r.score);
    assert!((r.score - 100.0).abs() < 1e-9, "{}", r.score);

    let r = score(&none);
    eprintln!("dev: empty predictions: {:.4}", r.score);
    assert!((r.score - 10.5).abs() < 0.05 + 1e-9, "{}", r.score);
}

#[test]
fn split_table_sets_crops_against_the_centred_window_on_the_same_frames() {
    let d = tempfile::tempdir().unwrap();
    // A 160×90 landscape picture, 9:16 target: the window is 50 wide (90·9/16 = 50.6 → 50),
    // the centred one at x = 55. The truth sits at the left edge on frames 0 and 1.
    let gt = write(
        d.path(),
        "gt.jsonl",
        r#"{"video_id": "a", "targetRatioWH": [9, 16], "predictions": [{"frame": 0, "bboxes": [0, 0, 50]}, {"frame": 1, "bboxes": [0, 0, 50]}]}
"#,
    );
    // Frame 0 exact, frame 1 centred, frame 2 not a ground-truth frame (does not count).
    let preds = write(
        d.path(),
        "p.jsonl",
        r#"{"video_id": "a", "predictions": [{"frame": 0, "bboxes": [0, 0, 50]}, {"frame": 1, "bboxes": [55, 0, 50]}, {"frame": 2, "bboxes": [0, 0, 50]}]}
"#,
    );
    let mut meta = HashMap::new();
    meta.insert("a".to_owned(), VideoMeta { width: 160, height: 90, frames: 3 });
    let r = evaluate(&preds, &gt, &meta).unwrap();
    assert_eq!(r.splits.len(), 1);
    let s = &r.splits[0];
    assert_eq!((s.split.as_str(), s.videos, s.frames, s.moving), ("landscape→9:16", 1, 2, true));
    // Ours: IoU 1 and 0 (no overlap: 55 > 50); centred: 0 on both.
    assert!(close(s.crop_iou, 0.5));
    assert_eq!(s.centred_iou, 0.0);
    assert!(render_plain(&r, false).contains("landscape→9:16"));
    assert_eq!(shape_of(100, 100), "square");
    assert_eq!(shape_of(90, 160), "portrait");
}
