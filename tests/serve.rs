//! `highlightd serve` end to end: the real binary, a real mosquitto on a free loopback port,
//! generated videos dropped into a temporary ingest folder.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

/// A daemon with its own folders; SIGKILLed on drop if still running.
struct Daemon {
    root: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// `extra` goes at the end of `[serve]`; it may set `scan_interval_s` (else 0.2 s) and
    /// `stable_s` (else 1 s) itself.
    fn config(root: &Path, extra: &str) -> PathBuf {
        let cfg = root.join("highlightd.toml");
        let scan = if extra.contains("scan_interval_s") { "" } else { "scan_interval_s = 0.2\n" };
        let stable = if extra.contains("stable_s") { "" } else { "stable_s = 1.0\n" };
        let text = format!(
            "[serve]\ningest_dir = \"{r}/ingest\"\noutput_dir = \"{r}/out\"\nstate_dir = \"{r}/state\"\n{stable}{scan}{extra}",
            r = root.display()
        );
        std::fs::write(&cfg, text).expect("write config");
        cfg
    }

    fn start(root: &Path, extra: &str) -> Daemon {
        Self::start_logging(root, extra, "info")
    }

    /// With a log filter of its own (`--log`), e.g. one that shows the per-scan debug lines.
    fn start_logging(root: &Path, extra: &str, filter: &str) -> Daemon {
        let cfg = Self::config(root, extra);
        let log = root.join(format!("daemon-{}.log", Instant::now().elapsed().as_nanos() ^ std::process::id() as u128));
        let child = Command::new(bin())
            .args(["--log", filter, "serve", "--config"])
            .arg(&cfg)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start highlightd serve");
        let d = Daemon { root: root.into(), child: Some(child), log };
        assert!(wait_for(Duration::from_secs(10), || d.log_text().contains("serving")), "daemon did not start:\n{}", d.log_text());
        d
    }

    fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    fn ingest(&self) -> PathBuf {
        self.root.join("ingest")
    }

    /// SIGTERM and wait; returns how long the exit took.
    fn terminate(&mut self) -> Duration {
        let t = Instant::now();
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return t.elapsed();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("daemon did not exit within 30 s of SIGTERM");
        }
        t.elapsed()
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Copies `src` into the ingest folder the way a careful uploader does: under a hidden name,
/// then renamed into place.
fn drop_file(src: &Path, ingest: &Path, name: &str) -> PathBuf {
    let tmp = ingest.join(format!(".{name}.part"));
    std::fs::copy(src, &tmp).expect("copy into ingest");
    let dest = ingest.join(name);
    std::fs::rename(&tmp, &dest).expect("rename into place");
    dest
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    v.sort();
    v
}

// ------------------------------------------------------------------------------- broker

struct Broker {
    _dir: tempfile::TempDir,
    port: u16,
    conf: PathBuf,
    child: Child,
}

impl Broker {
    fn start() -> Broker {
        assert!(Path::new("/usr/sbin/mosquitto").exists(), "mosquitto is needed (Debian packages mosquitto, mosquitto-clients); run scripts/setup.sh --test");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let user = Command::new("id").arg("-un").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_else(|_| "root".into());
        let conf = dir.path().join("m.conf");
        std::fs::write(&conf, format!("user {user}\nlistener {port} 127.0.0.1\nallow_anonymous true\n")).expect("conf");
        let child = Self::launch(&conf, port);
        Broker { _dir: dir, port, conf, child }
    }

    fn launch(conf: &Path, port: u16) -> Child {
        let child = Command::new("/usr/sbin/mosquitto").arg("-c").arg(conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start mosquitto");
        assert!(wait_for(Duration::from_secs(5), || TcpStream::connect(("127.0.0.1", port)).is_ok()), "mosquitto did not listen");
        child
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        // The port may linger for a moment after the kill.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match std::panic::catch_unwind(|| Self::launch(&self.conf, self.port)) {
                Ok(c) => {
                    self.child = c;
                    return;
                }
                Err(e) if Instant::now() > end => std::panic::resume_unwind(e),
                Err(_) => std::thread::sleep(Duration::from_millis(300)),
            }
        }
    }

