//! ONNX Runtime, loaded at run time, and sessions built on the best provider that works.

use super::locate::{engines_dir_candidates, first_existing, library_candidates};
use super::manifest::verify;
use super::provider::{plan, Plan};
use super::{InferError, Manifest, Model, Output, Precision, Provider, Task, Tensor, TensorData};
use ort::ep;
use ort::session::{Session, SessionInputValue};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tracing::{info, warn};

/// How to find and run the networks; from `[engines]` in the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Engines folder (manifest.json, models/); empty: search (see [`super::locate`]).
    pub dir: PathBuf,
    /// `libonnxruntime.so`; empty: search.
    pub onnxruntime: PathBuf,
    /// Providers in order of preference; the CPU is always added last.
    pub providers: Vec<Provider>,
    /// Where TensorRT keeps the engines it builds, so each is built once per device.
    pub tensorrt_cache: PathBuf,
    /// Intra-op threads per session; 0 lets ONNX Runtime decide.
    pub threads: usize,
    /// Force a precision; `None` uses the int8 QDQ model on TensorRT and the manifest's
    /// measured `default_cpu` elsewhere.
    pub precision: Option<Precision>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            onnxruntime: PathBuf::new(),
            providers: vec![Provider::TensorRt, Provider::Cuda, Provider::Cpu],
            tensorrt_cache: PathBuf::from("/var/cache/highlightd/tensorrt"),
            threads: 0,
            precision: None,
        }
    }
}

/// The loaded library: where from and which version. Loaded once per process.
#[derive(Debug, Clone, PartialEq)]
struct Loaded {
    path: PathBuf,
    version: String,
}

static LOADED: OnceLock<Result<Loaded, String>> = OnceLock::new();

/// Reads the version string through the C API's entry point, then hands the library to `ort`
/// (which refuses a runtime older than the API level it was built for, `api-17` = 1.17).
fn load_library(path: &Path) -> Result<Loaded, String> {
    // SAFETY: loading a shared library runs its initialisers; this is the library the user
    // or the package configured as ONNX Runtime, and `ort` loads the very same file next.
    let version = unsafe {
        let lib = libloading::Library::new(path).map_err(|e| e.to_string())?;
        let get: libloading::Symbol<unsafe extern "system" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase").map_err(|_| format!("{}: not an ONNX Runtime library (no OrtGetApiBase)", path.display()))?;
        let base = get();
        if base.is_null() {
            return Err(format!("{}: OrtGetApiBase returned nothing", path.display()));
        }
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            String::from("unknown")
        } else {
            std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned()
        }
    };
    ort::init_from(path).map_err(|e| e.to_string())?.with_name("highlightd").with_telemetry(false).commit();
    // `ort` releases the environment from a `.fini_array` hook at exit; with a dynamically
    // loaded runtime whose own destructors may already have run, that `ReleaseEnv` crashes
    // the process after a successful run (seen here with 1.22.1; ort issue #609 reports the
    // same with CUDA). Holding one reference for the life of the process keeps `ReleaseEnv`
    // from running; the OS reclaims everything at exit anyway.
    match ort::environment::Environment::current() {
        Ok(env) => std::mem::forget(env),
        Err(e) => return Err(format!("cannot create the ONNX Runtime environment: {e}")),
    }
    Ok(Loaded { path: path.to_path_buf(), version })
}

/// The runtime with its manifest: what `predict` and `doctor` use to get networks.
#[derive(Debug)]
pub struct Runtime {
    pub library: PathBuf,
    pub version: String,
    /// Providers the loaded library was built with (ONNX Runtime names).
    pub available: Vec<String>,
    pub plan: Plan,
    pub manifest: Manifest,
    opts: EngineOptions,
}

