//! `engines/manifest.json`: what each network is, where its file is and how to check it.
//!
//! Written by `engines/build.py`; read here so that a model file that is missing, truncated
//! or not the one that was measured is refused by name before any inference runs.

use super::{InferError, Provider};
use std::collections::BTreeMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a network is for; one model per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Saliency,
    Face,
    Person,
    Text,
    Audio,
    /// The learned highlight scorer over per-frame features (`select::scorer`).
    Scorer,
}

impl Task {
    pub const ALL: [Task; 6] = [Task::Saliency, Task::Face, Task::Person, Task::Text, Task::Audio, Task::Scorer];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::Saliency => "saliency",
            Task::Face => "face",
            Task::Person => "person",
            Task::Text => "text",
            Task::Audio => "audio",
            Task::Scorer => "scorer",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a model (fp32 or the int8 QDQ variant).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VariantFile {
    /// Relative to the engines folder.
    pub file: PathBuf,
    pub sha256: String,
    #[serde(default)]
    pub bytes: Option<u64>,
}

/// Precision of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Source {
    pub registry: String,
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub file: String,
}

/// One network of the manifest. Pre- and post-processing are described there for people;
/// the code that implements them lives with each model's wrapper in `analyse::nets`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub task: Task,
    pub source: Source,
    #[serde(default)]
    pub licence: String,
    /// Files by variant: `fp32`; `int8` (symmetric QDQ, for TensorRT); `int8_cpu` (QDQ
    /// tuned for ONNX Runtime's CPU kernels), when built.
    pub variants: BTreeMap<String, VariantFile>,
    /// The variant measured to be the better trade-off on a CPU (see the manifest's rule).
    pub default_cpu: String,
}

impl ModelEntry {
    pub fn variant(&self, name: &str) -> Option<&VariantFile> {
        self.variants.get(name)
    }

    /// The variant to run on `provider`, honouring a forced precision: TensorRT takes the
    /// symmetric `int8` file (its native explicit-quantisation form); other providers the
    /// measured CPU default, or the CPU-tuned int8 file when int8 is forced. Falls back to
    /// `fp32` when the wanted file is not listed.
    pub fn variant_for(&self, provider: Provider, forced: Option<Precision>) -> Option<(&str, &VariantFile)> {
        let wanted: &[&str] = match (provider, forced) {
            (_, Some(Precision::Fp32)) => &["fp32"],
            (Provider::TensorRt, _) => &["int8", "fp32"],
            (_, Some(Precision::Int8)) => &["int8_cpu", "int8", "fp32"],
            (_, None) => &[self.default_cpu.as_str(), "fp32"],
        };
        wanted.iter().find_map(|w| self.variants.get_key_value(*w)).map(|(k, v)| (k.as_str(), v))
    }
}

/// The parsed manifest and the folder it was read from.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub dir: PathBuf,
    pub models: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ManifestFile {
    models: Vec<ModelEntry>,
}

impl Manifest {
    pub const FILE: &'static str = "manifest.json";

    /// Reads `dir/manifest.json`.
    pub fn load(dir: &Path) -> Result<Manifest, InferError> {
        let path = dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| InferError::Io { path: path.clone(), source: e })?;
        let parsed: ManifestFile = serde_json::from_str(&text).map_err(|e| InferError::Manifest { path: path.clone(), message: e.to_string() })?;
        Ok(Manifest { dir: dir.to_path_buf(), models: parsed.models })
    }

    pub fn model(&self, task: Task) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.task == task)
    }

    pub fn path_of(&self, v: &VariantFile) -> PathBuf {
        self.dir.join(&v.file)
    }
}

/// The lower-case hex SHA-256 of a file, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String, InferError> {
    let mut f = std::fs::File::open(path).map_err(|e| InferError::Io { path: path.into(), source: e })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| InferError::Io { path: path.into(), source: e })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks that the file of `v` exists and has the recorded checksum.
pub fn verify(manifest: &Manifest, v: &VariantFile) -> Result<PathBuf, InferError> {
    let path = manifest.path_of(v);
    let actual = sha256_file(&path)?;
    if !actual.eq_ignore_ascii_case(&v.sha256) {
        return Err(InferError::Checksum { path, expected: v.sha256.clone(), actual });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_json(sha: &str) -> String {
        format!(
            r#"{{"models": [{{"name": "toy", "task": "face", "source": {{"registry": "pypi", "package": "p", "version": "1"}},
            "licence": "MIT", "variants": {{"fp32": {{"file": "models/toy.onnx", "sha256": "{sha}", "bytes": 3}}}},
            "default_cpu": "fp32", "inputs": [], "extra": {{"ignored": true}}}}]}}"#
        )
    }

    #[test]
    fn verifies_checksums_and_names_the_file_on_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("models")).unwrap();
        std::fs::write(dir.path().join("models/toy.onnx"), b"abc").unwrap();
        // SHA-256 of "abc".
        let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        std::fs::write(dir.path().join("manifest.json"), manifest_json(good)).unwrap();
        let m = Manifest::load(dir.path()).unwrap();
        let entry = m.model(Task::Face).unwrap();
        assert_eq!(entry.default_cpu, "fp32");
        assert!(m.model(Task::Text).is_none());
        let v = entry.variant("fp32").unwrap();
        assert_eq!(verify(&m, v).unwrap(), dir.path().join("models/toy.onnx"));

        std::fs::write(dir.path().join("models/toy.onnx"), b"abd").unwrap();
        let err = verify(&m, v).unwrap_err().to_string();
        assert!(err.contains("toy.onnx") && err.contains("checksum"), "{err}");
        std::fs::remove_file(dir.path().join("models/toy.onnx")).unwrap();
        let err = verify(&m, v).unwrap_err().to_string();
        assert!(err.contains("toy.onnx"), "{err}");
    }

    #[test]
    fn variant_choice_per_provider() {
        let file = |f: &str| VariantFile { file: f.into(), sha256: String::new(), bytes: None };
        let mut e = ModelEntry {
            name: "m".into(),
            task: Task::Face,
            source: Source { registry: "r".into(), package: "p".into(), version: "1".into(), file: String::new() },
            licence: String::new(),
            variants: [("fp32", file("a")), ("int8", file("b")), ("int8_cpu", file("c"))].into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            default_cpu: "int8_cpu".into(),
        };
        let pick = |e: &ModelEntry, p, f| e.variant_for(p, f).map(|(k, _)| k.to_string());
        assert_eq!(pick(&e, Provider::TensorRt, None).as_deref(), Some("int8"));
        assert_eq!(pick(&e, Provider::TensorRt, Some(Precision::Fp32)).as_deref(), Some("fp32"));
        assert_eq!(pick(&e, Provider::Cpu, None).as_deref(), Some("int8_cpu"));
        assert_eq!(pick(&e, Provider::Cuda, Some(Precision::Int8)).as_deref(), Some("int8_cpu"));
        assert_eq!(pick(&e, Provider::Cpu, Some(Precision::Fp32)).as_deref(), Some("fp32"));
        e.default_cpu = "fp32".into();
        e.variants.remove("int8_cpu");
        assert_eq!(pick(&e, Provider::Cpu, Some(Precision::Int8)).as_deref(), Some("int8"));
        assert_eq!(pick(&e, Provider::Cpu, None).as_deref(), Some("fp32"));
        e.variants.remove("int8");
        assert_eq!(pick(&e, Provider::TensorRt, None).as_deref(), Some("fp32"));
    }

    #[test]
    fn a_broken_manifest_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), r#"{"models": [{"name": 3}]}"#).unwrap();
        let err = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("manifest.json"), "{err}");
        let err = Manifest::load(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
