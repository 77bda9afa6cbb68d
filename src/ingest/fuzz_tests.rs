//! Generated hostile input thrown at the pure parts of ingest: classification of a dropped
//! entry, sidecars, index lines, contest folders and path confinement. What must hold for
//! every input: no panic; nothing read outside the folder the drop lives in; every refusal
//! carries a reason that names where it came from; what is accepted stays inside the base.
//! Bounded: a few hundred cases per property, inputs of at most a few hundred KiB.

use super::watch::{self, EntryKind};
use super::*;
use proptest::prelude::*;
use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Component;

/// JSON-ish text: real JSON with odd values, broken JSON, random bytes, deep nesting.
fn jsonish() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("18446744073709551616".to_string()),
        Just("4294967296".to_string()),
        Just("NaN".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
    ];
    let path = prop_oneof![
        Just("../outside.mp4".to_string()),
        Just("/etc/passwd".to_string()),
        Just("a/../../b.mp4".to_string()),
        Just("./x.mp4".to_string()),
        Just("".to_string()),
        Just("\u{0}.mp4".to_string()),
        "[a-z/.]{0,40}",
        "\\PC{0,20}",
    ];
    let ratio = prop_oneof![
        (number.clone(), number.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
        Just("\"9:16\"".to_string()),
        Just("[]".to_string()),
        Just("[9, 16, 1]".to_string()),
        Just("null".to_string()),
        "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    let object = (ratio, path, number, proptest::option::of("\\PC{0,10}")).prop_map(|(r, p, n, id)| {
        let id = id.map_or(format!("{n}"), |s| format!("{s:?}"));
        format!("{{\"video_id\": {id}, \"video\": {p:?}, \"targetRatioWH\": {r}}}")
    });
    prop_oneof![
        4 => object,
        1 => (1usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        1 => (1usize..3000).prop_map(|n| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n))),
        1 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => "\\PC{0,200}",
    ]
}

/// A file name: any bytes but `/` and NUL, sometimes with a drop's extension.
fn file_name() -> impl Strategy<Value = Vec<u8>> {
    let ext = prop_oneof![Just(&b".mp4"[..]), Just(&b".MOV"[..]), Just(&b".jsonl"[..]), Just(&b".json"[..]), Just(&b".part"[..]), Just(&b""[..])];
    (proptest::collection::vec(any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0), 1..40), ext).prop_map(|(mut n, e)| {
        n.extend_from_slice(e);
        n
    })
}

