//! The contest's data format (SPEC.md sections 2–3), shared by every stage that reads or
//! writes it: the target ratio, the crop window triple and one prediction line.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A target aspect ratio `[w, h]`, both strictly positive.
///
/// Constructed only through [`AspectRatio::new`], so a zero or negative side cannot exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "[u32; 2]")]
pub struct AspectRatio {
    w: u32,
    h: u32,
}

impl AspectRatio {
    /// 9:16, the portrait short.
    pub const PORTRAIT: AspectRatio = AspectRatio { w: 9, h: 16 };

    pub fn new(w: u32, h: u32) -> Option<Self> {
        (w > 0 && h > 0).then_some(Self { w, h })
    }
    pub fn w(self) -> u32 {
        self.w
    }
    pub fn h(self) -> u32 {
        self.h
    }
    /// Width over height as a real number.
    pub fn value(self) -> f64 {
        f64::from(self.w) / f64::from(self.h)
    }

    /// Parses a ratio written as text: `9:16`, `9x16`, `9X16`, `9/16` or `9-16` (a command-line
    /// argument or a folder name), both sides positive integers.
    pub fn parse_text(text: &str) -> Option<Self> {
        let (w, h) = text.split_once([':', 'x', 'X', '/', '-'])?;
        Self::new(w.trim().parse().ok()?, h.trim().parse().ok()?)
    }

    /// The most elongated target accepted from a drop, either way: 8:1 and 1:8. Beyond it a
    /// crop window is a few pixels on one side (4294967295:1 gives a window ~0 px high), so
    /// the result would be empty or meaningless; such a ratio is refused with a verdict.
    pub const MAX_ELONGATION: u32 = 8;

    /// `self` if it lies within 1:[`Self::MAX_ELONGATION`] … [`Self::MAX_ELONGATION`]:1,
    /// otherwise why not (for a message naming the field).
    pub fn within_range(self) -> Result<Self, String> {
        let (w, h, k) = (u64::from(self.w), u64::from(self.h), u64::from(Self::MAX_ELONGATION));
        if w > k * h || h > k * w {
            return Err(format!("must lie between 1:{k} and {k}:1 (width:height), got {w}:{h}"));
        }
        Ok(self)
    }

    /// Parses the JSON value of `targetRatioWH`: exactly two positive integers.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, String> {
        let arr = v
            .as_array()
            .ok_or_else(|| format!("must be an array of two positive integers, got {v}"))?;
        if arr.len() != 2 {
            return Err(format!("must have exactly two elements, got {}", arr.len()));
        }
        let side = |x: &serde_json::Value| -> Result<u32, String> {
            x.as_u64()
                .filter(|&n| n > 0 && n <= u64::from(u32::MAX))
                .map(|n| n as u32)
                .ok_or_else(|| format!("elements must be positive integers, got {x}"))
        };
        let (w, h) = (side(&arr[0])?, side(&arr[1])?);
        Ok(Self { w, h })
    }
}

impl From<AspectRatio> for [u32; 2] {
    fn from(r: AspectRatio) -> Self {
        [r.w, r.h]
    }
}

impl<'de> Deserialize<'de> for AspectRatio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Self::from_json(&v).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for AspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.w, self.h)
    }
}

/// One crop window `[x, y, w]` in source pixels; the height is implied by the target ratio.
///
/// Kept as reals because the checker reads any JSON number; the engine only emits integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub x: f64,
    pub y: f64,
    pub w: f64,
}

impl Window {
    /// The implied height for a target ratio (never rounded, as the checker does).
    pub fn height(&self, ratio: AspectRatio) -> f64 {
        self.w * f64::from(ratio.h()) / f64::from(ratio.w())
    }
}

/// One entry of `predictions`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub frame: i64,
    pub window: Window,
}

impl Serialize for Prediction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("frame", &self.frame)?;
        let num = |v: f64| -> serde_json::Value {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                serde_json::Value::from(v as i64)
            } else {
                serde_json::Value::from(v)
            }
        };
        m.serialize_entry("bboxes", &[num(self.window.x), num(self.window.y), num(self.window.w)])?;
        m.end()
    }
}

