//! What the daemon reports and the JSON each message carries. Pure functions: the shape of
//! every payload is fixed here and unit-tested, the publisher only moves bytes.

use super::topics::{discovery_node_id, discovery_topic, Topics};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest string (job id, input path, failure reason…) put into a payload, in characters.
/// A payload must stay far below the broker's and the client's packet size limits whatever a
/// caller passes, or one odd file name would cost the connection.
pub const MAX_TEXT: usize = 512;
/// Most running jobs listed in one status message.
pub const MAX_RUNNING: usize = 32;
/// Most output files listed in one `done` summary.
pub const MAX_OUTPUTS: usize = 16;

/// What the daemon is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for work.
    Idle,
    /// Processing at least one job.
    Busy,
    /// Finishing the current jobs before exiting; takes no new ones.
    Stopping,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Busy => "busy",
            State::Stopping => "stopping",
        }
    }
}

/// One job being processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningJob {
    pub job_id: String,
    /// The input file, as the daemon names it (path or file name).
    pub input: String,
    /// Fraction done, 0 to 1.
    pub progress: f64,
}

/// The daemon's state as the caller knows it; the publisher adds uptime, version and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    /// Jobs waiting, not counting the running ones.
    pub queue_depth: usize,
    pub running: Vec<RunningJob>,
}

impl Status {
    pub fn idle() -> Self {
        Self { state: State::Idle, queue_depth: 0, running: Vec::new() }
    }
}

impl Default for Status {
    fn default() -> Self {
        Self::idle()
    }
}

/// The result of a finished job, as reported in its `done` event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobSummary {
    /// Frames decoded and analysed.
    pub frames: u64,
    /// Length of the input video, seconds.
    pub duration_s: f64,
    /// Length of the selected highlight, seconds.
    pub highlight_s: f64,
    /// Shots detected.
    pub shots: usize,
    /// Wall-clock processing time, seconds.
    pub elapsed_s: f64,
    /// Files written (predictions, crop metadata, rendered short).
    pub outputs: Vec<String>,
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Queued,
    Started,
    /// Fraction done, 0 to 1.
    Progress(f64),
    Done(JobSummary),
    /// Why it failed, one line for a human.
    Failed(String),
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Queued => "queued",
            EventKind::Started => "started",
            EventKind::Progress(_) => "progress",
            EventKind::Done(_) => "done",
            EventKind::Failed(_) => "failed",
        }
    }
}

/// One job event.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub job_id: String,
    pub input: String,
    pub kind: EventKind,
}

impl JobEvent {
    fn new(job_id: impl Into<String>, input: impl Into<String>, kind: EventKind) -> Self {
        Self { job_id: job_id.into(), input: input.into(), kind }
    }
    pub fn queued(job_id: impl Into<String>, input: impl Into<String>) -> Self {
        Self::new(job_id, input, EventKind::Queued)
    }
    pub fn started(job_id: impl Into<String>, input: impl Into<String>) -> Self {
        Self::new(job_id, input, EventKind::Started)
    }
    pub fn progress(job_id: impl Into<String>, input: impl Into<String>, fraction: f64) -> Self {
        Self::new(job_id, input, EventKind::Progress(fraction))
    }
    pub fn done(job_id: impl Into<String>, input: impl Into<String>, summary: JobSummary) -> Self {
        Self::new(job_id, input, EventKind::Done(summary))
    }
    pub fn failed(job_id: impl Into<String>, input: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(job_id, input, EventKind::Failed(reason.into()))
    }
}

/// Periodic throughput and health figures. `None` means "not readable on this box" and is
/// sent as `null`, so a dashboard can tell "no sensor" from "zero".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Frames processed since the daemon started.
    pub frames_processed: u64,
    /// Frames per second over the last stats interval.
    pub fps: f64,
    /// Videos finished since the daemon started.
    pub videos_done: u64,
    /// Videos failed since the daemon started.
    pub videos_failed: u64,
    /// Free space for the daemon's data folder (the output folder), bytes.
    pub disk_free_bytes: Option<u64>,
    /// Free space of the state folder's file system (the job store), bytes: when it is full
    /// the daemon cannot record outcomes and retries, so a fleet should see it coming.
    pub state_disk_free_bytes: Option<u64>,
    /// Hottest thermal zone, °C.
    pub temperature_c: Option<f64>,
    /// GPU load, percent (Jetson).
    pub gpu_load: Option<f64>,
    /// The daemon's own CPU time over the last stats interval, percent of one core (100 is
    /// one core busy): an idle box near 0, so one that spins stands out in a fleet.
    pub cpu_percent: Option<f64>,
}

