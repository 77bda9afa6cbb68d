//! `highlightd serve`: the appliance. Watches the ingest folder, turns every dropped video,
//! index or contest folder into a durable job, runs a bounded number at once, writes the
//! outputs atomically, moves the input to `done/` or `failed/` only once the outputs are
//! durable, and reports over MQTT and to systemd.
//!
//! ```text
//!  ingest/ ──scan + notify──► stable? ──► JobStore (SQLite) ──claim──► worker ─► engine
//!     ▲                                                                    │
//!     └── done/ | failed/ ◄── move input ◄── outputs renamed into place ◄───┘
//! ```
//! A crash at any point loses nothing: a job still `running` at start-up is queued again, and
//! its outputs, written under temporary names and renamed, are simply written again.

mod failure;
mod job;
mod names;
mod outcome;

use crate::config::Config;
use crate::format::AspectRatio;
use crate::ingest::wake::{self, ScanSchedule, EVENT_SCAN_GAP};
use crate::ingest::open;
use crate::ingest::watch::{self, Drop, EntryKind, Stability};
use crate::jobs::{Enqueued, GiveUp, JobKind, JobState, JobStore};
use crate::status::{JobEvent, RunningJob, State, StatsSampler, Status, StatusHandle, StatusPublisher};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, info, info_span, warn};

/// How often the loop refreshes the status (queue depth, systemd STATUS line) besides the
/// changes that publish it at once; an unchanged status is not sent again over MQTT.
const STATUS_REFRESH: Duration = Duration::from_secs(5);
/// Longest an idle worker sleeps without being woken: a safety net only, since every new job
/// and the stop wake the workers.
const WORKER_SAFETY_WAKE: Duration = Duration::from_secs(60);
/// An interrupted job is failed for good after `max_attempts` counted runs, or after this many
/// times `max_attempts` claims none of which lasted `attempt_min_s`: an input that kills the
/// daemon at once must not loop forever, while a few quick kills cost nothing.
const QUICK_CLAIMS_PER_ATTEMPT: u32 = 4;