/// Why a raw prediction entry could not even be read as `{frame, bboxes}`.
///
/// Such entries still count in `N_pred` (SPEC.md section 4): they are invalid, not absent.
pub fn parse_prediction(v: &serde_json::Value) -> Result<Prediction, String> {
    let obj = v.as_object().ok_or("prediction is not an object")?;
    let frame = obj.get("frame").ok_or("missing `frame`")?;
    let frame = match frame.as_i64() {
        Some(f) => f,
        None => match frame.as_f64() {
            Some(f) if f.fract() == 0.0 && f.is_finite() => f as i64,
            _ => return Err(format!("`frame` is not an integer: {frame}")),
        },
    };
    let b = obj.get("bboxes").ok_or("missing `bboxes`")?;
    // Accept `[x, y, w]` and the nested `[[x, y, w]]` some writers emit.
    let arr = match b.as_array() {
        Some(a) if a.len() == 1 && a[0].is_array() => a[0].as_array().cloned().unwrap_or_default(),
        Some(a) => a.clone(),
        None => return Err(format!("`bboxes` is not an array: {b}")),
    };
    if arr.len() != 3 {
        return Err(format!("`bboxes` must hold 3 numbers [x, y, w], got {}", arr.len()));
    }
    let mut n = [0.0f64; 3];
    for (i, x) in arr.iter().enumerate() {
        n[i] = x.as_f64().ok_or_else(|| format!("`bboxes[{i}]` is not a number: {x}"))?;
    }
    Ok(Prediction { frame, window: Window { x: n[0], y: n[1], w: n[2] } })
}

/// Picture size of a video as displayed (after rotation), and its frame count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoMeta {
    pub width: u32,
    pub height: u32,
    pub frames: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ratio_rejects_bad_values() {
        assert!(AspectRatio::from_json(&json!([9, 16])).is_ok());
        assert!(AspectRatio::from_json(&json!([0, 16])).is_err());
        assert!(AspectRatio::from_json(&json!([-9, 16])).is_err());
        assert!(AspectRatio::from_json(&json!([9.5, 16])).is_err());
        assert!(AspectRatio::from_json(&json!([9, 16, 1])).is_err());
        assert!(AspectRatio::from_json(&json!("9:16")).is_err());
    }

    #[test]
    fn elongated_ratios_are_out_of_range_at_both_ends() {
        let r = |w, h| AspectRatio::new(w, h).unwrap().within_range();
        for (w, h) in [(1, 8), (8, 1), (9, 16), (16, 9), (1, 1), (4_000_000_000, 4_000_000_000)] {
            assert!(r(w, h).is_ok(), "{w}:{h}");
        }
        for (w, h) in [(1, 9), (9, 1), (u32::MAX, 1), (1, u32::MAX)] {
            let e = r(w, h).unwrap_err();
            assert!(e.contains("1:8") && e.contains(&format!("{w}:{h}")), "{e}");
        }
    }

    #[test]
    fn ratio_from_text() {
        for t in ["9:16", "9x16", "9X16", "9/16", "9-16", " 9 : 16 "] {
            assert_eq!(AspectRatio::parse_text(t), AspectRatio::new(9, 16), "{t}");
        }
        for t in ["0x9", "9", "ax16", "9x", "-9x16", "videos"] {
            assert_eq!(AspectRatio::parse_text(t), None, "{t}");
        }
    }

    #[test]
    fn prediction_serialises_integers_plainly() {
        let p = Prediction { frame: 3, window: Window { x: 1.0, y: 0.0, w: 202.0 } };
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"frame":3,"bboxes":[1,0,202]}"#);
    }

    #[test]
    fn parse_prediction_accepts_nested_and_flags_garbage() {
        let p = parse_prediction(&json!({"frame": 2, "bboxes": [[1, 2, 3]]})).unwrap();
        assert_eq!(p.window.w, 3.0);
        assert!(parse_prediction(&json!({"frame": "a", "bboxes": [1, 2, 3]})).is_err());
        assert!(parse_prediction(&json!({"frame": 1, "bboxes": [1, 2]})).is_err());
    }
}
