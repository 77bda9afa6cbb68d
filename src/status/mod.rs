//! Status reporting over MQTT for fleet monitoring.
//!
//! Everything of one box lives under `<topic_prefix>/<device_id>/`:
//!
//! | topic          | retained | QoS | payload                                                       |
//! |----------------|----------|-----|---------------------------------------------------------------|
//! | `availability` | yes      | 1   | `online`; `offline` at clean shutdown and as the last will     |
//! | `status`       | yes      | 1   | JSON: state, queue depth, running jobs, uptime, version, time  |
//! | `events`       | no       | 1   | JSON: one per job event (queued, started, progress, done, failed) |
//! | `stats`        | no       | 0   | JSON: frames, fps, videos done/failed, disk free, temperature, GPU, own CPU share |
//! | `cameras/<name>/state` | yes | 1 | JSON: one camera's connection state, fps, recording ([`CameraSink`]) |
//! | `cameras/<name>/gap`, `…/highlight` | no | 1 | JSON: an outage that ended; a decided moment |
//!
//! plus, when `home_assistant_discovery` is on, retained Home Assistant discovery configs under
//! `<discovery_prefix>/sensor/<device_id>/<sensor>/config`. [`payload`] fixes every payload.
//!
//! The daemon's work never depends on the broker: [`StatusHandle`] methods only put a message
//! into a bounded in-memory queue and return. A thread of its own talks to the broker,
//! reconnects with back-off when it is away, and after every (re)connection republishes
//! availability, discovery and the latest status, so a restarted broker or dashboard catches up
//! at once. While the broker is away events and stats wait in the queue (the oldest are dropped
//! when it is full); the status is never dropped, only its latest value is kept.

pub mod backoff;
pub mod camera_discovery;
pub mod config;
mod outbox;
pub mod payload;
pub mod system;
pub mod topics;
mod worker;

pub use config::{MqttConfig, TlsConfig};
pub use payload::{EventKind, JobEvent, JobSummary, RunningJob, State, Stats, Status};
pub use system::StatsSampler;
pub use topics::{TopicError, Topics};
pub use worker::Link;

use outbox::Outbox;
use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use worker::{lock, Shared, Worker};

/// Most events and stats messages kept while the broker is away (a few hours of progress
/// events of one job; older ones are dropped first).
pub const QUEUE_CAPACITY: usize = 1000;
/// Least time between two progress events of one job; more frequent ones are dropped at the
/// handle (the retained status carries the live progress).
pub const PROGRESS_EVENT_GAP: Duration = Duration::from_secs(5);
/// Longest [`StatusHandle::shutdown`] waits for the MQTT thread.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// A configuration value is wrong; `key` is its full name, e.g. `mqtt.port`.
    #[error("`{key}` {message}")]
    Config { key: &'static str, message: String },
    #[error("{path}: cannot read TLS file: {source}")]
    Tls { path: PathBuf, source: std::io::Error },
    #[error("cannot start the MQTT thread: {0}")]
    Thread(std::io::Error),
}

/// Starts status reporting; see [`StatusPublisher::start`].
pub struct StatusPublisher;

impl StatusPublisher {
    /// Checks `cfg`, reads the TLS files and starts the MQTT thread; returns at once, without
    /// waiting for the broker (an unreachable broker is logged and retried, not an error).
    /// With `enabled = false` it returns a handle that does nothing.
    pub fn start(cfg: MqttConfig, version: &str) -> Result<StatusHandle, StatusError> {
        Self::start_with_cameras(cfg, version, &[])
    }

    /// [`StatusPublisher::start`], also announcing the sensors of `cameras` (their names) to
    /// Home Assistant when discovery is on.
    pub fn start_with_cameras(cfg: MqttConfig, version: &str, cameras: &[String]) -> Result<StatusHandle, StatusError> {
        cfg.check()?;
        if !cfg.enabled {
            return Ok(StatusHandle { inner: None });
        }
        let device_id = cfg.resolved_device_id();
        let topics = Topics::new(&cfg.topic_prefix, &device_id).map_err(|e| StatusError::Config { key: "mqtt.device_id", message: e.to_string() })?;
        let options = mqtt_options(&cfg, &topics)?;
        let discovery = if cfg.home_assistant_discovery {
            let mut d = payload::discovery_configs(&cfg.discovery_prefix, &device_id, &topics, version);
            d.extend(camera_discovery::camera_discovery_configs(&cfg.discovery_prefix, &device_id, &topics, version, cameras));
            d
        } else {
            Vec::new()
        };
        let shared = Arc::new(Shared::new(Outbox::new(QUEUE_CAPACITY, PROGRESS_EVENT_GAP)));
        let worker = Worker {
            options,
            shared: shared.clone(),
            topics: topics.clone(),
            discovery,
            version: version.to_string(),
            started: Instant::now(),
            status_interval: Duration::from_secs(cfg.status_interval_s),
            reconnect_max: Duration::from_secs(cfg.reconnect_max_s),
            broker: format!("{}:{}", cfg.host, cfg.port),
        };
        let thread = std::thread::Builder::new().name("mqtt-status".into()).spawn(move || worker.run()).map_err(StatusError::Thread)?;
        Ok(StatusHandle { inner: Some(Inner { shared, topics, thread: Mutex::new(Some(thread)), stats_interval: Duration::from_secs(cfg.stats_interval_s) }) })
    }
}