/// Longest wait for the cameras to finalise their open segments at stop.
const CAMERA_STOP_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{path}: cannot create folder: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("job store: {0}")]
    Jobs(#[from] crate::jobs::JobError),
    #[error("MQTT: {0}")]
    Status(#[from] crate::status::StatusError),
    #[error("{path}: another highlightd serve uses this state folder")]
    Locked { path: PathBuf },
}

/// What the workers share.
struct Shared {
    cfg: Config,
    store: JobStore,
    status: StatusHandle,
    running: Mutex<HashMap<i64, RunningJob>>,
    frames: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    stop: Arc<AtomicBool>,
    /// Bumped on every new job and at stop; idle workers wait on `work_cv` for a change
    /// instead of asking the store on a timer.
    work: Mutex<u64>,
    work_cv: Condvar,
    /// Inputs moved out of the ingest folder by a worker since the last scan: the scan stops
    /// treating them as settled, so the same file put back is seen again.
    moved_out: Mutex<Vec<PathBuf>>,
}

impl Shared {
    /// Wakes every idle worker: a job was queued, or the daemon stops.
    fn wake_workers(&self) {
        *self.work.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.work_cv.notify_all();
    }

    /// The current work generation, read before asking the store for a job.
    fn work_generation(&self) -> u64 {
        *self.work.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps until the generation moves past `seen`, or until `limit` (the safety timeout,
    /// or the time a deferred job becomes due) passes.
    fn wait_for_work(&self, seen: u64, limit: Duration) {
        let guard = self.work.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.work_cv.wait_timeout_while(guard, limit, |g| *g == seen && !self.stop.load(Ordering::SeqCst));
    }

    fn publish_status(&self) {
        let queue_depth = self.store.counts().map(|c| c.queued as usize).unwrap_or(0);
        let running: Vec<RunningJob> = self.running.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        let state = if self.stop.load(Ordering::SeqCst) {
            State::Stopping
        } else if running.is_empty() {
            State::Idle
        } else {
            State::Busy
        };
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status(&format!("{} job(s) running, {queue_depth} queued", running.len()))]);
        self.status.set_status(Status { state, queue_depth, running });
    }
}

/// Runs the daemon until `stop` is set (SIGTERM/SIGINT), then lets running jobs finish for up
/// to `serve.stop_grace_s` and returns; an unfinished job is queued again at the next start.
pub fn run(cfg: Config, stop: Arc<AtomicBool>) -> Result<(), ServeError> {
    let s = &cfg.serve;
    for dir in [s.ingest_dir.clone(), s.ingest_dir.join("done"), s.ingest_dir.join("failed"), s.output_dir.clone(), s.state_dir.clone()] {
        std::fs::create_dir_all(&dir).map_err(|source| ServeError::Folder { path: dir.clone(), source })?;
    }
    // One daemon per state folder: recovery treats every running job as dead.
    let lock_path = s.state_dir.join("serve.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|source| ServeError::Folder { path: lock_path.clone(), source })?;
    lock.try_lock().map_err(|_| ServeError::Locked { path: s.state_dir.clone() })?;
    let store = JobStore::open(&s.state_dir)?;
    let swept = outcome::sweep_temporaries(&s.output_dir);
    if swept > 0 {
        info!(swept, "removed temporary outputs of a killed run");
    }
    // A job interrupted after its complete outputs were durable (say, the state disk was full
    // when it tried to record itself done) is done: recorded so, not run again.
    let mut finished_at_start = Vec::new();
    for j in store.in_state(JobState::Running)? {
        if outcome::complete_outputs(&s.ingest_dir, &s.output_dir, &j) {
            store.finish(j.id)?;
            info!(job = j.id, input = %j.input.display(), "outputs of an interrupted job are complete: recorded done");
            finished_at_start.push(j);
        }
    }
    let recovered = store.recover_counted(GiveUp { max_counted: s.max_attempts, max_claims: s.max_attempts.saturating_mul(QUICK_CLAIMS_PER_ATTEMPT) })?;
    if !recovered.requeued.is_empty() || !recovered.failed.is_empty() {
        warn!(requeued = ?recovered.requeued, failed = ?recovered.failed, "jobs interrupted by a previous stop");
    }
    let camera_names: Vec<String> = cfg.cameras.iter().map(|c| c.name.clone()).collect();
    let status = StatusPublisher::start_with_cameras(cfg.mqtt.clone(), env!("CARGO_PKG_VERSION"), &camera_names)?;
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        store,
        status,
        running: Mutex::new(HashMap::new()),
        frames: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        stop: stop.clone(),
        work: Mutex::new(0),
        work_cv: Condvar::new(),
        moved_out: Mutex::new(Vec::new()),
    });
    // Jobs finished or failed for good at recovery still have their input in the ingest folder.
    for j in &finished_at_start {
        if outcome::move_input(&s.ingest_dir, &j.input, "done", None) {
            let _ = shared.store.mark_moved(j.id);
        }
    }
    for id in &recovered.failed {
        if let Ok(j) = shared.store.get(*id) {
            if outcome::move_input(&s.ingest_dir, &j.input, "failed", j.error.as_deref()) {
                let _ = shared.store.mark_moved(j.id);
            }
        }
    }
    let workers: Vec<_> = (0..s.max_jobs)
        .map(|n| {
            let sh = shared.clone();
            std::thread::Builder::new().name(format!("worker-{n}")).spawn(move || worker(&sh))
        })
        .collect::<Result<_, _>>()
        .map_err(|source| ServeError::Folder { path: s.state_dir.clone(), source })?;

    let (tx, rx) = std::sync::mpsc::channel();
    let signals = wake_on_signals(stop.clone(), tx.clone()).map_err(|source| ServeError::Folder { path: s.state_dir.clone(), source })?;
    let dirty = Arc::new(AtomicBool::new(false));
    let _watcher = start_watcher(&s.ingest_dir, tx, dirty.clone());
    let cameras = crate::camera::Cameras::start(&shared.cfg, &shared.status.camera_sink(), &stop);
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    info!(ingest = %s.ingest_dir.display(), output = %s.output_dir.display(), jobs = s.max_jobs, "serving");
    shared.publish_status();

    let mut stability = Stability::default();
    let mut sampler = StatsSampler::new(Some(s.output_dir.clone())).with_state_path(s.state_dir.clone());
    let mut schedule = ScanSchedule::new(Duration::from_secs_f64(s.scan_interval_s), EVENT_SCAN_GAP);
    let mut scans = 0u64;
    let now = Instant::now();
    let mut timers = Timers {
        watchdog: watchdog_interval().map(|w| (w, now + w)),
        status: now + STATUS_REFRESH,
        stats: now + shared.status.stats_interval(),
    };
    // The loop sleeps until the earliest of: the next scan (periodic, or asked for by a file
    // event and coalesced by `schedule`), the watchdog ping, the status refresh, the stats
    // message. A signal wakes it at once. Nothing else wakes it, so an idle daemon costs
    // nothing between those deadlines.
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if schedule.due(now) {
            let why = if schedule.pending() { "event" } else { "periodic" };
            scans += 1;
            schedule.scanned(now);
            // Before the scan: an event from here on may be one the scan misses.
            dirty.store(false, Ordering::Release);
            let found = scan(&shared, &mut stability);
            debug!(scans, why, found, "scan");
        }
        if let Some((every, next)) = &mut timers.watchdog {
            if now >= *next {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                *next = now + *every;
            }
        }
        if now >= timers.status {
            shared.publish_status();
            timers.status = now + STATUS_REFRESH;
        }
        if now >= timers.stats {
            let st = sampler.sample(shared.frames.load(Ordering::Relaxed), shared.done.load(Ordering::Relaxed), shared.failed.load(Ordering::Relaxed));
            shared.status.stats(st);
            timers.stats = now + shared.status.stats_interval();
        }
        let next = [schedule.next_due(), timers.watchdog.map(|w| w.1), Some(timers.status), Some(timers.stats)].into_iter().flatten().min().unwrap_or(now);
        match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(Wake::Files) => schedule.event(),
            Ok(Wake::Signal) | Err(RecvTimeoutError::Timeout) => {}
            // Both senders gone (no watcher, no signal thread): never happens while `signals`
            // lives, but must not turn into a busy loop if it did.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(next.saturating_duration_since(Instant::now())),
        }
    }
    signals.close();
    shared.wake_workers();
    info!("stopping: letting running jobs finish");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    shared.publish_status();
    let deadline = Instant::now() + Duration::from_secs_f64(shared.cfg.serve.stop_grace_s);
    for w in workers {
        while !w.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if w.is_finished() {
            let _ = w.join();
        }
    }
    cameras.join(CAMERA_STOP_WAIT);
    shared.status.shutdown();
    drop(lock);
    Ok(())
}

fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0u64;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

/// Deadlines of the loop's timers besides the scan.
struct Timers {
    /// systemd watchdog: (ping interval, next ping), when the unit asks for pings.
    watchdog: Option<(Duration, Instant)>,
    status: Instant,
    stats: Instant,
}

/// Why the loop was woken before its next deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// A file-system event that can change the ingest folder's contents.
    Files,
    /// SIGTERM or SIGINT: `stop` is set.
    Signal,
}

/// Sets `stop` and wakes the loop on SIGTERM/SIGINT, so the loop never has to look at the flag
/// on a timer. (`main` also registers the flag itself, which covers the start-up before this.)
fn wake_on_signals(stop: Arc<AtomicBool>, tx: Sender<Wake>) -> std::io::Result<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT])?;
    let handle = signals.handle();
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for _ in signals.forever() {
            stop.store(true, Ordering::SeqCst);
            let _ = tx.send(Wake::Signal);
        }
    })?;
    Ok(handle)
}

/// File-system events only wake the scan loop early; the periodic scan is what finds work,
/// so a missed or filtered event costs at most one scan interval. Only events that can change
/// the folder's contents count ([`wake::wants_scan`]): the scan's own opens and reads of the
/// folder must not ask for the next scan. `dirty` makes a burst cost one message: it is set
/// with the first wanted event and cleared by the loop when a scan starts, so events until
/// then (which that scan will see) neither send nor wake the loop again.
fn start_watcher(dir: &Path, tx: Sender<Wake>, dirty: Arc<AtomicBool>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let ingest = dir.to_path_buf();
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // An error (say, the kernel's event queue overflowed) may hide changes: scan.
        let wanted = res.as_ref().map_or(true, |e| wake::wants_scan(e, &ingest));
        if wanted && !dirty.swap(true, Ordering::AcqRel) {
            let _ = tx.send(Wake::Files);
        }
    })
    .map_err(|e| warn!("file-system events unavailable, scanning only: {e}"))
    .ok()?;
    w.watch(dir, notify::RecursiveMode::Recursive).map_err(|e| warn!("cannot watch {}: {e}", dir.display())).ok()?;
    Some(w)
}