/// `text` cut to [`MAX_TEXT`] characters (an ellipsis marks a cut).
pub fn clip(text: &str) -> String {
    clip_to(text, MAX_TEXT)
}

fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => {
            let mut s = text[..end].to_string();
            s.pop();
            s.push('…');
            s
        }
    }
}

/// A finite fraction in 0..=1, rounded to 0.1 ‰ (a NaN from a caller's 0/0 becomes 0).
pub fn fraction(x: f64) -> f64 {
    if x.is_finite() {
        round_to(x.clamp(0.0, 1.0), 4)
    } else {
        0.0
    }
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    (x * m).round() / m
}

/// A finite, non-negative number rounded to `decimals` (JSON cannot carry NaN or infinities).
fn finite(x: f64, decimals: i32) -> Option<f64> {
    x.is_finite().then(|| round_to(x, decimals))
}

/// UTC time as RFC 3339 with milliseconds, e.g. `2025-01-31T12:00:00.250Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, d.subsec_millis())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The retained `status` payload.
pub fn status_json(status: &Status, uptime_s: u64, version: &str, now: SystemTime) -> String {
    let running: Vec<Value> = status
        .running
        .iter()
        .take(MAX_RUNNING)
        .map(|j| json!({ "job_id": clip(&j.job_id), "input": clip(&j.input), "progress": fraction(j.progress) }))
        .collect();
    json!({
        "state": status.state.as_str(),
        "queue_depth": status.queue_depth,
        "running": running,
        "uptime_s": uptime_s,
        "version": clip(version),
        "updated_at": rfc3339(now),
    })
    .to_string()
}

/// One `events` payload; `at` is when the caller reported it, not when it was sent (it may
/// wait in the queue while the broker is away).
pub fn event_json(event: &JobEvent, at: SystemTime) -> String {
    let mut v = json!({
        "job_id": clip(&event.job_id),
        "input": clip(&event.input),
        "event": event.kind.name(),
    });
    match &event.kind {
        EventKind::Queued | EventKind::Started => {}
        EventKind::Progress(p) => v["progress"] = json!(fraction(*p)),
        EventKind::Done(s) => {
            v["progress"] = json!(1.0);
            v["summary"] = json!({
                "frames": s.frames,
                "duration_s": finite(s.duration_s, 3),
                "highlight_s": finite(s.highlight_s, 3),
                "shots": s.shots,
                "elapsed_s": finite(s.elapsed_s, 3),
                "outputs": s.outputs.iter().take(MAX_OUTPUTS).map(|o| clip(o)).collect::<Vec<_>>(),
            });
        }
        EventKind::Failed(reason) => v["reason"] = json!(clip(reason)),
    }
    v["at"] = json!(rfc3339(at));
    v.to_string()
}

/// One `stats` payload.
pub fn stats_json(stats: &Stats, at: SystemTime) -> String {
    json!({
        "frames_processed": stats.frames_processed,
        "fps": finite(stats.fps.max(0.0), 2),
        "videos_done": stats.videos_done,
        "videos_failed": stats.videos_failed,
        "disk_free_bytes": stats.disk_free_bytes,
        "state_disk_free_bytes": stats.state_disk_free_bytes,
        "temperature_c": stats.temperature_c.and_then(|t| finite(t, 1)),
        "gpu_load": stats.gpu_load.and_then(|g| finite(g.clamp(0.0, 100.0), 1)),
        "cpu_percent": stats.cpu_percent.and_then(|c| finite(c, 2)).map(|c| c.max(0.0)),
        "at": rfc3339(at),
    })
    .to_string()
}

