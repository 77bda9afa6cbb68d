use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn video() -> JobKind {
    JobKind::Video { ratio: AspectRatio::new(9, 16).unwrap() }
}

fn store() -> (tempfile::TempDir, JobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = JobStore::open(dir.path()).unwrap();
    (dir, store)
}

fn add(store: &JobStore, key: &str) -> Job {
    store.enqueue(key, Path::new(&format!("/ingest/{key}.mp4")), video()).unwrap().into_job()
}

#[test]
fn open_sets_wal_full_sync_and_schema_version() {
    let (dir, store) = store();
    assert_eq!(store.path(), dir.path().join(DB_FILE));
    let conn = store.lock();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "FULL");
    assert_eq!(version, schema::VERSION);
}

#[test]
fn open_creates_the_state_folder_and_reopens_with_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("a/b/state");
    let id = add(&JobStore::open(&state).unwrap(), "x").id;
    let again = JobStore::open(&state).unwrap();
    assert_eq!(again.get(id).unwrap().key, "x");
}

#[test]
fn open_refuses_a_newer_schema() {
    let (dir, store) = store();
    store.lock().pragma_update(None, "user_version", schema::VERSION + 1).unwrap();
    drop(store);
    match JobStore::open(dir.path()) {
        Err(JobError::Schema { found, supported, .. }) => {
            assert_eq!((found, supported), (schema::VERSION + 1, schema::VERSION));
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<JobStore>();
}

#[test]
fn kind_round_trips_as_json_and_rejects_a_zero_ratio() {
    assert_eq!(serde_json::to_string(&video()).unwrap(), r#"{"type":"video","ratio":[9,16]}"#);
    for kind in [video(), JobKind::Index, JobKind::ContestFolder] {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(serde_json::from_str::<JobKind>(&json).unwrap(), kind);
    }
    assert!(serde_json::from_str::<JobKind>(r#"{"type":"video","ratio":[0,16]}"#).is_err());
}

#[test]
fn enqueue_is_idempotent_per_key() {
    let (_dir, store) = store();
    let first = store.enqueue("clip.mp4:123:456", Path::new("/in/clip.mp4"), video()).unwrap();
    assert!(first.is_new());
    let job = first.job().clone();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.input, Path::new("/in/clip.mp4"));
    assert_eq!(job.kind, video());
    assert!(job.created_at > 0 && job.started_at.is_none() && job.finished_at.is_none());

    // Same key, even naming another input: the existing job, untouched.
    let second = store.enqueue("clip.mp4:123:456", Path::new("/elsewhere.mp4"), JobKind::Index).unwrap();
    assert_eq!(second, Enqueued::Existing(job.clone()));
    assert_eq!(store.counts().unwrap().total(), 1);
    assert_eq!(store.by_key("clip.mp4:123:456").unwrap(), Some(job.clone()));
    assert_eq!(store.by_key("other").unwrap(), None);

    // Still the same job once it is done: a file seen again is not processed again.
    store.claim_next(1).unwrap();
    store.finish(job.id).unwrap();
    let third = store.enqueue("clip.mp4:123:456", Path::new("/in/clip.mp4"), video()).unwrap();
    assert!(!third.is_new());
    assert_eq!(third.job().state, JobState::Done);

    assert!(matches!(store.enqueue("", Path::new("/x"), video()), Err(JobError::EmptyKey)));
}

#[cfg(unix)]
#[test]
fn non_utf8_input_paths_survive() {
    use std::os::unix::ffi::OsStrExt;
    let (_dir, store) = store();
    let path = Path::new(std::ffi::OsStr::from_bytes(b"/in/caf\xe9.mp4"));
    let id = store.enqueue("k", path, JobKind::Index).unwrap().job().id;
    assert_eq!(store.get(id).unwrap().input, path);
}

#[test]
fn claims_oldest_first() {
    let (_dir, store) = store();
    let ids: Vec<i64> = ["c", "a", "b"].iter().map(|k| add(&store, k).id).collect();
    let claimed: Vec<i64> = (0..3).map(|_| store.claim_next(10).unwrap().unwrap().id).collect();
    assert_eq!(claimed, ids);
    assert_eq!(store.claim_next(10).unwrap(), None);
}

#[test]
fn claim_marks_running() {
    let (_dir, store) = store();
    let id = add(&store, "a").id;
    let job = store.claim_next(1).unwrap().unwrap();
    assert_eq!((job.id, job.state, job.attempts), (id, JobState::Running, 1));
    assert!(job.started_at.is_some_and(|t| t >= job.created_at));
    assert_eq!(store.get(id).unwrap(), job);
}

#[test]
fn max_running_bounds_the_claims() {
    let (_dir, store) = store();
    for k in ["a", "b", "c"] {
        add(&store, k);
    }
    assert_eq!(store.claim_next(0).unwrap(), None);
    let a = store.claim_next(2).unwrap().unwrap();
    store.claim_next(2).unwrap().unwrap();
    assert_eq!(store.claim_next(2).unwrap(), None, "2 running, max 2");
    assert_eq!(store.counts().unwrap().queued, 1);
    store.finish(a.id).unwrap();
    assert_eq!(store.claim_next(2).unwrap().map(|j| j.key), Some("c".into()));
}

#[test]
fn finish_and_fail_and_retry() {
    let (_dir, store) = store();
    let a = add(&store, "a").id;
    let b = add(&store, "b").id;
    store.claim_next(5).unwrap();
    store.claim_next(5).unwrap();
    store.set_progress(a, 0.5).unwrap();
    assert_eq!(store.get(a).unwrap().progress, 0.5);
    store.set_progress(a, 7.0).unwrap();
    assert_eq!(store.get(a).unwrap().progress, 1.0, "clamped");

    let done = store.finish(a).unwrap();
    assert_eq!((done.state, done.error.as_deref(), done.progress), (JobState::Done, None, 1.0));
    assert!(done.finished_at.is_some() && done.elapsed_ms().is_some_and(|ms| ms >= 0));

    store.set_progress(b, 0.25).unwrap();
    let failed = store.fail(b, "decoder: no video stream").unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("decoder: no video stream"));
    assert_eq!(failed.progress, 0.25, "kept: shows how far it got");
    assert!(failed.finished_at.is_some());

    let retried = store.retry(b).unwrap();
    assert_eq!((retried.state, retried.attempts), (JobState::Queued, 1));
    assert_eq!((retried.error, retried.finished_at, retried.progress), (None, None, 0.0));
    let again = store.claim_next(5).unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (b, 2));

    assert_eq!(store.counts().unwrap(), Counts { queued: 0, running: 1, done: 1, failed: 0 });
}

#[test]
fn bad_transitions_are_refused_and_change_nothing() {
    use JobState::*;
    let (_dir, store) = store();
    let q = add(&store, "queued").id;
    let r = add(&store, "running").id;
    let d = add(&store, "done").id;
    let f = add(&store, "failed").id;
    // Claim all but the first, then set the others' states.
    store.claim_next(9).unwrap();
    store.claim_next(9).unwrap();
    store.claim_next(9).unwrap();
    store.claim_next(9).unwrap();
    store.retry(store.fail(q, "x").unwrap().id).unwrap();
    store.finish(d).unwrap();
    store.fail(f, "boom").unwrap();
    let before: Vec<Job> = [q, r, d, f].iter().map(|&id| store.get(id).unwrap()).collect();
    assert_eq!(before.iter().map(|j| j.state).collect::<Vec<_>>(), [Queued, Running, Done, Failed]);

    let bad = |res: Result<Job, JobError>, id: i64, from: JobState, to: JobState| match res {
        Err(JobError::BadTransition { id: i, from: fr, to: t }) => assert_eq!((i, fr, t), (id, from, to)),
        other => panic!("expected {from} -> {to} refused, got {other:?}"),
    };
    bad(store.finish(q), q, Queued, Done);
    bad(store.fail(q, "x"), q, Queued, Failed);
    bad(store.retry(q), q, Queued, Queued);
    bad(store.retry(r), r, Running, Queued);
    bad(store.finish(d), d, Done, Done);
    bad(store.fail(d, "x"), d, Done, Failed);
    bad(store.retry(d), d, Done, Queued);
    bad(store.finish(f), f, Failed, Done);
    bad(store.fail(f, "again"), f, Failed, Failed);
    for id in [q, d, f] {
        match store.set_progress(id, 0.5) {
            Err(JobError::NotRunning { id: i, .. }) => assert_eq!(i, id),
            other => panic!("progress on a job not running: {other:?}"),
        }
    }
    assert!(matches!(store.set_progress(r, f32::NAN), Err(JobError::BadProgress { .. })));
    let after: Vec<Job> = [q, r, d, f].iter().map(|&id| store.get(id).unwrap()).collect();
    assert_eq!(before, after);

    for res in [store.get(999), store.finish(999), store.fail(999, "x"), store.retry(999)] {
        assert!(matches!(res, Err(JobError::NotFound(999))), "{res:?}");
    }
    assert!(matches!(store.set_progress(999, 0.1), Err(JobError::NotFound(999))));
    let msg = store.finish(q).unwrap_err().to_string();
    assert_eq!(msg, format!("job {q}: cannot go from queued to done"));
}

#[test]
fn list_and_counts() {
    let (_dir, store) = store();
    for k in ["a", "b", "c", "d", "e"] {
        add(&store, k);
    }
    let a = store.claim_next(9).unwrap().unwrap().id;
    let b = store.claim_next(9).unwrap().unwrap().id;
    store.claim_next(9).unwrap();
    store.finish(a).unwrap();
    store.fail(b, "x").unwrap();
    assert_eq!(store.counts().unwrap(), Counts { queued: 2, running: 1, done: 1, failed: 1 });
    let keys = |v: Vec<Job>| v.into_iter().map(|j| j.key).collect::<Vec<_>>();
    assert_eq!(keys(store.list(None, 100).unwrap()), ["e", "d", "c", "b", "a"]);
    assert_eq!(keys(store.list(None, 2).unwrap()), ["e", "d"]);
    assert_eq!(keys(store.list(Some(JobState::Queued), 100).unwrap()), ["e", "d"]);
    assert_eq!(keys(store.list(Some(JobState::Done), 100).unwrap()), ["a"]);
    assert_eq!(store.list(None, usize::MAX).unwrap().len(), 5);
    assert_eq!(store.list(None, 0).unwrap().len(), 0);
}

#[test]
fn recover_requeues_and_gives_up_after_max_attempts() {
    let (_dir, store) = store();
    let a = add(&store, "a").id;
    let b = add(&store, "b").id;
    let c = add(&store, "c").id;
    assert_eq!(store.claim_next(9).unwrap().map(|j| j.id), Some(a));
    // b reaches 3 attempts through fail and retry; c stays queued.
    for _ in 0..2 {
        assert_eq!(store.claim_next(9).unwrap().map(|j| j.id), Some(b));
        store.fail(b, "x").unwrap();
        store.retry(b).unwrap();
    }
    assert_eq!(store.claim_next(9).unwrap().map(|j| (j.id, j.attempts)), Some((b, 3)));
    assert_eq!(store.get(a).unwrap().attempts, 1);
    let rec = store.recover(3).unwrap();
    assert_eq!(rec, Recovered { requeued: vec![a], failed: vec![b] });
    let a_job = store.get(a).unwrap();
    assert_eq!((a_job.state, a_job.attempts, a_job.progress), (JobState::Queued, 1, 0.0));
    let b_job = store.get(b).unwrap();
    assert_eq!(b_job.state, JobState::Failed);
    assert_eq!(b_job.error.as_deref(), Some("interrupted 3 times"));
    assert_eq!(store.get(c).unwrap().state, JobState::Queued);
    assert_eq!(store.recover(3).unwrap(), Recovered::default(), "nothing left running");
}

#[test]
fn poisoned_lock_is_still_usable() {
    let (_dir, store) = store();
    let store = Arc::new(store);
    let s = Arc::clone(&store);
    let _ = std::thread::spawn(move || {
        let mut conn = s.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        tx.execute("INSERT INTO jobs (key, input, kind, state, created_at) VALUES ('p', x'00', '\"index\"', 'queued', 0)", [])
            .unwrap();
        panic!("worker panics mid-transaction");
    })
    .join();
    assert!(store.conn.is_poisoned());
    assert_eq!(store.by_key("p").unwrap(), None, "rolled back");
    add(&store, "after");
    assert_eq!(store.counts().unwrap().queued, 1);
}

#[test]
fn corrupt_rows_are_named() {
    let (_dir, store) = store();
    let id = add(&store, "a").id;
    store.lock().execute("UPDATE jobs SET kind = '{\"type\":\"hologram\"}' WHERE id = ?1", [id]).unwrap();
    match store.get(id) {
        Err(JobError::Corrupt { id: i, field: "kind", value }) => {
            assert_eq!(i, id);
            assert!(value.contains("hologram"), "{value}");
        }
        other => panic!("expected a corrupt kind, got {other:?}"),
    }
}

/// Four threads on two connections (as two processes would be) claim 50 jobs.
#[test]
fn concurrent_claims_never_share_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(JobStore::open(dir.path()).unwrap());
    let b = Arc::new(JobStore::open(dir.path()).unwrap());
    for i in 0..50 {
        add(&a, &format!("job{i:02}"));
    }
    let threads: Vec<_> = [&a, &a, &b, &b]
        .into_iter()
        .map(|s| {
            let s = Arc::clone(s);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(j) = s.claim_next(50).unwrap() {
                    got.push(j.id);
                }
                got
            })
        })
        .collect();
    let all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 50, "claimed {} times", all.len());
    assert_eq!(unique.len(), 50);
    assert_eq!(a.counts().unwrap(), Counts { running: 50, ..Counts::default() });
    assert!(a.list(None, 100).unwrap().iter().all(|j| j.attempts == 1));
}

