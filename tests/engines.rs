//! The networks as the binary uses them on a CPU-only machine: `doctor` reports what runs
//! where, the provider plan falls back to the CPU with one log line, `engines build` says
//! plainly there is no TensorRT, and broken or missing engines are refused by name — fatal
//! with `[engines] required`, a single warning and the classical pipeline without.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with extra environment; returns (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut c = Command::new(common::bin());
    c.args(args).current_dir(repo()).env("NO_COLOR", "1").env_remove("RUST_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run highlightd");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), common::strip_ansi(&String::from_utf8_lossy(&out.stderr)))
}

fn engines_built() {
    assert!(repo().join("engines/manifest.json").is_file() && repo().join("engines/models").is_dir(), "engines not built: run engines/build.sh (scripts/setup.sh does)");
}

#[test]
fn doctor_shows_every_model_running_on_the_cpu() {
    engines_built();
    let (code, out, err) = run(&["doctor"], &[]);
    assert_eq!(code, Some(0), "doctor failed:\n{out}\n{err}");
    assert!(out.contains("GStreamer 1."), "{out}");
    assert!(out.contains("render encoder") && out.contains("x264enc"), "{out}");
    assert!(out.contains("onnxruntime") && out.contains("1.22.1"), "{out}");
    assert!(out.contains("tensorrt skipped") && out.contains("cuda skipped"), "{out}");
    for task in ["saliency", "face", "person", "text", "audio"] {
        let line = out.lines().find(|l| l.contains(&format!("model {task} "))).unwrap_or_else(|| panic!("no line for {task}:\n{out}"));
        assert!(line.starts_with("ok") && line.contains("on cpu") && line.contains("ok), loaded"), "{line}");
    }
}

#[test]
fn predict_falls_back_to_the_cpu_with_one_log_line() {
    engines_built();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("p.jsonl");
    let index = repo().join("samples/index.jsonl");
    let (code, _, err) = run(&["predict", "--jobs", "1", "-o", out.to_str().unwrap(), index.to_str().unwrap()], &[("HIGHLIGHTD__ENGINES__REQUIRED", "true")]);
    assert_eq!(code, Some(0), "{err}");
    let fallback: Vec<&str> = err.lines().filter(|l| l.contains("tensorrt skipped")).collect();
    assert_eq!(fallback.len(), 1, "expected one provider line:\n{err}");
    assert!(fallback[0].contains("execution providers: cpu") && fallback[0].contains("cuda skipped"), "{}", fallback[0]);
    assert!(err.matches("network ready").count() >= 5, "every network should be reported with its provider:\n{err}");
    let lines = common::read_jsonl(&out);
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["predictions"].as_array().is_some_and(|p| !p.is_empty())));
}

#[test]
fn engines_build_says_plainly_there_is_no_tensorrt() {
    engines_built();
    let (code, out, err) = run(&["engines", "build"], &[]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("no TensorRT here") && out.contains("CPUExecutionProvider") && out.contains("nothing to build"), "{out}");
}

/// A copy of the engines folder with one model file damaged.
fn damaged_engines(dir: &Path) -> String {
    let src = repo().join("engines");
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::copy(src.join("manifest.json"), dir.join("manifest.json")).unwrap();
    for e in std::fs::read_dir(src.join("models")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("models").join(e.file_name())).unwrap();
    }
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let face = m["models"].as_array().unwrap().iter().find(|x| x["task"] == "face").unwrap();
    let file = face["variants"][face["default_cpu"].as_str().unwrap()]["file"].as_str().unwrap().to_string();
    let mut bytes = std::fs::read(dir.join(&file)).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(dir.join(&file), bytes).unwrap();
    file
}

#[test]
fn a_damaged_model_is_refused_by_name() {
    engines_built();
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = damaged_engines(&tmp.path().join("engines"));
    let lib = repo().join("engines/lib").join(std::env::consts::ARCH).join("libonnxruntime.so");
    let env = [("HIGHLIGHTD__ENGINES__DIR", tmp.path().join("engines").to_str().unwrap().to_string()), ("ORT_DYLIB_PATH", lib.to_str().unwrap().to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let (code, out, _) = run(&["doctor"], &env);
    assert_eq!(code, Some(1), "{out}");
    let line = out.lines().find(|l| l.contains("model face")).unwrap();
    assert!(line.starts_with("FAIL") && line.contains("checksum mismatch") && line.contains(&file), "{line}");

    let index = repo().join("samples/index.jsonl");
    let pred = tmp.path().join("p.jsonl");
    let mut required = env.clone();
    required.push(("HIGHLIGHTD__ENGINES__REQUIRED", "true"));
    let (code, _, err) = run(&["predict", "-o", pred.to_str().unwrap(), index.to_str().unwrap()], &required);
    assert_eq!(code, Some(0), "a failed video is an empty line, not a failed batch: {err}");
    assert!(err.contains("checksum mismatch") && err.contains(&file), "{err}");
    let lines = common::read_jsonl(&pred);
    assert!(lines.iter().all(|l| l["predictions"].as_array().is_some_and(|p| p.is_empty())), "required networks failed: no predictions");

    let (code, _, err) = run(&["predict", "-o", pred.to_str().unwrap(), index.to_str().unwrap()], &env);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.matches("continuing with the classical pipeline").count(), 1, "{err}");
    let lines = common::read_jsonl(&pred);
    assert!(lines.iter().all(|l| l["predictions"].as_array().is_some_and(|p| !p.is_empty())), "classical fallback still predicts");
}

#[test]
fn a_missing_library_is_named() {
    engines_built();
    let (code, out, _) = run(&["doctor"], &[("HIGHLIGHTD__ENGINES__ONNXRUNTIME", "/nonexistent/libonnxruntime.so")]);
    assert_eq!(code, Some(1), "{out}");
    let line = out.lines().find(|l| l.contains("onnxruntime")).unwrap();
    assert!(line.starts_with("FAIL") && line.contains("/nonexistent/libonnxruntime.so"), "{line}");
}