    /// `mosquitto_sub -v` on `topic` into a file, until killed.
    fn subscribe(&self, topic: &str, out: &Path) -> Child {
        let c = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-v", "-t", topic])
            .stdout(std::fs::File::create(out).expect("sub file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub (Debian package mosquitto-clients)");
        std::thread::sleep(Duration::from_millis(300));
        c
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// -------------------------------------------------------------------------------- tests

#[test]
fn dropped_video_with_sidecar_gives_outputs_events_in_order_and_moves_to_done() {
    let dir = tempdir();
    let root = dir.path();
    let src = moving(root, "clip.mp4", 2.0, (320, 180), 25);
    let broker = Broker::start();
    let sub_file = root.join("mqtt.txt");
    let mut sub = broker.subscribe("hl/cam1/#", &sub_file);
    let mut d = Daemon::start(root, &format!("[mqtt]\nenabled = true\nport = {}\ndevice_id = \"cam1\"\ntopic_prefix = \"hl\"\nhome_assistant_discovery = false\n", broker.port));

    std::fs::write(d.ingest().join("clip.json"), r#"{"targetRatioWH": [16, 9]}"#).unwrap();
    drop_file(&src, &d.ingest(), "clip.mp4");
    let out = root.join("out/clip.mp4.predictions.jsonl");
    assert!(wait_for(Duration::from_secs(30), || listing(&d.ingest().join("done")).contains(&"clip.mp4".to_string())), "not done:\n{}", d.log_text());
    let took = d.terminate();
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    std::thread::sleep(Duration::from_millis(500));
    let _ = sub.kill();
    let _ = sub.wait();

    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["targetRatioWH"], serde_json::json!([16, 9]), "the sidecar's ratio");
    assert_eq!(lines[0]["video_id"], "clip");
    assert!(!lines[0]["predictions"].as_array().unwrap().is_empty());
    assert!(root.join("out/clip.mp4.crop.json").is_file());
    assert_eq!(listing(&d.ingest().join("done")), ["clip.json", "clip.mp4"]);
    assert!(!d.ingest().join("clip.mp4").exists());

    let msgs = std::fs::read_to_string(&sub_file).unwrap();
    let events: Vec<String> = msgs
        .lines()
        .filter_map(|l| l.strip_prefix("hl/cam1/events "))
        .filter_map(|j| serde_json::from_str::<Value>(j).ok())
        .filter_map(|v| v["event"].as_str().map(str::to_string))
        .filter(|e| e != "progress")
        .collect();
    assert_eq!(events, ["queued", "started", "done"], "events:\n{msgs}");
    let avail: Vec<&str> = msgs.lines().filter_map(|l| l.strip_prefix("hl/cam1/availability ")).collect();
    assert_eq!(avail.first(), Some(&"online"), "{msgs}");
    assert_eq!(avail.last(), Some(&"offline"), "clean shutdown says offline:\n{msgs}");
    assert!(msgs.lines().any(|l| l.starts_with("hl/cam1/status ") && l.contains("\"queue_depth\"")), "{msgs}");
}

#[test]
fn a_file_still_being_written_is_picked_up_only_when_complete() {
    let dir = tempdir();
    let root = dir.path();
    let src = moving(root, "slow.mp4", 2.0, (320, 180), 25);
    let bytes = std::fs::read(&src).unwrap();
    let d = Daemon::start(root, "");
    // Written in place, in 12 pieces over ~3 s: pauses shorter than stable_s (1 s).
    let dest = d.ingest().join("slow.mp4");
    let mut f = std::fs::File::create(&dest).unwrap();
    for chunk in bytes.chunks(bytes.len().div_ceil(12)) {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(250));
        assert!(!d.log_text().contains("queued"), "picked up while still being written:\n{}", d.log_text());
    }
    drop(f);
    assert!(wait_for(Duration::from_secs(30), || listing(&d.ingest().join("done")).contains(&"slow.mp4".to_string())), "{}", d.log_text());
    let lines = read_jsonl(&root.join("out/slow.mp4.predictions.jsonl"));
    assert_eq!(lines.len(), 1);
    assert!(!lines[0]["predictions"].as_array().unwrap().is_empty());
    assert!(listing(&d.ingest().join("failed")).is_empty());
    assert_eq!(d.log_text().matches("queued").count(), 1);
}

#[test]
fn kill_9_during_a_job_then_restart_completes_it_once() {
    let dir = tempdir();
    let root = dir.path();
    // Long enough (30 s of 640×360) that the kill lands mid-job.
    let src = moving(root, "long.mp4", 30.0, (640, 360), 25);
    let mut d = Daemon::start(root, "");
    drop_file(&src, &d.ingest(), "long.mp4");
    assert!(wait_for(Duration::from_secs(20), || d.log_text().contains("started")), "{}", d.log_text());
    d.kill9();
    assert!(d.ingest().join("long.mp4").exists(), "the input must stay until the outputs are durable");
    assert!(!root.join("out/long.mp4.predictions.jsonl").exists() || !listing(&d.ingest().join("done")).contains(&"long.mp4".to_string()));

    let d2 = Daemon::start(root, "");
    assert!(wait_for(Duration::from_secs(60), || listing(&d2.ingest().join("done")).contains(&"long.mp4".to_string())), "{}", d2.log_text());
    assert!(d2.log_text().contains("interrupted by a previous stop"), "{}", d2.log_text());
    let lines = read_jsonl(&root.join("out/long.mp4.predictions.jsonl"));
    assert_eq!(lines.len(), 1, "one output line, not two");
    assert!(!lines[0]["predictions"].as_array().unwrap().is_empty());
    drop(d2);
    let store = highlightd::jobs::JobStore::open(&root.join("state")).unwrap();
    let jobs = store.list(None, 10).unwrap();
    assert_eq!(jobs.len(), 1, "one job, run twice");
    assert_eq!(jobs[0].attempts, 2);
    assert_eq!(jobs[0].state, highlightd::jobs::JobState::Done);
}

#[test]
fn bad_drops_go_to_failed_with_a_reason_and_the_daemon_keeps_serving() {
    let dir = tempdir();
    let root = dir.path();
    let good = moving(root, "good.mp4", 2.0, (320, 180), 25);
    let corrupt = random_bytes(root, "corrupt.mp4", 64 * 1024);
    let d = Daemon::start(root, "");
    let ing = d.ingest();
    drop_file(&corrupt, &ing, "corrupt.mp4");
    std::fs::write(ing.join("badside.json"), r#"{"targetRatioWH": [0, 9]}"#).unwrap();
    drop_file(&good, &ing, "badside.mp4");
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::copy(&good, root.join("outside/secret.mp4")).unwrap();
    std::fs::write(root.join("escape.jsonl"), "{\"video_id\": \"x\", \"video\": \"../outside/secret.mp4\", \"targetRatioWH\": [9, 16]}\n").unwrap();
    std::fs::rename(root.join("escape.jsonl"), ing.join("escape.jsonl")).unwrap();

    let failed = ing.join("failed");
    let want = ["badside.mp4", "corrupt.mp4", "escape.jsonl"];
    assert!(
        wait_for(Duration::from_secs(40), || want.iter().all(|w| listing(&failed).contains(&w.to_string()))),
        "failed/ has {:?}\n{}",
        listing(&failed),
        d.log_text()
    );
    let reason = |n: &str| std::fs::read_to_string(failed.join(format!("{n}.error.txt"))).unwrap_or_default();
    assert!(reason("badside.mp4").contains("targetRatioWH"), "{}", reason("badside.mp4"));
    assert!(reason("corrupt.mp4").contains("corrupt.mp4"), "{}", reason("corrupt.mp4"));
    assert!(reason("escape.jsonl").contains("..") && reason("escape.jsonl").contains("escape.jsonl:1"), "{}", reason("escape.jsonl"));
    assert!(!root.join("out/escape.jsonl.predictions.jsonl").exists());

    // Still serving.
    drop_file(&good, &ing, "after.mp4");
    assert!(wait_for(Duration::from_secs(30), || listing(&ing.join("done")).contains(&"after.mp4".to_string())), "{}", d.log_text());
}

#[test]
fn broker_down_and_back_the_daemon_keeps_working_and_status_is_current_again() {
    let dir = tempdir();
    let root = dir.path();
    let src = moving(root, "b.mp4", 2.0, (320, 180), 25);
    let mut broker = Broker::start();
    let mut d = Daemon::start(root, &format!("[mqtt]\nenabled = true\nport = {}\ndevice_id = \"cam2\"\ntopic_prefix = \"hl\"\nkeep_alive_s = 5\n", broker.port));
    broker.stop();
    // Work goes on while the broker is away.
    drop_file(&src, &d.ingest(), "while-down.mp4");
    assert!(wait_for(Duration::from_secs(30), || listing(&d.ingest().join("done")).contains(&"while-down.mp4".to_string())), "{}", d.log_text());
    broker.restart();
    // A fresh subscriber sees the retained availability and the latest status (republished
    // on reconnection: the restarted broker has no retained messages of its own).
    let sub_file = root.join("after.txt");
    let mut sub = broker.subscribe("hl/cam2/#", &sub_file);
    let ok = wait_for(Duration::from_secs(40), || {
        let t = std::fs::read_to_string(&sub_file).unwrap_or_default();
        t.contains("hl/cam2/availability online") && t.lines().any(|l| l.starts_with("hl/cam2/status ") && l.contains("\"queue_depth\":0"))
    });
    let _ = sub.kill();
    let _ = sub.wait();
    let text = std::fs::read_to_string(&sub_file).unwrap_or_default();
    assert!(ok, "after the broker came back:\n{text}\n{}", d.log_text());
    let status: Value = text.lines().rev().find_map(|l| l.strip_prefix("hl/cam2/status ")).and_then(|j| serde_json::from_str(j).ok()).expect("a status");
    assert_eq!(status["state"], "idle");

    // Killed outright: the broker publishes the last will within 1.5 × keep-alive (5 s).
    let will_file = root.join("will.txt");
    let mut sub = broker.subscribe("hl/cam2/availability", &will_file);
    d.kill9();
    let gone = wait_for(Duration::from_secs(15), || std::fs::read_to_string(&will_file).unwrap_or_default().lines().last() == Some("hl/cam2/availability offline"));
    let _ = sub.kill();
    let _ = sub.wait();
    assert!(gone, "availability after kill -9: {}", std::fs::read_to_string(&will_file).unwrap_or_default());
}

#[test]
fn fifty_videos_dropped_at_once_are_all_processed_with_bounded_memory() {
    let dir = tempdir();
    let root = dir.path();
    let src = moving(root, "s.mp4", 1.0, (160, 96), 25);
    let mut d = Daemon::start(root, "max_jobs = 2\n");
    for i in 0..50 {
        drop_file(&src, &d.ingest(), &format!("v{i:02}.mp4"));
    }
    let pid = d.child.as_ref().map(Child::id).expect("running");
    let done = d.ingest().join("done");
    assert!(wait_for(Duration::from_secs(120), || listing(&done).len() == 50), "{} of 50 done\n{}", listing(&done).len(), d.log_text());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0);
    eprintln!("peak resident memory over 50 jobs: {} MiB", peak_kb / 1024);
    d.terminate();
    for i in 0..50 {
        let lines = read_jsonl(&root.join(format!("out/v{i:02}.mp4.predictions.jsonl")));
        assert_eq!(lines.len(), 1, "v{i:02}");
    }
    assert!(listing(&d.ingest().join("failed")).is_empty());
    assert!(peak_kb > 0 && peak_kb < 600 * 1024, "peak {peak_kb} KiB");
    let store = highlightd::jobs::JobStore::open(&root.join("state")).unwrap();
    let c = store.counts().unwrap();
    assert_eq!((c.done, c.failed, c.queued, c.running), (50, 0, 0, 0));
}

#[test]
fn files_present_at_start_are_picked_up_and_shorts_rendered_when_configured() {
    let dir = tempdir();
    let root = dir.path();
    let src = moving(root, "early.mp4", 2.0, (320, 180), 25);
    // Dropped while the daemon was not running, into a ratio sub-folder.
    std::fs::create_dir_all(root.join("ingest/16x9")).unwrap();
    std::fs::copy(&src, root.join("ingest/16x9/early.mp4")).unwrap();
    let mut d = Daemon::start(root, "render = true\n");
    assert!(wait_for(Duration::from_secs(40), || listing(&d.ingest().join("done")).contains(&"early.mp4".to_string())), "{}", d.log_text());
    d.terminate();
    let line = &read_jsonl(&root.join("out/16x9/early.mp4.predictions.jsonl"))[0];
    assert_eq!(line["targetRatioWH"], serde_json::json!([16, 9]), "ratio from the 16x9/ folder");
    let n = line["predictions"].as_array().unwrap().len();
    let short = root.join("out/16x9/early.mp4.short.mp4");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&short)
        .output()
        .expect("ffprobe");
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), n.to_string(), "the short has one frame per prediction");
}

