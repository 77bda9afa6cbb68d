//! The ring buffer: finalised segments on disk, oldest deleted first once the camera's folder
//! is over its byte quota or a segment is older than the age limit, never a segment a moment
//! still needs (pinned while its clip is cut).
//!
//! A finalised segment is named `<start_ms>-<end_ms>.<ext>` (UTC milliseconds since the epoch),
//! so the folder itself is the index: no database to get out of step with the files after a
//! crash, and the time span of every segment is known without opening it. A segment still
//! being written ends in `.part` and never counts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One finalised segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub path: PathBuf,
    /// Wall-clock span, UTC milliseconds since the epoch.
    pub start_ms: u64,
    pub end_ms: u64,
    pub bytes: u64,
}

/// `<start_ms>-<end_ms>.<ext>` → (start, end).
pub fn parse_name(name: &str, ext: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    let (a, b) = stem.split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (b >= a).then_some((a, b))
}

pub fn segment_name(start_ms: u64, end_ms: u64, ext: &str) -> String {
    format!("{start_ms}-{end_ms}.{ext}")
}

/// The finalised segments in `dir`, oldest first.
pub fn list(dir: &Path, ext: &str) -> Vec<Segment> {
    let mut v: Vec<Segment> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let (start_ms, end_ms) = parse_name(&name, ext)?;
                    let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
                    Some(Segment { path: e.path(), start_ms, end_ms, bytes: meta.len() })
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|s| (s.start_ms, s.end_ms));
    v
}

/// Time spans (UTC ms) that moments being cut still need; segments overlapping one are kept
/// whatever the quota says. Shared between the recorder's retention and the moment cutter.
#[derive(Debug, Clone, Default)]
pub struct Pins(Arc<Mutex<Vec<(u64, u64)>>>);

impl Pins {
    /// Pins `[start, end]` until the returned guard is dropped.
    pub fn pin(&self, start_ms: u64, end_ms: u64) -> PinGuard {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((start_ms, end_ms));
        PinGuard { pins: self.clone(), span: (start_ms, end_ms) }
    }

    fn snapshot(&self) -> Vec<(u64, u64)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Keeps a span pinned while alive.
#[derive(Debug)]
pub struct PinGuard {
    pins: Pins,
    span: (u64, u64),
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut v = self.pins.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = v.iter().position(|s| *s == self.span) {
            v.swap_remove(i);
        }
    }
}

/// Which segments (oldest first) to delete so that the rest fit `quota_bytes` and none is
/// older than `max_age_ms` (0: no age limit) at `now_ms`. A pinned segment is never chosen;
/// the quota is then met by deleting newer unpinned ones, oldest first, if any.
pub fn plan(segments: &[Segment], now_ms: u64, quota_bytes: u64, max_age_ms: u64, pinned: &[(u64, u64)]) -> Vec<PathBuf> {
    let is_pinned = |s: &Segment| pinned.iter().any(|&(a, b)| s.start_ms <= b && a <= s.end_ms);
    let mut total: u64 = segments.iter().map(|s| s.bytes).sum();
    let mut out = Vec::new();
    for s in segments {
        if is_pinned(s) {
            continue;
        }
        let too_old = max_age_ms > 0 && now_ms.saturating_sub(s.end_ms) > max_age_ms;
        if total > quota_bytes || too_old {
            total -= s.bytes;
            out.push(s.path.clone());
        }
    }
    out
}

/// Applies [`plan`] to `dir`; returns (bytes kept, segments kept, segments deleted).
pub fn enforce(dir: &Path, ext: &str, now_ms: u64, quota_bytes: u64, max_age_ms: u64, pins: &Pins) -> (u64, usize, usize) {
    let segs = list(dir, ext);
    let doomed = plan(&segs, now_ms, quota_bytes, max_age_ms, &pins.snapshot());
    let mut deleted = 0;
    for p in &doomed {
        match std::fs::remove_file(p) {
            Ok(()) => deleted += 1,
            Err(e) => tracing::warn!("cannot delete old segment {}: {e}", p.display()),
        }
    }
    let kept: Vec<&Segment> = segs.iter().filter(|s| !doomed.contains(&s.path)).collect();
    (kept.iter().map(|s| s.bytes).sum(), kept.len(), deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(i: u64, bytes: u64) -> Segment {
        Segment { path: PathBuf::from(format!("{}", i)), start_ms: i * 1000, end_ms: i * 1000 + 1000, bytes }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_name(&segment_name(5, 9, "ts"), "ts"), Some((5, 9)));
        assert_eq!(parse_name("5-9.ts.part", "ts"), None);
        assert_eq!(parse_name("9-5.ts", "ts"), None);
        assert_eq!(parse_name("x-5.ts", "ts"), None);
    }

    #[test]
    fn oldest_go_first_until_under_quota() {
        let segs: Vec<Segment> = (0..5).map(|i| seg(i, 100)).collect();
        let names = |v: Vec<PathBuf>| v.into_iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        assert_eq!(names(plan(&segs, 5000, 300, 0, &[])), ["0", "1"]);
        assert!(plan(&segs, 5000, 500, 0, &[]).is_empty());
        // Age: segment 0 ended at 1000, 1 at 2000; at 4500 with 3 s max age only 0 is too old.
        assert_eq!(names(plan(&segs, 4500, 10_000, 3000, &[])), ["0"]);
    }

    #[test]
    fn pinned_segments_are_kept() {
        let segs: Vec<Segment> = (0..5).map(|i| seg(i, 100)).collect();
        let names = |v: Vec<PathBuf>| v.into_iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        assert_eq!(names(plan(&segs, 5000, 300, 0, &[(500, 1500)])), ["2", "3"]);
        let pins = Pins::default();
        let g = pins.pin(1, 2);
        assert_eq!(pins.snapshot(), [(1, 2)]);
        drop(g);
        assert!(pins.snapshot().is_empty());
    }
}
