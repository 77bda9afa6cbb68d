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

/// What an entry of the ingest folder is, from `lstat` (symlinks not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link; `to_dir` when it resolves to a folder (a would-be folder drop).
    Symlink { to_dir: bool },
    /// A FIFO, socket or device node, named for messages.
    Special(&'static str),
}

impl EntryKind {
    /// The kind of `path` itself (not of what a symlink points to), from its type as `lstat`
    /// or a directory entry gives it; only a symlink is followed, to tell whether it leads
    /// to a folder.
    pub fn from_type(t: std::fs::FileType, path: &Path) -> EntryKind {
        if t.is_file() {
            EntryKind::File
        } else if t.is_dir() {
            EntryKind::Dir
        } else if t.is_symlink() {
            EntryKind::Symlink { to_dir: path.is_dir() }
        } else {
            EntryKind::Special(super::open::kind_name(t))
        }
    }
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
///
/// A symlink, FIFO, socket or device that is named like a drop (a video or an index), or a
/// symlink to a folder, is refused (`Unsafe`) rather than ignored: following it could read
/// outside the ingest folder (a symlink) or block forever (a FIFO), and refusing it moves it
/// to `failed/` with the reason, where the operator sees it.
pub fn classify(
    path: &Path,
    kind: EntryKind,
    default_ratio: AspectRatio,
    read_sidecar: impl Fn(&Path) -> Option<Result<String, String>>,
) -> Option<Result<Drop, DropError>> {
    let os_name = path.file_name()?;
    let lossy = os_name.to_string_lossy();
    let name: &str = &lossy;
    if name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp") {
        return None;
    }
    let refuse = |what: &str| Some(Err(DropError::Unsafe { path: path.into(), reason: format!("is {what}; only regular files and folders are taken from the ingest folder") }));
    // A name that is not UTF-8 cannot be handed to GStreamer (its `location` is a UTF-8
    // string) nor written into an output line: refused with the reason, naming the path
    // lossily, rather than skipped in silence at every scan as it used to be.
    let drop_like = name.ends_with(".jsonl") || is_video(path) || (kind == EntryKind::Dir && path.join("jsonl").is_dir());
    if os_name.to_str().is_none() && drop_like && matches!(kind, EntryKind::File | EntryKind::Dir) {
        return Some(Err(DropError::Unsafe { path: path.into(), reason: "the name is not valid UTF-8; rename it (UTF-8) and drop it again".into() }));
    }
    match kind {
        EntryKind::Dir => return path.join("jsonl").is_dir().then(|| Ok(Drop::ContestFolder { path: path.into() })),
        EntryKind::Symlink { to_dir: true } => return refuse("a symbolic link to a folder"),
        EntryKind::Symlink { to_dir: false } if name.ends_with(".jsonl") || is_video(path) => return refuse("a symbolic link"),
        EntryKind::Special(what) if name.ends_with(".jsonl") || is_video(path) => return refuse(what),
        EntryKind::Symlink { .. } | EntryKind::Special(_) => return None,
        EntryKind::File => {}
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
            .and_then(|r| AspectRatio::from_json(&r).and_then(AspectRatio::within_range).map_err(|e| fail(format!("`targetRatioWH` {e}"))));
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
///
/// It also remembers what was queued (`settle`): a queued file still in the folder (its job
/// not yet finished) is then skipped by every later scan without a look at the job store,
/// so an unchanged folder costs no store write and no store read.
#[derive(Debug, Default)]
pub struct Stability {
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, Instant)>,
    settled: HashMap<PathBuf, (u64, Option<SystemTime>)>,
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

    /// Forgets that `path` has its job: its input left the folder. Needed besides
    /// [`retain`](Self::retain) because the same file can be back before the next scan sees it
    /// gone (an operator moving it back from `failed/` at once), with the same size and mtime.
    pub fn unsettle(&mut self, path: &Path) {
        self.settled.remove(path);
    }

    /// Records that `path`, with this size and mtime, has its job.
    pub fn settle(&mut self, path: &Path, size: u64, mtime: Option<SystemTime>) {
        self.seen.remove(path);
        self.settled.insert(path.into(), (size, mtime));
    }

    /// True when `path` was settled with this same size and mtime: nothing to do. A changed
    /// file is no longer settled and goes through stability again.
    pub fn is_settled(&mut self, path: &Path, size: u64, mtime: Option<SystemTime>) -> bool {
        match self.settled.get(path) {
            Some(&(s, m)) if s == size && m == mtime => true,
            Some(_) => {
                self.settled.remove(path);
                false
            }
            None => false,
        }
    }

    /// Keeps only the paths `keep` accepts: the caller passes what its latest scan found, so
    /// files that vanished before becoming stable do not pile up.
    pub fn retain(&mut self, mut keep: impl FnMut(&Path) -> bool) {
        self.seen.retain(|p, _| keep(p));
        self.settled.retain(|p, _| keep(p));
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
            classify(Path::new("/in/a.mp4"), EntryKind::File, r(9, 16), side),
            Some(Ok(Drop::Video { path: "/in/a.mp4".into(), ratio: r(16, 9), sidecar: Some("/in/a.json".into()) }))
        );
        assert_eq!(
            classify(Path::new("/in/16x9/a.MOV"), EntryKind::File, r(9, 16), no_sidecar),
            Some(Ok(Drop::Video { path: "/in/16x9/a.MOV".into(), ratio: r(16, 9), sidecar: None }))
        );
        assert_eq!(classify(Path::new("/in/a.mp4"), EntryKind::File, r(9, 16), no_sidecar).and_then(Result::ok).map(|d| matches!(d, Drop::Video { ratio, .. } if ratio == r(9, 16))), Some(true));
    }