/// Workers that claim and finish under `max_running = 2` never have more than 2 in hand.
#[test]
fn concurrent_workers_respect_max_running() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JobStore::open_with(dir.path(), false).unwrap());
    for i in 0..40 {
        add(&store, &format!("job{i:02}"));
    }
    let in_hand = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (s, in_hand, peak) = (Arc::clone(&store), Arc::clone(&in_hand), Arc::clone(&peak));
            std::thread::spawn(move || loop {
                match s.claim_next(2).unwrap() {
                    Some(j) => {
                        let now = in_hand.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        in_hand.fetch_sub(1, Ordering::SeqCst);
                        s.finish(j.id).unwrap();
                    }
                    None if s.counts().unwrap().queued == 0 => break,
                    None => std::thread::yield_now(),
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 2);
    assert_eq!(store.counts().unwrap(), Counts { done: 40, ..Counts::default() });
}

// ---------------------------------------------------------------------------------------
// Crash recovery with a real SIGKILL: the test binary re-runs itself as the child.

/// Set in the child's environment to the state folder; the child test does nothing without it.
const CHILD_ENV: &str = "HIGHLIGHTD_JOBS_CRASH_CHILD";
const READY: &str = "JOBS-CHILD-READY ";

/// The child: enqueues `a` and `b` (idempotently: it runs several times on the same store),
/// claims what it can, reports the claimed ids, then keeps writing progress until killed,
/// so the kill lands while the store is being written.
#[test]
fn crash_child_worker() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let store = JobStore::open(Path::new(&dir)).unwrap();
    add(&store, "a");
    add(&store, "b");
    let mut claimed = Vec::new();
    while let Some(j) = store.claim_next(10).unwrap() {
        claimed.push(j.id.to_string());
    }
    println!("{READY}{}", claimed.join(","));
    let mut p = 0.0f32;
    loop {
        p = (p + 0.001) % 1.0;
        for id in &claimed {
            store.set_progress(id.parse().unwrap(), p).unwrap();
        }
        if claimed.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs [`crash_child_worker`] against `dir`, waits until it has claimed, lets it write a
/// little, kills it with SIGKILL and returns the ids it claimed.
#[cfg(unix)]
fn run_child_and_kill(dir: &Path) -> Vec<i64> {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    // Test names are module paths without the crate name.
    let module = module_path!().split_once("::").map_or(module_path!(), |(_, rest)| rest);
    let name = format!("{module}::crash_child_worker");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may have printed "test <name> ... " on the same line first.
            if let Some((_, ids)) = line.split_once(READY) {
                let _ = tx.send(ids.to_string());
            }
        }
    });
    let ids = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(ids) => ids,
        Err(e) => {
            let _ = child.kill();
            panic!("child never reported its claims: {e}");
        }
    };
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap(); // SIGKILL on unix
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "child must die by SIGKILL, got {status}");
    ids.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect()
}

