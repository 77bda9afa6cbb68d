//! The durable job store of the daemon: every input dropped into the ingest folder becomes one
//! row of a SQLite table in the state folder, so a crash, a `kill -9` or a power cut loses no
//! work and repeats none that was finished.
//!
//! A job moves through these states, and only along these arrows (anything else is
//! [`JobError::BadTransition`]):
//!
//! ```text
//!            claim_next              finish
//! enqueue ─► Queued ─────────► Running ───────► Done
//!              ▲  ▲               │ │
//!              │  └── recover ────┘ │ fail, or recover after max_attempts
//!              │                    ▼
//!              └───── retry ─────  Failed
//! ```
//!
//! Why each piece is there:
//! - the idempotency `key` is `UNIQUE`, so an input seen again (after a restart, a rescan of
//!   the folder) maps to the job it already has instead of a second one;
//! - [`JobStore::claim_next`] counts the running jobs and takes the oldest queued one in one
//!   `BEGIN IMMEDIATE` transaction, so two workers (threads or processes) can neither take the
//!   same job nor together exceed the bound;
//! - every method commits before it returns, with WAL and `synchronous=FULL`, so what a method
//!   reported is on disk even if the power goes the next instant;
//! - [`JobStore::recover`] turns jobs left `Running` by a dead process back into `Queued`, and
//!   gives up on a job that keeps killing the daemon, so a poison input cannot loop forever.
//!
//! The store records *which* jobs ran; it cannot make a job's own outputs idempotent. A job
//! that was interrupted runs again from the start, so it must write its outputs under a
//! temporary name and rename them into place (see [`crate::write::AtomicLines`]): a rerun then
//! replaces a partial output instead of adding a second one.

mod schema;
#[cfg(test)]
mod tests;

use crate::format::AspectRatio;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file inside the state folder.
pub const DB_FILE: &str = "jobs.sqlite3";

/// How long a write waits for another connection (another process, e.g. a status command)
/// to release the database before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot create the state folder {path}: {source}")]
    StateDir { path: PathBuf, source: std::io::Error },
    #[error("job store: {op}: {source}")]
    Sqlite { op: &'static str, source: rusqlite::Error },
    #[error("job store {path} has schema version {found}, this build knows versions 0 to {supported}")]
    Schema { path: PathBuf, found: i64, supported: i64 },
    #[error("no job with id {0}")]
    NotFound(i64),
    #[error("job {id}: cannot go from {from} to {to}")]
    BadTransition { id: i64, from: JobState, to: JobState },
    #[error("job {id}: progress is only recorded while running, but the job is {state}")]
    NotRunning { id: i64, state: JobState },
    #[error("job {id}: progress must be a finite number, got {value}")]
    BadProgress { id: i64, value: f32 },
    #[error("a job key must not be empty")]
    EmptyKey,
    #[error("job {id}: unreadable {field} in the store: {value:?}")]
    Corrupt { id: i64, field: &'static str, value: String },
}

/// Attaches the name of the operation to a SQLite error, so a log line says what failed.
trait Op<T> {
    fn op(self, op: &'static str) -> Result<T, JobError>;
}

impl<T> Op<T> for rusqlite::Result<T> {
    fn op(self, op: &'static str) -> Result<T, JobError> {
        self.map_err(|source| JobError::Sqlite { op, source })
    }
}

/// Now, as unix milliseconds: the unit of every timestamp in the store.
///
/// A clock set before 1970 reads as 0 rather than failing: a timestamp is for people, no
/// decision of the store depends on it (the claim order is the id order).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What a job processes. Stored as JSON text, e.g. `{"type":"video","ratio":[9,16]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// One video, cropped to `ratio` (from its sidecar, or the configured default).
    Video { ratio: AspectRatio },
    /// An index JSONL naming many videos (SPEC.md section 2).
    Index,
    /// A contest folder with `jsonl/` and `video/`.
    ContestFolder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 4] = [JobState::Queued, JobState::Running, JobState::Done, JobState::Failed];

    /// The spelling in the `state` column (and in messages).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of one job as the store held it when it was read; changing it changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Never reused, even if old rows are pruned one day (`AUTOINCREMENT`), so an id in a log
    /// or an MQTT message names one job forever.
    pub id: i64,
    /// The idempotency key given to [`JobStore::enqueue`].
    pub key: String,
    pub input: PathBuf,
    pub kind: JobKind,
    pub state: JobState,
    /// How many times the job was claimed; never decreases.
    pub attempts: u32,
    /// Unix milliseconds (see [`now_ms`]).
    pub created_at: i64,
    /// When the last attempt started; set whenever the job is `Running`.
    pub started_at: Option<i64>,
    /// When the last attempt ended; set whenever the job is `Done` or `Failed`.
    pub finished_at: Option<i64>,
    /// Why the job failed; set whenever the job is `Failed`, cleared otherwise.
    pub error: Option<String>,
    /// 0 to 1, as last reported by the worker.
    pub progress: f32,
    /// Attempts that count against `max_attempts`: runs that got past the minimum time
    /// ([`JobStore::confirm_attempt`]) or ended in a failure. A run killed right after its
    /// claim is in `attempts` but not here.
    pub counted: u32,
    /// A queued job deferred after a transient failure is not claimed before this time (unix
    /// ms); its `error` then holds that failure.
    pub retry_at: Option<i64>,
    /// How many times the job was deferred, which sizes its next back-off.
    pub deferrals: u32,
    /// The input of this done or failed job has left the ingest folder ([`JobStore::mark_moved`]).
    pub moved: bool,
}