#[test]
fn sigterm_during_a_job_exits_within_the_grace_and_the_job_completes_after_restart() {
    let dir = tempdir();
    let root = dir.path();
    let src = moving(root, "long2.mp4", 40.0, (640, 360), 25);
    let mut d = Daemon::start(root, "stop_grace_s = 1.0\n");
    drop_file(&src, &d.ingest(), "long2.mp4");
    assert!(wait_for(Duration::from_secs(20), || d.log_text().contains("started")), "{}", d.log_text());
    let took = d.terminate();
    assert!(took < Duration::from_secs(5), "exit took {took:?} with a 1 s grace");
    assert!(d.log_text().contains("stopping"), "{}", d.log_text());
    let finished_before_stop = listing(&d.ingest().join("done")).contains(&"long2.mp4".to_string());
    let d2 = Daemon::start(root, "");
    assert!(wait_for(Duration::from_secs(60), || listing(&d2.ingest().join("done")).contains(&"long2.mp4".to_string())), "{}", d2.log_text());
    assert_eq!(read_jsonl(&root.join("out/long2.mp4.predictions.jsonl")).len(), 1);
    if !finished_before_stop {
        assert!(d2.log_text().contains("interrupted by a previous stop"), "{}", d2.log_text());
    }
}

// ------------------------------------------------------------------------- idle cost

/// User plus system CPU time of a process so far, in clock ticks (100 a second), from fields
/// 14 and 15 of `/proc/PID/stat`, counted after the command name's closing parenthesis.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    let after = &stat[stat.rfind(')').expect("comm in /proc/PID/stat") + 1..];
    let f: Vec<u64> = after.split_whitespace().skip(11).take(2).map(|v| v.parse().expect("a tick count")).collect();
    f[0] + f[1]
}

/// The per-scan debug lines of a daemon started with [`SCAN_LOG`]: (scan number, reason).
fn scan_lines(log: &str) -> Vec<(u64, String)> {
    log.lines()
        .filter(|l| l.contains(" scan scans="))
        .filter_map(|l| {
            let n = l.split_whitespace().find_map(|w| w.strip_prefix("scans="))?.parse().ok()?;
            let why = l.split_whitespace().find_map(|w| w.strip_prefix("why="))?.trim_matches('"').to_string();
            Some((n, why))
        })
        .collect()
}

/// Shows the daemon's per-scan debug line besides the usual info lines.
const SCAN_LOG: &str = "info,highlightd::serve=debug";
/// How long the idle cost is measured, and the most CPU it may take: 1 % of one core.
const IDLE_WINDOW: Duration = Duration::from_secs(20);
const IDLE_MAX_SHARE: f64 = 0.01;

/// Starts a daemon, lets it settle, and measures its CPU time over [`IDLE_WINDOW`]; returns
/// (CPU share of one core, scans during the window by reason "event", all scans in it).
fn idle_cost(d: &Daemon) -> (f64, usize, usize) {
    let pid = d.child.as_ref().map(Child::id).expect("running");
    std::thread::sleep(Duration::from_secs(3));
    let before_scans = scan_lines(&d.log_text()).len();
    let t0 = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(IDLE_WINDOW);
    let t1 = (Instant::now(), cpu_ticks(pid));
    let share = (t1.1 - t0.1) as f64 / 100.0 / t1.0.duration_since(t0.0).as_secs_f64();
    let lines = scan_lines(&d.log_text());
    let window = &lines[before_scans.min(lines.len())..];
    (share, window.iter().filter(|(_, why)| why == "event").count(), window.len())
}

