//! The end of a job, in an order a crash or a full disk at any step cannot turn into a lost,
//! repeated or wedged job:
//!
//! 1. the outputs are written under temporary names, fsynced, renamed into place and their
//!    folder fsynced; the predictions file is always renamed last, so its presence (newer than
//!    the attempt's start) means the whole output set is complete;
//! 2. the outcome is recorded in the job store, retried until it sticks (a full state disk
//!    makes SQLite refuse the commit; the row would otherwise stay `running` and hold one of
//!    `max_jobs` slots forever);
//! 3. only then the input leaves the ingest folder (`done/` or `failed/`), and the store notes
//!    that it did.
//!
//! A crash between 1 and 2 is healed at the next start ([`complete_outputs`]: the job is
//! recorded done instead of run again); between 2 and 3 by the scan, which finishes the move
//! of an input whose job is recorded but not moved.

use super::names::{self, output_base, with_suffix};
use super::Shared;
use crate::jobs::{Job, JobError};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::{info, warn};

/// Longest pause between two tries of a store write that failed.
const RECORD_RETRY_MAX: Duration = Duration::from_secs(10);

/// Runs the store write `write` until it succeeds, pausing 0.5 s doubling up to 10 s between
/// tries. `false` when the daemon stops first: the row then stays `running`, which the next
/// start recovers (and [`complete_outputs`] recognises a finished job).
pub(super) fn record<T>(sh: &Shared, what: &str, mut write: impl FnMut() -> Result<T, JobError>) -> bool {
    let mut pause = Duration::from_millis(500);
    let mut tries = 0u32;
    loop {
        match write() {
            Ok(_) => {
                if tries > 0 {
                    info!(tries = tries + 1, "recorded {what} after the job store refused it");
                }
                return true;
            }
            Err(e) => {
                tries += 1;
                warn!(tries, "cannot record {what}: {e}; trying again in {:.1} s", pause.as_secs_f64());
            }
        }
        let until = std::time::Instant::now() + pause;
        while std::time::Instant::now() < until {
            if sh.stop.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        pause = (pause * 2).min(RECORD_RETRY_MAX);
    }
}

/// The file whose presence says a job's outputs are complete (renamed last, see the module).
pub(super) fn completion_marker(ingest: &Path, output: &Path, input: &Path) -> Option<PathBuf> {
    output_base(ingest, output, input).ok().map(|b| with_suffix(&b, names::PREDICTIONS))
}

/// True when `job` (found `running` at start-up) had written its complete output set in the
/// attempt that was interrupted: the predictions file exists and was written after that
/// attempt started, so it is not a leftover of an earlier drop of the same name.
pub(super) fn complete_outputs(ingest: &Path, output: &Path, job: &Job) -> bool {
    let (Some(marker), Some(started)) = (completion_marker(ingest, output, &job.input), job.started_at) else { return false };
    let Ok(modified) = std::fs::metadata(&marker).and_then(|m| m.modified()) else { return false };
    let ms = modified.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ms >= started
}

/// A reason that is never empty: `failed/<name>.error.txt` must always say something.
pub(super) fn non_empty(reason: &str) -> &str {
    if reason.trim().is_empty() {
        "failed without a reason (please report this as a bug)"
    } else {
        reason
    }
}

/// Moves a finished input (and its sidecar) into `ingest/<to>/`, never over an existing
/// file, keeping the exact bytes of its name (which need not be UTF-8). With `error`, writes
/// it next to the input as `<name>.error.txt` first; a note that cannot be written completely
/// is removed (never left empty) and the reason logged instead. True when the input moved.
pub(super) fn move_input(ingest: &Path, input: &Path, to: &str, error: Option<&str>) -> bool {
    let dir = ingest.join(to);
    let Some(name) = input.file_name().map(OsString::from) else { return false };
    let with = |n: &OsString, tail: &str| -> OsString {
        let mut s = n.clone();
        s.push(tail);
        s
    };
    let free = |n: &OsString| -> PathBuf {
        let first = dir.join(n);
        if !first.exists() {
            return first;
        }
        (1..).map(|k| dir.join(with(n, &format!(".{k}")))).find(|p| !p.exists()).unwrap_or(first)
    };
    let dest = free(&name);
    if let Some(e) = error {
        let e = non_empty(e);
        let note = dir.join(with(&dest.file_name().map(OsString::from).unwrap_or_default(), ".error.txt"));
        if let Err(err) = std::fs::write(&note, format!("{e}\n")) {
            let _ = std::fs::remove_file(&note);
            warn!(input = %input.display(), reason = e, "cannot write {}: {err}", note.display());
        }
    }
    let sidecar = input.with_extension("json");
    if input.is_file() && sidecar.is_file() {
        let sd = free(&sidecar.file_name().map(OsString::from).unwrap_or_default());
        if let Err(err) = std::fs::rename(&sidecar, &sd) {
            warn!("cannot move {}: {err}", sidecar.display());
        }
    }
    match std::fs::rename(input, &dest) {
        Ok(()) => true,
        Err(err) => {
            warn!("cannot move {} to {}: {err}", input.display(), dest.display());
            false
        }
    }
}

/// Removes the temporary outputs (`.<name>.<pid>.tmp`, see [`crate::write::AtomicLines`]) a
/// killed daemon left in the output folder; one of a process still alive is left alone.
/// Returns how many were removed.
pub(super) fn sweep_temporaries(output: &Path) -> usize {
    let mut removed = 0;
    let mut stack = vec![output.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.filter_map(Result::ok) {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
                continue;
            }
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Some(pid) = name.strip_suffix(".tmp").filter(|_| name.starts_with('.')).and_then(|n| n.rsplit('.').next()).and_then(|p| p.parse::<u32>().ok()) else { continue };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            match std::fs::remove_file(e.path()) {
                Ok(()) => removed += 1,
                Err(err) => warn!("cannot remove {}: {err}", e.path().display()),
            }
        }
    }
    removed
}