/// The sensors announced to Home Assistant: (object id, name, source, value template, extra).
fn sensors(topics: &Topics) -> [(&'static str, &'static str, &str, &'static str, Value); 5] {
    [
        ("state", "State", topics.status.as_str(), "{{ value_json.state }}", json!({ "device_class": "enum", "options": ["idle", "busy", "stopping"], "icon": "mdi:movie-open-cog" })),
        ("queue_depth", "Queue depth", topics.status.as_str(), "{{ value_json.queue_depth }}", json!({ "unit_of_measurement": "jobs", "state_class": "measurement", "icon": "mdi:tray-full" })),
        (
            "progress",
            "Progress",
            topics.status.as_str(),
            "{{ ((value_json.running[0].progress * 100) | round(1)) if value_json.running else 0 }}",
            json!({ "unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:progress-clock" }),
        ),
        ("fps", "Throughput", topics.stats.as_str(), "{{ value_json.fps }}", json!({ "unit_of_measurement": "fps", "state_class": "measurement", "icon": "mdi:speedometer" })),
        ("temperature", "Temperature", topics.stats.as_str(), "{{ value_json.temperature_c }}", json!({ "device_class": "temperature", "unit_of_measurement": "°C", "state_class": "measurement" })),
    ]
}

/// The `device` block every discovery config of this box carries, so that Home Assistant
/// groups the daemon's and its cameras' sensors under one device.
pub fn discovery_device(device_id: &str, version: &str) -> Value {
    let node = discovery_node_id(device_id);
    json!({
        "identifiers": [format!("highlightd_{node}")],
        "name": format!("highlightd {device_id}"),
        "manufacturer": "highlightd",
        "model": "highlightd",
        "sw_version": clip(version),
    })
}

/// Home Assistant discovery messages (topic, retained JSON config) for the status sensors.
/// A `null` value (e.g. no thermal sensor) renders as `None`, which Home Assistant shows as
/// "unknown" rather than an error.
pub fn discovery_configs(discovery_prefix: &str, device_id: &str, topics: &Topics, version: &str) -> Vec<(String, String)> {
    let node = discovery_node_id(device_id);
    let device = discovery_device(device_id, version);
    sensors(topics)
        .into_iter()
        .map(|(object_id, name, state_topic, template, extra)| {
            let sensor = DiscoverySensor { node: &node, object_id, name, state_topic: &state_topic, template, availability: &topics.availability, device: &device };
            (discovery_topic(discovery_prefix, device_id, object_id), sensor.config(&extra))
        })
        .collect()
}

/// One Home Assistant sensor of the box (the status sensors and each camera's): what its
/// discovery config says, in one place so every sensor is announced the same way.
pub(crate) struct DiscoverySensor<'a> {
    pub node: &'a str,
    pub object_id: &'a str,
    pub name: &'a str,
    pub state_topic: &'a str,
    pub template: &'a str,
    pub availability: &'a str,
    pub device: &'a Value,
}

