//! The configuration file (TOML). Every section and key is optional; unknown keys are an
//! error naming the key and its line, so a typo never silently falls back to a default.
//!
//! Any key can be overridden from the environment as `HIGHLIGHTD__<SECTION>__<KEY>` (double
//! underscores between levels, any case), e.g. `HIGHLIGHTD__SERVE__MAX_JOBS=2` or
//! `HIGHLIGHTD__SELECT__EVIDENCE__BLACK_LUMA=16`: what a systemd drop-in or a container sets.

use crate::analyse::shots::ShotParams;
use crate::frame::path::PathParams;
use crate::infer::{EngineOptions, Precision, Provider, Task};
use crate::render::RenderOptions;
use crate::select::SelectParams;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: `{key}` {message}")]
    Value { path: PathBuf, key: &'static str, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{path}: {source}")]
    Camera { path: PathBuf, source: crate::camera::CameraConfigError },
}

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "HIGHLIGHTD__";

/// The appliance: folders, concurrency and what each job produces.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Folder watched for dropped videos, sidecars, indexes and contest folders.
    pub ingest_dir: PathBuf,
    /// Folder the predictions and crop metadata of each job are written to.
    pub output_dir: PathBuf,
    /// Folder of the job store and other state that must survive restarts.
    pub state_dir: PathBuf,
    /// Target ratio for a video with neither a sidecar nor a ratio sub-folder.
    pub default_ratio: [u32; 2],
    /// Jobs processed at once.
    pub max_jobs: usize,
    /// A dropped file is picked up once its size and mtime have not changed for this long.
    pub stable_s: f64,
    /// How often the ingest folder is rescanned besides file-system events, seconds.
    pub scan_interval_s: f64,
    /// Runs a job is given before it is failed for good (a video that crashes the daemon).
    pub max_attempts: u32,
    /// Render each job's short next to its predictions.
    pub render: bool,
    /// Largest index or sidecar JSON accepted, bytes.
    pub max_json_bytes: u64,
    /// On SIGTERM, how long running jobs may take to finish before the daemon exits anyway
    /// (they are queued again at the next start), seconds. Keep below systemd's stop timeout.
    pub stop_grace_s: f64,
    /// A run counts against `max_attempts` only once it has lasted this long (or failed), so
    /// a daemon killed right after claiming a job does not use up the job's attempts, seconds.
    pub attempt_min_s: f64,
    /// Longest back-off between two tries of a job that failed for a transient reason (a full
    /// output disk, an I/O error, networks that did not load), seconds. The back-off starts at
    /// 2 s (or this, if smaller) and doubles per try; such a job is never failed for good.
    pub retry_max_s: f64,
    /// Longest video accepted, seconds (from the container, read before decoding): a longer
    /// one is refused with the reason instead of holding a worker for hours. 0: no limit.
    pub max_duration_s: f64,
    /// Whole-decode deadline of a job, as a multiple of the video's probed duration (plus
    /// `decode_deadline_floor_s`): the stall timeout only catches a decode that stops, this
    /// one a decode that never ends. A video of unknown duration is given `max_duration_s`
    /// (no deadline when that is 0 too). 0: no deadline.
    pub decode_deadline_factor: f64,
    /// Fixed part of the decode deadline, seconds: start-up, network loading, short videos.
    pub decode_deadline_floor_s: f64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            ingest_dir: PathBuf::from("/var/lib/highlightd/ingest"),
            output_dir: PathBuf::from("/var/lib/highlightd/output"),
            state_dir: PathBuf::from("/var/lib/highlightd/state"),
            default_ratio: [9, 16],
            max_jobs: 1,
            stable_s: 2.0,
            scan_interval_s: 2.0,
            max_attempts: 3,
            render: false,
            max_json_bytes: 1 << 20,
            stop_grace_s: 20.0,
            attempt_min_s: 10.0,
            retry_max_s: 300.0,
            max_duration_s: 4.0 * 3600.0,
            decode_deadline_factor: 10.0,
            decode_deadline_floor_s: 300.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    /// Long side of the analysis picture, pixels.
    pub analysis_side: u32,
    /// Never use hardware decoders.
    pub force_software: bool,
    /// Read the audio track.
    pub audio: bool,
    /// Give up on a file that produces nothing for this long, seconds.
    pub stall_timeout_s: u64,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self { analysis_side: 192, force_software: false, audio: true, stall_timeout_s: 60 }
    }
}