fn kind() -> impl Strategy<Value = EntryKind> {
    prop_oneof![
        Just(EntryKind::File),
        Just(EntryKind::Dir),
        any::<bool>().prop_map(|to_dir| EntryKind::Symlink { to_dir }),
        Just(EntryKind::Special("a FIFO (named pipe)")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any entry, any sidecar: a verdict without panic; the only file asked for is the
    /// sidecar next to the entry; a refusal names the entry and says why.
    #[test]
    fn classify_never_panics_reads_only_beside_the_drop_and_explains_refusals(
        name in file_name(), kind in kind(), sidecar in proptest::option::of(jsonish()), depth in 0usize..4,
    ) {
        let mut dir = std::path::PathBuf::from("/ingest");
        for k in 0..depth {
            dir.push(format!("d{k}"));
        }
        let path = dir.join(OsStr::from_bytes(&name));
        let asked = RefCell::new(Vec::new());
        let read = |p: &Path| {
            asked.borrow_mut().push(p.to_path_buf());
            sidecar.clone().map(Ok)
        };
        let default = crate::format::AspectRatio::PORTRAIT;
        let verdict = watch::classify(&path, kind, default, read);
        for p in asked.borrow().iter() {
            prop_assert_eq!(p.parent(), path.parent(), "read {} for {}", p.display(), path.display());
        }
        if let Some(Err(e)) = &verdict {
            let msg = e.to_string();
            prop_assert!(msg.contains(&*path.to_string_lossy()), "{}", msg);
            prop_assert!(msg.len() > path.to_string_lossy().len() + 2, "no reason: {}", msg);
        }
        if let Some(Ok(watch::Drop::Video { ratio, .. })) = &verdict {
            prop_assert!(ratio.within_range().is_ok());
        }
    }

    /// Index text of any shape: one entry per non-blank line, each either a task or a reason
    /// naming `file:line`; a task's file, once confined, is inside the base or refused.
    #[test]
    fn index_lines_of_any_shape_give_one_entry_each_with_a_reason_or_a_confined_task(lines in proptest::collection::vec(jsonish(), 0..12)) {
        let text = lines.join("\n");
        let base = Path::new("/ingest");
        let entries = read_index(&text, "idx.jsonl", base);
        prop_assert_eq!(entries.len(), text.lines().filter(|l| !l.trim().is_empty()).count());
        for e in &entries {
            match &e.task {
                Err(reason) => prop_assert!(reason.starts_with(&e.origin) && reason.len() > e.origin.len() + 2, "{}", reason),
                Ok(t) => {
                    prop_assert!(t.ratio.within_range().is_ok());
                    let rel = t.path.strip_prefix(base).map(|r| r.to_string_lossy().into_owned()).unwrap_or_else(|_| t.path.to_string_lossy().into_owned());
                    match watch::confined(base, &rel) {
                        Ok(p) => {
                            prop_assert!(p.starts_with(base), "{}", p.display());
                            prop_assert!(!p.components().any(|c| c == Component::ParentDir), "{}", p.display());
                        }
                        Err(err) => prop_assert!(!err.to_string().is_empty()),
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// A contest folder of generated files: every file read is inside the folder, there is
    /// one entry per `.jsonl`/`.json` file, and every refusal names its file.
    #[test]
    fn contest_folders_are_read_only_inside_and_every_file_gets_an_entry(
        files in proptest::collection::vec((file_name(), jsonish()), 0..8),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let root = dir.path().join("contest");
        std::fs::create_dir_all(root.join("jsonl")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        std::fs::create_dir_all(root.join("video")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // An escape route a hostile folder could offer: a symlink out, named like a sidecar.
        std::os::unix::fs::symlink("/etc/hostname", root.join("jsonl/zz-link.jsonl")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut written = std::collections::HashSet::new();
        for (name, text) in &files {
            // Never through the symlink above (it leads to a real system file).
            if name.as_slice() == b"zz-link.jsonl" {
                continue;
            }
            let p = root.join("jsonl").join(OsStr::from_bytes(name));
            if std::fs::write(&p, text).is_ok() {
                written.insert(p);
            }
        }
        let asked = RefCell::new(Vec::new());
        let max = 64 * 1024;
        let entries = read_contest_with(&root, None, |p| {
            asked.borrow_mut().push(p.to_path_buf());
            open::read_text_bounded(p, max).map_err(|e| e.to_string())
        }).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for p in asked.borrow().iter() {
            prop_assert!(p.starts_with(&root), "read {}", p.display());
        }
        let sidecars = written.iter().chain(std::iter::once(&root.join("jsonl/zz-link.jsonl")))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl" || x == "json"))
            .count();
        prop_assert_eq!(entries.len(), sidecars);
        for e in &entries {
            if let Err(reason) = &e.task {
                prop_assert!(reason.contains(&e.origin) && reason.len() > e.origin.len() + 2, "{}", reason);
            }
        }
        // The symlink out was refused, not followed.
        let link = entries.iter().find(|e| e.origin.ends_with("zz-link.jsonl"));
        prop_assert!(link.is_some_and(|e| e.task.as_ref().is_err_and(|r| r.contains("symbolic link"))), "{:?}", link);
    }
}

#[test]
fn an_index_line_over_the_bound_is_refused_without_being_parsed() {
    let line = format!("{{\"video_id\": \"{}\"}}", "x".repeat(MAX_LINE + 1));
    let e = read_index(&line, "big.jsonl", Path::new("/ingest"));
    assert_eq!(e.len(), 1);
    assert!(e[0].task.as_ref().is_err_and(|r| r.contains("longer than")), "{:?}", e[0].task);
}
