//! The networks are one pool per process, not one set per thread: the daemon's threads that
//! analyse now and then (ingest jobs, one moment cutter per camera) share the sets, so memory
//! follows how many videos are analysed *at once*, not how many threads ever analysed one.
//! Real networks from `engines/` on the bundled clip; its own test binary with this one test,
//! so the process-wide count is this test's alone (a second test here would share the pool and
//! break the exact counts). Needs the engines (`engines/build.sh`).

use highlightd::config::Config;
use highlightd::engine::{self, VideoResult};
use highlightd::format::AspectRatio;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;

const BUNNY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/bigbuckbunny.mp4");

fn analyse(cfg: &Config) -> VideoResult {
    let r = engine::process_video(Path::new(BUNNY), AspectRatio::PORTRAIT, cfg, |_| {}).unwrap_or_else(|e| panic!("{BUNNY}: {e}"));
    // The networks really ran on this video (not the classical fallback).
    assert!(r.subjects_sampled > 0 && r.network_seconds > 0.0, "no network ran on {BUNNY}: run engines/build.sh");
    assert!(!r.predictions.is_empty(), "the clip is real footage: some frames are chosen");
    r
}

#[test]
fn threads_share_the_loaded_networks_and_load_only_what_runs_at_once() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/engines/manifest.json");
    assert!(Path::new(manifest).is_file(), "{manifest} is missing: run `engines/build.sh` first");
    let cfg = Arc::new(Config { engines: highlightd::config::EnginesConfig { required: true, ..Config::default().engines }, ..Config::default() });
    assert!(cfg.engines.enabled && !cfg.engines.models.is_empty(), "the default configuration runs the networks");
    assert_eq!(engine::network_sets_loaded(), 0);

    // Three threads one after another, as cameras' cutters wake in turn: one set serves all.
    let mut first: Option<Vec<_>> = None;
    for _ in 0..3 {
        let c = Arc::clone(&cfg);
        let r = thread::spawn(move || analyse(&c)).join().expect("the analysis thread");
        let preds: Vec<_> = r.predictions.iter().map(|p| (p.frame, p.window)).collect();
        // A reused set decides exactly as a fresh one (no state carried between videos).
        match &first {
            None => first = Some(preds),
            Some(f) => assert_eq!(&preds, f, "a reused set of networks changed the answer"),
        }
    }
    assert_eq!(engine::network_sets_loaded(), 1, "threads analysing in turn load one set");

    // Two at once need two sets: a session runs one inference at a time.
    two_at_once(&cfg);
    assert_eq!(engine::network_sets_loaded(), 2, "two videos at once: a second set, loaded once");

    // Both are kept and reused: two at once again, and one alone, load nothing new.
    two_at_once(&cfg);
    let c = Arc::clone(&cfg);
    thread::spawn(move || analyse(&c)).join().expect("the analysis thread");
    assert_eq!(engine::network_sets_loaded(), 2);
}

/// Two threads analysing at the same time: each holds a set for a whole video (seconds), so
/// started together they always overlap.
fn two_at_once(cfg: &Arc<Config>) {
    let start = Arc::new(Barrier::new(2));
    let both: Vec<_> = (0..2)
        .map(|_| {
            let (c, b) = (Arc::clone(cfg), Arc::clone(&start));
            thread::spawn(move || {
                b.wait();
                analyse(&c)
            })
        })
        .collect();
    for t in both {
        t.join().expect("the analysis thread");
    }
}