/// One pass over the ingest folder: stable new drops become jobs; bad drops go to `failed/`.
/// Returns how many entries it looked at.
fn scan(sh: &Shared, stability: &mut Stability) -> usize {
    let s = &sh.cfg.serve;
    // `Config::check` refuses a zero side, so the fallback is never taken.
    let default_ratio = AspectRatio::new(s.default_ratio[0], s.default_ratio[1]).unwrap_or(AspectRatio::PORTRAIT);
    let quiet = Duration::from_secs_f64(s.stable_s);
    let max_json = s.max_json_bytes;
    // Whatever is named like a sidecar is read as an ingest path (see `ingest::open`): a FIFO
    // or a symlink to `/dev/zero` there is refused at once instead of holding the scan.
    let read_sidecar = |p: &Path| -> Option<Result<String, String>> {
        std::fs::symlink_metadata(p).ok()?;
        Some(open::read_text_bounded(p, max_json).map_err(|e| e.to_string()))
    };
    for p in std::mem::take(&mut *sh.moved_out.lock().unwrap_or_else(|p| p.into_inner())) {
        stability.unsettle(&p);
    }
    let found = candidates(&s.ingest_dir);
    // Paths gone since the last scan (picked up, deleted, renamed) are forgotten, so a storm
    // of short-lived files leaves nothing behind.
    let present: std::collections::HashSet<&Path> = found.iter().map(|(p, _)| p.as_path()).collect();
    stability.retain(|p| present.contains(p));
    let refuse = |path: &Path, e: &watch::DropError| {
        warn!("{e}");
        outcome::move_input(&s.ingest_dir, path, "failed", Some(&e.to_string()));
        sh.failed.fetch_add(1, Ordering::Relaxed);
        sh.status.event(JobEvent::failed("-", path.display().to_string(), e.to_string()));
    };
    for (path, kind) in &found {
        let (path, kind) = (path.clone(), *kind);
        let Some(drop) = watch::classify(&path, kind, default_ratio, read_sidecar) else { continue };
        // A symlink or special file has no contents worth waiting for: refused at once, and
        // only once should it stay where it is (a move into `failed/` that fails).
        if !matches!(kind, EntryKind::File | EntryKind::Dir) {
            if let Err(e) = &drop {
                let (size, mtime) = std::fs::symlink_metadata(&path).map_or((0, None), |m| (m.len(), m.modified().ok()));
                if !stability.is_settled(&path, size, mtime) {
                    refuse(&path, e);
                    stability.settle(&path, size, mtime);
                }
            }
            continue;
        }
        let Some((size, mtime)) = fingerprint(&path, kind == EntryKind::Dir) else { continue };
        if stability.is_settled(&path, size, mtime) {
            continue;
        }
        if !stability.observe(&path, size, mtime, Instant::now(), quiet) {
            continue;
        }
        stability.forget(&path);
        let drop = match drop {
            Ok(d) => d,
            Err(e) => {
                refuse(&path, &e);
                stability.settle(&path, size, mtime);
                continue;
            }
        };
        let job_kind = match &drop {
            Drop::Video { ratio, .. } => JobKind::Video { ratio: *ratio },
            Drop::Index { .. } => JobKind::Index,
            Drop::ContestFolder { .. } => JobKind::ContestFolder,
        };
        let mtime_ns = mtime.and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        let key = format!("{}|{size}|{mtime_ns}", path.display());
        // A read first: a drop already known (say, from before a restart) costs no write.
        if let Ok(Some(known)) = sh.store.by_key(&key) {
            stability.settle(&path, size, mtime);
            known_again(sh, &known);
            continue;
        }
        match sh.store.enqueue(&key, &path, job_kind) {
            Ok(Enqueued::New(j)) => {
                info!(job = j.id, input = %path.display(), "queued");
                stability.settle(&path, size, mtime);
                // The event before the wake: a woken worker publishes `started` at once, and a
                // fleet must never see a job start before it was queued.
                sh.status.event(JobEvent::queued(j.id.to_string(), path.display().to_string()));
                sh.wake_workers();
                sh.publish_status();
            }
            Ok(Enqueued::Existing(_)) => stability.settle(&path, size, mtime),
            Err(e) => warn!(input = %path.display(), "cannot queue: {e}"),
        }
    }
    found.len()
}

