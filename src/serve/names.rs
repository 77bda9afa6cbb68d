//! Where a job's outputs go: named after the input's path relative to the ingest folder,
//! extension included, so no two inputs can ever share an output.
//!
//! `same.mp4` → `same.mp4.predictions.jsonl`, `same.mov` → `same.mov.predictions.jsonl`,
//! `16x9/same.mp4` → `16x9/same.mp4.predictions.jsonl`, `same.jsonl` →
//! `same.jsonl.predictions.jsonl`. Two inputs have different relative paths, and every
//! output is that path plus one of a fixed set of suffixes none of which ends another
//! (`.predictions.jsonl`, `.crop.json`, `.crops`, `.short.mp4`), so two inputs' outputs
//! differ too. Deriving the name from the file stem alone let four inputs overwrite one
//! another's outputs while all four were reported done.

use std::path::{Component, Path, PathBuf};

/// The output suffixes; see the module doc for why they must not end one another.
pub const PREDICTIONS: &str = ".predictions.jsonl";
pub const CROP: &str = ".crop.json";
pub const CROPS_DIR: &str = ".crops";
pub const SHORT: &str = ".short.mp4";

/// `output/<input relative to ingest>`: the base every output name of `input` extends.
/// Refused (never expected for a path the scan found) when `input` is not a plain path
/// below `ingest`.
pub fn output_base(ingest: &Path, output: &Path, input: &Path) -> Result<PathBuf, String> {
    let rel = input.strip_prefix(ingest).map_err(|_| format!("{}: not inside the ingest folder {}", input.display(), ingest.display()))?;
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!("{}: not a plain path inside the ingest folder", input.display()));
    }
    Ok(output.join(rel))
}

/// `base` with `suffix` appended to its file name.
pub fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut s = base.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_that_shared_a_stem_get_distinct_outputs() {
        let (i, o) = (Path::new("/in"), Path::new("/out"));
        let inputs = ["/in/same.mp4", "/in/same.mov", "/in/16x9/same.mp4", "/in/same.jsonl", "/in/same"];
        let mut all = std::collections::HashSet::new();
        for input in inputs {
            let b = output_base(i, o, Path::new(input)).unwrap();
            for s in [PREDICTIONS, CROP, CROPS_DIR, SHORT] {
                assert!(all.insert(with_suffix(&b, s)), "{input}{s} collides");
            }
        }
        assert_eq!(with_suffix(&output_base(i, o, Path::new("/in/16x9/same.mp4")).unwrap(), PREDICTIONS), Path::new("/out/16x9/same.mp4.predictions.jsonl"));
    }

    #[test]
    fn no_suffix_ends_another() {
        let all = [PREDICTIONS, CROP, CROPS_DIR, SHORT];
        for a in all {
            for b in all {
                assert!(a == b || !a.ends_with(b), "{a} ends with {b}");
            }
        }
    }

    #[test]
    fn paths_outside_or_odd_are_refused() {
        let (i, o) = (Path::new("/in"), Path::new("/out"));
        assert!(output_base(i, o, Path::new("/elsewhere/a.mp4")).is_err());
        assert!(output_base(i, o, Path::new("/in")).is_err());
        assert!(output_base(i, o, Path::new("/in/../x.mp4")).is_err());
    }
}
