//! One thread per camera: connect, record, watch for stalls, reconnect with back-off and
//! jitter, enforce the ring buffer, report the state over MQTT, hand finalised segments to
//! the analysis.
//!
//! ```text
//!   connecting ──first buffer──► live ──error | EOS | stall──► reconnecting ──► live …
//!                                  └──disk full──► error ──space returns──► reconnecting …
//!        └──────────── stop (SIGTERM): open segment finalised ──► stopped
//! ```
//! Nothing here waits on the network: the pipeline connects on GStreamer's threads and this
//! loop only polls its bus a few times a second, so a camera that never answers costs neither
//! start-up nor shutdown time.

use super::config::{CameraConfig, SourceUrl};
use super::record::{now_ms, Connection, Event, Finalised, SegmentSpec, SourceSpec};
use super::retention::{self, Pins};
use super::space;
use crate::status::payload::rfc3339;
use crate::status::CameraSink;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// How often the loop looks at the bus, the stall timer and the stop flag.
const TICK: Duration = Duration::from_millis(200);
/// How often the retained state is refreshed while nothing changes (fps, bytes).
const REPORT_EVERY: Duration = Duration::from_secs(5);
/// Longest wait for splitmuxsink to close the open segment at a disconnect or at stop.
const FINALISE_WAIT: Duration = Duration::from_secs(3);
/// How often the free space of the recording folder is checked (while recording and while
/// waiting for space to return).
const SPACE_EVERY: Duration = Duration::from_secs(1);

/// The camera's connection state, as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CamState {
    Connecting,
    Live,
    Reconnecting,
    /// Not recording for a reason reconnecting cannot cure (a full disk); retried by itself.
    Error,
    Stopped,
}

impl CamState {
    pub fn as_str(self) -> &'static str {
        match self {
            CamState::Connecting => "connecting",
            CamState::Live => "live",
            CamState::Reconnecting => "reconnecting",
            CamState::Error => "error",
            CamState::Stopped => "stopped",
        }
    }
}

/// A time without pictures between two connections.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub start_ms: u64,
    pub end_ms: u64,
    pub reason: String,
}

impl Gap {
    fn json(&self) -> Value {
        json!({
            "start": rfc3339(ms_time(self.start_ms)),
            "end": rfc3339(ms_time(self.end_ms)),
            "seconds": (self.end_ms.saturating_sub(self.start_ms)) as f64 / 1000.0,
            "reason": self.reason,
        })
    }
}

pub fn ms_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The latest of what the state payload shows and that other threads (the moment cutter)
/// update.
#[derive(Debug, Default)]
pub struct Shared {
    /// The `highlight` payload of the last moment.
    pub last_moment: Mutex<Option<Value>>,
    /// Frames of the segments the analysis went through.
    pub analysed_frames: AtomicU64,
    /// Frames of the segments the analysis skipped because it was behind (recording keeps
    /// them all).
    pub dropped_frames: AtomicU64,
}

/// What one camera thread needs.
pub struct Supervisor {
    pub cam: CameraConfig,
    pub segments_dir: PathBuf,
    pub sink: CameraSink,
    pub stop: Arc<AtomicBool>,
    pub pins: Pins,
    pub shared: Arc<Shared>,
    /// Finalised segments for the analysis (None: record only).
    pub analysis: Option<Sender<Finalised>>,
}

struct Report {
    state: CamState,
    error: Option<String>,
    since_ms: u64,
    fps: f64,
    frames: u64,
    discont: u64,
    bytes: u64,
    segments: usize,
    deleted: u64,
    gaps: u64,
    last_gap: Option<Gap>,
    /// Frames per second the analysis got through over the last report period.
    analysed_fps: f64,
    /// The largest segment finalised so far, bytes: sizes the free space recording needs.
    largest_segment: u64,
}

