//! `highlightd doctor`: what this machine will actually use, checked for real.
//!
//! Each line is one fact an operator needs when a device misbehaves: the GStreamer version
//! and the hardware decoders, scaler and encoder it sees; the ONNX Runtime library, its
//! version and providers; each model file with its checksum and the provider it really runs
//! on (a session is built and one inference run, so a provider that registers but cannot
//! execute shows up here, not on the first video).

use crate::config::Config;
use crate::decode::hardware;
use crate::infer::{Model, Runtime, Task};
use crate::render::encoder;
use std::fmt::Write;
use std::time::Instant;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, but not as well as it could (no hardware decoder, CPU fallback).
    Note,
    /// Broken: the networks or the decoder cannot run.
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub topic: String,
    pub status: Status,
    pub detail: String,
}

fn check(topic: &str, status: Status, detail: impl Into<String>) -> Check {
    Check { topic: topic.into(), status, detail: detail.into() }
}

/// Runs every check.
pub fn run(cfg: &Config) -> Vec<Check> {
    let mut out = vec![check("highlightd", Status::Ok, format!("{} ({})", env!("CARGO_PKG_VERSION"), std::env::consts::ARCH))];
    out.extend(gstreamer_checks(cfg));
    out.extend(network_checks(cfg));
    out
}

fn gstreamer_checks(cfg: &Config) -> Vec<Check> {
    use gstreamer as gst;
    if let Err(e) = gst::init() {
        return vec![check("gstreamer", Status::Fail, format!("cannot initialise: {e}"))];
    }
    let mut out = vec![check("gstreamer", Status::Ok, gst::version_string().to_string())];
    match hardware::apply(cfg.decode.force_software) {
        Ok(hw) if hw.is_empty() => out.push(check("video decoders", Status::Note, "no hardware decoder; software decoding (avdec_*)")),
        Ok(hw) if cfg.decode.force_software => {
            out.push(check("video decoders", Status::Note, format!("hardware decoders {} disabled by decode.force_software", hw.join(", "))))
        }
        Ok(hw) => out.push(check("video decoders", Status::Ok, format!("hardware: {}", hw.join(", ")))),
        Err(e) => out.push(check("video decoders", Status::Fail, e.to_string())),
    }
    let have = |n: &str| gst::ElementFactory::find(n).is_some();
    for (name, what) in [("avdec_h264", "software H.264 decoder"), ("nvvidconv", "hardware scaler (Jetson)")] {
        let status = if have(name) { Status::Ok } else { Status::Note };
        out.push(check(what, status, if have(name) { format!("{name} present") } else { format!("{name} absent") }));
    }
    let names: Vec<&str> = ["nvv4l2h264enc", "nvvidconv", "x264enc"].into_iter().filter(|n| have(n)).collect();
    match encoder::choose(&names, cfg.decode.force_software, &cfg.render.x264_preset) {
        Some(e @ encoder::Encoder::JetsonHardware) => out.push(check("render encoder", Status::Ok, format!("{} (hardware)", e.element()))),
        Some(e) => out.push(check("render encoder", Status::Note, format!("{} (software)", e.element()))),
        None => out.push(check("render encoder", Status::Fail, "no H.264 encoder (x264enc or nvv4l2h264enc)")),
    }
    out
}

fn network_checks(cfg: &Config) -> Vec<Check> {
    if !cfg.engines.enabled {
        return vec![check("networks", Status::Note, "disabled by engines.enabled = false: classical pipeline only")];
    }
    let rt = match Runtime::open(&cfg.engines.options()) {
        Ok(rt) => rt,
        Err(e) => return vec![check("onnxruntime", Status::Fail, e.to_string())],
    };
    let mut out = vec![
        check("onnxruntime", Status::Ok, format!("{} from {}", rt.version, rt.library.display())),
        check("providers", Status::Ok, format!("built with {}; {}", rt.available.join(", "), rt.plan.summary())),
        check("engines", Status::Ok, rt.manifest.dir.display().to_string()),
    ];
    for task in Task::ALL {
        let topic = format!("model {task}");
        if !cfg.engines.models.contains(&task) {
            out.push(check(&topic, Status::Note, "not used (engines.models)"));
            continue;
        }
        let Some(entry) = rt.manifest.model(task) else {
            out.push(check(&topic, Status::Fail, "missing from the manifest"));
            continue;
        };
        let started = Instant::now();
        let loaded = rt.load(task).and_then(|mut m| {
            let load_s = started.elapsed().as_secs_f64();
            let inputs = m.zero_inputs();
            let t = Instant::now();
            m.run(inputs)?;
            Ok((m.provider(), m.variant().to_string(), load_s, t.elapsed().as_secs_f64()))
        });
        match loaded {
            Ok((provider, variant, load_s, run_s)) => {
                let file = entry.variant(&variant).map(|v| v.file.display().to_string()).unwrap_or_default();
                let sha = entry.variant(&variant).map(|v| v.sha256.get(..12).unwrap_or(&v.sha256).to_string()).unwrap_or_default();
                let status = if provider == crate::infer::Provider::Cpu && rt.plan.try_order.len() > 1 { Status::Note } else { Status::Ok };
                out.push(check(
                    &topic,
                    status,
                    format!("{} {} on {provider}: {file} (sha256 {sha}… ok), loaded in {load_s:.2} s, one inference {:.0} ms", entry.name, variant, run_s * 1000.0),
                ));
            }
            Err(e) => out.push(check(&topic, Status::Fail, e.to_string())),
        }
    }
    out
}

/// Aligned text, one check per line, and whether nothing failed.
pub fn render(checks: &[Check]) -> (String, bool) {
    let width = checks.iter().map(|c| c.topic.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Note => "note",
            Status::Fail => "FAIL",
        };
        let _ = writeln!(s, "{mark}  {:width$}  {}", c.topic, c.detail);
    }
    (s, checks.iter().all(|c| c.status != Status::Fail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_aligns_and_reports_failure() {
        let checks = vec![check("a", Status::Ok, "fine"), check("longer topic", Status::Fail, "broken")];
        let (text, ok) = render(&checks);
        assert!(!ok);
        assert_eq!(text, "ok    a             fine\nFAIL  longer topic  broken\n");
        assert!(render(&checks[..1]).1);
    }
}