#[cfg(unix)]
#[test]
fn crash_mid_job_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();

    // Run 1: the child claims a and b and dies.
    let claimed = run_child_and_kill(dir.path());
    let store = JobStore::open(dir.path()).unwrap();
    let a = store.by_key("a").unwrap().unwrap();
    let b = store.by_key("b").unwrap().unwrap();
    assert_eq!(claimed, [a.id, b.id]);
    assert_eq!((a.state, a.attempts), (JobState::Running, 1), "what the dead process left");
    let ok: String = store.lock().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");

    assert_eq!(store.recover(3).unwrap(), Recovered { requeued: vec![a.id, b.id], failed: vec![] });
    let a_now = store.get(a.id).unwrap();
    assert_eq!((a_now.state, a_now.attempts), (JobState::Queued, 1));
    let again = store.claim_next(1).unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (a.id, 2));
    store.finish(a.id).unwrap();

    // Runs 2 and 3: b, a poison input, kills the daemon each time; a is not run again.
    for attempt in 2..=3 {
        assert_eq!(run_child_and_kill(dir.path()), [b.id], "attempt {attempt}");
        let rec = store.recover(3).unwrap();
        if attempt < 3 {
            assert_eq!(rec, Recovered { requeued: vec![b.id], failed: vec![] });
        } else {
            assert_eq!(rec, Recovered { requeued: vec![], failed: vec![b.id] });
        }
    }
    let b_now = store.get(b.id).unwrap();
    assert_eq!((b_now.state, b_now.attempts), (JobState::Failed, 3));
    assert_eq!(b_now.error.as_deref(), Some("interrupted 3 times"));
    assert_eq!(store.get(a.id).unwrap().state, JobState::Done);
    assert_eq!(store.counts().unwrap(), Counts { done: 1, failed: 1, ..Counts::default() }, "still 2 jobs");
}

