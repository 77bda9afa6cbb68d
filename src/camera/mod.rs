//! Cameras: live sources of `highlightd serve`, next to the ingest folder.
//!
//! Each `[[cameras]]` entry gets one thread ([`supervisor`]) that keeps a connection to the
//! camera ([`record`], [`source`]: RTSP, HLS, a local V4L2 device ([`v4l2`]) or a looped file,
//! H.264 or H.265, recorded into fixed-length segments, without re-encoding unless the device
//! sends raw or MJPEG), reconnects with back-off when it fails or stalls, keeps the recording within
//! its quota ([`retention`]) and publishes its state over MQTT under
//! `<prefix>/<device_id>/cameras/<name>/`. A second thread per camera ([`moments`]) runs the
//! batch engine on each finalised segment, joins the selected frames into moments, cuts each
//! closed moment into a clip and publishes a `highlight` event.
//!
//! The daemon sees only [`Cameras::start`] and [`Cameras::join`]: the cameras share its stop
//! flag and its MQTT connection, nothing else.

pub mod clip;
pub mod config;
pub mod moments;
pub mod record;
pub mod retention;
pub mod source;
pub mod space;
pub mod supervisor;
pub mod v4l2;

pub use config::{check_all, CameraConfig, CameraConfigError};

use crate::config::Config;
use crate::status::CameraSink;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The running camera threads.
#[derive(Default)]
pub struct Cameras {
    threads: Vec<(String, JoinHandle<()>)>,
}

impl Cameras {
    /// Starts one thread per camera and returns at once; they run until `stop` is set.
    pub fn start(cfg: &Config, sink: &CameraSink, stop: &Arc<AtomicBool>) -> Cameras {
        let mut threads = Vec::new();
        for cam in &cfg.cameras {
            let segments_dir = cam.segments_dir(&cfg.serve.state_dir);
            let pins = retention::Pins::default();
            let shared: Arc<supervisor::Shared> = Arc::default();
            let mut analysis = None;
            if cam.analyse {
                let (tx, rx) = std::sync::mpsc::channel();
                let analyst = moments::Analyst {
                    cam: cam.clone(),
                    cfg: cfg.clone(),
                    segments_dir: segments_dir.clone(),
                    out_dir: cfg.serve.output_dir.join("cameras").join(&cam.name),
                    sink: sink.clone(),
                    pins: pins.clone(),
                    shared: shared.clone(),
                    rx,
                };
                match std::thread::Builder::new().name(format!("moments-{}", cam.name)).spawn(move || analyst.run()) {
                    Ok(t) => {
                        threads.push((format!("{} (analysis)", cam.name), t));
                        analysis = Some(tx);
                    }
                    Err(e) => tracing::error!(camera = %cam.name, "cannot start the analysis thread: {e}"),
                }
            }
            let sup = supervisor::Supervisor { cam: cam.clone(), segments_dir, sink: sink.clone(), stop: stop.clone(), pins, shared, analysis };
            match std::thread::Builder::new().name(format!("camera-{}", cam.name)).spawn(move || sup.run()) {
                Ok(t) => threads.push((cam.name.clone(), t)),
                Err(e) => tracing::error!(camera = %cam.name, "cannot start the camera thread: {e}"),
            }
        }
        Cameras { threads }
    }

    /// Waits (at most `wait` in all) for the threads to finalise their open segments and
    /// publish `stopped`, after the stop flag was set. A thread still busy then is left
    /// behind: the process is exiting, and MPEG-TS segments stay readable as they are.
    pub fn join(self, wait: Duration) {
        let deadline = Instant::now() + wait;
        for (name, t) in self.threads {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                tracing::warn!(camera = %name, "camera thread still busy at shutdown");
            }
        }
    }
}
