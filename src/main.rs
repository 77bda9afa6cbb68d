//! The `highlightd` command line: the binary edge, where errors become messages and exit codes.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use highlightd::config::Config;
use highlightd::format::{AspectRatio, VideoMeta};
use highlightd::{bench, decode, engine, ingest, metric, render, report, validate, write};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tracing::{info, info_span, warn};

#[derive(Parser)]
#[command(name = "highlightd", version, about = "Turns raw videos into highlight shorts: picks the highlight frames and a crop window of the target ratio for each.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level filter (also RUST_LOG), e.g. `info`, `debug`, `highlightd=debug`.
    #[arg(long, global = true, default_value = "info")]
    log: String,
}

#[derive(Subcommand)]
enum Command {
    /// Predict highlight frames and crop windows for every video of an index or contest folder.
    Predict(PredictArgs),
    /// Score predictions against ground truth with the contest metric.
    Eval(EvalArgs),
    /// Check every rule of the output format against the real videos.
    Validate(ValidateArgs),
    /// Throughput of `predict` on one video next to the decode-only speed of the same file.
    Bench(BenchArgs),
    /// Render the highlight short (MP4, H.264 + AAC) of one video, from its prediction line or
    /// straight from the video and a ratio.
    Render(RenderArgs),
    /// Write one self-contained HTML page showing, per video, the highlight probability, the
    /// selected frames, shot cuts, thumbnails with crop windows, the metric (with --gt) and the
    /// rendered short (with --shorts).
    Report(ReportArgs),
    /// Run the appliance: watch the ingest folder and process every dropped video, index or
    /// contest folder (see `[serve]` and `[mqtt]` in the configuration).
    Serve {
        /// Configuration file (default: built-in defaults; HIGHLIGHTD__… variables apply).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// What this machine will use, checked for real: GStreamer and its hardware decoders and
    /// encoder, ONNX Runtime and its providers, each model's file, checksum and the provider
    /// it runs on. Exit 0 when nothing failed, 1 otherwise.
    Doctor {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The neural networks.
    #[command(subcommand)]
    Engines(EnginesCommand),
    /// Decide again from the feature dumps of an earlier `predict --dump-features`, without
    /// decoding: selection and framing with this configuration (and scorer), same output as
    /// `predict`. For cross-validation and for trying settings in seconds.
    Replay(ReplayArgs),
}

#[derive(Args)]
struct ReplayArgs {
    /// The index JSONL or contest folder the dumps were made from (ids and output fields).
    input: PathBuf,
    /// The folder `predict --dump-features` wrote.
    #[arg(long, value_name = "DIR")]
    features: PathBuf,
    /// Where to write the predictions.
    #[arg(short, long)]
    output: PathBuf,
    #[arg(long)]
    config: Option<PathBuf>,
    /// An ONNX scorer file to use instead of the manifest's (a cross-validation fold's).
    #[arg(long)]
    scorer: Option<PathBuf>,
    /// Use no scorer: the rules decide.
    #[arg(long, conflicts_with = "scorer")]
    no_scorer: bool,
    /// Give a window for every frame, not only the selected ones: measures framing alone.
    #[arg(long)]
    all_frames: bool,
    /// Also write each video's dump again, with the new decisions.
    #[arg(long, value_name = "DIR")]
    dump_features: Option<PathBuf>,
}

#[derive(Subcommand)]
enum EnginesCommand {
    /// Build the TensorRT engine of every model into [engines] tensorrt_cache, so the first
    /// video is not slow. Without TensorRT it says so and exits 1.
    Build {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a configuration file (and the HIGHLIGHTD__… environment overrides): exit 0 and
    /// `ok`, or exit 2 with the key, line and what is allowed.
    Check {
        file: PathBuf,
        /// Also print the effective configuration, every key, as TOML.
        #[arg(long)]
        show: bool,
    },
}

#[derive(Args)]
struct ReportArgs {
    /// The index JSONL or contest folder the predictions were made from.
    input: PathBuf,
    /// Predictions JSONL to show; videos of INPUT without a line in it are left out.
    #[arg(long)]
    predictions: PathBuf,
    /// Ground truth JSONL: adds the ground-truth band and windows and the per-video metric.
    #[arg(long)]
    gt: Option<PathBuf>,
    /// Folder of rendered shorts named <video_id>.mp4, embedded in the page (up to 50 MB each).
    #[arg(long, value_name = "DIR")]
    shorts: Option<PathBuf>,
    /// Folder the index's video file names are relative to (as for `predict`).
    #[arg(long)]
    videos: Option<PathBuf>,
    /// Configuration file (TOML), as for `predict`: the analysis is re-run with it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write the HTML page.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args)]
struct RenderArgs {
    /// The source video.
    video: PathBuf,
    /// Where to write the MP4.
    #[arg(short, long)]
    output: PathBuf,
    /// A predictions JSONL holding this video's line (see --video-id); without it the video is
    /// analysed first.
    #[arg(long, requires = "video_id")]
    predictions: Option<PathBuf>,
    /// Which line of --predictions to render.
    #[arg(long)]
    video_id: Option<String>,
    /// Target ratio W:H, when rendering straight from the video.
    #[arg(long, default_value = "9:16")]
    ratio: String,
    #[arg(long)]
    config: Option<PathBuf>,
    /// Cross-fade between segments, seconds (overrides the configuration; 0 = hard cuts).
    #[arg(long)]
    crossfade: Option<f64>,
}

#[derive(Args)]
struct PredictArgs {
    /// An index JSONL file (one video per line) or a contest-layout folder (jsonl/ + video/).
    input: PathBuf,
    /// Where to write the predictions (JSONL, one line per input video, in input order).
    #[arg(short, long)]
    output: PathBuf,
    /// Folder the index's video file names are relative to (default: the index's folder;
    /// for a contest folder: its video/).
    #[arg(long)]
    videos: Option<PathBuf>,
    /// Configuration file (TOML); see configs/highlightd.toml for every key.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Videos processed in parallel; results do not depend on it.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Also write per-frame features and evidence of each video as <DIR>/<video_id>.jsonl.
    #[arg(long, value_name = "DIR")]
    dump_features: Option<PathBuf>,
    /// Also write each video's crop metadata (source, shots and camera modes, segments and
    /// scores, every crop, timings) as <DIR>/<video_id>.crop.json.
    #[arg(long, value_name = "DIR")]
    metadata_dir: Option<PathBuf>,
}

#[derive(Args)]
struct EvalArgs {
    /// Predictions JSONL.
    predictions: PathBuf,
    /// Ground truth JSONL (same format as predictions).
    #[arg(long)]
    gt: PathBuf,
    /// Folder of the videos, to read frame counts and sizes from the files themselves.
    #[arg(long, conflicts_with = "meta", required_unless_present = "meta")]
    videos: Option<PathBuf>,
    /// JSONL of {"video_id", "width", "height", "frames"} per video.
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Print the per-video table.
    #[arg(long)]
    per_video: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ValidateArgs {
    /// Predictions JSONL.
    predictions: PathBuf,
    /// The input they were made from (index JSONL or contest folder).
    input: PathBuf,
    #[arg(long)]
    videos: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// A video file.
    video: PathBuf,
    /// Target ratio W:H.
    #[arg(long, default_value = "9:16")]
    ratio: String,
    #[arg(long)]
    config: Option<PathBuf>,
    /// Runs of each pass; the best is reported.
    #[arg(long, default_value_t = 2)]
    repeat: u32,
    #[arg(long)]
    json: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut filter = std::env::var("RUST_LOG").unwrap_or_else(|_| cli.log.clone());
    // ONNX Runtime reports every graph rewrite at info level through `ort`: keep those for
    // when they are asked for by name.
    if !filter.contains("ort") {
        filter.push_str(",ort=warn");
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Under systemd (stderr connected to the journal) the daemon logs structured records to
    // journald; everywhere else, plain lines on stderr.
    let journald = (matches!(cli.command, Command::Serve { .. }) && std::env::var_os("JOURNAL_STREAM").is_some())
        .then(|| tracing_journald::layer().ok())
        .flatten();
    let plain = journald.is_none().then(|| {
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal()).with_target(false)
    });
    {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry().with(filter).with(journald).with(plain).init();
    }
    let res = match cli.command {
        Command::Predict(a) => predict(a),
        Command::Replay(a) => replay(a),
        Command::Eval(a) => eval(a),
        Command::Validate(a) => validate_cmd(a),
        Command::Bench(a) => bench_cmd(a),
        Command::Render(a) => render_cmd(a),
        Command::Report(a) => report_cmd(a),
        Command::Config(ConfigCommand::Check { file, show }) => config_check(&file, show),
        Command::Serve { config } => serve_cmd(config.as_deref()),
        Command::Doctor { config } => doctor_cmd(config.as_deref()),
        Command::Engines(EnginesCommand::Build { config }) => engines_build(config.as_deref()),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The configuration file (or the defaults) with `HIGHLIGHTD__…` environment overrides.
fn load_config(path: Option<&Path>) -> Result<Config> {
    let cfg = Config::load_with_env(path, std::env::vars())?;
    decode::hardware::apply(cfg.decode.force_software).context("cannot initialise GStreamer")?;
    Ok(cfg)
}

fn predict(a: PredictArgs) -> Result<std::process::ExitCode> {
    let cfg = load_config(a.config.as_deref())?;
    let _job = info_span!("job", input = %a.input.display()).entered();
    let entries = ingest::read_input(&a.input, a.videos.as_deref())?;
    for d in [&a.dump_features, &a.metadata_dir].into_iter().flatten() {
        std::fs::create_dir_all(d).with_context(|| format!("{}: cannot create", d.display()))?;
    }
    let mut out = write::AtomicLines::create(&a.output)?;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(entries.len() as u64);
        b.set_style(ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} videos {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        b
    } else {
        ProgressBar::hidden()
    };
    let results: Mutex<Vec<Option<String>>> = Mutex::new(vec![None; entries.len()]);
    let next = AtomicUsize::new(0);
    let written = Mutex::new((0usize, &mut out, 0usize, 0usize));
    let jobs = a.jobs.clamp(1, 64);
    let write_err: Mutex<Option<write::WriteError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(entry) = entries.get(i) else { break };
                let (line, ok) = run_entry(entry, &cfg, a.dump_features.as_deref(), a.metadata_dir.as_deref(), &bar);
                bar.inc(1);
                let mut res = results.lock().unwrap_or_else(|p| p.into_inner());
                res[i] = Some(line);
                // Write every finished line that is next in input order.
                let mut w = written.lock().unwrap_or_else(|p| p.into_inner());
                if ok { w.2 += 1 } else { w.3 += 1 }
                while w.0 < res.len() {
                    let Some(l) = res[w.0].take() else { break };
                    if let Err(e) = w.1.line(&l) {
                        write_err.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                    }
                    w.0 += 1;
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = write_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e.into());
    }
    let (_, _, ok, failed) = *written.lock().unwrap_or_else(|p| p.into_inner());
    out.commit()?;
    info!(videos = entries.len(), ok, failed, output = %a.output.display(), "predictions written");
    announce(&a.output);
    Ok(std::process::ExitCode::SUCCESS)
}

/// Processes one entry; returns its output line and whether it was processed.
fn run_entry(entry: &ingest::Entry, cfg: &Config, dump: Option<&Path>, metadata: Option<&Path>, bar: &ProgressBar) -> (String, bool) {
    let id = entry.video_id().unwrap_or("?").to_string();
    let _span = info_span!("video", id = %id).entered();
    let task = match &entry.task {
        Ok(t) => t,
        Err(e) => {
            warn!("skipped: {e}");
            return (write::output_line(&entry.fields, &[]), false);
        }
    };
    bar.set_message(id.clone());
    match engine::process_video(&task.path, task.ratio, cfg, |_| {}) {
        Ok(r) => {
            info!(
                frames = r.info.frames,
                selected = r.predictions.len(),
                shots = r.shots.len(),
                fps = format!("{:.0}", r.info.frames as f64 / r.seconds.max(1e-9)),
                "done"
            );
            if let Some(d) = dump {
                if let Err(e) = write::features::write_dump(d, &write::features::DumpInput::of(&id, task.ratio, &r)) {
                    warn!("cannot write features: {e}");
                }
            }
            if let Some(d) = metadata {
                let doc = write::metadata::crop_metadata(&id, &task.path.display().to_string(), task.ratio, &r);
                if let Err(e) = write::metadata::write_json_atomic(&d.join(format!("{}.crop.json", write::metadata::file_name_for(&id))), &doc) {
                    warn!("cannot write crop metadata: {e}");
                }
            }
            (write::output_line(&entry.fields, &r.predictions), true)
        }
        Err(e) => {
            warn!("failed, empty prediction list: {e}");
            (write::output_line(&entry.fields, &[]), false)
        }
    }
}

fn replay(a: ReplayArgs) -> Result<std::process::ExitCode> {
    let cfg = Config::load_with_env(a.config.as_deref(), std::env::vars())?;
    let entries = ingest::read_input(&a.input, None)?;
    let mut scorer = if a.no_scorer || !cfg.engines.enabled || !cfg.engines.models.contains(&highlightd::infer::Task::Scorer) {
        None
    } else {
        let rt = highlightd::infer::Runtime::open(&cfg.engines.options())?;
        Some(match &a.scorer {
            Some(file) => rt.load_file("scorer", file)?,
            None => rt.load(highlightd::infer::Task::Scorer)?,
        })
    };
    if let Some(d) = &a.dump_features {
        std::fs::create_dir_all(d).with_context(|| format!("{}: cannot create", d.display()))?;
    }
    let mut out = write::AtomicLines::create(&a.output)?;
    let (mut ok, mut failed) = (0usize, 0usize);
    for entry in &entries {
        let id = entry.video_id().unwrap_or("?").to_string();
        let preds = match replay_one(&a, &cfg, &id, scorer.as_mut()) {
            Ok(p) => {
                ok += 1;
                p
            }
            Err(e) => {
                warn!("{id}: empty prediction list: {e:#}");
                failed += 1;
                Vec::new()
            }
        };
        out.line(&write::output_line(&entry.fields, &preds))?;
    }
    out.commit()?;
    info!(videos = entries.len(), ok, failed, output = %a.output.display(), "replayed predictions written");
    announce(&a.output);
    Ok(std::process::ExitCode::SUCCESS)
}

fn replay_one(a: &ReplayArgs, cfg: &Config, id: &str, scorer: Option<&mut highlightd::infer::OrtModel>) -> Result<Vec<highlightd::format::Prediction>> {
    let dump = write::features::read_dump(&write::features::dump_path(&a.features, id))?;
    let h = &dump.header;
    let ratio = AspectRatio::new(h.ratio[0], h.ratio[1]).with_context(|| format!("{id}: bad targetRatioWH in the dump"))?;
    let canvas = highlightd::frame::Canvas { width: h.width, height: h.height, fps: h.fps, ratio };
    let shots = dump.shots();
    let scorer = scorer.map(|s| s as &mut dyn highlightd::infer::Model);
    let mut d = engine::decide(&dump.features, &shots, &canvas, cfg, scorer);
    if let Some(dir) = &a.dump_features {
        let input = write::features::DumpInput { video_id: id, ratio, width: h.width, height: h.height, fps: h.fps, features: &dump.features, shots: &shots, selection: &d.selection };
        write::features::write_dump(dir, &input)?;
    }
    if a.all_frames {
        let all: Vec<usize> = (0..dump.features.len()).collect();
        d.predictions = highlightd::frame::frame_video(&dump.features, &shots, &all, &canvas, &cfg.framing).0;
    }
    Ok(d.predictions)
}

fn eval(a: EvalArgs) -> Result<std::process::ExitCode> {
    let meta = match (&a.meta, &a.videos) {
        (Some(m), _) => metric::load_meta(m)?,
        (None, Some(dir)) => meta_from_videos(&a.gt, dir)?,
        (None, None) => bail!("give --videos DIR or --meta META.jsonl"),
    };
    let report = metric::evaluate(&a.predictions, &a.gt, &meta)?;
    if a.json {
        println!("{}", metric::render_json(&report));
    } else {
        print!("{}", metric::render_plain(&report, a.per_video));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Frame counts and sizes read from the videos themselves (`<dir>/<id>.<ext>` or
/// `<dir>/video/<id>.<ext>`).
fn meta_from_videos(gt: &Path, dir: &Path) -> Result<HashMap<String, VideoMeta>> {
    let text = std::fs::read_to_string(gt).with_context(|| format!("{}: cannot read", gt.display()))?;
    let mut out = HashMap::new();
    let opts = decode::DecodeOptions::default();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("{} line {}: not valid JSON", gt.display(), i + 1))?;
        let id = v.get("video_id").and_then(|x| x.as_str()).with_context(|| format!("{} line {}: no `video_id`", gt.display(), i + 1))?;
        let path = ingest::find_video(dir, id)
            .or_else(|| ingest::find_video(&dir.join("video"), id))
            .with_context(|| format!("no video file for `{id}` in {}", dir.display()))?;
        let info = decode::decode_only(&path, &opts)?;
        out.insert(id.to_string(), VideoMeta { width: info.width, height: info.height, frames: info.frames });
    }
    Ok(out)
}

fn validate_cmd(a: ValidateArgs) -> Result<std::process::ExitCode> {
    let entries = ingest::read_input(&a.input, a.videos.as_deref())?;
    let v = validate::validate(&a.predictions, &entries, &decode::DecodeOptions::default())
        .with_context(|| format!("{}: cannot read", a.predictions.display()))?;
    for x in &v {
        println!("{}: {x}", a.predictions.display());
    }
    if v.is_empty() {
        println!("{}: valid ({} videos)", a.predictions.display(), entries.len());
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        println!("{} violations", v.len());
        Ok(std::process::ExitCode::from(1))
    }
}

fn parse_ratio(s: &str) -> Result<AspectRatio> {
    AspectRatio::parse_text(s).with_context(|| format!("ratio `{s}`: expected W:H with two positive integers, such as 9:16"))
}

fn bench_cmd(a: BenchArgs) -> Result<std::process::ExitCode> {
    let cfg = load_config(a.config.as_deref())?;
    let ratio = parse_ratio(&a.ratio)?;
    let r = bench::run(&a.video, ratio, &cfg, a.repeat)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("file            {} ({}x{}, {} frames, {:.2} fps)", r.file, r.width, r.height, r.frames, r.fps_nominal);
        println!("decoder         {}", r.decoder.as_deref().unwrap_or("?"));
        println!("decode-only     {:.1} frames/s", r.decode_only_fps);
        println!("predict         {:.1} frames/s", r.predict_fps);
        println!("predict/decode  {:.2}x", r.ratio);
        println!("real time       {:.2}x", r.realtime);
        println!("networks        {} frames analysed, {} audio patches", r.network_frames, r.audio_patches);
        println!("time            predict {:.1} s, {:.1} s of it in the image networks ({:.0} %)", r.predict_seconds, r.network_seconds, 100.0 * r.network_seconds / r.predict_seconds.max(1e-9));
        if let Some(c) = r.predict_cores {
            println!("cores busy      {c:.2} (processor time / wall time of predict)");
        }
        if let Some(m) = r.peak_rss_mib {
            println!("peak memory     {m:.0} MiB");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The prediction line of `video_id` in a predictions file: its ratio and predictions.
fn prediction_line(path: &Path, video_id: &str) -> Result<(AspectRatio, Vec<highlightd::format::Prediction>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("{} line {}: not valid JSON", path.display(), i + 1))?;
        if v.get("video_id").and_then(|x| x.as_str()) != Some(video_id) {
            continue;
        }
        let at = |field: &str| format!("{} line {}: `{field}`", path.display(), i + 1);
        let ratio = v.get("targetRatioWH").with_context(|| format!("{} missing", at("targetRatioWH")))?;
        let ratio = AspectRatio::from_json(ratio).map_err(|e| anyhow::anyhow!("{} {e}", at("targetRatioWH")))?;
        let preds = v.get("predictions").and_then(|p| p.as_array()).with_context(|| format!("{} missing or not an array", at("predictions")))?;
        let preds = preds
            .iter()
            .enumerate()
            .map(|(j, p)| highlightd::format::parse_prediction(p).map_err(|e| anyhow::anyhow!("{}[{j}]: {e}", at("predictions"))))
            .collect::<Result<Vec<_>>>()?;
        return Ok((ratio, preds));
    }
    bail!("{}: no line with video_id `{video_id}`", path.display())
}

fn render_cmd(a: RenderArgs) -> Result<std::process::ExitCode> {
    let cfg = load_config(a.config.as_deref())?;
    let _span = info_span!("render", video = %a.video.display()).entered();
    let (ratio, preds) = match (&a.predictions, &a.video_id) {
        (Some(p), Some(id)) => prediction_line(p, id)?,
        _ => {
            let ratio = parse_ratio(&a.ratio)?;
            let r = engine::process_video(&a.video, ratio, &cfg, |_| {})?;
            (ratio, r.predictions)
        }
    };
    let mut opts = cfg.render.clone();
    if let Some(c) = a.crossfade {
        opts.crossfade_s = c.clamp(0.0, 5.0);
    }
    let stats = render::render(&a.video, ratio, &preds, &a.output, &opts)?;
    info!(frames = stats.frames, width = stats.width, height = stats.height, encoder = %stats.encoder, audio = stats.audio, seconds = format!("{:.2}", stats.seconds), "rendered");
    announce(&a.output);
    Ok(std::process::ExitCode::SUCCESS)
}

/// Prints where the result was written, for scripts. Not when it went into a device or pipe
/// (`-o /dev/stdout`): there the data itself is on standard output, and a path after it would
/// be one more line of it.
fn announce(output: &Path) {
    if let write::Destination::Replace(_) = write::Destination::of(output) {
        println!("{}", output.display());
    }
}

fn report_cmd(a: ReportArgs) -> Result<std::process::ExitCode> {
    let cfg = load_config(a.config.as_deref())?;
    let _span = info_span!("report", input = %a.input.display()).entered();
    let entries = ingest::read_input(&a.input, a.videos.as_deref())?;
    let mut opts = report::ReportOptions::new(a.predictions);
    opts.gt = a.gt;
    opts.shorts = a.shorts;
    let r = report::run(&a.input, &entries, &opts, &cfg, &a.output)?;
    let failed = r.sections.iter().filter(|s| s.analysis.is_err()).count();
    let score = r.score().map(|(s, _)| format!("{s:.2}"));
    info!(videos = r.sections.len(), failed, score, output = %a.output.display(), "report written");
    announce(&a.output);
    Ok(std::process::ExitCode::SUCCESS)
}

fn config_check(file: &Path, show: bool) -> Result<std::process::ExitCode> {
    let cfg = Config::load_with_env(Some(file), std::env::vars())?;
    if show {
        print!("{}", toml::to_string(&cfg).context("cannot print the configuration")?);
    }
    println!("{}: ok", file.display());
    Ok(std::process::ExitCode::SUCCESS)
}

fn doctor_cmd(config: Option<&Path>) -> Result<std::process::ExitCode> {
    let cfg = Config::load_with_env(config, std::env::vars())?;
    let (text, ok) = highlightd::doctor::render(&highlightd::doctor::run(&cfg));
    print!("{text}");
    Ok(if ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
}

fn engines_build(config: Option<&Path>) -> Result<std::process::ExitCode> {
    let cfg = Config::load_with_env(config, std::env::vars())?;
    let rt = highlightd::infer::Runtime::open(&cfg.engines.options())?;
    let cache = &cfg.engines.tensorrt_cache;
    if rt.plan.try_order.contains(&highlightd::infer::Provider::TensorRt) {
        std::fs::create_dir_all(cache).with_context(|| format!("{}: cannot create the TensorRT cache", cache.display()))?;
    }
    let outcome = highlightd::infer::prebuild::prebuild(&rt, &cfg.engines.models);
    print!("{}", outcome.render());
    Ok(if outcome.succeeded() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
}

fn serve_cmd(config: Option<&Path>) -> Result<std::process::ExitCode> {
    let cfg = load_config(config)?;
    let euid_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().nth(1)).map(|v| v == "0"))
        .unwrap_or(false);
    if euid_root {
        warn!("running as root: the systemd unit runs highlightd as its own unprivileged user");
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install the signal handlers")?;
    }
    highlightd::serve::run(cfg, stop)?;
    Ok(std::process::ExitCode::SUCCESS)
}