/// The neural networks: where they are, what runs them, how often.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnginesConfig {
    /// Use the networks at all; off, the classical pipeline decides alone.
    pub enabled: bool,
    /// Fail a video when the networks cannot be loaded, instead of falling back to the
    /// classical pipeline with a warning.
    pub required: bool,
    /// Which networks to use.
    pub models: Vec<Task>,
    /// Engines folder (manifest.json, models/); empty: ./engines, the checkout, then
    /// /usr/share/highlightd/engines.
    pub dir: PathBuf,
    /// The ONNX Runtime library; empty: $ORT_DYLIB_PATH, <engines>/lib/<arch>/, then
    /// /usr/lib/highlightd/libonnxruntime.so, then the loader's search path.
    pub onnxruntime: PathBuf,
    /// Execution providers in order of preference; the CPU is always tried last.
    pub providers: Vec<Provider>,
    /// Where TensorRT caches the engines it builds (once per device and model).
    pub tensorrt_cache: PathBuf,
    /// Threads per network; 0: ONNX Runtime's choice (one per core).
    pub threads: usize,
    /// `auto` (int8 on TensorRT, the manifest's measured choice on the CPU), `fp32` or `int8`.
    pub precision: String,
    /// Frames analysed by the networks per second of video; results are interpolated
    /// between them (AutoFlip samples at a similar rate).
    pub sample_fps: f64,
    /// Long side of the picture handed to the networks, pixels.
    pub detail_side: u32,
    /// The video-saliency network runs at most this often, per second of video (it costs
    /// the most of the image networks).
    pub saliency_fps: f64,
    /// The text detector runs at most this often: text on screen changes slowly.
    pub text_fps: f64,
}

impl Default for EnginesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            required: false,
            models: Task::ALL.to_vec(),
            dir: PathBuf::new(),
            onnxruntime: PathBuf::new(),
            providers: vec![Provider::TensorRt, Provider::Cuda, Provider::Cpu],
            tensorrt_cache: PathBuf::from("/var/cache/highlightd/tensorrt"),
            threads: 0,
            precision: "auto".into(),
            sample_fps: 5.0,
            detail_side: 640,
            saliency_fps: 2.5,
            text_fps: 0.5,
        }
    }
}

