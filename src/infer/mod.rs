//! Inference: one small trait over the neural networks, one implementation on ONNX Runtime.
//!
//! ONNX Runtime is loaded at run time (`ort` with `load-dynamic`), so the same binary runs
//! with the CPU library from the PyPI wheel on a laptop and with JetPack's GPU build on a
//! Jetson, where its TensorRT provider runs the int8 QDQ models. TensorRT is reached only
//! through ONNX Runtime's provider: no direct TensorRT or CUDA bindings are needed (see the
//! README for why `tensorrt-rs` and `cudarc` are not used).
//!
//! - [`provider`]: which execution provider to try, in order (pure, tested without a GPU).
//! - [`locate`]: where the engines folder and the library are.
//! - [`manifest`]: `engines/manifest.json`, checksums.
//! - [`runtime`]: loading the library and building sessions.

pub mod locate;
pub mod manifest;
pub mod prebuild;
pub mod provider;
pub mod runtime;

pub use manifest::{Manifest, Precision, Task};
pub use provider::Provider;
pub use runtime::{EngineOptions, OrtModel, Runtime};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a valid manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: checksum mismatch (expected {expected}, found {actual}): rebuild the engines with `engines/build.sh`")]
    Checksum { path: PathBuf, expected: String, actual: String },
    #[error("no engines folder found (looked in {looked}); run `engines/build.sh` or set [engines] dir")]
    NoEngines { looked: String },
    #[error("ONNX Runtime library not loaded ({looked}): {message}")]
    Library { looked: String, message: String },
    #[error("the manifest {manifest} has no {task} model")]
    NoModel { manifest: PathBuf, task: Task },
    #[error("{model}: {message}")]
    Session { model: String, message: String },
    #[error("{model}: input {index}: {message}")]
    Input { model: String, index: usize, message: String },
}

/// The element data of an input tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    U8(Vec<u8>),
}

/// An input tensor: shape (row-major) and data.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Tensor { shape, data: TensorData::F32(data) }
    }

    pub fn u8(shape: Vec<usize>, data: Vec<u8>) -> Self {
        Tensor { shape, data: TensorData::U8(data) }
    }

    fn elements(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            TensorData::U8(v) => v.len(),
        }
    }

    /// Whether the data fills the shape exactly; checked before anything reaches the runtime.
    pub fn is_consistent(&self) -> bool {
        self.shape.iter().product::<usize>() == self.elements()
    }
}

/// An output tensor, as f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A loaded network. The pre- and post-processing that make its numbers mean something live
/// with each model's wrapper (`analyse::nets`); this is only tensors in, tensors out.
pub trait Model: Send {
    /// The model's name in the manifest.
    fn name(&self) -> &str;
    /// The provider the session was built on.
    fn provider(&self) -> Provider;
    /// Runs the network: inputs in the model's input order, outputs in its output order.
    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Output>, InferError>;
}

/// A borrowed network is a network: lets a caller lend a model it keeps across videos to a
/// consumer (the audio tagger) that takes one by value.
impl<M: Model + ?Sized> Model for &mut M {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn provider(&self) -> Provider {
        (**self).provider()
    }

    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Output>, InferError> {
        (**self).run(inputs)
    }
}