// ---------------------------------------------------------------------------------------
// Random operation sequences against a model.

#[derive(Debug, Clone)]
enum Op {
    Enqueue(u8),
    Claim(u8),
    Progress(u8, f32),
    Finish(u8),
    Fail(u8),
    Retry(u8),
    Recover(u8),
    /// Drop the store and open it again, as a restart does.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let progress = prop_oneof![0.0f32..=1.0, -1.0f32..2.0, Just(f32::NAN), Just(f32::INFINITY)];
    prop_oneof![
        3 => (0u8..8).prop_map(Op::Enqueue),
        3 => (0u8..4).prop_map(Op::Claim),
        1 => (any::<u8>(), progress).prop_map(|(j, p)| Op::Progress(j, p)),
        2 => any::<u8>().prop_map(Op::Finish),
        2 => any::<u8>().prop_map(Op::Fail),
        1 => any::<u8>().prop_map(Op::Retry),
        1 => (1u8..4).prop_map(Op::Recover),
        1 => Just(Op::Reopen),
    ]
}

/// The model of one job: all that decides what an operation must do.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Model {
    state: JobState,
    attempts: u32,
}

/// The id an operation targets: one of the existing jobs, or (one time in `n + 1`) none.
fn target(model: &BTreeMap<i64, Model>, pick: u8) -> i64 {
    let n = model.len();
    model.keys().nth(usize::from(pick) % (n + 1)).copied().unwrap_or(1_000_000)
}