impl EnginesConfig {
    /// What [`crate::infer::Runtime::open`] needs.
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            dir: self.dir.clone(),
            onnxruntime: self.onnxruntime.clone(),
            providers: self.providers.clone(),
            tensorrt_cache: self.tensorrt_cache.clone(),
            threads: self.threads,
            precision: match self.precision.as_str() {
                "fp32" => Some(Precision::Fp32),
                "int8" => Some(Precision::Int8),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub decode: DecodeConfig,
    pub engines: EnginesConfig,
    pub subjects: crate::analyse::subjects::SubjectParams,
    pub shots: ShotParams,
    pub select: SelectParams,
    pub framing: PathParams,
    pub render: RenderOptions,
    pub serve: ServeConfig,
    pub mqtt: crate::status::MqttConfig,
    /// Live sources of `highlightd serve` (`[[cameras]]` entries); none by default.
    pub cameras: Vec<crate::camera::CameraConfig>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// The file (or the defaults, without one) with the `HIGHLIGHTD__…` variables of `env`
    /// applied on top.
    pub fn load_with_env(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let shown = path.map_or_else(|| PathBuf::from("(defaults)"), Path::to_path_buf);
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.into(), source })?,
            None => String::new(),
        };
        // Parse the file alone first, so its errors carry line numbers.
        let base = Self::parse(&text, &shown)?;
        let overrides: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.to_ascii_uppercase().starts_with(ENV_PREFIX)).collect();
        if overrides.is_empty() {
            return Ok(base);
        }
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse { path: shown.clone(), message: e.to_string() })?;
        for (var, value) in &overrides {
            apply_env(&mut table, var, value)?;
        }
        let cfg = Config::deserialize(table).map_err(|e| ConfigError::Env {
            var: overrides.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", "),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.check(&shown)?;
        cfg.check_cameras(&shown, Some(&text))?;
        Ok(cfg)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string().trim_end().to_string() })?;
        cfg.check(path)?;
        cfg.check_cameras(path, Some(text))?;
        Ok(cfg)
    }

    /// The `[[cameras]]` entries; `text` (the file) lets errors name the line.
    fn check_cameras(&self, path: &Path, text: Option<&str>) -> Result<(), ConfigError> {
        crate::camera::check_all(&self.cameras, text).map_err(|source| ConfigError::Camera { path: path.into(), source })
    }

    /// Range checks serde cannot express.
    pub fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: &str| Err(ConfigError::Value { path: path.into(), key, message: message.into() });
        if !(32..=1024).contains(&self.decode.analysis_side) {
            return bad("decode.analysis_side", "must be between 32 and 1024");
        }
        if self.decode.stall_timeout_s == 0 {
            return bad("decode.stall_timeout_s", "must be at least 1");
        }
        let e = &self.engines;
        if !["auto", "fp32", "int8"].contains(&e.precision.as_str()) {
            return bad("engines.precision", "must be auto, fp32 or int8");
        }
        if !(e.sample_fps > 0.0 && e.sample_fps <= 120.0) {
            return bad("engines.sample_fps", "must be above 0 and at most 120");
        }
        if !(e.saliency_fps > 0.0 && e.text_fps > 0.0) {
            return bad("engines.saliency_fps / engines.text_fps", "must be above 0");
        }
        if !(64..=4096).contains(&e.detail_side) {
            return bad("engines.detail_side", "must be between 64 and 4096");
        }
        if e.threads > 256 {
            return bad("engines.threads", "must be at most 256");
        }
        if !(0.0..=1.0).contains(&self.shots.cut_distance) {
            return bad("shots.cut_distance", "must be between 0 and 1");
        }
        let s = &self.select;
        for (key, v) in [("select.smooth_s", s.smooth_s), ("select.min_segment_s", s.min_segment_s), ("select.max_gap_s", s.max_gap_s), ("framing.smoothing_s", self.framing.smoothing_s), ("select.evidence.noise_window_s", s.evidence.noise_window_s)] {
            if !(0.0..=60.0).contains(&v) {
                return bad(key, "must be between 0 and 60 seconds");
            }
        }
        if !(0.0..=1.0).contains(&s.whole_shot_share) || !(0.0..=1.0).contains(&s.action_weight) {
            return bad("select.whole_shot_share / select.action_weight", "must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&s.activity_ratio) {
            return bad("select.activity_ratio", "must be between 0 (off) and 1");
        }
        if !(0.0..=10.0).contains(&s.active_speed) {
            return bad("select.active_speed", "must be between 0 (no cap) and 10 picture diagonals per second");
        }
        if !(0.05..=10.0).contains(&s.evidence.noise_decorrelation) {
            return bad("select.evidence.noise_decorrelation", "must be between 0.05 and 10 (above 2 the noise detector is off: a decorrelation never exceeds 2)");
        }
        if !(0.5..=2.0).contains(&s.evidence.drawn_flat_share) {
            return bad("select.evidence.drawn_flat_share", "must be between 0.5 and 2 (above 1 the drawn-picture detector is off: a share never exceeds 1)");
        }
        if !(0.0..=8.0).contains(&s.evidence.still_residual) {
            return bad("select.evidence.still_residual", "must be between 0 (the moved-still detector off) and 8 pixels");
        }
        if !(0.0..=1.0).contains(&s.evidence.edgeless_sparsity) {
            return bad("select.evidence.edgeless_sparsity", "must be between 0 (the edgeless detector off) and 1 (a share of the detail)");
        }
        if !(0.1..=100.0).contains(&s.evidence.edgeless_sharpness) {
            return bad("select.evidence.edgeless_sharpness", "must be between 0.1 and 100 grey levels");
        }
        if !(0.0..=10.0).contains(&s.scene_distance) {
            return bad("select.scene_distance", "must be between 0 (off) and 10");
        }
        if !(0.0..=1.0).contains(&s.footage_floor) {
            return bad("select.footage_floor", "must be between 0 (off) and 1");
        }
        let cue_weights = s.action_weight + s.subject_weight + s.excitement_weight + s.speech_weight;
        if [s.subject_weight, s.excitement_weight, s.speech_weight].iter().any(|w| !(0.0..=1.0).contains(w)) || cue_weights > 1.0 {
            return bad("select.*_weight", "each must be between 0 and 1, and together at most 1");
        }
        let r = &self.render;
        if !(64..=8192).contains(&r.long_side) {
            return bad("render.long_side", "must be between 64 and 8192");
        }
        if !(r.max_upscale >= 1.0 && r.max_upscale <= 8.0) {
            return bad("render.max_upscale", "must be between 1 and 8");
        }
        if !(0.0..=5.0).contains(&r.crossfade_s) {
            return bad("render.crossfade_s", "must be between 0 and 5 seconds");
        }
        const PRESETS: [&str; 10] = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"];
        if !PRESETS.contains(&r.x264_preset.as_str()) {
            return bad("render.x264_preset", "must be one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo");
        }
        if !(100..=200_000).contains(&r.bitrate_kbps) {
            return bad("render.bitrate_kbps", "must be between 100 and 200000");
        }
        let v = &self.serve;
        if v.default_ratio.contains(&0) {
            return bad("serve.default_ratio", "must be two positive integers, e.g. [9, 16]");
        }
        if !(1..=64).contains(&v.max_jobs) {
            return bad("serve.max_jobs", "must be between 1 and 64");
        }
        if !(0.1..=3600.0).contains(&v.stable_s) || !(0.1..=3600.0).contains(&v.scan_interval_s) {
            return bad("serve.stable_s / serve.scan_interval_s", "must be between 0.1 and 3600 seconds");
        }
        if !(0.0..=600.0).contains(&v.stop_grace_s) {
            return bad("serve.stop_grace_s", "must be between 0 and 600 seconds");
        }
        if !(0.0..=3600.0).contains(&v.attempt_min_s) {
            return bad("serve.attempt_min_s", "must be between 0 and 3600 seconds");
        }
        if !(0.1..=86400.0).contains(&v.retry_max_s) {
            return bad("serve.retry_max_s", "must be between 0.1 and 86400 seconds");
        }
        if !(v.max_duration_s >= 0.0 && v.max_duration_s.is_finite()) {
            return bad("serve.max_duration_s", "must be 0 (no limit) or a positive number of seconds");
        }
        if !(0.0..=1000.0).contains(&v.decode_deadline_factor) {
            return bad("serve.decode_deadline_factor", "must be 0 (no deadline) or a positive number up to 1000");
        }
        if !(0.0..=86400.0).contains(&v.decode_deadline_floor_s) {
            return bad("serve.decode_deadline_floor_s", "must be between 0 and 86400 seconds");
        }
        if let Err(e) = self.mqtt.check() {
            return Err(ConfigError::Parse { path: path.into(), message: e.to_string() });
        }
        if v.max_attempts == 0 {
            return bad("serve.max_attempts", "must be at least 1");
        }
        if self.framing.max_speed <= 0.0 {
            return bad("framing.max_speed", "must be positive");
        }
        Ok(())
    }
}

