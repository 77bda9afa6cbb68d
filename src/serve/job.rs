//! One claimed job, end to end: process, write outputs atomically, then move the input.

use super::names::{self, output_base, with_suffix};
use super::Shared;
use crate::engine;
use crate::format::AspectRatio;
use crate::ingest::{self, open, watch};
use crate::jobs::{Job, JobKind};
use crate::status::{JobEvent, JobSummary, RunningJob};
use crate::write::{self, metadata};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// What a finished job produced.
struct Produced {
    outputs: Vec<PathBuf>,
    frames: u64,
    duration_s: f64,
    highlight_s: f64,
    shots: usize,
}

pub(super) fn run(sh: &Shared, job: &Job) {
    let started = Instant::now();
    let input = job.input.display().to_string();
    let id = job.id.to_string();
    sh.running.lock().unwrap_or_else(|p| p.into_inner()).insert(job.id, RunningJob { job_id: id.clone(), input: input.clone(), progress: 0.0 });
    sh.status.event(JobEvent::started(&id, &input));
    sh.publish_status();
    info!(attempt = job.attempts, "started");
    let result = match job.kind {
        JobKind::Video { ratio } => video_job(sh, job, ratio),
        JobKind::Index | JobKind::ContestFolder => batch_job(sh, job),
    };
    sh.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&job.id);
    match result {
        Ok(p) => {
            // Outputs are durable (renamed into place): only now does the input leave.
            move_input(&sh.cfg.serve.ingest_dir, &job.input, "done", None);
            if let Err(e) = sh.store.finish(job.id) {
                warn!("cannot record the job as done: {e}");
            }
            sh.done.fetch_add(1, Ordering::Relaxed);
            let summary = JobSummary {
                frames: p.frames,
                duration_s: p.duration_s,
                highlight_s: p.highlight_s,
                shots: p.shots,
                elapsed_s: started.elapsed().as_secs_f64(),
                outputs: p.outputs.iter().map(|o| o.display().to_string()).collect(),
            };
            info!(frames = p.frames, highlight_s = format!("{:.1}", p.highlight_s), elapsed_s = format!("{:.1}", summary.elapsed_s), "done");
            sh.status.event(JobEvent::done(&id, &input, summary));
        }
        Err(reason) => {
            warn!("failed: {reason}");
            move_input(&sh.cfg.serve.ingest_dir, &job.input, "failed", Some(&reason));
            if let Err(e) = sh.store.fail(job.id, &reason) {
                warn!("cannot record the job as failed: {e}");
            }
            sh.failed.fetch_add(1, Ordering::Relaxed);
            sh.status.event(JobEvent::failed(&id, &input, reason));
        }
    }
    sh.publish_status();
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "video".into())
}

/// A progress callback that updates the store, the status and (throttled) the events.
fn progress<'a>(sh: &'a Shared, job: &'a Job, total_frames: Option<u64>, base: f64, share: f64) -> impl FnMut(u64) + 'a {
    let mut last = Instant::now();
    move |frames: u64| {
        sh.frames.fetch_add(1, Ordering::Relaxed);
        if last.elapsed() < Duration::from_secs(2) {
            return;
        }
        last = Instant::now();
        let frac = base + share * total_frames.filter(|&t| t > 0).map_or(0.5, |t| (frames as f64 / t as f64).min(1.0));
        let _ = sh.store.set_progress(job.id, frac as f32);
        if let Some(r) = sh.running.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&job.id) {
            r.progress = frac;
        }
        sh.status.event(JobEvent::progress(job.id.to_string(), job.input.display().to_string(), frac));
        sh.publish_status();
    }
}