/// Applies a checked transition to the model, and says what the store must answer.
fn expect_transition(model: &mut BTreeMap<i64, Model>, id: i64, from: JobState, to: JobState) -> Result<JobState, JobError> {
    match model.get_mut(&id) {
        None => Err(JobError::NotFound(id)),
        Some(m) if m.state != from => Err(JobError::BadTransition { id, from: m.state, to }),
        Some(m) => {
            m.state = to;
            Ok(to)
        }
    }
}

fn same_outcome(got: Result<Job, JobError>, want: Result<JobState, JobError>) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(j), Ok(s)) => prop_assert_eq!(j.state, s),
        (Err(JobError::NotFound(a)), Err(JobError::NotFound(b))) => prop_assert_eq!(a, b),
        (Err(JobError::BadTransition { id, from, to }), Err(JobError::BadTransition { id: i, from: f, to: t })) => {
            prop_assert_eq!((id, from, to), (i, f, t))
        }
        (got, want) => prop_assert!(false, "got {:?}, want {:?}", got, want),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_invariants(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = JobStore::open_with(dir.path(), false).unwrap();
        let mut model: BTreeMap<i64, Model> = BTreeMap::new();
        let mut keys: HashMap<u8, i64> = HashMap::new();
        let mut last_attempts: HashMap<i64, u32> = HashMap::new();

        for op in ops {
            match op {
                Op::Enqueue(k) => {
                    let got = store.enqueue(&format!("key{k}"), Path::new("/in/v.mp4"), video()).unwrap();
                    match keys.get(&k) {
                        Some(&id) => prop_assert_eq!(got, Enqueued::Existing(store.get(id).unwrap())),
                        None => {
                            prop_assert!(got.is_new());
                            let id = got.job().id;
                            prop_assert!(!model.contains_key(&id), "id {} reused", id);
                            keys.insert(k, id);
                            model.insert(id, Model { state: JobState::Queued, attempts: 0 });
                        }
                    }
                }
                Op::Claim(max) => {
                    let running = model.values().filter(|m| m.state == JobState::Running).count();
                    let want = if running >= usize::from(max) {
                        None
                    } else {
                        model.iter().find(|(_, m)| m.state == JobState::Queued).map(|(&id, _)| id)
                    };
                    let got = store.claim_next(usize::from(max)).unwrap();
                    prop_assert_eq!(got.as_ref().map(|j| j.id), want);
                    if let Some(j) = got {
                        let m = model.get_mut(&j.id).unwrap();
                        m.state = JobState::Running;
                        m.attempts += 1;
                        prop_assert_eq!(j.attempts, m.attempts);
                    }
                }
                Op::Progress(pick, p) => {
                    let id = target(&model, pick);
                    let got = store.set_progress(id, p);
                    match model.get(&id) {
                        _ if !p.is_finite() => prop_assert!(matches!(got, Err(JobError::BadProgress { .. })), "{:?}", got),
                        None => prop_assert!(matches!(got, Err(JobError::NotFound(_))), "{:?}", got),
                        Some(m) if m.state != JobState::Running => {
                            prop_assert!(matches!(got, Err(JobError::NotRunning { .. })), "{:?}", got)
                        }
                        Some(_) => {
                            prop_assert!(got.is_ok(), "{:?}", got);
                            prop_assert_eq!(store.get(id).unwrap().progress, p.clamp(0.0, 1.0));
                        }
                    }
                }
                Op::Finish(pick) => {
                    let id = target(&model, pick);
                    let want = expect_transition(&mut model, id, JobState::Running, JobState::Done);
                    same_outcome(store.finish(id), want)?;
                }
                Op::Fail(pick) => {
                    let id = target(&model, pick);
                    let want = expect_transition(&mut model, id, JobState::Running, JobState::Failed);
                    same_outcome(store.fail(id, "random failure"), want)?;
                }
                Op::Retry(pick) => {
                    let id = target(&model, pick);
                    let want = expect_transition(&mut model, id, JobState::Failed, JobState::Queued);
                    same_outcome(store.retry(id), want)?;
                }
                Op::Recover(max) => {
                    let mut want = Recovered::default();
                    for (&id, m) in model.iter_mut().filter(|(_, m)| m.state == JobState::Running) {
                        if m.attempts >= u32::from(max) {
                            m.state = JobState::Failed;
                            want.failed.push(id);
                        } else {
                            m.state = JobState::Queued;
                            want.requeued.push(id);
                        }
                    }
                    prop_assert_eq!(store.recover(u32::from(max)).unwrap(), want);
                }
                Op::Reopen => {
                    drop(store);
                    store = JobStore::open_with(dir.path(), false).unwrap();
                }
            }

            // Invariants, checked against the store after every operation.
            let jobs = store.list(None, usize::MAX).unwrap();
            let counts = store.counts().unwrap();
            prop_assert_eq!(counts.total(), jobs.len() as u64);
            prop_assert_eq!(jobs.len(), model.len());
            for state in JobState::ALL {
                let n = jobs.iter().filter(|j| j.state == state).count() as u64;
                let c = match state {
                    JobState::Queued => counts.queued,
                    JobState::Running => counts.running,
                    JobState::Done => counts.done,
                    JobState::Failed => counts.failed,
                };
                prop_assert_eq!(n, c, "count of {}", state);
            }
            for j in &jobs {
                let m = model[&j.id];
                prop_assert_eq!((j.state, j.attempts), (m.state, m.attempts), "job {}", j.id);
                if j.state == JobState::Running {
                    prop_assert!(j.started_at.is_some(), "running without started_at: {:?}", j);
                }
                if matches!(j.state, JobState::Done | JobState::Failed) {
                    prop_assert!(j.finished_at.is_some(), "ended without finished_at: {:?}", j);
                }
                prop_assert_eq!(j.state == JobState::Failed, j.error.is_some(), "error iff failed: {:?}", j);
                prop_assert!((0.0..=1.0).contains(&j.progress));
                let before = last_attempts.insert(j.id, j.attempts).unwrap_or(0);
                prop_assert!(j.attempts >= before, "attempts went {} -> {}", before, j.attempts);
            }
        }
    }
}

