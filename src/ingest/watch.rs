//! What the daemon finds in its ingest folder, and when a file may be picked up.
//!
//! Plain functions over paths and observations: the event source (file-system notifications
//! plus a periodic rescan) lives in the daemon; here is only the logic it feeds.

use crate::format::AspectRatio;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Sub-folders of the ingest folder the daemon itself writes to; never scanned.
pub const RESERVED: &[&str] = &["done", "failed"];

/// What a dropped path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drop {
    /// A video; its ratio from a sidecar, a ratio sub-folder, or the default.
    Video { path: PathBuf, ratio: AspectRatio, sidecar: Option<PathBuf> },
    /// An index JSONL file: a batch.
    Index { path: PathBuf },
    /// A contest-layout folder (`jsonl/` + `video/`): a batch.
    ContestFolder { path: PathBuf },
}

/// Why a dropped path cannot become a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropError {
    #[error("{path}: sidecar {sidecar}: {reason}")]
    Sidecar { path: PathBuf, sidecar: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Unsafe { path: PathBuf, reason: String },
}

/// A ratio named by a folder: `9x16`, `16x9`, `9:16`, `9-16`.
pub fn ratio_from_folder_name(name: &str) -> Option<AspectRatio> {
    AspectRatio::parse_text(name)
}

fn is_video(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| super::VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Classifies one entry of the ingest folder (or of a ratio sub-folder). `None` for what is
/// not a job: hidden and partial files (`.name`, `*.part`, `*.tmp`), sidecars, other files.
/// `read_sidecar` reads a sidecar's text (bounded by the caller).
pub fn classify(
    path: &Path,
    is_dir: bool,
    default_ratio: AspectRatio,
    read_sidecar: impl Fn(&Path) -> Option<Result<String, String>>,
) -> Option<Result<Drop, DropError>> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp") {
        return None;
    }
    if is_dir {
        return path.join("jsonl").is_dir().then(|| Ok(Drop::ContestFolder { path: path.into() }));
    }
    if name.ends_with(".jsonl") {
        return Some(Ok(Drop::Index { path: path.into() }));
    }
    if !is_video(path) {
        return None;
    }
    let sidecar = path.with_extension("json");
    if let Some(text) = read_sidecar(&sidecar) {
        let fail = |reason: String| DropError::Sidecar { path: path.into(), sidecar: sidecar.clone(), reason };
        let ratio = text
            .map_err(&fail)
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| fail(format!("not valid JSON: {e}"))))
            .and_then(|v| v.get("targetRatioWH").cloned().ok_or_else(|| fail("no `targetRatioWH`".into())))
            .and_then(|r| AspectRatio::from_json(&r).map_err(|e| fail(format!("`targetRatioWH` {e}"))));
        return Some(ratio.map(|ratio| Drop::Video { path: path.into(), ratio, sidecar: Some(sidecar.clone()) }));
    }
    let folder_ratio = path.parent().and_then(Path::file_name).and_then(|n| n.to_str()).and_then(ratio_from_folder_name);
    Some(Ok(Drop::Video { path: path.into(), ratio: folder_ratio.unwrap_or(default_ratio), sidecar: None }))
}

/// `base/rel` for a relative path from an index or sidecar, refused when it could leave
/// `base`: absolute paths, `..`, and (for paths that exist) symlinks resolving outside.
pub fn confined(base: &Path, rel: &str) -> Result<PathBuf, DropError> {
    let unsafe_ = |reason: &str| DropError::Unsafe { path: PathBuf::from(rel), reason: reason.into() };
    let p = Path::new(rel);
    if rel.is_empty() {
        return Err(unsafe_("empty path"));
    }
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_("`..` is not allowed")),
            Component::RootDir | Component::Prefix(_) => return Err(unsafe_("absolute paths are not allowed")),
        }
    }
    let joined = base.join(p);
    if let (Ok(real), Ok(real_base)) = (joined.canonicalize(), base.canonicalize()) {
        if !real.starts_with(&real_base) {
            return Err(unsafe_("resolves outside the folder (symlink)"));
        }
    }
    Ok(joined)
}

/// Tells when a file has stopped changing: its size and mtime the same for `quiet`, so a
/// file still being copied in is never picked up.
#[derive(Debug, Default)]
pub struct Stability {
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, Instant)>,
}

impl Stability {
    /// Records an observation; true once the file has been unchanged for `quiet`.
    pub fn observe(&mut self, path: &Path, size: u64, mtime: Option<SystemTime>, now: Instant, quiet: Duration) -> bool {
        match self.seen.get_mut(path) {
            Some(entry) if entry.0 == size && entry.1 == mtime => now.duration_since(entry.2) >= quiet,
            Some(entry) => {
                *entry = (size, mtime, now);
                false
            }
            None => {
                self.seen.insert(path.into(), (size, mtime, now));
                false
            }
        }
    }

