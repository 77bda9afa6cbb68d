//! `validate`: every rule of SPEC.md section 3, checked against the real videos.

use crate::decode::{self, DecodeOptions};
use crate::format::{parse_prediction, AspectRatio, VideoMeta};
use crate::ingest::Entry;
use crate::metric;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1-based line of the prediction file (0 when the problem is a missing line).
    pub line: usize,
    pub video_id: String,
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: video {}: {}", self.line, self.video_id, self.reason)
    }
}

/// Checks the prediction file `preds` against the input entries; the real frame count and
/// picture size come from decoding each video (`probe`, replaceable for tests of the rules).
pub fn validate(preds: &Path, entries: &[Entry], opts: &DecodeOptions) -> Result<Vec<Violation>, std::io::Error> {
    let probe = |p: &Path| decode::decode_only(p, opts).map(|i| VideoMeta { width: i.width, height: i.height, frames: i.frames }).map_err(|e| e.to_string());
    let text = std::fs::read_to_string(preds)?;
    Ok(check(&text, entries, probe))
}

pub fn check(text: &str, entries: &[Entry], probe: impl Fn(&Path) -> Result<VideoMeta, String>) -> Vec<Violation> {
    let mut out = Vec::new();
    let lines: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
    if lines.len() != entries.len() {
        out.push(Violation { line: 0, video_id: "-".into(), reason: format!("{} prediction lines for {} input videos", lines.len(), entries.len()) });
    }
    for (k, (line, text)) in lines.iter().enumerate() {
        let v = |reason: String, id: &str| Violation { line: *line, video_id: id.to_string(), reason };
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                out.push(v("not a JSON object".into(), "-"));
                continue;
            }
            Err(e) => {
                out.push(v(format!("not valid JSON: {e}"), "-"));
                continue;
            }
        };
        let id = obj.get("video_id").and_then(Value::as_str).unwrap_or("-").to_string();
        let Some(entry) = entries.get(k) else {
            out.push(v("no input video for this line".into(), &id));
            continue;
        };
        if entry.video_id() != Some(id.as_str()) && entry.video_id().is_some() {
            out.push(v(format!("out of input order: expected video {}", entry.video_id().unwrap_or("-")), &id));
        }
        for (key, val) in &entry.fields {
            if obj.get(key) != Some(val) {
                out.push(v(format!("input field `{key}` not copied unchanged"), &id));
            }
        }
        let Some(preds) = obj.get("predictions").and_then(Value::as_array) else {
            out.push(v("`predictions` missing or not an array".into(), &id));
            continue;
        };
        if preds.is_empty() {
            continue;
        }
        let task = match &entry.task {
            Ok(t) => t,
            Err(e) => {
                out.push(v(format!("predictions given for an input that cannot be processed: {e}"), &id));
                continue;
            }
        };
        let ratio = obj.get("targetRatioWH").and_then(|r| AspectRatio::from_json(r).ok()).unwrap_or(task.ratio);
        let meta = match probe(&task.path) {
            Ok(m) => m,
            Err(e) => {
                out.push(v(format!("cannot read the video to check the predictions: {e}"), &id));
                continue;
            }
        };
        let mut seen = HashSet::new();
        let mut last = i64::MIN;
        for (j, raw) in preds.iter().enumerate() {
            let p = match parse_prediction(raw) {
                Ok(p) => p,
                Err(e) => {
                    out.push(v(format!("predictions[{j}]: {e}"), &id));
                    continue;
                }
            };
            if let Err(e) = metric::is_valid(&p, ratio, meta) {
                out.push(v(format!("predictions[{j}] (frame {}): {e}", p.frame), &id));
            }
            if !seen.insert(p.frame) {
                out.push(v(format!("predictions[{j}]: frame {} appears twice", p.frame), &id));
            }
            if p.frame < last {
                out.push(v(format!("predictions[{j}]: frame {} after frame {last}: not sorted", p.frame), &id));
            }
            last = p.frame;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::read_index;

    #[test]
    fn each_rule_is_reported_with_line_and_video() {
        let dir = tempfile::tempdir().unwrap();
        let entries = read_index(
            "{\"video_id\":\"a\",\"video\":\"a.mp4\",\"targetRatioWH\":[9,16]}\n{\"video_id\":\"b\",\"video\":\"b.mp4\",\"targetRatioWH\":[16,9]}\n",
            "idx",
            dir.path(),
        );
        let probe = |_: &Path| Ok(VideoMeta { width: 640, height: 360, frames: 10 });
        let good = "{\"video_id\":\"a\",\"video\":\"a.mp4\",\"targetRatioWH\":[9,16],\"predictions\":[{\"frame\":0,\"bboxes\":[0,0,202]}]}\n{\"video_id\":\"b\",\"video\":\"b.mp4\",\"targetRatioWH\":[16,9],\"predictions\":[]}\n";
        assert!(check(good, &entries, probe).is_empty());
        let bad = "{\"video_id\":\"a\",\"video\":\"a.mp4\",\"targetRatioWH\":[9,16],\"predictions\":[{\"frame\":10,\"bboxes\":[0,0,202]},{\"frame\":3,\"bboxes\":[500,0,202]},{\"frame\":3,\"bboxes\":[0,0,202]}]}\n";
        let v = check(bad, &entries, probe);
        let text: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.contains("1 prediction lines for 2")), "{text:?}");
        assert!(text.iter().any(|t| t.starts_with("line 1: video a: predictions[0]")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("predictions[1]") && !t.contains("twice")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("appears twice")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("not sorted")), "{text:?}");
    }
}