/// Issue 14: an idle daemon burnt 85 % of a core rescanning on the events of its own scans.
/// Three idle daemons measured at once (to keep the wall time at one window): an empty
/// ingest folder, a `done/` holding a few hundred finished files, and MQTT on against a real
/// broker with stats every 5 s, whose own `cpu_percent` must agree that the box is idle.
#[test]
fn an_idle_daemon_costs_under_one_percent_of_a_core() {
    let dirs: Vec<_> = (0..3).map(|_| tempdir()).collect();
    let busy_done = dirs[1].path().join("ingest/done");
    std::fs::create_dir_all(&busy_done).unwrap();
    for i in 0..300 {
        std::fs::write(busy_done.join(format!("v{i:03}.mp4")), b"finished").unwrap();
        std::fs::write(busy_done.join(format!("v{i:03}.json")), r#"{"targetRatioWH": [9, 16]}"#).unwrap();
    }
    let broker = Broker::start();
    let sub_file = dirs[2].path().join("stats.txt");
    let mut sub = broker.subscribe("hl/idle/stats", &sub_file);
    let mqtt = format!("[mqtt]\nenabled = true\nport = {}\ndevice_id = \"idle\"\ntopic_prefix = \"hl\"\nstats_interval_s = 5\n", broker.port);
    let cases = [("empty ingest", ""), ("300 files in done/", ""), ("MQTT on", mqtt.as_str())];
    let results: Vec<(&str, (f64, usize, usize), String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .zip(&dirs)
            .map(|((name, extra), dir)| {
                scope.spawn(move || {
                    let d = Daemon::start_logging(dir.path(), extra, SCAN_LOG);
                    (*name, idle_cost(&d), d.log_text())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("measuring thread")).collect()
    });
    let _ = sub.kill();
    let _ = sub.wait();
    for (name, (share, event_scans, scans), log) in &results {
        eprintln!("idle {name}: {:.3} % of a core over {} s, {scans} scans ({event_scans} woken by events)", share * 100.0, IDLE_WINDOW.as_secs());
        assert!(*share < IDLE_MAX_SHARE, "{name}: {:.2} % of a core while idle\n{log}", share * 100.0);
        assert_eq!(*event_scans, 0, "{name}: scans woken by events in an untouched folder\n{log}");
        // The periodic rescan (0.2 s here) is the only scan left, and it still runs.
        let periodic = (IDLE_WINDOW.as_secs_f64() / 0.2) as usize;
        assert!(*scans >= periodic / 2 && *scans <= periodic + 2, "{name}: {scans} scans in {} s\n{log}", IDLE_WINDOW.as_secs());
    }
    assert_eq!(listing(&busy_done).len(), 600, "done/ untouched");
    // The daemon's own view over MQTT: stats every 5 s with its CPU share.
    let text = std::fs::read_to_string(&sub_file).unwrap_or_default();
    let shares: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("hl/idle/stats "))
        .filter_map(|j| serde_json::from_str::<Value>(j).ok())
        .filter_map(|v| v["cpu_percent"].as_f64())
        .collect();
    assert!(shares.len() >= 3, "stats with cpu_percent every 5 s:\n{text}");
    // The first interval includes start-up; the later ones are idle.
    assert!(shares[1..].iter().all(|&c| c < IDLE_MAX_SHARE * 100.0), "cpu_percent while idle: {shares:?}");
}

/// Thousands of files created and deleted within about a second: the events are coalesced
/// into at most four scans a second (plus the periodic one), not one scan per event.
#[test]
fn an_event_storm_costs_a_bounded_number_of_scans() {
    let dir = tempdir();
    let root = dir.path();
    // stable_s far longer than the storm: no storm file may become a job however slow the box.
    let d = Daemon::start_logging(root, "scan_interval_s = 2.0\nstable_s = 30.0\n", SCAN_LOG);
    std::thread::sleep(Duration::from_millis(500));
    let before = scan_lines(&d.log_text()).len();
    let t0 = Instant::now();
    let ing = d.ingest();
    const FILES: usize = 3000;
    for i in 0..FILES {
        std::fs::write(ing.join(format!("storm{i:04}.mp4")), b"x").unwrap();
    }
    for i in 0..FILES {
        std::fs::remove_file(ing.join(format!("storm{i:04}.mp4"))).unwrap();
    }
    let storm = t0.elapsed();
    // Long enough for the last coalesced scan to run.
    std::thread::sleep(Duration::from_secs(1));
    let window = t0.elapsed();
    let lines = scan_lines(&d.log_text());
    let during = &lines[before..];
    let events = during.iter().filter(|(_, w)| w == "event").count();
    eprintln!("event storm: {FILES} files created and deleted in {storm:?}; {} scans in {window:?} ({events} woken by events)", during.len());
    assert!(storm < Duration::from_secs(5), "the storm itself took {storm:?}");
    assert!(events >= 1, "the storm woke no scan at all:\n{}", d.log_text());
    let bound = (window.as_secs_f64() / 0.25).ceil() as usize + (window.as_secs_f64() / 2.0).ceil() as usize + 1;
    assert!(during.len() <= bound, "{} scans for {} events in {window:?} (bound {bound})", during.len(), 2 * FILES);
    assert!(!d.log_text().contains("queued"), "no storm file became a job:\n{}", d.log_text());
}

// ------------------------------------------------------------------ hostile drops (#12)

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "mkfifo {} (coreutils)", path.display());
}