#[test]
fn a_run_killed_before_confirmation_does_not_count_but_claims_are_bounded() {
    let (_dir, store) = store();
    let a = add(&store, "a").id;
    let give_up = GiveUp { max_counted: 2, max_claims: 4 };
    for _ in 0..3 {
        assert_eq!(store.claim_next(1).unwrap().map(|j| j.id), Some(a));
        assert_eq!(store.recover_counted(give_up).unwrap(), Recovered { requeued: vec![a], failed: vec![] });
    }
    let j = store.get(a).unwrap();
    assert_eq!((j.attempts, j.counted), (3, 0));
    // A confirmed run counts, once.
    store.claim_next(1).unwrap();
    assert!(store.confirm_attempt(a).unwrap());
    assert!(!store.confirm_attempt(a).unwrap(), "counted once per run");
    let rec = store.recover_counted(give_up).unwrap();
    assert_eq!(rec.failed, vec![a], "4 claims reach max_claims");
    assert_eq!(store.get(a).unwrap().counted, 1);
    assert!(store.get(a).unwrap().error.unwrap().contains("soon after its start"));
}

#[test]
fn a_deferred_job_waits_for_its_time_and_keeps_its_reason() {
    let (_dir, store) = store();
    let a = add(&store, "a").id;
    let b = add(&store, "b").id;
    store.claim_next(1).unwrap();
    let j = store.defer(a, "No space left on device", Duration::from_secs(3600)).unwrap();
    assert_eq!((j.state, j.counted, j.deferrals), (JobState::Queued, 1, 1));
    assert_eq!(j.error.as_deref(), Some("No space left on device"));
    assert!(j.retry_at.unwrap() > now_ms() + 3_000_000);
    assert_eq!(store.next_retry_at().unwrap(), j.retry_at);
    // Not claimable yet: b, queued after it, goes first; then nothing.
    assert_eq!(store.claim_next(2).unwrap().map(|j| j.id), Some(b));
    assert_eq!(store.claim_next(2).unwrap(), None);
    store.claim_next(2).unwrap();
    store.finish(b).unwrap();
    // Due now: claimable, and the claim clears the deferral.
    store.lock().execute("UPDATE jobs SET retry_at = 0 WHERE id = ?1", params![a]).unwrap();
    let again = store.claim_next(1).unwrap().unwrap();
    assert_eq!((again.id, again.retry_at), (a, None));
    assert_eq!(store.finish(a).unwrap().counted, 2);
}