impl DiscoverySensor<'_> {
    /// The retained JSON config, with `extra` keys (unit, device class …) added.
    pub fn config(&self, extra: &Value) -> String {
        let mut cfg = json!({
            "name": self.name,
            "unique_id": format!("highlightd_{}_{}", self.node, self.object_id),
            "state_topic": self.state_topic,
            "value_template": self.template,
            "availability_topic": self.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": self.device,
        });
        if let (Some(cfg), Some(extra)) = (cfg.as_object_mut(), extra.as_object()) {
            cfg.extend(extra.clone());
        }
        cfg.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(at(1_735_689_599, 999)), "2024-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(at(4_107_542_400, 0)), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn status_payload_fields() {
        let s = Status { state: State::Busy, queue_depth: 2, running: vec![RunningJob { job_id: "j1".into(), input: "/in/a.mp4".into(), progress: 0.123456 }] };
        let v = parse(&status_json(&s, 42, "0.1.0", at(0, 0)));
        assert_eq!(v["state"], "busy");
        assert_eq!(v["queue_depth"], 2);
        assert_eq!(v["running"][0]["job_id"], "j1");
        assert_eq!(v["running"][0]["input"], "/in/a.mp4");
        assert_eq!(v["running"][0]["progress"], 0.1235);
        assert_eq!(v["uptime_s"], 42);
        assert_eq!(v["version"], "0.1.0");
        assert_eq!(v["updated_at"], "1970-01-01T00:00:00.000Z");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["state", "queue_depth", "running", "uptime_s", "version", "updated_at"]);
        assert_eq!(parse(&status_json(&Status::idle(), 0, "x", at(0, 0)))["running"], json!([]));
    }

    #[test]
    fn payloads_stay_small_and_finite() {
        let long = "é".repeat(10_000);
        let s = Status { state: State::Busy, queue_depth: 0, running: (0..100).map(|i| RunningJob { job_id: format!("{i}"), input: long.clone(), progress: f64::NAN }).collect() };
        let text = status_json(&s, 0, "v", at(0, 0));
        let v = parse(&text);
        assert_eq!(v["running"].as_array().unwrap().len(), MAX_RUNNING);
        assert_eq!(v["running"][0]["progress"], 0.0);
        assert_eq!(v["running"][0]["input"].as_str().unwrap().chars().count(), MAX_TEXT);
        assert!(text.len() < 64 * 1024, "{}", text.len());
        let e = parse(&event_json(&JobEvent::failed("j", "i", long.clone()), at(0, 0)));
        assert!(e["reason"].as_str().unwrap().ends_with('…'));
        let st = parse(&stats_json(&Stats { fps: f64::INFINITY, temperature_c: Some(f64::NAN), gpu_load: Some(250.0), ..Stats::default() }, at(0, 0)));
        assert_eq!(st["fps"], Value::Null);
        assert_eq!(st["temperature_c"], Value::Null);
        assert_eq!(st["gpu_load"], 100.0);
        assert_eq!(clip("abc"), "abc");
        assert_eq!(clip_to("abcdef", 3), "ab…");
    }

    #[test]
    fn event_payloads() {
        let q = parse(&event_json(&JobEvent::queued("j", "a.mp4"), at(1, 0)));
        assert_eq!(q, json!({ "job_id": "j", "input": "a.mp4", "event": "queued", "at": "1970-01-01T00:00:01.000Z" }));
        let p = parse(&event_json(&JobEvent::progress("j", "a.mp4", 1.7), at(0, 0)));
        assert_eq!((p["event"].as_str(), p["progress"].as_f64()), (Some("progress"), Some(1.0)));
        let sum = JobSummary { frames: 100, duration_s: 4.0, highlight_s: 1.5, shots: 3, elapsed_s: 2.25, outputs: vec!["out/a.jsonl".into()] };
        let d = parse(&event_json(&JobEvent::done("j", "a.mp4", sum), at(0, 0)));
        assert_eq!(d["event"], "done");
        assert_eq!(d["summary"], json!({ "frames": 100, "duration_s": 4.0, "highlight_s": 1.5, "shots": 3, "elapsed_s": 2.25, "outputs": ["out/a.jsonl"] }));
        let f = parse(&event_json(&JobEvent::failed("j", "a.mp4", "cannot decode"), at(0, 0)));
        assert_eq!((f["event"].as_str(), f["reason"].as_str()), (Some("failed"), Some("cannot decode")));
        assert!(f.get("summary").is_none() && f.get("progress").is_none());
    }

    #[test]
    fn stats_payload_has_every_key() {
        let v = parse(&stats_json(&Stats { frames_processed: 10, fps: 12.345, videos_done: 1, videos_failed: 0, disk_free_bytes: Some(5), state_disk_free_bytes: Some(6), temperature_c: Some(51.26), gpu_load: None, cpu_percent: Some(0.1234) }, at(0, 0)));
        assert_eq!(v["fps"], 12.35);
        assert_eq!(v["temperature_c"], 51.3);
        assert_eq!(v["gpu_load"], Value::Null);
        assert_eq!(v["cpu_percent"], 0.12);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["frames_processed", "fps", "videos_done", "videos_failed", "disk_free_bytes", "state_disk_free_bytes", "temperature_c", "gpu_load", "cpu_percent", "at"]);
        let spinning = parse(&stats_json(&Stats { cpu_percent: Some(185.0), ..Stats::default() }, at(0, 0)));
        assert_eq!(spinning["cpu_percent"], 185.0, "more than one core is reported as it is");
        let unknown = parse(&stats_json(&Stats { cpu_percent: Some(f64::NAN), ..Stats::default() }, at(0, 0)));
        assert_eq!(unknown["cpu_percent"], Value::Null);
    }

    #[test]
    fn discovery_configs_for_the_five_sensors() {
        let t = Topics::new("hl", "jet.son").unwrap();
        let cfgs = discovery_configs("homeassistant", "jet.son", &t, "0.1.0");
        let topics: Vec<&str> = cfgs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/sensor/jet_son/state/config",
                "homeassistant/sensor/jet_son/queue_depth/config",
                "homeassistant/sensor/jet_son/progress/config",
                "homeassistant/sensor/jet_son/fps/config",
                "homeassistant/sensor/jet_son/temperature/config",
            ]
        );
        for (_, c) in &cfgs {
            let v = parse(c);
            assert_eq!(v["availability_topic"], "hl/jet.son/availability");
            assert!(v["unique_id"].as_str().unwrap().starts_with("highlightd_jet_son_"));
            assert_eq!(v["device"]["identifiers"][0], "highlightd_jet_son");
            assert_eq!(v["device"]["sw_version"], "0.1.0");
        }
        let temp = parse(&cfgs[4].1);
        assert_eq!((temp["state_topic"].as_str(), temp["device_class"].as_str()), (Some("hl/jet.son/stats"), Some("temperature")));
        assert_eq!(parse(&cfgs[0].1)["state_topic"], "hl/jet.son/status");
    }
}