impl Job {
    /// How long the last attempt took, once it ended.
    pub fn elapsed_ms(&self) -> Option<i64> {
        Some(self.finished_at? - self.started_at?)
    }
}

/// The outcome of [`JobStore::enqueue`].
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// The key was new: a job was created, `Queued`.
    New(Job),
    /// The key was already known: nothing was created, this is the job it belongs to, in
    /// whatever state it is (possibly `Done`: then there is nothing to do).
    Existing(Job),
}

impl Enqueued {
    pub fn job(&self) -> &Job {
        match self {
            Enqueued::New(j) | Enqueued::Existing(j) => j,
        }
    }
    pub fn into_job(self) -> Job {
        match self {
            Enqueued::New(j) | Enqueued::Existing(j) => j,
        }
    }
    pub fn is_new(&self) -> bool {
        matches!(self, Enqueued::New(_))
    }
}

/// How [`JobStore::recover_counted`] decides that an interrupted job is what killed the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp {
    /// Counted attempts ([`Job::counted`]) after which an interrupted job is failed.
    pub max_counted: u32,
    /// Claims ([`Job::attempts`]) after which it is failed even though none counted: an input
    /// that kills the daemon within the minimum time of every start must not loop forever.
    pub max_claims: u32,
}

/// What [`JobStore::recover`] did, ids in increasing order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recovered {
    /// Interrupted jobs put back to `Queued`: they will run again.
    pub requeued: Vec<i64>,
    /// Interrupted jobs that had used up their attempts: now `Failed`.
    pub failed: Vec<i64>,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.queued + self.running + self.done + self.failed
    }
}

/// The job table in `state_dir/jobs.sqlite3`.
///
/// `Send + Sync`: share one store between the worker threads (`Arc<JobStore>`). Calls are
/// serialised by an internal mutex and each is a short transaction, so this costs nothing
/// next to decoding a video. Other processes may open the same file at the same time (WAL
/// lets readers run during a write, writers wait up to a busy timeout); but [`recover`]
/// assumes that no other process is working on the jobs (see there).
///
/// [`recover`]: JobStore::recover
#[derive(Debug)]
pub struct JobStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// The columns of a job, in the order [`read_job`] reads them.
const COLS: &str = "id, key, input, kind, state, attempts, created_at, started_at, finished_at, error, progress, counted, retry_at, deferrals, moved";

impl JobStore {
    /// Opens the store in `state_dir`, creating the folder, the file and the schema as
    /// needed, and bringing an older schema up to date.
    pub fn open(state_dir: &Path) -> Result<JobStore, JobError> {
        Self::open_with(state_dir, true)
    }