fn peak_memory_kib(d: &Daemon) -> u64 {
    let pid = d.child.as_ref().map(Child::id).expect("running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn reason(ingest: &Path, name: &str) -> String {
    std::fs::read_to_string(ingest.join("failed").join(format!("{name}.error.txt"))).unwrap_or_default()
}

/// Waits until `name` is in `failed/` with a non-empty reason, and returns the reason.
fn wait_failed(d: &Daemon, name: &str, limit: Duration) -> String {
    let ing = d.ingest();
    assert!(
        wait_for(limit, || listing(&ing.join("failed")).contains(&name.to_string()) && !reason(&ing, name).is_empty()),
        "{name} not in failed/ with a reason: failed/ has {:?}, ingest has {:?}\n{}",
        listing(&ing.join("failed")),
        listing(&ing),
        d.log_text()
    );
    reason(&ing, name)
}

fn wait_done(d: &Daemon, name: &str, limit: Duration) {
    let done = d.ingest().join("done");
    assert!(wait_for(limit, || listing(&done).contains(&name.to_string())), "{name} not done: done/ has {:?}\n{}", listing(&done), d.log_text());
}

#[test]
fn a_fifo_named_like_a_sidecar_does_not_hang_the_scan_and_sigterm_still_stops() {
    let dir = tempdir();
    let root = dir.path();
    let good = moving(root, "good.mp4", 1.0, (160, 96), 25);
    let mut d = Daemon::start(root, "");
    let ing = d.ingest();
    // Opening this FIFO for reading blocks until a writer comes: none ever does.
    mkfifo(&ing.join("x.json"));
    drop_file(&good, &ing, "x.mp4");
    drop_file(&good, &ing, "after.mp4");
    let why = wait_failed(&d, "x.mp4", Duration::from_secs(30));
    assert!(why.contains("x.json") && why.contains("FIFO"), "{why}");
    wait_done(&d, "after.mp4", Duration::from_secs(30));
    let took = d.terminate();
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
}

#[test]
fn a_fifo_named_like_a_video_does_not_block_the_only_worker() {
    let dir = tempdir();
    let root = dir.path();
    let good = moving(root, "good.mp4", 1.0, (160, 96), 25);
    let mut d = Daemon::start(root, "max_jobs = 1\n");
    let ing = d.ingest();
    mkfifo(&ing.join("pipe.mp4"));
    std::thread::sleep(Duration::from_millis(300));
    drop_file(&good, &ing, "next.mp4");
    let why = wait_failed(&d, "pipe.mp4", Duration::from_secs(30));
    assert!(why.contains("pipe.mp4") && why.contains("FIFO"), "{why}");
    wait_done(&d, "next.mp4", Duration::from_secs(30));
    let took = d.terminate();
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    assert!(!root.join("out/pipe.mp4.predictions.jsonl").exists());
}

#[test]
fn a_sidecar_symlinked_to_dev_zero_is_refused_without_reading_it() {
    let dir = tempdir();
    let root = dir.path();
    let good = moving(root, "good.mp4", 1.0, (160, 96), 25);
    let d = Daemon::start(root, "");
    let ing = d.ingest();
    std::os::unix::fs::symlink("/dev/zero", ing.join("z.json")).unwrap();
    drop_file(&good, &ing, "z.mp4");
    // A sidecar that is a regular file but over `max_json_bytes` (1 MiB by default).
    std::fs::write(ing.join("big.json"), vec![b' '; (1 << 20) + 1]).unwrap();
    drop_file(&good, &ing, "big.mp4");
    drop_file(&good, &ing, "after.mp4");
    let why = wait_failed(&d, "z.mp4", Duration::from_secs(30));
    assert!(why.contains("z.json") && why.contains("symbolic link"), "{why}");
    let why = wait_failed(&d, "big.mp4", Duration::from_secs(30));
    assert!(why.contains("big.json") && why.contains("larger than 1048576 bytes"), "{why}");
    wait_done(&d, "after.mp4", Duration::from_secs(30));
    let peak = peak_memory_kib(&d);
    assert!(peak > 0 && peak < 600 * 1024, "peak resident memory {peak} KiB");
}

#[test]
fn folders_and_videos_leading_outside_the_ingest_folder_are_refused() {
    let dir = tempdir();
    let root = dir.path();
    let good = moving(root, "good.mp4", 1.0, (160, 96), 25);
    // Outside the ingest folder: a video folder and a contest folder someone wants read.
    let outside = root.join("outside");
    std::fs::create_dir_all(outside.join("video")).unwrap();
    std::fs::create_dir_all(outside.join("contest/jsonl")).unwrap();
    std::fs::create_dir_all(outside.join("contest/video")).unwrap();
    std::fs::copy(&good, outside.join("video/secret.mp4")).unwrap();
    std::fs::copy(&good, outside.join("contest/video/secret.mp4")).unwrap();
    std::fs::write(outside.join("contest/jsonl/secret.jsonl"), r#"{"targetRatioWH": [9, 16]}"#).unwrap();
    // A contest folder whose video/ (c1) or jsonl/ (c2) is a symlink out, made outside and
    // moved in whole.
    let stage = root.join("stage");
    for (c, linked) in [("c1", "video"), ("c2", "jsonl")] {
        std::fs::create_dir_all(stage.join(c)).unwrap();
        let other = if linked == "video" { "jsonl" } else { "video" };
        std::fs::create_dir_all(stage.join(c).join(other)).unwrap();
        std::os::unix::fs::symlink(outside.join("contest").join(linked), stage.join(c).join(linked)).unwrap();
    }
    std::fs::write(stage.join("c1/jsonl/secret.jsonl"), r#"{"targetRatioWH": [9, 16]}"#).unwrap();
    std::fs::copy(&good, stage.join("c2/video/secret.mp4")).unwrap();
    let d = Daemon::start(root, "");
    let ing = d.ingest();
    for c in ["c1", "c2"] {
        std::fs::rename(stage.join(c), ing.join(c)).unwrap();
    }
    // A dropped video and a dropped folder that are themselves symlinks out.
    std::os::unix::fs::symlink(outside.join("video/secret.mp4"), ing.join("link.mp4")).unwrap();
    std::os::unix::fs::symlink(outside.join("contest"), ing.join("linked-contest")).unwrap();
    drop_file(&good, &ing, "after.mp4");

    for (name, what) in [("c1", "`video`"), ("c2", "`jsonl`")] {
        let why = wait_failed(&d, name, Duration::from_secs(40));
        assert!(why.contains(what) && why.contains("outside the folder"), "{name}: {why}");
    }
    let why = wait_failed(&d, "link.mp4", Duration::from_secs(20));
    assert!(why.contains("symbolic link"), "{why}");
    let why = wait_failed(&d, "linked-contest", Duration::from_secs(20));
    assert!(why.contains("symbolic link to a folder"), "{why}");
    wait_done(&d, "after.mp4", Duration::from_secs(30));
    let outputs = listing(&root.join("out"));
    assert!(!outputs.iter().any(|o| o.starts_with("c1") || o.starts_with("c2") || o.starts_with("link")), "outputs {outputs:?}");
    assert!(!d.log_text().contains("secret"), "nothing outside was processed:\n{}", d.log_text());
    // What the symlinks pointed to is untouched.
    assert!(outside.join("video/secret.mp4").is_file() && outside.join("contest/jsonl/secret.jsonl").is_file());
}

#[test]
fn inputs_sharing_a_stem_never_share_an_output() {
    let dir = tempdir();
    let root = dir.path();
    let good = moving(root, "good.mp4", 1.0, (160, 96), 25);
    let d = Daemon::start(root, "");
    let ing = d.ingest();
    // The index's video lives in a plain sub-folder (not a drop of its own).
    std::fs::create_dir_all(ing.join("b")).unwrap();
    std::fs::copy(&good, ing.join("b/clip.mp4")).unwrap();
    std::fs::write(root.join("same.jsonl"), "{\"video_id\": \"from-index\", \"video\": \"b/clip.mp4\", \"targetRatioWH\": [4, 5]}\n").unwrap();
    std::fs::create_dir_all(ing.join("16x9")).unwrap();
    drop_file(&good, &ing, "same.mp4");
    drop_file(&good, &ing, "same.mov");
    drop_file(&good, &ing.join("16x9"), "same.mp4");
    std::fs::rename(root.join("same.jsonl"), ing.join("same.jsonl")).unwrap();
    let done = ing.join("done");
    assert!(wait_for(Duration::from_secs(60), || listing(&done).len() == 4), "done/ has {:?}\n{}", listing(&done), d.log_text());
    assert!(listing(&ing.join("failed")).is_empty(), "{:?}", listing(&ing.join("failed")));

    let out = root.join("out");
    let line = |rel: &str| -> Value {
        let lines = read_jsonl(&out.join(rel));
        assert_eq!(lines.len(), 1, "{rel}");
        lines[0].clone()
    };
    let a = line("same.mp4.predictions.jsonl");
    assert_eq!((a["video"].as_str(), a["targetRatioWH"].clone()), (Some("same.mp4"), serde_json::json!([9, 16])));
    let b = line("same.mov.predictions.jsonl");
    assert_eq!(b["video"], "same.mov");
    let c = line("16x9/same.mp4.predictions.jsonl");
    assert_eq!(c["targetRatioWH"], serde_json::json!([16, 9]));
    let i = line("same.jsonl.predictions.jsonl");
    assert_eq!((i["video_id"].as_str(), i["targetRatioWH"].clone()), (Some("from-index"), serde_json::json!([4, 5])));
    for p in [&a, &b, &c, &i] {
        assert!(!p["predictions"].as_array().map_or(true, Vec::is_empty), "{p}");
    }
    for crop in ["same.mp4.crop.json", "same.mov.crop.json", "16x9/same.mp4.crop.json", "same.jsonl.crops/from-index.crop.json"] {
        assert!(out.join(crop).is_file(), "{crop}: out has {:?} and {:?}", listing(&out), listing(&out.join("same.jsonl.crops")));
    }
    assert!(!out.join("same.predictions.jsonl").exists() && !out.join("same.crop.json").exists());
}

#[test]
fn an_absurd_ratio_is_refused_naming_the_field_and_the_range() {
    let dir = tempdir();
    let root = dir.path();
    let good = moving(root, "good.mp4", 1.0, (160, 96), 25);
    let d = Daemon::start(root, "");
    let ing = d.ingest();
    std::fs::write(ing.join("wide.json"), r#"{"targetRatioWH": [4294967295, 1]}"#).unwrap();
    drop_file(&good, &ing, "wide.mp4");
    std::fs::create_dir_all(ing.join("b")).unwrap();
    std::fs::copy(&good, ing.join("b/tall.mp4")).unwrap();
    std::fs::write(root.join("tall.jsonl"), "{\"video_id\": \"tall\", \"video\": \"b/tall.mp4\", \"targetRatioWH\": [1, 4294967295]}\n").unwrap();
    std::fs::rename(root.join("tall.jsonl"), ing.join("tall.jsonl")).unwrap();
    let why = wait_failed(&d, "wide.mp4", Duration::from_secs(30));
    assert!(why.contains("wide.json") && why.contains("targetRatioWH") && why.contains("between 1:8 and 8:1") && why.contains("4294967295:1"), "{why}");
    // A batch goes on past a bad line: its output line is empty, the verdict is logged.
    wait_done(&d, "tall.jsonl", Duration::from_secs(30));
    let lines = read_jsonl(&root.join("out/tall.jsonl.predictions.jsonl"));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["predictions"], serde_json::json!([]));
    let log = d.log_text();
    assert!(log.lines().any(|l| l.contains("tall.jsonl:1") && l.contains("targetRatioWH") && l.contains("1:4294967295")), "{log}");
}

#[test]
fn the_scan_does_not_write_to_the_job_store_for_a_file_still_being_processed() {
    let dir = tempdir();
    let root = dir.path();
    // Long enough that it is still running after several stability periods (1 s each).
    let long = moving(root, "long.mp4", 30.0, (640, 360), 25);
    let short = moving(root, "short.mp4", 1.0, (160, 96), 25);
    let d = Daemon::start(root, "max_jobs = 1\n");
    let ing = d.ingest();
    drop_file(&long, &ing, "long.mp4");
    assert!(wait_for(Duration::from_secs(20), || d.log_text().contains("started")), "{}", d.log_text());
    std::thread::sleep(Duration::from_secs(4));
    assert!(ing.join("long.mp4").exists(), "the long job finished too soon to show anything:\n{}", d.log_text());
    drop_file(&short, &ing, "short.mp4");
    wait_done(&d, "short.mp4", Duration::from_secs(90));
    drop(d);
    let store = highlightd::jobs::JobStore::open(&root.join("state")).unwrap();
    let mut ids: Vec<(i64, String)> = store.list(None, 100).unwrap().into_iter().map(|j| (j.id, j.input.file_name().unwrap().to_string_lossy().into_owned())).collect();
    ids.sort();
    // Every scan re-queued the file still in ingest: the ids jumped by one per stable period.
    assert_eq!(ids, [(1, "long.mp4".to_string()), (2, "short.mp4".to_string())]);
}

// ------------------------------------------------------------ full disks, kills, retries

/// A tmpfs mounted for one test, unmounted (lazily, so a daemon still holding a file cannot
/// stop it) when dropped. Declare it after the temporary folder and before the daemon, so
/// the daemon goes first and the folder last.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// `None`, with a message saying why the test is skipped, when mounting is not possible
    /// (not root, no tmpfs in this container).
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).expect("mount point");
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs at {} (needs root); this test needs a small file system it can fill", path.display());
            return None;
        }
        Some(Tmpfs { path: path.into() })
    }

    fn filler(&self) -> PathBuf {
        self.path.join(".filler")
    }

    /// Fills the file system to the last byte; returns how many bytes that took.
    fn fill(&self) -> u64 {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.filler()).expect("filler");
        let mut n = 0u64;
        for chunk in [64 * 1024, 4096, 512, 1] {
            let buf = vec![0u8; chunk];
            while f.write_all(&buf).and_then(|_| f.flush()).is_ok() {
                n += chunk as u64;
            }
        }
        let _ = f.sync_all();
        n
    }

    fn free(&self) {
        let _ = std::fs::remove_file(self.filler());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn open_store(root: &Path) -> highlightd::jobs::JobStore {
    highlightd::jobs::JobStore::open(&root.join("state")).expect("open the job store")
}

fn job_of(store: &highlightd::jobs::JobStore, name: &str) -> Option<highlightd::jobs::Job> {
    store.list(None, 1000).ok()?.into_iter().find(|j| j.input.file_name().is_some_and(|n| n == name))
}

#[test]
fn a_full_state_disk_when_a_job_ends_neither_wedges_the_daemon_nor_reruns_the_job() {
    use highlightd::jobs::JobState;
    let dir = tempdir();
    let root = dir.path();
    let Some(state) = Tmpfs::mount(&root.join("state"), "4m") else { return };
    let long = moving(root, "long.mp4", 20.0, (640, 360), 25);
    let short = moving(root, "short.mp4", 2.0, (320, 180), 25);

    // 1. The state disk fills while the job runs: the job cannot record itself done. It must
    //    keep its input in the ingest folder (the outcome is recorded before the input moves),
    //    and once space returns, record itself and free its slot: with max_jobs = 1 the next
    //    drop still gets processed.
    let mut d = Daemon::start(root, "max_jobs = 1\n");
    drop_file(&long, &d.ingest(), "a.mp4");
    assert!(wait_for(Duration::from_secs(30), || d.log_text().contains("started")), "{}", d.log_text());
    let filled = state.fill();
    let out_a = root.join("out/a.mp4.predictions.jsonl");
    assert!(wait_for(Duration::from_secs(240), || out_a.exists() && d.log_text().contains("cannot record the job as done")), "outputs + refused record:\n{}", d.log_text());
    std::thread::sleep(Duration::from_secs(2));
    assert!(d.ingest().join("a.mp4").exists(), "the input left before its outcome was recorded");
    assert!(listing(&d.ingest().join("done")).is_empty());
    drop_file(&short, &d.ingest(), "b.mp4");
    std::thread::sleep(Duration::from_secs(2));
    state.free();
    wait_done(&d, "a.mp4", Duration::from_secs(30));
    wait_done(&d, "b.mp4", Duration::from_secs(60));
    assert!(d.log_text().contains("recorded the job as done after the job store refused it"), "{}", d.log_text());

    // 2. Full again when the next long job ends, and the daemon killed before space returns:
    //    the next start finds the complete outputs and records the job done, without a rerun.
    drop_file(&long, &d.ingest(), "c.mp4");
    assert!(wait_for(Duration::from_secs(30), || d.log_text().matches("started").count() >= 3), "{}", d.log_text());
    state.fill();
    let refused_before = d.log_text().matches("cannot record the job as done").count();
    let out_c = root.join("out/c.mp4.predictions.jsonl");
    assert!(wait_for(Duration::from_secs(240), || out_c.exists() && d.log_text().matches("cannot record the job as done").count() > refused_before), "{}", d.log_text());
    d.kill9();
    state.free();
    let d2 = Daemon::start(root, "max_jobs = 1\n");
    wait_done(&d2, "c.mp4", Duration::from_secs(20));
    assert!(d2.log_text().contains("outputs of an interrupted job are complete: recorded done"), "{}", d2.log_text());
    drop(d2);

    assert!(listing(&root.join("ingest/failed")).is_empty(), "no bogus failure: {:?}", listing(&root.join("ingest/failed")));
    let store = open_store(root);
    for (name, attempts) in [("a.mp4", 1), ("b.mp4", 1), ("c.mp4", 1)] {
        let j = job_of(&store, name).unwrap_or_else(|| panic!("no job for {name}"));
        assert_eq!((j.state, j.attempts, j.moved), (JobState::Done, attempts, true), "{name}: {j:?}");
    }
    assert_eq!(store.counts().unwrap().running, 0);
    assert_eq!(read_jsonl(&out_c).len(), 1);
    eprintln!("state tmpfs 4 MiB, filled with {filled} bytes twice; 3 jobs done, 0 failed, 0 rerun");
}

#[test]
fn a_full_output_disk_is_transient_the_job_waits_across_a_restart_and_then_goes_through() {
    use highlightd::jobs::JobState;
    let dir = tempdir();
    let root = dir.path();
    let Some(out) = Tmpfs::mount(&root.join("out"), "1m") else { return };
    let clip = moving(root, "clip.mp4", 2.0, (320, 180), 25);
    out.fill();
    let cfg = "retry_max_s = 1.0\n";
    let mut d = Daemon::start(root, cfg);
    drop_file(&clip, &d.ingest(), "clip.mp4");
    let store = open_store(root);
    assert!(wait_for(Duration::from_secs(60), || job_of(&store, "clip.mp4").is_some_and(|j| j.deferrals >= 2)), "not deferred twice:\n{}", d.log_text());
    let j = job_of(&store, "clip.mp4").expect("job");
    assert_eq!(j.state, JobState::Queued, "{j:?}");
    assert!(j.error.as_deref().is_some_and(|e| e.contains("No space left")), "{j:?}");
    assert!(j.retry_at.is_some(), "{j:?}");
    assert!(d.ingest().join("clip.mp4").exists(), "a transient failure keeps the input queued");
    assert!(listing(&d.ingest().join("failed")).is_empty(), "{:?}", listing(&d.ingest().join("failed")));
    assert!(d.log_text().contains("transient failure, the job stays queued"), "{}", d.log_text());

    // Across a restart it is still queued and still retried.
    d.terminate();
    let before = job_of(&store, "clip.mp4").expect("job").deferrals;
    let d2 = Daemon::start(root, cfg);
    assert!(wait_for(Duration::from_secs(30), || job_of(&store, "clip.mp4").is_some_and(|j| j.deferrals > before)), "{}", d2.log_text());
    assert!(listing(&d2.ingest().join("failed")).is_empty());

    out.free();
    wait_done(&d2, "clip.mp4", Duration::from_secs(30));
    let j = job_of(&store, "clip.mp4").expect("job");
    assert_eq!((j.state, j.error.as_deref()), (JobState::Done, None), "{j:?}");
    assert_eq!(read_jsonl(&root.join("out/clip.mp4.predictions.jsonl")).len(), 1);
    assert!(listing(&d2.ingest().join("failed")).is_empty());
    eprintln!("output disk full: {} deferrals before space returned, then done on attempt {}", j.deferrals, j.attempts);
}

#[test]
fn a_drop_moved_back_from_failed_is_queued_again() {
    let dir = tempdir();
    let root = dir.path();
    let corrupt = random_bytes(root, "corrupt.mp4", 64 * 1024);
    let d = Daemon::start(root, "");
    let ing = d.ingest();
    drop_file(&corrupt, &ing, "corrupt.mp4");
    let first = wait_failed(&d, "corrupt.mp4", Duration::from_secs(30));
    assert!(first.contains("corrupt.mp4"), "{first}");
    // What the README tells an operator to do: move it back (a rename keeps size and mtime,
    // so the daemon sees the very drop it already failed).
    std::fs::remove_file(ing.join("failed/corrupt.mp4.error.txt")).unwrap();
    std::fs::rename(ing.join("failed/corrupt.mp4"), ing.join("corrupt.mp4")).unwrap();
    let second = wait_failed(&d, "corrupt.mp4", Duration::from_secs(30));
    assert!(second.contains("corrupt.mp4"), "{second}");
    assert!(d.log_text().contains("put back from failed/: queued again"), "{}", d.log_text());
    let j = job_of(&open_store(root), "corrupt.mp4").expect("job");
    assert_eq!((j.attempts, j.state), (2, highlightd::jobs::JobState::Failed), "one job, run twice: {j:?}");
}

#[test]
fn kills_right_after_a_claim_do_not_use_up_the_attempts() {
    use highlightd::jobs::JobState;
    let dir = tempdir();
    let root = dir.path();
    let clip = moving(root, "clip.mp4", 4.0, (320, 180), 25);
    // One attempt only: on the old count the first kill failed the job for good.
    let cfg = "max_attempts = 1\nattempt_min_s = 5.0\n";
    std::fs::create_dir_all(root.join("ingest")).unwrap();
    drop_file(&clip, &root.join("ingest"), "clip.mp4");
    let store = open_store(root);
    let mut kills = 0;
    for _ in 0..3 {
        let mut d = Daemon::start(root, cfg);
        assert!(
            wait_for(Duration::from_secs(20), || store.in_state(JobState::Running).is_ok_and(|r| !r.is_empty())),
            "never claimed:\n{}",
            d.log_text()
        );
        d.kill9();
        kills += 1;
    }
    let d = Daemon::start(root, cfg);
    wait_done(&d, "clip.mp4", Duration::from_secs(60));
    let j = job_of(&store, "clip.mp4").expect("job");
    assert_eq!((j.state, j.attempts, j.counted), (JobState::Done, kills + 1, 1), "{j:?}");
    assert!(listing(&d.ingest().join("failed")).is_empty());
}

#[test]
fn a_name_that_is_not_utf8_is_refused_with_a_reason_not_ignored_forever() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let dir = tempdir();
    let root = dir.path();
    let clip = moving(root, "clip.mp4", 1.0, (160, 96), 25);
    let d = Daemon::start(root, "");
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.mp4");
    std::fs::copy(&clip, root.join("staged")).unwrap();
    std::fs::rename(root.join("staged"), d.ingest().join(name)).unwrap();
    let failed = d.ingest().join("failed");
    let raw = |dir: &Path| -> Vec<Vec<u8>> { std::fs::read_dir(dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().into_vec()).collect()).unwrap_or_default() };
    assert!(wait_for(Duration::from_secs(20), || raw(&failed).contains(&b"caf\xe9.mp4".to_vec())), "failed/ has {:?}\n{}", listing(&failed), d.log_text());
    let note = std::fs::read_to_string(failed.join(std::ffi::OsStr::from_bytes(b"caf\xe9.mp4.error.txt"))).expect("a reason next to it");
    assert!(note.contains("UTF-8") && note.contains("caf"), "{note}");
    assert!(d.log_text().contains("UTF-8"), "{}", d.log_text());
    assert!(!d.ingest().join(name).exists());
}