fn mqtt_options(cfg: &MqttConfig, topics: &Topics) -> Result<MqttOptions, StatusError> {
    let mut o = MqttOptions::new(cfg.resolved_client_id(), cfg.host.clone(), cfg.port);
    o.set_keep_alive(Duration::from_secs(cfg.keep_alive_s));
    o.set_clean_session(true);
    o.set_last_will(LastWill::new(topics.availability.clone(), "offline", QoS::AtLeastOnce, true));
    // Payloads are clipped far below this (see `payload::MAX_TEXT`); rumqttc's 10 KiB default
    // would turn an unusually long status into a dropped connection.
    o.set_max_packet_size(256 * 1024, 256 * 1024);
    if let Some(user) = &cfg.username {
        o.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    if let Some(tls) = &cfg.tls {
        let read = |path: &PathBuf| std::fs::read(path).map_err(|source| StatusError::Tls { path: path.clone(), source });
        let ca = read(&tls.ca_file)?;
        let client_auth = match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Simple { ca, alpn: None, client_auth }));
    }
    Ok(o)
}

struct Inner {
    shared: Arc<Shared>,
    topics: Topics,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats_interval: Duration,
}

/// The daemon's side of status reporting. Every method returns at once whatever the broker
/// does (it takes a short in-memory lock, never waits on the network). Share it between
/// threads by reference or `Arc`. Dropping it shuts it down like [`StatusHandle::shutdown`].
pub struct StatusHandle {
    inner: Option<Inner>,
}

impl StatusHandle {
    /// A handle that reports nothing, for `mqtt.enabled = false` and for tests of the daemon.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Replaces the status. Only the latest is kept and sent; call it on every change (state,
    /// queue, job progress): rapid changes are coalesced to a few messages per second, and
    /// setting the same status again sends nothing until the periodic refresh.
    pub fn set_status(&self, status: Status) {
        if let Some(i) = &self.inner {
            if lock(&i.shared.outbox).set_status(status) {
                i.shared.notify.notify_one();
            }
        }
    }

    /// Reports a job event. Progress events of one job closer than [`PROGRESS_EVENT_GAP`] to
    /// the previous one are dropped, so a per-frame progress callback may call this directly.
    pub fn event(&self, event: JobEvent) {
        let Some(i) = &self.inner else { return };
        match &event.kind {
            EventKind::Progress(_) => {
                if !lock(&i.shared.outbox).admit_progress(&event.job_id, Instant::now()) {
                    return;
                }
            }
            EventKind::Done(_) | EventKind::Failed(_) => lock(&i.shared.outbox).forget_job(&event.job_id),
            EventKind::Queued | EventKind::Started => {}
        }
        let payload = payload::event_json(&event, SystemTime::now());
        lock(&i.shared.outbox).push(worker::message(&i.topics.events, payload, QoS::AtLeastOnce));
        i.shared.notify.notify_one();
    }

    /// Publishes one stats message (QoS 0: the next one supersedes it anyway).
    pub fn stats(&self, stats: Stats) {
        let Some(i) = &self.inner else { return };
        let payload = payload::stats_json(&stats, SystemTime::now());
        lock(&i.shared.outbox).push(worker::message(&i.topics.stats, payload, QoS::AtMostOnce));
        i.shared.notify.notify_one();
    }

    /// A handle for the camera sources: retained state and events under
    /// `<prefix>/<device_id>/cameras/<name>/`. Cheap to clone, one per camera thread.
    pub fn camera_sink(&self) -> CameraSink {
        CameraSink { inner: self.inner.as_ref().map(|i| (i.shared.clone(), format!("{}/cameras", i.topics.status.strip_suffix("/status").unwrap_or(&i.topics.status)))) }
    }

    /// How often the daemon should call [`StatusHandle::stats`] (`mqtt.stats_interval_s`).
    pub fn stats_interval(&self) -> Duration {
        self.inner.as_ref().map_or(Duration::from_secs(60), |i| i.stats_interval)
    }

