//! highlightd — turns raw videos into highlight shorts.
//!
//! The data flows through one module per stage:
//!
//! ```text
//! ingest ──► decode ──► analyse ──► select ──► frame ──► write
//! (index,    (GStreamer, (per-frame  (which      (crop     (prediction
//!  layout)    frame k)    evidence,   frames)     windows,  JSONL)
//!                         shots)                  path)
//! ```
//!
//! [`engine`] wires the stages for one video; [`render`] makes the short and [`report`] the
//! HTML page from its results; [`metric`], [`validate`] and [`bench`](mod@bench) measure them. The
//! appliance ([`serve`]) adds what a daemon needs around the engine: [`ingest::watch`] (what a
//! drop is, when it is complete), [`jobs`] (the durable SQLite job store) and [`status`] (MQTT
//! fleet status).

pub mod analyse;
pub mod bench;
pub mod camera;
pub mod config;
pub mod decode;
pub mod doctor;
pub mod engine;
pub mod format;
pub mod frame;
pub mod infer;
pub mod ingest;
pub mod jobs;
pub mod metric;
pub mod render;
pub mod report;
pub mod select;
pub mod serve;
pub mod status;
pub mod validate;
pub mod write;
