//! The configuration file (TOML). Every section and key is optional; unknown keys are an
//! error naming the key and its line, so a typo never silently falls back to a default.

use crate::analyse::shots::ShotParams;
use crate::frame::path::PathParams;
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

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub decode: DecodeConfig,
    pub shots: ShotParams,
    pub select: SelectParams,
    pub framing: PathParams,
    pub render: RenderOptions,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string().trim_end().to_string() })?;
        cfg.check(path)?;
        Ok(cfg)
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
        if !(0.0..=1.0).contains(&self.shots.cut_distance) {
            return bad("shots.cut_distance", "must be between 0 and 1");
        }
        let s = &self.select;
        for (key, v) in [("select.smooth_s", s.smooth_s), ("select.min_segment_s", s.min_segment_s), ("select.max_gap_s", s.max_gap_s), ("framing.smoothing_s", self.framing.smoothing_s)] {
            if !(0.0..=60.0).contains(&v) {
                return bad(key, "must be between 0 and 60 seconds");
            }
        }
        if !(0.0..=1.0).contains(&s.whole_shot_share) || !(0.0..=1.0).contains(&s.action_weight) {
            return bad("select.whole_shot_share / select.action_weight", "must be between 0 and 1");
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
        if self.framing.max_speed <= 0.0 {
            return bad("framing.max_speed", "must be positive");
        }
        Ok(())
    }
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
    fn bad_value_is_named() {
        let err = Config::parse("[decode]\nanalysis_side = 5\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("decode.analysis_side"), "{err}");
        let err = Config::parse("[select]\nsmooth_s = \"a\"\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("smooth_s") && err.contains("line 2"), "{err}");
    }
}
