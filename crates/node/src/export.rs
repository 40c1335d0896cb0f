//! Binding of `rl_core::io::export_gguf`: a model folder (or a LoRA adapter with its base,
//! merged first) to a GGUF file for llama.cpp and Ollama, off the event loop.

use std::path::PathBuf;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use rl_core::engine::Engine;
use rl_core::io::{export_gguf as core_export, load_model, GgufExport, GgufType};
use rl_core::lora::LoraSource;

use crate::errors::guarded;

#[napi(object)]
pub struct NativeExportOptions {
    /// A HuggingFace folder or .gguf file: the model, or the base of `adapter`.
    pub model: String,
    /// A LoRA adapter folder (PEFT layout) to merge into `model` first.
    pub adapter: Option<String>,
    pub to: String,
    /// "f32", "f16" or "q8_0".
    pub tensor_type: String,
    /// `general.name`, what llama.cpp and Ollama show.
    pub name: Option<String>,
}

#[napi(object)]
pub struct NativeGgufExport {
    pub architecture: String,
    pub tokenizer_pre: String,
    pub tensors: u32,
    pub bytes: f64,
    pub f16_fallbacks: Vec<String>,
}

pub struct ExportTask {
    options: NativeExportOptions,
}

impl ExportTask {
    fn run(&self) -> rl_core::error::Result<GgufExport> {
        let o = &self.options;
        let tensor_type = GgufType::parse(&o.tensor_type)?;
        let model_path = PathBuf::from(&o.model);
        let model = match &o.adapter {
            None => load_model(&model_path)?,
            Some(adapter) => Engine::load(&model_path, Some(&LoraSource::Saved(PathBuf::from(adapter))))?.merged_model()?,
        };
        core_export(&model, &PathBuf::from(&o.to), tensor_type, o.name.as_deref())
    }
}

impl Task for ExportTask {
    type Output = GgufExport;
    type JsValue = NativeGgufExport;

    fn compute(&mut self) -> napi::Result<GgufExport> {
        guarded(|| self.run())
    }

    fn resolve(&mut self, _env: Env, e: GgufExport) -> napi::Result<NativeGgufExport> {
        Ok(NativeGgufExport {
            architecture: e.architecture.into(),
            tokenizer_pre: e.tokenizer_pre.into(),
            tensors: e.tensors as u32,
            bytes: e.bytes as f64,
            f16_fallbacks: e.f16_fallbacks,
        })
    }
}

/// Writes a model (LoRA adapter merged, if given) as a GGUF file.
#[napi(ts_return_type = "Promise<NativeGgufExport>")]
pub fn export_gguf(options: NativeExportOptions) -> AsyncTask<ExportTask> {
    AsyncTask::new(ExportTask { options })
}
