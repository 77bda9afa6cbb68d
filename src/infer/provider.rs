//! Which execution provider each network runs on, decided before any session is built.
//!
//! The order of preference comes from the configuration (TensorRT, then CUDA, then the CPU by
//! default). A provider is only tried when the loaded ONNX Runtime was built with it; the CPU
//! is always possible and always last, so a machine without a GPU ends up there with one log
//! line saying why, instead of an error.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ONNX Runtime execution provider highlightd knows how to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// NVIDIA TensorRT: int8 and fp16 kernels, engines cached on disk per device.
    TensorRt,
    /// NVIDIA CUDA kernels.
    Cuda,
    /// ONNX Runtime's own CPU kernels (MLAS).
    Cpu,
}

impl Provider {
    /// The name ONNX Runtime uses for it (`GetAvailableProviders`).
    pub fn ort_name(self) -> &'static str {
        match self {
            Provider::TensorRt => "TensorrtExecutionProvider",
            Provider::Cuda => "CUDAExecutionProvider",
            Provider::Cpu => "CPUExecutionProvider",
        }
    }

    /// The name used in the configuration and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::TensorRt => "tensorrt",
            Provider::Cuda => "cuda",
            Provider::Cpu => "cpu",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a preferred provider is not tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub provider: Provider,
    pub reason: String,
}

/// The providers to try, in order, and the ones left out with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Non-empty; always ends with [`Provider::Cpu`].
    pub try_order: Vec<Provider>,
    pub skipped: Vec<Skipped>,
}

impl Plan {
    /// One line for the log: what will be tried and what was left out.
    pub fn summary(&self) -> String {
        let order: Vec<&str> = self.try_order.iter().map(|p| p.as_str()).collect();
        let mut s = format!("execution providers: {}", order.join(" → "));
        for k in &self.skipped {
            s.push_str(&format!("; {} skipped: {}", k.provider, k.reason));
        }
        s
    }
}

/// Orders the `preferred` providers (duplicates removed) by what the loaded runtime offers
/// (`available`, ONNX Runtime names). The CPU is appended when missing: every network can run
/// there, and a configuration that lists only GPUs should degrade, not fail.
pub fn plan(preferred: &[Provider], available: &[String]) -> Plan {
    let mut try_order = Vec::new();
    let mut skipped = Vec::new();
    for &p in preferred {
        if try_order.contains(&p) || p == Provider::Cpu {
            continue;
        }
        if available.iter().any(|a| a == p.ort_name()) {
            try_order.push(p);
        } else {
            skipped.push(Skipped { provider: p, reason: format!("this ONNX Runtime was built without {}", p.ort_name()) });
        }
    }
    try_order.push(Provider::Cpu);
    Plan { try_order, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const ALL: [Provider; 3] = [Provider::TensorRt, Provider::Cuda, Provider::Cpu];

    #[test]
    fn cpu_only_runtime_falls_back_to_cpu_and_says_why() {
        let p = plan(&ALL, &names(&["CPUExecutionProvider"]));
        assert_eq!(p.try_order, vec![Provider::Cpu]);
        assert_eq!(p.skipped.len(), 2);
        let line = p.summary();
        assert!(line.contains("tensorrt skipped") && line.contains("cuda skipped") && line.contains("TensorrtExecutionProvider"), "{line}");
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn jetson_runtime_keeps_the_preferred_order() {
        let p = plan(&ALL, &names(&["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]));
        assert_eq!(p.try_order, ALL.to_vec());
        assert!(p.skipped.is_empty());
    }

    #[test]
    fn cuda_without_tensorrt() {
        let p = plan(&ALL, &names(&["CUDAExecutionProvider", "CPUExecutionProvider"]));
        assert_eq!(p.try_order, vec![Provider::Cuda, Provider::Cpu]);
        assert_eq!(p.skipped, vec![Skipped { provider: Provider::TensorRt, reason: "this ONNX Runtime was built without TensorrtExecutionProvider".into() }]);
    }

    #[test]
    fn cpu_is_always_last_and_listed_once() {
        let avail = names(&["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]);
        assert_eq!(plan(&[Provider::Cpu, Provider::Cuda], &avail).try_order, vec![Provider::Cuda, Provider::Cpu]);
        assert_eq!(plan(&[Provider::Cuda, Provider::Cuda], &avail).try_order, vec![Provider::Cuda, Provider::Cpu]);
        assert_eq!(plan(&[], &avail).try_order, vec![Provider::Cpu]);
    }

    #[test]
    fn names_round_trip_through_the_config_spelling() {
        for p in ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
        }
    }
}