fn video_job(sh: &Shared, job: &Job, ratio: AspectRatio) -> Result<Produced, String> {
    let cfg = &sh.cfg;
    let name = stem(&job.input);
    let mut fields = Map::new();
    fields.insert("video_id".into(), Value::String(name.clone()));
    fields.insert("video".into(), Value::String(job.input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
    fields.insert("targetRatioWH".into(), serde_json::to_value(ratio).unwrap_or(Value::Null));
    // Before anything opens it the way GStreamer does (blocking, following symlinks): a FIFO
    // or a symlink swapped in since the scan would hold this worker forever.
    open::open_regular(&job.input).map_err(|e| e.to_string())?;
    let base = output_base(&cfg.serve.ingest_dir, &cfg.serve.output_dir, &job.input)?;
    let total = crate::decode::probe_frames(&job.input);
    let r = engine::process_video(&job.input, ratio, cfg, progress(sh, job, total, 0.0, 1.0)).map_err(|e| e.to_string())?;
    create_parent(&base)?;
    let preds_path = with_suffix(&base, names::PREDICTIONS);
    let meta_path = with_suffix(&base, names::CROP);
    let mut lines = write::AtomicLines::create(&preds_path).map_err(|e| e.to_string())?;
    lines.line(&write::output_line(&fields, &r.predictions)).map_err(|e| e.to_string())?;
    lines.commit().map_err(|e| e.to_string())?;
    metadata::write_json_atomic(&meta_path, &metadata::crop_metadata(&name, &job.input.display().to_string(), ratio, &r)).map_err(|e| e.to_string())?;
    let mut outputs = vec![preds_path, meta_path];
    if cfg.serve.render && !r.predictions.is_empty() {
        let short = with_suffix(&base, names::SHORT);
        crate::render::render(&job.input, ratio, &r.predictions, &short, &cfg.render).map_err(|e| e.to_string())?;
        outputs.push(short);
    }
    Ok(Produced {
        outputs,
        frames: r.info.frames,
        duration_s: r.info.frames as f64 / r.info.fps.max(1e-9),
        highlight_s: r.predictions.len() as f64 / r.info.fps.max(1e-9),
        shots: r.shots.len(),
    })
}

/// An index or contest folder: every file and folder it uses must stay inside the ingest
/// folder (a contest folder's `video/` or `jsonl/` may not be a symlink leading out), and
/// every file it reads is read as [`open`] reads ingest paths: regular files only, bounded.
fn batch_job(sh: &Shared, job: &Job) -> Result<Produced, String> {
    let cfg = &sh.cfg;
    let ingest_dir = &cfg.serve.ingest_dir;
    let max = cfg.serve.max_json_bytes;
    let rel = |p: &Path| p.strip_prefix(ingest_dir).map(|r| r.to_string_lossy().into_owned()).unwrap_or_else(|_| p.display().to_string());
    let entries = match job.kind {
        JobKind::Index => {
            let text = open::read_text_bounded(&job.input, max).map_err(|e| format!("index {e}"))?;
            let parent = job.input.parent().map(Path::to_path_buf).unwrap_or_default();
            ingest::read_index(&text, &job.input.display().to_string(), &parent)
        }
        _ => {
            for sub in ["", "jsonl", "video"] {
                let dir = job.input.join(sub);
                watch::confined(ingest_dir, &rel(&dir)).map_err(|e| format!("{}: `{sub}` {e}", job.input.display()))?;
            }
            ingest::read_contest_with(&job.input, None, |p| open::read_text_bounded(p, max).map_err(|e| e.to_string())).map_err(|e| e.to_string())?
        }
    };
    for e in &entries {
        if let Ok(t) = &e.task {
            watch::confined(ingest_dir, &rel(&t.path)).map_err(|err| format!("{}: {err}", e.origin))?;
        }
    }
    let base = output_base(ingest_dir, &cfg.serve.output_dir, &job.input)?;
    create_parent(&base)?;
    let meta_dir = with_suffix(&base, names::CROPS_DIR);
    std::fs::create_dir_all(&meta_dir).map_err(|e| format!("{}: {e}", meta_dir.display()))?;
    let preds_path = with_suffix(&base, names::PREDICTIONS);
    let mut lines = write::AtomicLines::create(&preds_path).map_err(|e| e.to_string())?;
    let (mut frames, mut duration_s, mut highlight_s, mut shots) = (0u64, 0.0, 0.0, 0usize);
    let n = entries.len().max(1) as f64;
    for (k, e) in entries.iter().enumerate() {
        let task = e.task.as_ref().map_err(Clone::clone).and_then(|t| open::open_regular(&t.path).map(|_| t).map_err(|err| format!("{}: {err}", e.origin)));
        let preds = match task {
            Ok(t) => match engine::process_video(&t.path, t.ratio, cfg, progress(sh, job, crate::decode::probe_frames(&t.path), k as f64 / n, 1.0 / n)) {
                Ok(r) => {
                    frames += r.info.frames;
                    duration_s += r.info.frames as f64 / r.info.fps.max(1e-9);
                    highlight_s += r.predictions.len() as f64 / r.info.fps.max(1e-9);
                    shots += r.shots.len();
                    let doc = metadata::crop_metadata(&t.video_id, &t.path.display().to_string(), t.ratio, &r);
                    metadata::write_json_atomic(&meta_dir.join(format!("{}.crop.json", metadata::file_name_for(&t.video_id))), &doc).map_err(|e| e.to_string())?;
                    r.predictions
                }
                Err(err) => {
                    warn!("{}: {err}", e.origin);
                    Vec::new()
                }
            },
            Err(err) => {
                warn!("{err}");
                Vec::new()
            }
        };
        lines.line(&write::output_line(&e.fields, &preds)).map_err(|e| e.to_string())?;
    }
    lines.commit().map_err(|e| e.to_string())?;
    Ok(Produced { outputs: vec![preds_path, meta_dir], frames, duration_s, highlight_s, shots })
}

/// Creates the folder an output base lives in (`output/16x9/` for a ratio sub-folder's drop).
fn create_parent(base: &Path) -> Result<(), String> {
    match base.parent() {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display())),
        None => Ok(()),
    }
}

/// Moves a finished input (and its sidecar) into `ingest/<to>/`, never over an existing file;
/// with `error`, writes it next to the input as `<name>.error.txt`.
pub(super) fn move_input(ingest: &Path, input: &Path, to: &str, error: Option<&str>) {
    let dir = ingest.join(to);
    let Some(name) = input.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let free = |n: &str| -> PathBuf {
        let first = dir.join(n);
        if !first.exists() {
            return first;
        }
        (1..).map(|k| dir.join(format!("{n}.{k}"))).find(|p| !p.exists()).unwrap_or(first)
    };
    let dest = free(&name);
    if let Some(e) = error {
        let note = dest.with_file_name(format!("{}.error.txt", dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
        if let Err(err) = std::fs::write(&note, format!("{e}\n")) {
            warn!("{}: {err}", note.display());
        }
    }
    let sidecar = input.with_extension("json");
    if input.is_file() && sidecar.is_file() {
        let sd = free(&sidecar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        if let Err(err) = std::fs::rename(&sidecar, &sd) {
            warn!("cannot move {}: {err}", sidecar.display());
        }
    }
    if let Err(err) = std::fs::rename(input, &dest) {
        warn!("cannot move {} to {}: {err}", input.display(), dest.display());
    }
}