/// A small deterministic generator (xorshift), seeded from the clock and printed, so a
/// failing soak run can be replayed with `SOAK_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn soak_kills_a_filling_disk_and_a_flapping_broker_lose_duplicate_or_wedge_nothing() {
    let dir = tempdir();
    let root = dir.path();
    let Some(out) = Tmpfs::mount(&root.join("out"), "2m") else { return };
    let seed = std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1);
    eprintln!("soak seed {seed}");
    let mut rng = Rng(seed);
    let good = moving(root, "good.mp4", 1.0, (160, 96), 25);
    let corrupt = random_bytes(root, "corrupt.mp4", 32 * 1024);
    let mut broker = Broker::start();
    let cfg = format!(
        "max_jobs = 2\nmax_attempts = 3\nattempt_min_s = 1.0\nretry_max_s = 1.0\nstop_grace_s = 5.0\n[mqtt]\nenabled = true\nport = {}\ndevice_id = \"soak\"\nkeep_alive_s = 5\n",
        broker.port
    );
    let ingest = root.join("ingest");
    std::fs::create_dir_all(&ingest).unwrap();
    let mut d = Daemon::start(root, &cfg);
    let mut logs = String::new();

    let (mut drops, mut corrupt_drops, mut kills, mut full_episodes, mut broker_flaps) = (Vec::new(), 0, 0, 0, 0);
    let (mut disk_full, mut broker_up) = (false, true);
    let start = Instant::now();
    let fault_phase = Duration::from_secs(100);
    while start.elapsed() < fault_phase {
        match rng.below(10) {
            0..=3 => {
                let name = format!("v{:03}.mp4", drops.len());
                let src = if rng.below(8) == 0 {
                    corrupt_drops += 1;
                    &corrupt
                } else {
                    &good
                };
                drop_file(src, &ingest, &name);
                drops.push(name);
            }
            4 | 5 => {
                logs.push_str(&d.log_text());
                d.kill9();
                kills += 1;
                std::thread::sleep(Duration::from_millis(rng.below(1500)));
                d = Daemon::start(root, &cfg);
            }
            6 | 7 => {
                if disk_full {
                    out.free();
                } else {
                    out.fill();
                    full_episodes += 1;
                }
                disk_full = !disk_full;
            }
            _ => {
                if broker_up {
                    broker.stop();
                } else {
                    broker.restart();
                }
                broker_up = !broker_up;
                broker_flaps += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(500 + rng.below(2500)));
    }
    // The faults end: space returns, the broker comes back; everything must drain.
    out.free();
    if !broker_up {
        broker.restart();
    }
    let store = open_store(root);
    let drained = wait_for(Duration::from_secs(60), || store.counts().is_ok_and(|c| c.queued == 0 && c.running == 0) && drops.iter().all(|n| !ingest.join(n).exists()));
    d.terminate();
    logs.push_str(&d.log_text());

    let (done, failed) = (listing(&ingest.join("done")), listing(&ingest.join("failed")));
    let (mut n_done, mut n_failed, mut n_queued) = (0, 0, 0);
    for name in &drops {
        let in_done = done.iter().filter(|n| *n == name || n.starts_with(&format!("{name}."))).count();
        let in_failed = failed.iter().filter(|n| *n == name).count();
        let queued = ingest.join(name).exists();
        assert_eq!(in_done + in_failed + usize::from(queued), 1, "{name}: done {in_done}, failed {in_failed}, queued {queued} (lost or duplicated); seed {seed}");
        let job = job_of(&store, name);
        if in_done == 1 {
            n_done += 1;
            assert_eq!(done.iter().filter(|n| n.starts_with(name.as_str())).count(), 1, "{name} twice in done/");
            let preds = read_jsonl(&root.join("out").join(format!("{name}.predictions.jsonl")));
            assert_eq!(preds.len(), 1, "{name}: one output line");
            assert!(root.join("out").join(format!("{name}.crop.json")).is_file(), "{name}: crop metadata");
            assert_eq!(job.as_ref().map(|j| j.state), Some(highlightd::jobs::JobState::Done), "{name}: {job:?}");
        } else if in_failed == 1 {
            n_failed += 1;
            assert!(!reason(&ingest, name).trim().is_empty(), "{name}: failed without a reason");
            assert_eq!(job.as_ref().map(|j| j.state), Some(highlightd::jobs::JobState::Failed), "{name}: {job:?}");
        } else {
            n_queued += 1;
            assert!(job.as_ref().is_none_or(|j| j.state == highlightd::jobs::JobState::Queued), "{name} stuck: {job:?}");
        }
    }
    let counts = store.counts().unwrap();
    assert_eq!(counts.running, 0, "a job left running after a clean stop");
    let stale: Vec<String> = listing(&root.join("out")).into_iter().filter(|n| n.ends_with(".tmp")).collect();
    assert!(stale.is_empty(), "temporary outputs left behind: {stale:?}");
    drop(store);
    let conn = rusqlite::Connection::open(root.join("state").join(highlightd::jobs::DB_FILE)).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let deferred = logs.matches("transient failure, the job stays queued").count();
    eprintln!(
        "SOAK seed {seed}: {} s of faults, {} drops ({corrupt_drops} corrupt), {kills} SIGKILLs, {full_episodes} output-disk-full episodes ({deferred} deferrals), {broker_flaps} broker stops/starts; outcome: {n_done} done, {n_failed} failed, {n_queued} still queued; drained: {drained}; integrity_check {check}",
        fault_phase.as_secs(),
        drops.len()
    );
    assert!(drained, "did not drain within 60 s after the faults ended");
    assert!(n_failed <= corrupt_drops + kills, "more failures than corrupt drops and kills");
}