    /// `durable = false` skips the fsync of each commit; only for tests that run thousands of
    /// transactions and do not pull the plug.
    fn open_with(state_dir: &Path, durable: bool) -> Result<JobStore, JobError> {
        std::fs::create_dir_all(state_dir)
            .map_err(|source| JobError::StateDir { path: state_dir.to_path_buf(), source })?;
        let path = state_dir.join(DB_FILE);
        let mut conn = Connection::open(&path).op("open")?;
        // First, so that even switching to WAL waits for another process instead of failing.
        conn.busy_timeout(BUSY_TIMEOUT).op("set busy timeout")?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .op("set journal_mode=WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            // E.g. a file system without shared memory. Still safe (rollback journal with
            // synchronous=FULL), only readers then wait for writers.
            tracing::warn!(path = %path.display(), mode, "job store: WAL not available, using another journal mode");
        }
        conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "OFF" })
            .op("set synchronous")?;
        schema::migrate(&mut conn, &path)?;
        Ok(JobStore { conn: Mutex::new(conn), path })
    }

    /// The database file, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection. A panic in another thread cannot have left it inconsistent: every write
    /// runs in a transaction that rolls back when dropped during the unwinding, so the poison
    /// flag is ignored rather than turning one panic into a dead daemon.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a `Queued` job for `key`, or returns the job that already has this key.
    ///
    /// The key is the caller's promise that two inputs with the same key are the same work.
    /// An `Existing` job keeps its own `input` and `kind` even if the new call names others.
    pub fn enqueue(&self, key: &str, input: &Path, kind: JobKind) -> Result<Enqueued, JobError> {
        const OP: &str = "enqueue";
        if key.is_empty() {
            return Err(JobError::EmptyKey);
        }
        let kind_json = serde_json::to_string(&kind)
            .map_err(|e| JobError::Corrupt { id: 0, field: "kind", value: e.to_string() })?;
        let mut conn = self.lock();
        let tx = begin(&mut conn, OP)?;
        let inserted = tx
            .execute(
                "INSERT INTO jobs (key, input, kind, state, attempts, created_at, progress)
                 VALUES (?1, ?2, ?3, 'queued', 0, ?4, 0)
                 ON CONFLICT (key) DO NOTHING",
                params![key, path_to_bytes(input), kind_json, now_ms()],
            )
            .op(OP)?;
        let out = if inserted == 1 {
            Enqueued::New(load(&tx, tx.last_insert_rowid(), OP)?)
        } else {
            let job = load_by_key(&tx, key, OP)?.ok_or_else(|| JobError::Corrupt {
                id: 0,
                field: "key",
                value: format!("{key}: neither inserted nor found"),
            })?;
            Enqueued::Existing(job)
        };
        tx.commit().op(OP)?;
        Ok(out)
    }

    /// Takes the oldest `Queued` job and marks it `Running` (`attempts + 1`, `started_at` now,
    /// progress 0), unless `max_running` jobs are already running. `None`: nothing to do now.
    ///
    /// The count and the take are one `BEGIN IMMEDIATE` transaction, so concurrent callers,
    /// in this process or another, never get the same job and never exceed `max_running`.
    pub fn claim_next(&self, max_running: usize) -> Result<Option<Job>, JobError> {
        const OP: &str = "claim";
        let mut conn = self.lock();
        let tx = begin(&mut conn, OP)?;
        let running: i64 = tx
            .query_row("SELECT count(*) FROM jobs WHERE state = 'running'", [], |r| r.get(0))
            .op(OP)?;
        if usize::try_from(running).map_or(true, |n| n >= max_running) {
            return Ok(None);
        }
        // Id order is enqueue order, and unlike the wall clock it cannot go backwards.
        let next: Option<i64> = tx
            .query_row(
                "SELECT id FROM jobs WHERE state = 'queued' AND (retry_at IS NULL OR retry_at <= ?1) ORDER BY id LIMIT 1",
                params![now_ms()],
                |r| r.get(0),
            )
            .optional()
            .op(OP)?;
        let Some(id) = next else { return Ok(None) };
        tx.execute(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?2,
                 finished_at = NULL, error = NULL, progress = 0, confirmed = 0, retry_at = NULL, moved = 0
             WHERE id = ?1",
            params![id, now_ms()],
        )
        .op(OP)?;
        let job = load(&tx, id, OP)?;
        tx.commit().op(OP)?;
        Ok(Some(job))
    }

    /// Records how far a running job is, clamped to 0..=1.
    ///
    /// Each call is a durable commit (an fsync): report every second or so, not every frame.
    pub fn set_progress(&self, id: i64, progress: f32) -> Result<(), JobError> {
        const OP: &str = "set progress";
        if !progress.is_finite() {
            return Err(JobError::BadProgress { id, value: progress });
        }
        let conn = self.lock();
        let changed = conn
            .execute(
                "UPDATE jobs SET progress = ?2 WHERE id = ?1 AND state = 'running'",
                params![id, f64::from(progress.clamp(0.0, 1.0))],
            )
            .op(OP)?;
        if changed == 1 {
            return Ok(());
        }
        let state = load(&conn, id, OP)?.state;
        Err(JobError::NotRunning { id, state })
    }

    /// `Running` → `Done`: records `finished_at`, clears any error, progress 1.
    pub fn finish(&self, id: i64) -> Result<Job, JobError> {
        self.transition(id, JobState::Running, JobState::Done, "finish", |tx, now| {
            tx.execute(
                "UPDATE jobs SET state = 'done', finished_at = ?2, error = NULL, progress = 1,
                     counted = counted + 1 - confirmed, confirmed = 1, deferrals = 0 WHERE id = ?1",
                params![id, now],
            )
        })
    }

    /// `Running` → `Failed` with `reason`: records `finished_at`; progress stays where it
    /// stopped, which tells where it failed.
    pub fn fail(&self, id: i64, reason: &str) -> Result<Job, JobError> {
        self.transition(id, JobState::Running, JobState::Failed, "fail", |tx, now| {
            tx.execute(
                "UPDATE jobs SET state = 'failed', finished_at = ?2, error = ?3,
                     counted = counted + 1 - confirmed, confirmed = 1 WHERE id = ?1",
                params![id, now, reason],
            )
        })
    }

    /// Counts the current run of a running job against `max_attempts`, once: the daemon calls
    /// it when the run has lasted the minimum time (`serve.attempt_min_s`). `false` when the
    /// job is not running or the run was already counted.
    pub fn confirm_attempt(&self, id: i64) -> Result<bool, JobError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "UPDATE jobs SET counted = counted + 1, confirmed = 1 WHERE id = ?1 AND state = 'running' AND confirmed = 0",
                params![id],
            )
            .op("confirm attempt")?;
        Ok(n == 1)
    }

    /// `Running` → `Queued` after a *transient* failure (a full disk, an I/O error, a model
    /// that did not load): the job is not claimed again before `retry_in` has passed, the
    /// reason stays in `error` for the operator, and the run counts as an attempt (it failed)
    /// without ever failing the job for good. Being in the store, the back-off survives a
    /// restart.
    pub fn defer(&self, id: i64, reason: &str, retry_in: Duration) -> Result<Job, JobError> {
        let ms = i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX);
        self.transition(id, JobState::Running, JobState::Queued, "defer", |tx, now| {
            tx.execute(
                "UPDATE jobs SET state = 'queued', error = ?3, retry_at = ?2, progress = 0, deferrals = deferrals + 1,
                     counted = counted + 1 - confirmed, confirmed = 1 WHERE id = ?1",
                params![id, now.saturating_add(ms), reason],
            )
        })
    }

    /// Notes that the input of done or failed job `id` has left the ingest folder.
    pub fn mark_moved(&self, id: i64) -> Result<(), JobError> {
        self.lock()
            .execute("UPDATE jobs SET moved = 1 WHERE id = ?1 AND state IN ('done', 'failed')", params![id])
            .op("mark moved")
            .map(|_| ())
    }

    /// The earliest time (unix ms) a deferred job becomes claimable, if one is waiting, so an
    /// idle worker knows when to look again.
    pub fn next_retry_at(&self) -> Result<Option<i64>, JobError> {
        self.lock()
            .query_row("SELECT min(retry_at) FROM jobs WHERE state = 'queued' AND retry_at IS NOT NULL", [], |r| r.get(0))
            .op("next retry")
    }

    /// Jobs in `state`, oldest first (all of them: the daemon asks for the few running ones).
    pub fn in_state(&self, state: JobState) -> Result<Vec<Job>, JobError> {
        select_jobs(&self.lock(), "WHERE state = ?1 ORDER BY id", params![state.as_str()], "list by state")
    }

    /// `Failed` → `Queued`, for an operator: the job runs again.
    ///
    /// `attempts` is kept (it never decreases), so a job that failed by crashing the daemon
    /// `max_attempts` times gets exactly one more try before [`recover`](Self::recover) gives
    /// up on it again. `started_at` keeps the start of the last attempt.
    pub fn retry(&self, id: i64) -> Result<Job, JobError> {
        self.transition(id, JobState::Failed, JobState::Queued, "retry", |tx, _| {
            tx.execute(
                "UPDATE jobs SET state = 'queued', finished_at = NULL, error = NULL, progress = 0, retry_at = NULL, moved = 0 WHERE id = ?1",
                params![id],
            )
        })
    }

    /// Checks that job `id` is in `from`, applies `update` (given the current time) and
    /// returns the job as it now is, all in one transaction.
    fn transition(
        &self,
        id: i64,
        from: JobState,
        to: JobState,
        op: &'static str,
        update: impl FnOnce(&Transaction<'_>, i64) -> rusqlite::Result<usize>,
    ) -> Result<Job, JobError> {
        let mut conn = self.lock();
        let tx = begin(&mut conn, op)?;
        let current = load(&tx, id, op)?.state;
        if current != from {
            return Err(JobError::BadTransition { id, from: current, to });
        }
        update(&tx, now_ms()).op(op)?;
        let job = load(&tx, id, op)?;
        tx.commit().op(op)?;
        Ok(job)
    }

    /// At start-up, before any worker runs: every job still `Running` was interrupted by the
    /// death of the process that ran it. It goes back to `Queued`, to run again, unless it
    /// has already been claimed `max_attempts` times: then it is most likely what killed the
    /// process, and goes to `Failed` with "interrupted N times" instead of looping forever.
    ///
    /// Only call it when no other process works on this store (one daemon per state folder):
    /// a job running elsewhere would be taken for dead and run twice.
    pub fn recover(&self, max_attempts: u32) -> Result<Recovered, JobError> {
        self.recover_with(|job| (job.attempts >= max_attempts).then(|| format!("interrupted {} times", job.attempts)))
    }

    /// [`recover`](Self::recover) as the daemon does it: an interrupted run counts only if it
    /// was confirmed ([`confirm_attempt`](Self::confirm_attempt)), so a `kill -9` right after a
    /// claim costs the job nothing; `give_up.max_claims` still ends a job that kills the
    /// daemon every time before the minimum time.
    pub fn recover_counted(&self, give_up: GiveUp) -> Result<Recovered, JobError> {
        self.recover_with(|job| {
            if job.counted >= give_up.max_counted {
                Some(format!("interrupted {} times", job.counted))
            } else if job.attempts >= give_up.max_claims {
                Some(format!("interrupted {} times, each soon after its start", job.attempts))
            } else {
                None
            }
        })
    }

    /// Every `Running` job, in one transaction: to `Failed` with the reason `give_up` gives,
    /// else back to `Queued`.
    fn recover_with(&self, give_up: impl Fn(&Job) -> Option<String>) -> Result<Recovered, JobError> {
        const OP: &str = "recover";
        let mut conn = self.lock();
        let tx = begin(&mut conn, OP)?;
        let running = select_jobs(&tx, "WHERE state = 'running' ORDER BY id", [], OP)?;
        let now = now_ms();
        let mut out = Recovered::default();
        for job in running {
            if let Some(reason) = give_up(&job) {
                tx.execute("UPDATE jobs SET state = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1", params![job.id, now, reason]).op(OP)?;
                tracing::warn!(id = job.id, key = %job.key, attempts = job.attempts, counted = job.counted, "job store: interrupted job failed, out of attempts");
                out.failed.push(job.id);
            } else {
                tx.execute("UPDATE jobs SET state = 'queued', finished_at = NULL, error = NULL, progress = 0 WHERE id = ?1", params![job.id]).op(OP)?;
                tracing::info!(id = job.id, key = %job.key, attempts = job.attempts, counted = job.counted, "job store: interrupted job queued again");
                out.requeued.push(job.id);
            }
        }
        tx.commit().op(OP)?;
        Ok(out)
    }

    pub fn get(&self, id: i64) -> Result<Job, JobError> {
        load(&self.lock(), id, "get")
    }

    pub fn by_key(&self, key: &str) -> Result<Option<Job>, JobError> {
        load_by_key(&self.lock(), key, "get by key")
    }

    /// Up to `limit` jobs, in `state` if given, newest first.
    pub fn list(&self, state: Option<JobState>, limit: usize) -> Result<Vec<Job>, JobError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        match state {
            Some(s) => select_jobs(&conn, "WHERE state = ?1 ORDER BY id DESC LIMIT ?2", params![s.as_str(), limit], "list"),
            None => select_jobs(&conn, "ORDER BY id DESC LIMIT ?1", params![limit], "list"),
        }
    }

    pub fn counts(&self) -> Result<Counts, JobError> {
        const OP: &str = "count";
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM jobs GROUP BY state").op(OP)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .op(OP)?;
        let mut c = Counts::default();
        for row in rows {
            let (state, n) = row.op(OP)?;
            let n = u64::try_from(n).unwrap_or(0);
            match JobState::parse(&state) {
                Some(JobState::Queued) => c.queued = n,
                Some(JobState::Running) => c.running = n,
                Some(JobState::Done) => c.done = n,
                Some(JobState::Failed) => c.failed = n,
                None => return Err(JobError::Corrupt { id: 0, field: "state", value: state }),
            }
        }
        Ok(c)
    }
}