impl Supervisor {
    pub fn run(self) {
        let _span = tracing::info_span!("camera", name = %self.cam.name).entered();
        let url = self.cam.redacted_url();
        let source = match self.cam.source() {
            Ok(s) => s,
            Err(e) => {
                warn!("{e}");
                return;
            }
        };
        let looped = matches!(source, SourceUrl::File { looped: true, .. });
        let credentials = match &self.cam.credentials_file {
            None => None,
            Some(p) => match read_credentials(p) {
                Ok(c) => Some(c),
                Err(e) => {
                    let mut r = self.report_init();
                    r.state = CamState::Stopped;
                    r.error = Some(format!("credentials_file {}: {e}", p.display()));
                    warn!("{}", r.error.as_deref().unwrap_or(""));
                    self.publish(&r);
                    return;
                }
            },
        };
        let src = SourceSpec { url: source, transport: self.cam.transport, credentials };
        let seg = SegmentSpec { dir: self.segments_dir.clone(), format: self.cam.recording.format, segment: Duration::from_secs_f64(self.cam.recording.segment_s) };
        if let Err(e) = std::fs::create_dir_all(&seg.dir) {
            let mut r = self.report_init();
            r.state = CamState::Stopped;
            r.error = Some(format!("{}: {e}", seg.dir.display()));
            self.publish(&r);
            return;
        }
        let recovered = super::record::recover_parts(&seg.dir, seg.format);
        if recovered > 0 {
            info!(recovered, "kept segments a previous run left open");
        }
        let mut report = self.report_init();
        self.enforce(&mut report);
        info!(url = %url, dir = %seg.dir.display(), "camera starting");
        self.publish(&report);

        let epoch = Instant::now();
        let mut failures: u32 = 0;
        // Wall-clock time of the last picture before the current outage (None: never live or
        // live now).
        let mut lost_at: Option<(u64, String)> = None;
        while !self.stopped() {
            if !self.wait_for_space(&mut report, &mut lost_at) {
                break;
            }
            let mut conn = match Connection::start(&src, &seg, epoch) {
                Ok(c) => c,
                Err(e) => {
                    report.error = Some(e.to_string());
                    warn!("cannot start: {e}");
                    report.state = CamState::Reconnecting;
                    self.publish(&report);
                    self.sleep(self.delay(&mut failures));
                    continue;
                }
            };
            let opened = Instant::now();
            let mut last_report = Instant::now();
            let mut fps_window = (Instant::now(), 0u64);
            let mut live = false;
            let mut last_space = Instant::now();
            let mut analysed_window = (Instant::now(), self.shared.analysed_frames.load(Ordering::Relaxed));
            let mut disk_full = false;
            let why: Option<String> = loop {
                if self.stopped() {
                    break None;
                }
                match conn.poll(TICK) {
                    Some(Event::Segment(f)) => self.on_segment(f, &mut report),
                    Some(Event::Ended) if looped => break Some(String::new()),
                    Some(Event::Ended) => break Some("stream ended".into()),
                    Some(Event::Error(e)) => break Some(e),
                    Some(Event::NoSpace(e)) => {
                        disk_full = true;
                        let free = space::free_bytes(&seg.dir).unwrap_or(0);
                        break Some(format!("{} ({e})", space::message(&seg.dir, free, space::needed(report.largest_segment))));
                    }
                    None => {}
                }
                // Stop before the disk is full, not in the middle of a write: the open
                // segment is finalised while its last bytes still fit.
                if last_space.elapsed() >= SPACE_EVERY {
                    last_space = Instant::now();
                    let need = space::needed(report.largest_segment);
                    if let Some(free) = space::free_bytes(&seg.dir).filter(|f| *f < need) {
                        disk_full = true;
                        break Some(space::message(&seg.dir, free, need));
                    }
                }
                let last = conn.counters.last_buffer_ms.load(Ordering::Relaxed);
                let now_mono = epoch.elapsed().as_millis() as u64;
                if last > 0 && !live {
                    live = true;
                    failures = 0;
                    if let Some((start, reason)) = lost_at.take() {
                        let gap = Gap { start_ms: start, end_ms: now_ms(), reason };
                        warn!(seconds = format!("{:.1}", (gap.end_ms - gap.start_ms) as f64 / 1000.0), reason = %gap.reason, "gap in the recording");
                        report.gaps += 1;
                        self.sink.event(&self.cam.name, "gap", json!({"camera": self.cam.name, "gap": gap.json()}).to_string());
                        report.last_gap = Some(gap);
                    }
                    info!("live");
                    report.state = CamState::Live;
                    report.error = None;
                    report.since_ms = now_ms();
                    self.publish(&report);
                }
                // Stall: no buffer for stall_s, counted from the last buffer or, before the
                // first, from the connection attempt (a camera that accepts but never sends).
                let silent = if last > 0 { Duration::from_millis(now_mono.saturating_sub(last)) } else { opened.elapsed() };
                if silent.as_secs_f64() > self.cam.stall_s {
                    break Some(format!("no picture for {:.0} s", silent.as_secs_f64()));
                }
                if last_report.elapsed() >= REPORT_EVERY {
                    let frames = conn.counters.frames.load(Ordering::Relaxed);
                    let dt = fps_window.0.elapsed().as_secs_f64();
                    report.fps = if dt > 0.0 { (frames - fps_window.1.min(frames)) as f64 / dt } else { 0.0 };
                    fps_window = (Instant::now(), frames);
                    report.frames = frames;
                    report.discont = conn.counters.discont.load(Ordering::Relaxed);
                    let analysed = self.shared.analysed_frames.load(Ordering::Relaxed);
                    let dt = analysed_window.0.elapsed().as_secs_f64();
                    report.analysed_fps = if dt > 0.0 { analysed.saturating_sub(analysed_window.1) as f64 / dt } else { 0.0 };
                    analysed_window = (Instant::now(), analysed);
                    self.enforce(&mut report);
                    self.publish(&report);
                    last_report = Instant::now();
                }
            };
            if let (true, Some(why)) = (disk_full, &why) {
                // Said at once: finalising the open segment may take up to FINALISE_WAIT.
                self.report_error(&mut report, why.clone());
            }
            // The gap starts at the last picture, not at its detection (`stall_s` later).
            let last = conn.counters.last_buffer_ms.load(Ordering::Relaxed);
            let last_picture = (last > 0).then(|| now_ms().saturating_sub((epoch.elapsed().as_millis() as u64).saturating_sub(last)));
            for f in conn.stop(FINALISE_WAIT) {
                self.on_segment(f, &mut report);
            }
            let Some(reason) = why else { break };
            if looped && reason.is_empty() {
                // A looped file: the next pass starts at once, like a camera that goes on.
                continue;
            }
            if lost_at.is_none() {
                lost_at = Some((last_picture.unwrap_or_else(now_ms), if disk_full { "disk full".into() } else { reason.clone() }));
            }
            if disk_full {
                // No back-off: the loop's top waits for space, checking once a second. One
                // check's wait first, so that a disk refusing writes while it reports free
                // space (a user quota, no inodes left) cannot make a tight reconnect loop.
                warn!(reason = %reason, "recording stopped");
                self.report_error(&mut report, reason);
                self.sleep(SPACE_EVERY);
                continue;
            }
            warn!(reason = %reason, "camera lost; reconnecting");
            report.state = CamState::Reconnecting;
            report.error = Some(reason);
            report.fps = 0.0;
            self.publish(&report);
            self.sleep(self.delay(&mut failures));
        }
        report.state = CamState::Stopped;
        report.fps = 0.0;
        self.enforce(&mut report);
        self.publish(&report);
        info!("camera stopped");
    }

