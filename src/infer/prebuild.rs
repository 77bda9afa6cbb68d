//! `highlightd engines build`: build every TensorRT engine ahead of the first video.
//!
//! TensorRT compiles each network for the device it runs on, which takes minutes on a
//! Jetson; the provider caches the result in `[engines] tensorrt_cache`. Creating one session
//! per model on the TensorRT provider fills that cache, so the daemon's first video starts
//! at full speed.

use super::{InferError, Provider, Runtime, Task};
use std::time::{Duration, Instant};

/// What `engines build` did.
#[derive(Debug)]
pub enum Prebuild {
    /// The loaded ONNX Runtime has no TensorRT provider: nothing to build.
    NoTensorRt { library: String, version: String, providers: Vec<String> },
    /// Each model and how long its engine took (a cached engine loads in well under a second).
    Built(Vec<(Task, Result<Duration, InferError>)>),
}

impl Prebuild {
    /// Plain text for the operator.
    pub fn render(&self) -> String {
        match self {
            Prebuild::NoTensorRt { library, version, providers } => format!(
                "no TensorRT here: ONNX Runtime {version} ({library}) offers {}; nothing to build — the networks run on the CPU.\n\
                 On a Jetson, set [engines] onnxruntime to JetPack's GPU build of libonnxruntime.so.\n",
                providers.join(", ")
            ),
            Prebuild::Built(rows) => {
                let mut s = String::new();
                for (task, r) in rows {
                    match r {
                        Ok(d) => s.push_str(&format!("{task}: TensorRT engine ready in {:.1} s\n", d.as_secs_f64())),
                        Err(e) => s.push_str(&format!("{task}: FAILED: {e}\n")),
                    }
                }
                s
            }
        }
    }

    pub fn succeeded(&self) -> bool {
        matches!(self, Prebuild::Built(rows) if rows.iter().all(|(_, r)| r.is_ok()))
    }
}

/// Builds (or loads from the cache) the TensorRT engine of each of `tasks`.
pub fn prebuild(rt: &Runtime, tasks: &[Task]) -> Prebuild {
    if !rt.plan.try_order.contains(&Provider::TensorRt) {
        return Prebuild::NoTensorRt { library: rt.library.display().to_string(), version: rt.version.clone(), providers: rt.available.clone() };
    }
    let rows = tasks
        .iter()
        .map(|&task| {
            let started = Instant::now();
            (task, rt.load_on(task, &[Provider::TensorRt]).map(|_| started.elapsed()))
        })
        .collect();
    Prebuild::Built(rows)
}