    /// The topics in use (`None` when disabled).
    pub fn topics(&self) -> Option<&Topics> {
        self.inner.as_ref().map(|i| &i.topics)
    }

    /// The connection state, for a health check or a status page.
    pub fn link(&self) -> Link {
        match &self.inner {
            None => Link::Disabled,
            Some(i) => lock(&i.shared.link).clone(),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.link() == Link::Connected
    }

    /// Sends what is still queued, publishes `offline` (retained), disconnects cleanly and
    /// stops the thread. Waits at most [`SHUTDOWN_WAIT`]; a thread still busy then (say, in
    /// the middle of a connection attempt) is left to finish by itself, a few seconds later.
    /// Calling it again does nothing.
    pub fn shutdown(&self) {
        let Some(i) = &self.inner else { return };
        let Some(thread) = lock(&i.thread).take() else { return };
        {
            let _guard = lock(&i.shared.outbox);
            i.shared.stop.store(true, Ordering::SeqCst);
            i.shared.wake.notify_all();
            i.shared.notify.notify_one();
        }
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!("MQTT status thread still busy after {} s; leaving it to finish", SHUTDOWN_WAIT.as_secs());
        }
    }
}

/// What a camera publishes; see [`StatusHandle::camera_sink`]. Like the handle, every method
/// only touches the in-memory outbox and returns at once.
#[derive(Clone)]
pub struct CameraSink {
    /// The MQTT thread's shared state and `<prefix>/<device_id>/cameras`.
    inner: Option<(Arc<Shared>, String)>,
}

impl CameraSink {
    /// A sink that publishes nothing (MQTT off).
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Sets the retained `cameras/<camera>/<leaf>` payload (latest kept, resent on reconnect).
    pub fn retained(&self, camera: &str, leaf: &str, payload: String) {
        let Some((shared, base)) = &self.inner else { return };
        if lock(&shared.outbox).set_retained(&format!("{base}/{camera}/{leaf}"), payload) {
            shared.notify.notify_one();
        }
    }

    /// Queues a non-retained `cameras/<camera>/<leaf>` message (QoS 1).
    pub fn event(&self, camera: &str, leaf: &str, payload: String) {
        let Some((shared, base)) = &self.inner else { return };
        lock(&shared.outbox).push(worker::message(&format!("{base}/{camera}/{leaf}"), payload, QoS::AtLeastOnce));
        shared.notify.notify_one();
    }
}

impl std::fmt::Debug for CameraSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSink").field("topics", &self.inner.as_ref().map(|i| &i.1)).finish()
    }
}

impl Drop for StatusHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for StatusHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusHandle").field("topics", &self.topics()).field("link", &self.link()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_shareable_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<StatusHandle>();
    }

    #[test]
    fn disabled_handle_does_nothing() {
        let h = StatusPublisher::start(MqttConfig::default(), "0").unwrap();
        assert_eq!(h.link(), Link::Disabled);
        assert!(h.topics().is_none());
        h.set_status(Status::idle());
        h.event(JobEvent::queued("j", "a"));
        h.stats(Stats::default());
        h.shutdown();
        assert_eq!(StatusHandle::disabled().link(), Link::Disabled);
    }

    #[test]
    fn start_checks_config_and_tls_files() {
        let cfg = MqttConfig { enabled: true, port: 0, ..MqttConfig::default() };
        let err = StatusPublisher::start(cfg, "0").unwrap_err().to_string();
        assert!(err.contains("mqtt.port"), "{err}");
        let cfg = MqttConfig { enabled: true, tls: Some(TlsConfig { ca_file: "/nonexistent/ca.pem".into(), client_cert: None, client_key: None }), ..MqttConfig::default() };
        let err = StatusPublisher::start(cfg, "0").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn unreachable_broker_never_blocks_and_shuts_down_in_time() {
        // Port 1 on loopback: nothing listens, connections are refused at once.
        let cfg = MqttConfig { enabled: true, port: 1, device_id: Some("unit".into()), ..MqttConfig::default() };
        let h = StatusPublisher::start(cfg, "0").unwrap();
        let t = Instant::now();
        for q in 0..5000 {
            h.set_status(Status { state: State::Busy, queue_depth: q, running: vec![] });
            h.event(JobEvent::queued(format!("j{q}"), "a"));
            h.stats(Stats::default());
        }
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !matches!(h.link(), Link::Down { .. }) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(matches!(h.link(), Link::Down { .. }), "{:?}", h.link());
        let t = Instant::now();
        h.shutdown();
        assert!(t.elapsed() <= SHUTDOWN_WAIT + Duration::from_millis(500), "{:?}", t.elapsed());
    }
}