/// A stable input in the ingest folder whose job the store already has.
/// - done or failed but not moved: the daemon stopped between recording the outcome and
///   moving the input; the move is finished now;
/// - failed and moved: an operator moved it back from `failed/` (a rename keeps size and
///   mtime, so the key is the same) to have it retried: queued again;
/// - anything else (queued, running, done and moved then dropped again): nothing to do.
fn known_again(sh: &Shared, job: &crate::jobs::Job) {
    let ingest = &sh.cfg.serve.ingest_dir;
    match (job.state, job.moved) {
        (JobState::Done, false) | (JobState::Failed, false) => {
            let (to, why) = if job.state == JobState::Done { ("done", None) } else { ("failed", job.error.as_deref()) };
            info!(job = job.id, input = %job.input.display(), "finishing the move of a {} job's input", job.state);
            if outcome::move_input(ingest, &job.input, to, why) {
                let _ = sh.store.mark_moved(job.id);
            }
        }
        (JobState::Failed, true) => match sh.store.retry(job.id) {
            Ok(j) => {
                info!(job = j.id, input = %j.input.display(), "put back from failed/: queued again");
                sh.status.event(JobEvent::queued(j.id.to_string(), j.input.display().to_string()));
                sh.wake_workers();
                sh.publish_status();
            }
            Err(e) => warn!(input = %job.input.display(), "cannot queue again: {e}"),
        },
        _ => {}
    }
}

/// Entries of the ingest folder and of its ratio sub-folders (`9x16/`…), without the
/// daemon's own `done/` and `failed/`, each with its kind as found by `lstat`.
fn candidates(ingest: &Path) -> Vec<(PathBuf, EntryKind)> {
    let mut out = Vec::new();
    let list = |dir: &Path| -> Vec<(PathBuf, EntryKind)> {
        let mut v: Vec<(PathBuf, EntryKind)> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(Result::ok).filter_map(|e| e.file_type().ok().map(|t| (e.path(), EntryKind::from_type(t, &e.path())))).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    for (p, kind) in list(ingest) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let is_dir = kind == EntryKind::Dir;
        if is_dir && watch::RESERVED.contains(&name) {
            continue;
        }
        if is_dir && watch::ratio_from_folder_name(name).is_some() {
            out.extend(list(&p).into_iter().filter(|(_, k)| *k != EntryKind::Dir));
            continue;
        }
        out.push((p, kind));
    }
    out
}

/// Size and newest mtime (of a folder: of everything in it), to tell when a drop is complete.
fn fingerprint(path: &Path, is_dir: bool) -> Option<(u64, Option<std::time::SystemTime>)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        return None;
    }
    if !is_dir {
        return Some((meta.len(), meta.modified().ok()));
    }
    let (mut size, mut newest) = (0u64, meta.modified().ok());
    let mut stack = vec![path.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.filter_map(Result::ok) {
            let m = e.metadata().ok()?;
            if m.is_dir() {
                stack.push(e.path());
            } else {
                size += m.len();
            }
            newest = newest.max(m.modified().ok());
        }
    }
    Some((size, newest))
}

fn worker(sh: &Shared) {
    while !sh.stop.load(Ordering::SeqCst) {
        let seen = sh.work_generation();
        let job = match sh.store.claim_next(sh.cfg.serve.max_jobs) {
            Ok(Some(j)) => j,
            Ok(None) => {
                // A deferred job wakes the worker when it becomes due.
                let due = sh.store.next_retry_at().ok().flatten().map(|at| Duration::from_millis(u64::try_from(at.saturating_sub(crate::jobs::now_ms())).unwrap_or(0)));
                sh.wait_for_work(seen, due.map_or(WORKER_SAFETY_WAKE, |d| d.clamp(Duration::from_millis(50), WORKER_SAFETY_WAKE)));
                continue;
            }
            Err(e) => {
                warn!("cannot claim a job: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let _span = info_span!("job", id = job.id, input = %job.input.display()).entered();
        job::run(sh, &job);
    }
}