    fn report_init(&self) -> Report {
        Report { state: CamState::Connecting, error: None, since_ms: now_ms(), fps: 0.0, frames: 0, discont: 0, bytes: 0, segments: 0, deleted: 0, gaps: 0, last_gap: None, analysed_fps: 0.0, largest_segment: 0 }
    }

    /// Returns at once when the recording folder has the space [`space::needed`]; else
    /// reports state `error` (disk full), checks again every [`SPACE_EVERY`] and returns once
    /// there is space (true) or at stop (false). The time without recording is a gap.
    fn wait_for_space(&self, report: &mut Report, lost_at: &mut Option<(u64, String)>) -> bool {
        let mut last_publish: Option<Instant> = None;
        loop {
            if self.stopped() {
                return false;
            }
            let need = space::needed(report.largest_segment);
            let Some(free) = space::free_bytes(&self.segments_dir).filter(|f| *f < need) else {
                if report.state == CamState::Error {
                    info!("space returned; recording again");
                    report.state = CamState::Reconnecting;
                    self.publish(report);
                }
                return true;
            };
            if lost_at.is_none() {
                *lost_at = Some((now_ms(), "disk full".into()));
            }
            if report.state != CamState::Error || last_publish.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
                if report.state != CamState::Error {
                    warn!(free, need, "disk full: not recording");
                }
                self.enforce(report);
                self.report_error(report, space::message(&self.segments_dir, free, need));
                last_publish = Some(Instant::now());
            }
            self.sleep(SPACE_EVERY);
        }
    }

    /// State `error` with `why` (not recording: a full disk), published at once.
    fn report_error(&self, report: &mut Report, why: String) {
        report.state = CamState::Error;
        report.error = Some(why);
        report.fps = 0.0;
        self.publish(report);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps `d`, waking early at stop.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() && Instant::now() < end {
            std::thread::sleep(TICK.min(end.saturating_duration_since(Instant::now())));
        }
    }

    /// 1 s, 2 s, 4 s … up to `reconnect_max_s`, each ±25 % so that cameras lost together
    /// (a switch reboot) do not all come back in the same instant.
    fn delay(&self, failures: &mut u32) -> Duration {
        let base = crate::status::backoff::backoff_delay(*failures, Duration::from_secs_f64(self.cam.reconnect_max_s));
        *failures = failures.saturating_add(1);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let jitter = 0.75 + 0.5 * f64::from(nanos % 1000) / 1000.0;
        base.mul_f64(jitter)
    }

    fn on_segment(&self, f: Finalised, report: &mut Report) {
        tracing::debug!(path = %f.path.display(), frames = f.frames, "segment finalised");
        let bytes = std::fs::metadata(&f.path).map_or(0, |m| m.len());
        report.largest_segment = report.largest_segment.max(bytes);
        if let Some(tx) = &self.analysis {
            let _ = tx.send(f);
        }
        self.enforce(report);
    }

    fn enforce(&self, report: &mut Report) {
        let r = &self.cam.recording;
        let (bytes, kept, deleted) = retention::enforce(&self.segments_dir, r.format.extension(), now_ms(), r.quota_bytes, r.max_age_s * 1000, &self.pins);
        report.bytes = bytes;
        report.segments = kept;
        report.deleted += deleted as u64;
    }

    fn publish(&self, r: &Report) {
        let last_moment = self.shared.last_moment.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let v = json!({
            "camera": self.cam.name,
            "state": r.state.as_str(),
            "error": r.error,
            "since": rfc3339(ms_time(r.since_ms)),
            "fps": (r.fps * 10.0).round() / 10.0,
            "frames": r.frames,
            "discont": r.discont,
            "analysed": self.shared.analysed_frames.load(Ordering::Relaxed),
            "analysed_fps": (r.analysed_fps * 10.0).round() / 10.0,
            "dropped": self.shared.dropped_frames.load(Ordering::Relaxed),
            "recording_bytes": r.bytes,
            "segments": r.segments,
            "segments_deleted": r.deleted,
            "gaps": r.gaps,
            "last_gap": r.last_gap.as_ref().map(Gap::json),
            "last_moment": last_moment,
            "time": rfc3339(SystemTime::now()),
        });
        self.sink.retained(&self.cam.name, "state", v.to_string());
    }
}

/// `user:password` from the first line of `path`.
fn read_credentials(path: &std::path::Path) -> Result<(String, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let line = text.lines().next().unwrap_or("").trim_end();
    let (u, p) = line.split_once(':').ok_or("first line must be user:password")?;
    if u.is_empty() {
        return Err("empty user name".into());
    }
    Ok((u.to_string(), p.to_string()))
}
