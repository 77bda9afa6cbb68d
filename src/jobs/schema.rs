//! The schema of the job store and how an older file is brought up to date.
//!
//! The version lives in `PRAGMA user_version` (0 for a new file). `MIGRATIONS[i]` takes a
//! store from version `i` to `i + 1`; a later build appends to the list (e.g. an
//! `ALTER TABLE jobs ADD COLUMN ...`) and never edits an entry that has shipped, since files in
//! the field were created by it.

use super::{JobError, Op};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// The rules of [`super::JobStore`] that the data itself can state are `CHECK`s here, so even
/// a bug in a later version (or a hand edit) cannot store e.g. a running job without a start.
const V1: &str = "
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE CHECK (length(key) > 0),
    input       BLOB    NOT NULL,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    error       TEXT,
    progress    REAL    NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    CHECK (state <> 'running' OR started_at IS NOT NULL),
    CHECK (state NOT IN ('done', 'failed') OR finished_at IS NOT NULL),
    CHECK (state <> 'failed' OR error IS NOT NULL)
);
-- claim_next: the oldest queued job, and the running count.
CREATE INDEX jobs_by_state ON jobs (state, id);
";

/// Version 2, for the reliability rules of the daemon:
/// - `counted`: attempts that count against `max_attempts` (a run that got past the minimum
///   time or ended in a real failure), as opposed to `attempts`, every claim; `confirmed` says
///   whether the current run has been counted yet;
/// - `retry_at`: a queued job deferred after a transient failure (a full disk) is not claimed
///   before this time (unix ms); `deferrals` sizes the next back-off;
/// - `moved`: the input of a done or failed job has left the ingest folder. The outcome is
///   recorded before the input moves, so a crash between the two leaves `moved = 0`, and the
///   scan finishes the move; an input of a failed, moved job found in the ingest folder again
///   was put back by an operator: it runs again.
const V2: &str = "
ALTER TABLE jobs ADD COLUMN moved     INTEGER NOT NULL DEFAULT 0 CHECK (moved IN (0, 1));
ALTER TABLE jobs ADD COLUMN counted   INTEGER NOT NULL DEFAULT 0 CHECK (counted >= 0);
ALTER TABLE jobs ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1));
ALTER TABLE jobs ADD COLUMN retry_at  INTEGER;
ALTER TABLE jobs ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0 CHECK (deferrals >= 0);
-- Version 1 moved the input before recording the outcome: every finished job's input moved.
UPDATE jobs SET moved = 1, counted = attempts WHERE state IN ('done', 'failed');
";

const MIGRATIONS: &[&str] = &[V1, V2];

/// The version this build writes.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the store at `path` to [`VERSION`], in one transaction: a crash half-way leaves the
/// old version intact, and two processes opening a new store at once do not both create it.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), JobError> {
    const OP: &str = "migrate schema";
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).op(OP)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).op(OP)?;
    let from = usize::try_from(found)
        .ok()
        .filter(|&v| v <= MIGRATIONS.len())
        .ok_or_else(|| JobError::Schema { path: path.to_path_buf(), found, supported: VERSION })?;
    if from == MIGRATIONS.len() {
        return Ok(());
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tx.execute_batch(sql).op(OP)?;
        tracing::info!(path = %path.display(), version = version + 1, "job store: schema migrated");
    }
    tx.pragma_update(None, "user_version", VERSION).op(OP)?;
    tx.commit().op(OP)
}
