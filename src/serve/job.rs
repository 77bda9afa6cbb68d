//! One claimed job, end to end: process, write outputs atomically, then move the input.

use super::failure::{self, Failure};
use super::names::{self, output_base, with_suffix};
use super::{outcome, Shared};
use crate::config::ServeConfig;
use crate::decode::Deadline;
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
    info!(attempt = job.attempts, counted = job.counted, "started");
    let min = Duration::from_secs_f64(sh.cfg.serve.attempt_min_s);
    let result = std::thread::scope(|scope| {
        // The run counts against max_attempts once it has lasted `attempt_min_s`: a kill
        // before that (a restart loop, an operator's reflex) costs the job nothing. Dropping
        // `_done` when the job ends wakes this thread, which then counts nothing.
        let (_done, wait) = std::sync::mpsc::channel::<()>();
        scope.spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(min) {
                if let Err(e) = sh.store.confirm_attempt(job.id) {
                    warn!("cannot count the attempt: {e}");
                }
            }
        });
        match job.kind {
            JobKind::Video { ratio } => video_job(sh, job, ratio),
            JobKind::Index | JobKind::ContestFolder => batch_job(sh, job),
        }
    });
    sh.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&job.id);
    let ingest = &sh.cfg.serve.ingest_dir;
    match result {
        Ok(p) => {
            // Outputs are durable: record, then move (see `outcome`).
            if !outcome::record(sh, "the job as done", || sh.store.finish(job.id)) {
                return;
            }
            if outcome::move_input(ingest, &job.input, "done", None) {
                let _ = sh.store.mark_moved(job.id);
                sh.moved_out.lock().unwrap_or_else(|p| p.into_inner()).push(job.input.clone());
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
        Err(Failure::Transient(reason)) => {
            let wait = failure::backoff(job.deferrals, Duration::from_secs_f64(sh.cfg.serve.retry_max_s));
            warn!(retry_in_s = format!("{:.1}", wait.as_secs_f64()), "transient failure, the job stays queued: {reason}");
            if !outcome::record(sh, "the job as deferred", || sh.store.defer(job.id, &reason, wait)) {
                return;
            }
            sh.wake_workers();
        }
        Err(Failure::Permanent(reason)) => {
            let reason = outcome::non_empty(&reason).to_string();
            warn!("failed: {reason}");
            if !outcome::record(sh, "the job as failed", || sh.store.fail(job.id, &reason)) {
                return;
            }
            if outcome::move_input(ingest, &job.input, "failed", Some(&reason)) {
                let _ = sh.store.mark_moved(job.id);
                sh.moved_out.lock().unwrap_or_else(|p| p.into_inner()).push(job.input.clone());
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

fn video_job(sh: &Shared, job: &Job, ratio: AspectRatio) -> Result<Produced, Failure> {
    let cfg = &sh.cfg;
    let name = stem(&job.input);
    let mut fields = Map::new();
    fields.insert("video_id".into(), Value::String(name.clone()));
    fields.insert("video".into(), Value::String(job.input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
    fields.insert("targetRatioWH".into(), serde_json::to_value(ratio).unwrap_or(Value::Null));
    // Before anything opens it the way GStreamer does (blocking, following symlinks): a FIFO
    // or a symlink swapped in since the scan would hold this worker forever.
    open::open_regular(&job.input)?;
    let base = output_base(&cfg.serve.ingest_dir, &cfg.serve.output_dir, &job.input).map_err(Failure::Permanent)?;
    let (total, deadline) = probe_within_limit(&job.input, &cfg.serve).map_err(Failure::Permanent)?;
    let r = engine::process_video_within(&job.input, ratio, cfg, deadline, progress(sh, job, total, 0.0, 1.0))?;
    create_parent(&base)?;
    let preds_path = with_suffix(&base, names::PREDICTIONS);
    let meta_path = with_suffix(&base, names::CROP);
    metadata::write_json_atomic(&meta_path, &metadata::crop_metadata(&name, &job.input.display().to_string(), ratio, &r))?;
    let mut outputs = vec![preds_path.clone(), meta_path];
    if cfg.serve.render && !r.predictions.is_empty() {
        let short = with_suffix(&base, names::SHORT);
        crate::render::render(&job.input, ratio, &r.predictions, &short, &cfg.render)?;
        outputs.push(short);
    }
    // Last: its presence says the set is complete (`outcome::complete_outputs`).
    let mut lines = write::AtomicLines::create(&preds_path)?;
    lines.line(&write::output_line(&fields, &r.predictions))?;
    lines.commit()?;
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
fn batch_job(sh: &Shared, job: &Job) -> Result<Produced, Failure> {
    let cfg = &sh.cfg;
    let ingest_dir = &cfg.serve.ingest_dir;
    let max = cfg.serve.max_json_bytes;
    let rel = |p: &Path| p.strip_prefix(ingest_dir).map(|r| r.to_string_lossy().into_owned()).unwrap_or_else(|_| p.display().to_string());
    let entries = match job.kind {
        JobKind::Index => {
            let text = open::read_text_bounded(&job.input, max).map_err(|e| match Failure::from(e) {
                Failure::Transient(r) => Failure::Transient(format!("index {r}")),
                Failure::Permanent(r) => Failure::Permanent(format!("index {r}")),
            })?;
            let parent = job.input.parent().map(Path::to_path_buf).unwrap_or_default();
            ingest::read_index(&text, &job.input.display().to_string(), &parent)
        }
        _ => {
            for sub in ["", "jsonl", "video"] {
                let dir = job.input.join(sub);
                watch::confined(ingest_dir, &rel(&dir)).map_err(|e| Failure::Permanent(format!("{}: `{sub}` {e}", job.input.display())))?;
            }
            ingest::read_contest_with(&job.input, None, |p| open::read_text_bounded(p, max).map_err(|e| e.to_string())).map_err(|e| Failure::Permanent(e.to_string()))?
        }
    };
    for e in &entries {
        if let Ok(t) = &e.task {
            watch::confined(ingest_dir, &rel(&t.path)).map_err(|err| Failure::Permanent(format!("{}: {err}", e.origin)))?;
        }
    }
    let base = output_base(ingest_dir, &cfg.serve.output_dir, &job.input).map_err(Failure::Permanent)?;
    create_parent(&base)?;
    let meta_dir = with_suffix(&base, names::CROPS_DIR);
    std::fs::create_dir_all(&meta_dir).map_err(|e| Failure::Transient(format!("{}: {e}", meta_dir.display())))?;
    let preds_path = with_suffix(&base, names::PREDICTIONS);
    let mut lines = write::AtomicLines::create(&preds_path)?;
    let (mut frames, mut duration_s, mut highlight_s, mut shots) = (0u64, 0.0, 0.0, 0usize);
    let n = entries.len().max(1) as f64;
    for (k, e) in entries.iter().enumerate() {
        let task = e.task.as_ref().map_err(Clone::clone).and_then(|t| open::open_regular(&t.path).map(|_| t).map_err(|err| format!("{}: {err}", e.origin)));
        let preds = match task {
            Ok(t) => match probe_within_limit(&t.path, &cfg.serve).and_then(|(total, deadline)| {
                engine::process_video_within(&t.path, t.ratio, cfg, deadline, progress(sh, job, total, k as f64 / n, 1.0 / n)).map_err(|e| e.to_string())
            }) {
                Ok(r) => {
                    frames += r.info.frames;
                    duration_s += r.info.frames as f64 / r.info.fps.max(1e-9);
                    highlight_s += r.predictions.len() as f64 / r.info.fps.max(1e-9);
                    shots += r.shots.len();
                    let doc = metadata::crop_metadata(&t.video_id, &t.path.display().to_string(), t.ratio, &r);
                    metadata::write_json_atomic(&meta_dir.join(format!("{}.crop.json", metadata::file_name_for(&t.video_id))), &doc)?;
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
        lines.line(&write::output_line(&e.fields, &preds))?;
    }
    // Last: its presence says the set is complete (`outcome::complete_outputs`).
    lines.commit()?;
    Ok(Produced { outputs: vec![preds_path, meta_dir], frames, duration_s, highlight_s, shots })
}

/// The video's frame count estimate (for progress) and its decode deadline, after checking
/// its duration against `serve.max_duration_s` (0: no limit). The probe prerolls the file
/// with a 5 s deadline, so it cannot hold the worker; a duration it cannot read is not
/// refused here (the decode's stall timeout and deadline still bound it).
fn probe_within_limit(path: &Path, serve: &ServeConfig) -> Result<(Option<u64>, Option<Deadline>), String> {
    let max_s = serve.max_duration_s;
    let (fps, duration) = crate::decode::probe_stream(path).unwrap_or((None, None));
    let duration = duration.filter(|d| d.is_finite() && *d >= 0.0);
    if let Some(d) = duration.filter(|&d| max_s > 0.0 && d > max_s) {
        return Err(format!("{}: lasts {d:.0} s, longer than serve.max_duration_s = {max_s:.0} s", path.display()));
    }
    Ok((fps.zip(duration).map(|(f, d)| (f * d).round() as u64), decode_deadline(duration, serve)))
}

/// The whole-decode deadline: `decode_deadline_factor` × duration + `decode_deadline_floor_s`.
/// Proportional because a 4 h recording legitimately decodes for a long time and a 10 s clip
/// does not; the floor covers start-up and network loading. An unknown duration is taken as
/// `max_duration_s`, the longest the daemon accepts anyway. `None`: factor 0, or neither
/// duration nor `max_duration_s` known.
pub(super) fn decode_deadline(duration_s: Option<f64>, serve: &ServeConfig) -> Option<Deadline> {
    if serve.decode_deadline_factor <= 0.0 {
        return None;
    }
    let base = duration_s.or(Some(serve.max_duration_s).filter(|&m| m > 0.0))?;
    let secs = serve.decode_deadline_factor * base + serve.decode_deadline_floor_s;
    let limit = Duration::try_from_secs_f64(secs).ok()?;
    Some(Deadline { limit, from_duration_s: duration_s })
}

/// Creates the folder an output base lives in (`output/16x9/` for a ratio sub-folder's drop).
fn create_parent(base: &Path) -> Result<(), Failure> {
    match base.parent() {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| Failure::Transient(format!("{}: {e}", dir.display()))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decode_deadline_grows_with_the_duration_and_falls_back_on_the_longest_accepted() {
        let serve = ServeConfig::default();
        let d = decode_deadline(Some(60.0), &serve).expect("a deadline");
        assert_eq!(d.limit, Duration::from_secs(10 * 60 + 300));
        assert_eq!(d.from_duration_s, Some(60.0));
        let unknown = decode_deadline(None, &serve).expect("a deadline");
        assert_eq!(unknown.limit, Duration::from_secs_f64(10.0 * 4.0 * 3600.0 + 300.0));
        assert_eq!(unknown.from_duration_s, None);
        let off = ServeConfig { decode_deadline_factor: 0.0, ..ServeConfig::default() };
        assert_eq!(decode_deadline(Some(60.0), &off), None);
        let no_max = ServeConfig { max_duration_s: 0.0, ..ServeConfig::default() };
        assert_eq!(decode_deadline(None, &no_max), None);
    }
}