    /// Forgets a path (picked up, or gone).
    pub fn forget(&mut self, path: &Path) {
        self.seen.remove(path);
    }

    /// Keeps only the paths `keep` accepts: the caller passes what its latest scan found, so
    /// files that vanished before becoming stable do not pile up.
    pub fn retain(&mut self, mut keep: impl FnMut(&Path) -> bool) {
        self.seen.retain(|p, _| keep(p));
    }

    /// How many paths are being watched for stability.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(w: u32, h: u32) -> AspectRatio {
        AspectRatio::new(w, h).unwrap()
    }

    fn no_sidecar(_: &Path) -> Option<Result<String, String>> {
        None
    }

    #[test]
    fn ratio_from_sidecar_folder_or_default() {
        let side = |_: &Path| Some(Ok(r#"{"targetRatioWH": [16, 9]}"#.to_string()));
        assert_eq!(
            classify(Path::new("/in/a.mp4"), false, r(9, 16), side),
            Some(Ok(Drop::Video { path: "/in/a.mp4".into(), ratio: r(16, 9), sidecar: Some("/in/a.json".into()) }))
        );
        assert_eq!(
            classify(Path::new("/in/16x9/a.MOV"), false, r(9, 16), no_sidecar),
            Some(Ok(Drop::Video { path: "/in/16x9/a.MOV".into(), ratio: r(16, 9), sidecar: None }))
        );
        assert_eq!(classify(Path::new("/in/a.mp4"), false, r(9, 16), no_sidecar).and_then(Result::ok).map(|d| matches!(d, Drop::Video { ratio, .. } if ratio == r(9, 16))), Some(true));
    }

    #[test]
    fn bad_sidecar_is_an_error_naming_it() {
        let side = |_: &Path| Some(Ok(r#"{"targetRatioWH": [0, 9]}"#.to_string()));
        let e = classify(Path::new("/in/a.mp4"), false, r(9, 16), side).unwrap().unwrap_err().to_string();
        assert!(e.contains("/in/a.json") && e.contains("targetRatioWH"), "{e}");
        let side = |_: &Path| Some(Ok("{".to_string()));
        assert!(classify(Path::new("/in/a.mp4"), false, r(9, 16), side).unwrap().is_err());
    }

    #[test]
    fn partial_hidden_and_other_files_are_not_jobs() {
        for name in ["/in/.a.mp4", "/in/a.mp4.part", "/in/a.tmp", "/in/a.json", "/in/notes.txt"] {
            assert_eq!(classify(Path::new(name), false, r(9, 16), no_sidecar), None, "{name}");
        }
        assert_eq!(classify(Path::new("/in/batch.jsonl"), false, r(9, 16), no_sidecar), Some(Ok(Drop::Index { path: "/in/batch.jsonl".into() })));
    }

    #[test]
    fn folder_names() {
        assert_eq!(ratio_from_folder_name("9x16"), Some(r(9, 16)));
        assert_eq!(ratio_from_folder_name("16:9"), Some(r(16, 9)));
        assert_eq!(ratio_from_folder_name("0x9"), None);
        assert_eq!(ratio_from_folder_name("videos"), None);
    }

    #[test]
    fn confinement() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("in");
        std::fs::create_dir_all(&base).unwrap();
        assert_eq!(confined(&base, "sub/a.mp4").unwrap(), base.join("sub/a.mp4"));
        assert!(confined(&base, "../etc/passwd").is_err());
        assert!(confined(&base, "sub/../../x").is_err());
        assert!(confined(&base, "/etc/passwd").is_err());
        assert!(confined(&base, "").is_err());
        std::os::unix::fs::symlink("/etc", base.join("link")).unwrap();
        let e = confined(&base, "link/passwd").unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
    }

    #[test]
    fn a_growing_file_is_not_stable_until_it_stops() {
        let mut s = Stability::default();
        let t0 = Instant::now();
        let q = Duration::from_secs(2);
        let p = Path::new("/in/a.mp4");
        assert!(!s.observe(p, 10, None, t0, q));
        assert!(!s.observe(p, 20, None, t0 + Duration::from_secs(3), q));
        assert!(!s.observe(p, 20, None, t0 + Duration::from_secs(4), q));
        assert!(s.observe(p, 20, None, t0 + Duration::from_secs(5), q));
        s.forget(p);
        assert!(!s.observe(p, 20, None, t0 + Duration::from_secs(6), q));
        let gone = Path::new("/in/gone.mp4");
        assert!(!s.observe(gone, 1, None, t0, q));
        assert_eq!(s.len(), 2);
        s.retain(|x| x != gone);
        assert_eq!(s.len(), 1);
        assert!(s.observe(p, 20, None, t0 + Duration::from_secs(8), q), "kept paths keep their history");
    }
}
