//! Crop metadata: everything a person or a renderer needs to know about how one video was cut,
//! beyond the contest's prediction line — source, shots and camera modes, segments and their
//! scores, the crop of every selected frame, what produced it and how long it took.

use crate::engine::VideoResult;
use crate::format::AspectRatio;
use serde::Serialize;

/// Version of this document's layout; bump on incompatible changes.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Serialize)]
struct Source<'a> {
    path: &'a str,
    width: u32,
    height: u32,
    fps: f64,
    frames: u64,
    rotated: bool,
    decoder: Option<&'a str>,
    audio: bool,
}

#[derive(Debug, Serialize)]
struct Crop {
    frame: i64,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

#[derive(Debug, Serialize)]
struct Model {
    name: &'static str,
    version: &'static str,
}

/// The crop metadata document of one video, as JSON.
pub fn crop_metadata(video_id: &str, source_path: &str, ratio: AspectRatio, r: &VideoResult) -> serde_json::Value {
    let crops: Vec<Crop> = r
        .predictions
        .iter()
        .map(|p| Crop { frame: p.frame, x: p.window.x, y: p.window.y, w: p.window.w, h: p.window.height(ratio) })
        .collect();
    serde_json::json!({
        "schema": SCHEMA,
        "video_id": video_id,
        "source": Source {
            path: source_path,
            width: r.info.width,
            height: r.info.height,
            fps: r.info.fps,
            frames: r.info.frames,
            rotated: r.info.rotated,
            decoder: r.info.decoder.as_deref(),
            audio: r.info.audio.is_some(),
        },
        "targetRatioWH": ratio,
        "shots": r.plans,
        "segments": r.selection.segments,
        "expected_f": r.selection.expected_f,
        "crops": crops,
        "models": [Model { name: "classical (motion residual + spectral residual saliency, filler detectors)", version: env!("CARGO_PKG_VERSION") }],
        "timings": { "decode_s": r.info.decode_seconds, "total_s": r.seconds },
    })
}

/// A video id as a file name: anything but letters, digits, `-` and `_` becomes `_`, so an
/// id from an index can never name a path outside the folder it is written to.
pub fn file_name_for(video_id: &str) -> String {
    video_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Writes `value` as pretty JSON to `path` through a temporary file and a rename.
pub fn write_json_atomic(path: &std::path::Path, value: &serde_json::Value) -> Result<(), super::WriteError> {
    let mut w = super::AtomicLines::create(path)?;
    w.line(&serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into()))?;
    w.commit()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_cannot_name_other_folders() {
        assert_eq!(super::file_name_for("../a/b c"), "___a_b_c");
        assert_eq!(super::file_name_for("v-01_x"), "v-01_x");
    }
}
