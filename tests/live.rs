//! The streaming core on a camera's segments, without the daemon around it: the segments of a
//! recording fed one by one into [`Live`] (bounded look-ahead, what a camera runs) and the
//! same recording as one file through `process_video` (unlimited look-ahead, what `predict`
//! runs) find the same highlight, and the live path decides every frame exactly once. The
//! recording is longer than the live history (60 s), so the window slides and forgets, and
//! one segment after the action is skipped, as when the analysis falls behind.

mod common;

use common::*;
use highlightd::camera::moments::MIN_SCORE;
use highlightd::config::Config;
use highlightd::engine::live::{Horizon, Live};
use highlightd::engine::process_video;
use highlightd::format::AspectRatio;
use std::ops::Range;
use std::path::{Path, PathBuf};

const FPS: usize = 15;

/// 65 s of a still picture, 5 s of the bunny moving, 20 s still again (15 fps, 320x180, a key
/// frame every second), as one MP4 and as 2 s MPEG-TS segments cut without re-encoding.
fn recording(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let out = dir.join("calm_action.mp4");
    let bunny = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/bigbuckbunny.mp4");
    let filter = "[0:v]scale=320:180,setsar=1,fps=15,split=2[a][b];\
                  [a]trim=start_frame=30:end_frame=31,setpts=PTS-STARTPTS,loop=loop=974:size=1:start=0,setpts=N/15/TB,split=2[c1][c2];\
                  [c2]trim=end_frame=300,setpts=PTS-STARTPTS[c3];\
                  [b]trim=duration=5,setpts=PTS-STARTPTS[act];\
                  [c1][act][c3]concat=n=3:v=1:a=0,format=yuv420p";
    let o = out.to_str().expect("utf-8 path");
    ffmpeg(&["-i", bunny, "-an", "-filter_complex", filter, "-c:v", "libx264", "-preset", "veryfast", "-g", "15", "-keyint_min", "15", "-sc_threshold", "0", "-crf", "20", o]);
    let segs = dir.join("seg%03d.ts");
    ffmpeg(&["-i", o, "-c", "copy", "-f", "segment", "-segment_time", "2", "-reset_timestamps", "1", segs.to_str().expect("utf-8 path")]);
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir).expect("segments").filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "ts")).collect();
    parts.sort();
    (out, parts)
}

fn overlap(a: &Range<usize>, b: &Range<usize>) -> usize {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

#[test]
fn segments_fed_live_and_the_whole_file_find_the_same_highlight() {
    let tmp = tempdir();
    let (whole, parts) = recording(tmp.path());
    assert!(parts.len() >= 43, "expected about 45 segments of 2 s, got {}", parts.len());
    let cfg = Config::default();
    let ratio = AspectRatio::PORTRAIT;
    let action = 65 * FPS..70 * FPS;
    // Tolerance at each end of the action: one second.
    let near = action.start - FPS..action.end + FPS;
    // The action is decided after the window began to slide (65 s > 60 s of history); the
    // segment 74–76 s, after the action, is skipped.
    let skipped = 37;

    // The camera's way: segment after segment, 2 s of look-ahead. Stream frames are mapped
    // back to the recording's (the skipped segment's frames are in the recording only).
    let mut live = Live::new(&cfg, ratio, Horizon::with_look_ahead(2.0));
    let mut decided: Vec<Range<usize>> = Vec::new();
    let mut moments: Vec<Range<usize>> = Vec::new();
    let mut fed_end = 0;
    let mut recording_frames = 0usize;
    let mut to_recording: Vec<(Range<usize>, usize)> = Vec::new();
    let mut follows = false;
    let keep = |runs: &[highlightd::engine::live::Run], moments: &mut Vec<Range<usize>>| moments.extend(runs.iter().filter(|r| r.p_sum / r.frames.len() as f64 >= MIN_SCORE).map(|r| r.frames.clone()));
    for (k, p) in parts.iter().enumerate() {
        if k == skipped {
            recording_frames += probe_video(p).0 as usize;
            follows = false;
            continue;
        }
        let (fed, d) = live.segment(p, &cfg, follows).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        follows = true;
        assert_eq!(fed.frames.start, fed_end, "segments follow each other in the stream");
        fed_end = fed.frames.end;
        to_recording.push((fed.frames.clone(), recording_frames));
        recording_frames += fed.frames.len();
        // Never decided before two seconds of stream came after it.
        assert!(d.frames.end + 2 * FPS <= fed_end, "{:?} decided with only {} frames after", d.frames, fed_end - d.frames.end);
        decided.push(d.frames.clone());
        keep(&d.runs, &mut moments);
    }
    let last = live.finish(&cfg, Path::new("test")).expect("final decision");
    decided.push(last.frames.clone());
    keep(&last.runs, &mut moments);
    let (total, _, _) = probe_video(&whole);
    assert_eq!(recording_frames as u64, total, "the segments hold every frame of the recording");
    // Every frame fed decided exactly once, in order.
    let decided: Vec<Range<usize>> = decided.into_iter().filter(|r| !r.is_empty()).collect();
    assert_eq!(decided.first().map(|r| r.start), Some(0));
    assert_eq!(decided.last().map(|r| r.end), Some(fed_end));
    assert!(decided.windows(2).all(|w| w[0].end == w[1].start), "{decided:?}");
    // In the recording's frames (a run never spans two segments' worth of mapping here: the
    // action is before the skipped segment, and runs are cut where decisions end).
    let at = |i: usize| to_recording.iter().find(|(r, _)| r.contains(&i)).map(|(r, off)| off + i - r.start).expect("fed frame");
    let moments: Vec<Range<usize>> = moments.iter().map(|m| at(m.start)..at(m.end - 1) + 1).collect();
    println!("live moments (recording frames): {moments:?}");
    let live_in: usize = moments.iter().map(|m| overlap(m, &action)).sum();
    let live_total: usize = moments.iter().map(|m| m.len()).sum();
    assert!(live_in * 10 >= action.len() * 8, "live kept {live_in} of the action's {} frames: {moments:?}", action.len());
    assert!(moments.iter().all(|m| overlap(m, &near) == m.len()), "live moments outside the action: {moments:?}");

    // `predict`'s way: the whole file at once.
    let r = process_video(&whole, ratio, &cfg, |_| {}).expect("the whole file");
    let kept: Vec<Range<usize>> = r.selection.segments.iter().filter(|s| s.p >= MIN_SCORE).map(|s| s.start..s.end).collect();
    println!("file selection (frames): {kept:?}");
    let file_in: usize = kept.iter().map(|m| overlap(m, &action)).sum();
    assert!(file_in * 10 >= action.len() * 8, "the file kept {file_in} of the action's {} frames: {kept:?}", action.len());
    assert!(kept.iter().all(|m| overlap(m, &near) == m.len()), "file selection outside the action: {kept:?}");
    // The two agree frame by frame on all but a few frames at the action's ends.
    let both: usize = moments.iter().flat_map(|m| kept.iter().map(move |k| overlap(m, k))).sum();
    let union = live_total + kept.iter().map(|k| k.len()).sum::<usize>() - both;
    println!("live {live_total} frames, file {} frames, in common {both} (of {union})", union + both - live_total);
    assert!(both * 10 >= union * 8, "live and file selections differ: live {moments:?}, file {kept:?}");
}