    #[test]
    fn bad_sidecar_is_an_error_naming_it() {
        let side = |_: &Path| Some(Ok(r#"{"targetRatioWH": [0, 9]}"#.to_string()));
        let e = classify(Path::new("/in/a.mp4"), EntryKind::File, r(9, 16), side).unwrap().unwrap_err().to_string();
        assert!(e.contains("/in/a.json") && e.contains("targetRatioWH"), "{e}");
        let side = |_: &Path| Some(Ok("{".to_string()));
        assert!(classify(Path::new("/in/a.mp4"), EntryKind::File, r(9, 16), side).unwrap().is_err());
    }

    #[test]
    fn partial_hidden_and_other_files_are_not_jobs() {
        for name in ["/in/.a.mp4", "/in/a.mp4.part", "/in/a.tmp", "/in/a.json", "/in/notes.txt"] {
            assert_eq!(classify(Path::new(name), EntryKind::File, r(9, 16), no_sidecar), None, "{name}");
        }
        assert_eq!(classify(Path::new("/in/batch.jsonl"), EntryKind::File, r(9, 16), no_sidecar), Some(Ok(Drop::Index { path: "/in/batch.jsonl".into() })));
    }

    #[test]
    fn special_entries_named_like_drops_are_refused_others_ignored() {
        let special = EntryKind::Special("a FIFO (named pipe)");
        let link = EntryKind::Symlink { to_dir: false };
        for (name, kind) in [("/in/x.mp4", special), ("/in/b.jsonl", special), ("/in/x.mp4", link), ("/in/contest", EntryKind::Symlink { to_dir: true })] {
            let e = classify(Path::new(name), kind, r(9, 16), no_sidecar).unwrap().unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("only regular files"), "{e}");
        }
        for (name, kind) in [("/in/x.json", special), ("/in/notes.txt", link), ("/in/.x.mp4", special)] {
            assert_eq!(classify(Path::new(name), kind, r(9, 16), no_sidecar), None, "{name}");
        }
    }

    #[test]
    fn sidecar_ratio_outside_the_range_is_refused_naming_the_field() {
        let side = |_: &Path| Some(Ok(r#"{"targetRatioWH": [4294967295, 1]}"#.to_string()));
        let e = classify(Path::new("/in/a.mp4"), EntryKind::File, r(9, 16), side).unwrap().unwrap_err().to_string();
        assert!(e.contains("targetRatioWH") && e.contains("1:8") && e.contains("4294967295:1"), "{e}");
    }

    #[test]
    fn a_settled_file_stays_settled_until_it_changes_or_goes() {
        let mut s = Stability::default();
        let p = Path::new("/in/a.mp4");
        assert!(!s.is_settled(p, 1, None));
        s.settle(p, 1, None);
        assert!(s.is_settled(p, 1, None));
        assert!(!s.is_settled(p, 2, None), "changed");
        assert!(!s.is_settled(p, 1, None), "a change unsettles it for good");
        s.settle(p, 1, None);
        s.retain(|_| false);
        assert!(!s.is_settled(p, 1, None), "gone");
    }

    #[test]
    fn a_name_that_is_not_utf8_is_refused_with_a_reason_not_ignored() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new("/in").join(std::ffi::OsStr::from_bytes(b"caf\xe9.mp4"));
        let e = classify(&p, EntryKind::File, r(9, 16), no_sidecar).unwrap().unwrap_err().to_string();
        assert!(e.contains("caf") && e.contains("UTF-8"), "{e}");
        let other = Path::new("/in").join(std::ffi::OsStr::from_bytes(b"notes\xe9.txt"));
        assert_eq!(classify(&other, EntryKind::File, r(9, 16), no_sidecar), None);
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