fn begin<'c>(conn: &'c mut Connection, op: &'static str) -> Result<Transaction<'c>, JobError> {
    // IMMEDIATE takes the write lock at once: a transaction that reads then writes can then
    // not be overtaken by another writer between its read and its write.
    conn.transaction_with_behavior(TransactionBehavior::Immediate).op(op)
}

fn load(conn: &Connection, id: i64, op: &'static str) -> Result<Job, JobError> {
    select_jobs(conn, "WHERE id = ?1", params![id], op)?.pop().ok_or(JobError::NotFound(id))
}

fn load_by_key(conn: &Connection, key: &str, op: &'static str) -> Result<Option<Job>, JobError> {
    Ok(select_jobs(conn, "WHERE key = ?1", params![key], op)?.pop())
}

fn select_jobs(conn: &Connection, tail: &str, params: impl rusqlite::Params, op: &'static str) -> Result<Vec<Job>, JobError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM jobs {tail}")).op(op)?;
    let mut rows = stmt.query(params).op(op)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().op(op)? {
        out.push(read_job(row).op(op)??);
    }
    Ok(out)
}

/// One row as a [`Job`]. The outer error is SQLite's (a column of an impossible type), the
/// inner one a value this build cannot understand.
fn read_job(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Job, JobError>> {
    let id: i64 = row.get(0)?;
    let key: String = row.get(1)?;
    // Read as bytes whether stored as BLOB (how this module writes it) or TEXT.
    let input = row.get_ref(2)?.as_bytes()?.to_vec();
    let kind: String = row.get(3)?;
    let state: String = row.get(4)?;
    let attempts: i64 = row.get(5)?;
    let created_at: i64 = row.get(6)?;
    let started_at: Option<i64> = row.get(7)?;
    let finished_at: Option<i64> = row.get(8)?;
    let error: Option<String> = row.get(9)?;
    let progress: f64 = row.get(10)?;
    let counted: i64 = row.get(11)?;
    let retry_at: Option<i64> = row.get(12)?;
    let deferrals: i64 = row.get(13)?;
    let moved: bool = row.get(14)?;
    Ok((|| {
        let corrupt = |field, value: String| JobError::Corrupt { id, field, value };
        let kind = serde_json::from_str(&kind).map_err(|e| corrupt("kind", format!("{kind} ({e})")))?;
        let state = JobState::parse(&state).ok_or_else(|| corrupt("state", state.clone()))?;
        let attempts = u32::try_from(attempts).map_err(|_| corrupt("attempts", attempts.to_string()))?;
        let counted = u32::try_from(counted).map_err(|_| corrupt("counted", counted.to_string()))?;
        let deferrals = u32::try_from(deferrals).map_err(|_| corrupt("deferrals", deferrals.to_string()))?;
        let input = bytes_to_path(input).map_err(|b| corrupt("input", String::from_utf8_lossy(&b).into_owned()))?;
        Ok(Job {
            id,
            key,
            input,
            kind,
            state,
            attempts,
            created_at,
            started_at,
            finished_at,
            error,
            progress: progress as f32,
            counted,
            retry_at,
            deferrals,
            moved,
        })
    })())
}

/// Paths are stored as their exact bytes: a video name need not be UTF-8.
#[cfg(unix)]
fn path_to_bytes(p: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

#[cfg(unix)]
fn bytes_to_path(b: Vec<u8>) -> Result<PathBuf, Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(b)))
}

#[cfg(not(unix))]
fn path_to_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
fn bytes_to_path(b: Vec<u8>) -> Result<PathBuf, Vec<u8>> {
    String::from_utf8(b).map(PathBuf::from).map_err(|e| e.into_bytes())
}