/// The engines folder that [`Runtime::open`] would use.
pub fn find_engines_dir(opts: &EngineOptions) -> Result<PathBuf, InferError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let exe = std::env::current_exe().ok();
    let candidates = engines_dir_candidates(&opts.dir, exe.as_deref(), &cwd);
    candidates.iter().find(|d| d.join(Manifest::FILE).is_file()).cloned().ok_or_else(|| InferError::NoEngines {
        looked: candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

impl Runtime {
    /// Finds the engines and the library, loads the library (once per process) and plans
    /// the providers. Logs one line with the plan, naming every provider left out and why.
    pub fn open(opts: &EngineOptions) -> Result<Runtime, InferError> {
        let dir = find_engines_dir(opts)?;
        let manifest = Manifest::load(&dir)?;
        let env = std::env::var(super::locate::LIBRARY_ENV).ok();
        let candidates = library_candidates(&opts.onnxruntime, env.as_deref(), Some(&dir), std::env::consts::ARCH);
        let looked = candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", ");
        let loaded = LOADED
            .get_or_init(|| {
                let path = first_existing(&candidates, Path::exists).ok_or_else(|| "no candidate exists".to_string())?;
                load_library(&path)
            })
            .clone()
            .map_err(|message| InferError::Library { looked: looked.clone(), message })?;
        let available = [Provider::TensorRt, Provider::Cuda, Provider::Cpu]
            .into_iter()
            .filter(|p| provider_compiled(*p))
            .map(|p| p.ort_name().to_string())
            .collect::<Vec<_>>();
        let plan = plan(&opts.providers, &available);
        info!(library = %loaded.path.display(), version = %loaded.version, "ONNX Runtime loaded; {}", plan.summary());
        Ok(Runtime { library: loaded.path, version: loaded.version, available, plan, manifest, opts: opts.clone() })
    }

    /// Builds a session for the model of `task` on the first provider of the plan that
    /// accepts it; each fallback is one warning naming the provider and its error.
    pub fn load(&self, task: Task) -> Result<OrtModel, InferError> {
        self.load_on(task, &self.plan.try_order)
    }

    /// [`Runtime::load`] restricted to `providers`, in that order.
    pub fn load_on(&self, task: Task, providers: &[Provider]) -> Result<OrtModel, InferError> {
        let entry = self.manifest.model(task).ok_or_else(|| InferError::NoModel { manifest: self.manifest.dir.join(Manifest::FILE), task })?;
        let mut last = String::new();
        for &provider in providers {
            let (variant_name, variant) = entry
                .variant_for(provider, self.opts.precision)
                .ok_or_else(|| InferError::Session { model: entry.name.clone(), message: "the manifest lists no model file".into() })?;
            let path = verify(&self.manifest, variant)?;
            let variant_name = variant_name.to_string();
            match self.session(&path, provider) {
                Ok(session) => {
                    info!(model = %entry.name, task = %task, provider = %provider, variant = %variant_name, "network ready");
                    return Ok(OrtModel { name: entry.name.clone(), provider, variant: variant_name, session });
                }
                Err(e) => {
                    warn!(model = %entry.name, "{provider} could not run it ({e}); trying the next provider");
                    last = e;
                }
            }
        }
        Err(InferError::Session { model: entry.name.clone(), message: last })
    }

    /// A model from a file outside the manifest (a cross-validation fold's scorer), on the
    /// first provider of the plan that accepts it. No checksum: the caller names the file.
    pub fn load_file(&self, name: &str, path: &Path) -> Result<OrtModel, InferError> {
        if !path.is_file() {
            return Err(InferError::Io { path: path.into(), source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such model file") });
        }
        let mut last = String::new();
        for &provider in &self.plan.try_order {
            match self.session(path, provider) {
                Ok(session) => return Ok(OrtModel { name: name.into(), provider, variant: "file".into(), session }),
                Err(e) => last = e,
            }
        }
        Err(InferError::Session { model: format!("{name} ({})", path.display()), message: last })
    }

    fn session(&self, path: &Path, provider: Provider) -> Result<Session, String> {
        let s = |e: ort::Error<ort::session::builder::SessionBuilder>| e.to_string();
        // No spinning: decoding runs beside the networks on the same cores, and worker
        // threads that busy-wait between operators take the CPU the decoder needs.
        let mut builder = Session::builder().map_err(|e| e.to_string())?.with_intra_op_spinning(false).map_err(s)?;
        if self.opts.threads > 0 {
            builder = builder.with_intra_threads(self.opts.threads).map_err(s)?;
        }
        let dispatch = match provider {
            Provider::TensorRt => {
                let cache = self.opts.tensorrt_cache.display().to_string();
                ep::TensorRT::default()
                    .with_int8(true)
                    .with_fp16(true)
                    .with_engine_cache(true)
                    .with_engine_cache_path(&cache)
                    .with_timing_cache(true)
                    .with_timing_cache_path(&cache)
                    .build()
                    .error_on_failure()
            }
            Provider::Cuda => ep::CUDA::default().build().error_on_failure(),
            Provider::Cpu => ep::CPU::default().build().error_on_failure(),
        };
        builder = builder.with_execution_providers([dispatch]).map_err(s)?;
        builder.commit_from_file(path).map_err(|e| e.to_string())
    }
}

fn provider_compiled(p: Provider) -> bool {
    use ort::ep::ExecutionProvider;
    let r = match p {
        Provider::TensorRt => ep::TensorRT::default().is_available(),
        Provider::Cuda => ep::CUDA::default().is_available(),
        Provider::Cpu => return true,
    };
    r.unwrap_or(false)
}

/// A network on an ONNX Runtime session.
pub struct OrtModel {
    name: String,
    provider: Provider,
    variant: String,
    session: Session,
}

impl OrtModel {
    /// The manifest variant it runs (`fp32`, `int8`, `int8_cpu`).
    pub fn variant(&self) -> &str {
        &self.variant
    }

    /// Zero-filled inputs of the model's declared shapes (a dynamic dimension becomes 1):
    /// what `doctor` runs to prove the provider executes the network.
    pub fn zero_inputs(&self) -> Vec<Tensor> {
        use ort::value::TensorElementType as T;
        self.session
            .inputs()
            .iter()
            .map(|i| {
                let shape: Vec<usize> = i.dtype().tensor_shape().map(|s| s.iter().map(|&d| d.max(1) as usize).collect()).unwrap_or_default();
                let n = shape.iter().product();
                match i.dtype().tensor_type() {
                    Some(T::Uint8) => Tensor::u8(shape, vec![0; n]),
                    _ => Tensor::f32(shape, vec![0.0; n]),
                }
            })
            .collect()
    }
}

impl Model for OrtModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> Provider {
        self.provider
    }

    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Output>, InferError> {
        let model = self.name.clone();
        let err = |message: String| InferError::Session { model: model.clone(), message };
        if inputs.len() != self.session.inputs().len() {
            return Err(err(format!("expects {} inputs, got {}", self.session.inputs().len(), inputs.len())));
        }
        let mut values: Vec<SessionInputValue<'_>> = Vec::with_capacity(inputs.len());
        for (index, t) in inputs.into_iter().enumerate() {
            if !t.is_consistent() {
                return Err(InferError::Input { model: model.clone(), index, message: format!("shape {:?} does not match the data length", t.shape) });
            }
            let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
            let value = match t.data {
                TensorData::F32(v) => ort::value::Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
                TensorData::U8(v) => ort::value::Tensor::from_array((shape, v)).map(|t| t.into_dyn()),
            }
            .map_err(|e| InferError::Input { model: model.clone(), index, message: e.to_string() })?;
            values.push(value.into());
        }
        let outputs = self.session.run(values.as_slice()).map_err(|e| err(e.to_string()))?;
        let mut out = Vec::with_capacity(outputs.len());
        for (name, value) in outputs.iter() {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| err(format!("output {name}: {e}")))?;
            out.push(Output { shape: shape.iter().map(|&d| d.max(0) as usize).collect(), data: data.to_vec() });
        }
        Ok(out)
    }
}
