//! Reading the prediction and ground-truth JSONL files the report compares: one line per
//! video, keyed by `video_id`, with the raw `predictions` entries kept so the metric can count
//! unreadable ones exactly as `eval` does.

use super::ReportError;
use crate::format::{parse_prediction, AspectRatio, Prediction};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// One video's line of a predictions or ground-truth file.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1-based line number, for messages.
    pub line: usize,
    /// The line's own `targetRatioWH`, when it has one.
    pub ratio: Option<AspectRatio>,
    /// Every entry of `predictions`, as submitted.
    pub raw: Vec<Value>,
    /// The entries that read as `{frame, bboxes}`, in file order.
    pub parsed: Vec<Prediction>,
}

impl Line {
    /// Entries that could not even be read (they still count for the metric).
    pub fn unreadable(&self) -> usize {
        self.raw.len() - self.parsed.len()
    }
}

/// Reads a predictions-format JSONL file into lines by `video_id`.
///
/// Bad JSON, a missing `video_id` or `predictions`, a bad ratio and a repeated `video_id` are
/// errors naming file and line: a report built on a silently half-read file would mislead.
/// With `strict` (ground truth), an unreadable prediction entry is an error too.
pub fn read_lines(path: &Path, strict: bool) -> Result<HashMap<String, Line>, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|err| ReportError::Read { path: path.into(), err })?;
    let mut out: HashMap<String, Line> = HashMap::new();
    for (i, text) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line = i + 1;
        let bad = |msg: String| ReportError::Line { path: path.into(), line, msg };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| bad("not a JSON object".into()))?;
        let id = match obj.get("video_id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => return Err(bad(format!("`video_id` is not a string: {other}"))),
            None => return Err(bad("`video_id` is missing".into())),
        };
        let ratio = match obj.get("targetRatioWH") {
            Some(r) => Some(AspectRatio::from_json(r).map_err(|e| bad(format!("`targetRatioWH` {e}")))?),
            None => None,
        };
        let raw = obj
            .get("predictions")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| bad("`predictions` is missing or not an array".into()))?;
        let mut parsed = Vec::with_capacity(raw.len());
        for (j, entry) in raw.iter().enumerate() {
            match parse_prediction(entry) {
                Ok(p) => parsed.push(p),
                Err(e) if strict => return Err(bad(format!("`predictions[{j}]`: {e}"))),
                Err(_) => {}
            }
        }
        if let Some(first) = out.get(&id) {
            return Err(ReportError::Duplicate { path: path.into(), line, video_id: id, first: first.line });
        }
        out.insert(id, Line { line, ratio, raw, parsed });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_by_id_keep_unreadable_entries_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.jsonl");
        std::fs::write(&p, "{\"video_id\":\"a\",\"targetRatioWH\":[9,16],\"predictions\":[{\"frame\":1,\"bboxes\":[0,0,9]},{\"frame\":\"x\"}]}\n\n{\"video_id\":7,\"predictions\":[]}\n").unwrap();
        let m = read_lines(&p, false).unwrap();
        assert_eq!(m["a"].raw.len(), 2);
        assert_eq!(m["a"].parsed.len(), 1);
        assert_eq!(m["a"].unreadable(), 1);
        assert_eq!(m["7"].line, 3);
        assert!(m["7"].ratio.is_none());
        let err = read_lines(&p, true).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("predictions[1]"), "{err}");
    }

    #[test]
    fn repeated_video_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.jsonl");
        std::fs::write(&p, "{\"video_id\":\"a\",\"predictions\":[]}\n{\"video_id\":\"a\",\"predictions\":[]}\n").unwrap();
        let err = read_lines(&p, false).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("line 1"), "{err}");
    }
}