#[test]
fn a_video_longer_than_max_duration_is_refused_naming_the_limit_and_the_file() {
    let dir = tempdir();
    let root = dir.path();
    let long = moving(root, "long.mp4", 4.0, (160, 96), 25);
    let d = Daemon::start(root, "max_duration_s = 2.0\n");
    drop_file(&long, &d.ingest(), "long.mp4");
    let why = wait_failed(&d, "long.mp4", Duration::from_secs(30));
    assert!(why.contains("long.mp4") && why.contains("max_duration_s = 2"), "{why}");
    assert!(!root.join("out/long.mp4.predictions.jsonl").exists(), "refused before any output");
}

#[test]
fn a_decode_that_outlives_its_deadline_is_stopped_and_failed_naming_the_file_and_the_limit() {
    let dir = tempdir();
    let root = dir.path();
    // 20 s at 25 fps: 500 frames keep coming, far past a 0.005 × 20 s = 0.1 s deadline, so
    // only the whole-decode deadline (not the stall timeout) can stop it.
    let slow = moving(root, "slow.mp4", 20.0, (160, 96), 25);
    let d = Daemon::start(root, "decode_deadline_factor = 0.005\ndecode_deadline_floor_s = 0.0\n");
    drop_file(&slow, &d.ingest(), "slow.mp4");
    let why = wait_failed(&d, "slow.mp4", Duration::from_secs(60));
    assert!(why.contains("slow.mp4") && why.contains("deadline of 0.1 s") && why.contains("decode_deadline_factor") && why.contains("20.0 s"), "{why}");
    assert!(!root.join("out/slow.mp4.predictions.jsonl").exists(), "no outputs for a stopped decode");
}

#[test]
fn a_picture_too_small_for_a_window_of_its_ratio_is_refused_naming_size_and_ratio() {
    let dir = tempdir();
    let root = dir.path();
    // 2000×4 framed 9:16 (the default ratio) would give 2×3.6 px windows.
    let strip = moving(root, "strip.mp4", 1.0, (2000, 4), 25);
    let d = Daemon::start(root, "");
    drop_file(&strip, &d.ingest(), "strip.mp4");
    let why = wait_failed(&d, "strip.mp4", Duration::from_secs(60));
    assert!(why.contains("strip.mp4") && why.contains("2000×4") && why.contains("9:16") && why.contains("minimum"), "{why}");
    assert!(!root.join("out/strip.mp4.predictions.jsonl").exists(), "never done with degenerate crops");
}