/// Sets the key named by `HIGHLIGHTD__A__B__C` to `value` (a TOML literal such as `2`,
/// `true`, `[9, 16]`, or else taken as a string).
fn apply_env(table: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let rest = &var[ENV_PREFIX.len()..];
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::Env { var: var.into(), message: "expected HIGHLIGHTD__<SECTION>__<KEY>".into() });
    }
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}")).ok().and_then(|mut t| t.remove("v")).unwrap_or_else(|| toml::Value::String(value.to_string()));
    let (last, parents) = path.split_last().ok_or_else(|| ConfigError::Env { var: var.into(), message: "no key".into() })?;
    let mut node = table;
    for p in parents {
        let entry = node.entry(p.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry.as_table_mut().ok_or_else(|| ConfigError::Env { var: var.into(), message: format!("`{p}` is not a section") })?;
    }
    node.insert(last.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_matches_defaults() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/highlightd.toml");
        let cfg = Config::load(&p).expect("configs/highlightd.toml parses");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = Config::parse("[decode]\nanalysis_side = 192\nanalysis_sidee = 3\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("analysis_sidee") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn environment_overrides_keys_and_names_bad_ones() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let cfg = Config::load_with_env(None, env(&[("HIGHLIGHTD__SERVE__MAX_JOBS", "3"), ("HIGHLIGHTD__SELECT__EVIDENCE__BLACK_LUMA", "16.5"), ("HIGHLIGHTD__SERVE__INGEST_DIR", "/srv/in"), ("PATH", "/bin")])).unwrap();
        assert_eq!(cfg.serve.max_jobs, 3);
        assert_eq!(cfg.select.evidence.black_luma, 16.5);
        assert_eq!(cfg.serve.ingest_dir, PathBuf::from("/srv/in"));
        let err = Config::load_with_env(None, env(&[("HIGHLIGHTD__SERVE__MAX_JOB", "3")])).unwrap_err().to_string();
        assert!(err.contains("HIGHLIGHTD__SERVE__MAX_JOB") && err.contains("max_job"), "{err}");
        let err = Config::load_with_env(None, env(&[("HIGHLIGHTD__SERVE__MAX_JOBS", "0")])).unwrap_err().to_string();
        assert!(err.contains("serve.max_jobs"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let err = Config::parse("[decode]\nanalysis_side = 5\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("decode.analysis_side"), "{err}");
        let err = Config::parse("[select]\nsmooth_s = \"a\"\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("smooth_s") && err.contains("line 2"), "{err}");
        let err = Config::parse("[select.evidence]\nnoise_decorrelation = 0.0\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("select.evidence.noise_decorrelation"), "{err}");
        let err = Config::parse("[select.evidence]\nnoise_window_s = -1.0\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("select.evidence.noise_window_s"), "{err}");
        let err = Config::parse("[select.evidence]\ndrawn_flat_share = 0.2\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("select.evidence.drawn_flat_share"), "{err}");
        assert_eq!(Config::parse("[select.evidence]\ndrawn_flat_share = 1.5\n", Path::new("x.toml")).map(|c| c.select.evidence.drawn_flat_share).ok(), Some(1.5));
        let err = Config::parse("[select.evidence]\nstill_residual = -1\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("select.evidence.still_residual"), "{err}");
        assert_eq!(Config::parse("[select.evidence]\nstill_residual = 0\n", Path::new("x.toml")).map(|c| c.select.evidence.still_residual).ok(), Some(0.0));
        let err = Config::parse("[select.evidence]\nedgeless_sparsity = 1.5\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("select.evidence.edgeless_sparsity"), "{err}");
        assert_eq!(Config::parse("[select.evidence]\nedgeless_sparsity = 0\n", Path::new("x.toml")).map(|c| c.select.evidence.edgeless_sparsity).ok(), Some(0.0));
        let err = Config::parse("[select.evidence]\nedgeless_sharpness = 0\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("select.evidence.edgeless_sharpness"), "{err}");
        let err = Config::parse("[select]\nscene_distance = -0.1\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("select.scene_distance"), "{err}");
        assert_eq!(Config::parse("[select]\nscene_distance = 0\n", Path::new("x.toml")).map(|c| c.select.scene_distance).ok(), Some(0.0));
        // Above 2 the detector is off, and that is a valid setting (cross-validation's "veto off").
        assert_eq!(Config::parse("[select.evidence]\nnoise_decorrelation = 3.0\n", Path::new("x.toml")).map(|c| c.select.evidence.noise_decorrelation).ok(), Some(3.0));
    }
}
