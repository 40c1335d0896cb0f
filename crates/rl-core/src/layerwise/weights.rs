//! The model's weights as the engine reads them: one order over every architecture (each
//! block's weights, then the embeddings, the final norm and the head), and flat f32 slices
//! of candle tensors held under their storage locks for as long as a pass runs.

use std::ops::Deref;

use candle_core::{CpuStorage, Layout as TensorLayout, Storage, Tensor};

use super::linear::{Adapter, Weight};
use super::matmul::Layout;
use super::{gpt2, llama};
use crate::error::{CoreError, ErrorCode, Result};
use crate::model::layers::LoraFactors;
use crate::model::{Architecture, ModelConfig, Weights};

/// Weights per block.
pub(crate) fn per_layer(config: &ModelConfig) -> usize {
    match config.architecture {
        Architecture::Llama => llama::BLOCK_WEIGHTS.len(),
        Architecture::Gpt2 => gpt2::BLOCK_WEIGHTS.len(),
    }
}

/// The model's weights in the engine's order: each block's weights, then the token
/// embedding, the final norm, and lm_head (Llama, untied) or the position table (GPT-2).
/// A weight's bias, when the model has one, is found beside it.
pub(crate) fn weight_names(config: &ModelConfig) -> Vec<String> {
    let block = |prefix: &'static str, names: &'static [&'static str]| (0..config.num_layers).flat_map(move |l| names.iter().map(move |w| format!("{prefix}.{l}.{w}")));
    let mut names: Vec<String> = match config.architecture {
        Architecture::Llama => block("model.layers", &llama::BLOCK_WEIGHTS).chain(["model.embed_tokens.weight".into(), "model.norm.weight".into()]).collect(),
        Architecture::Gpt2 => block("transformer.h", &gpt2::BLOCK_WEIGHTS).chain(["transformer.wte.weight".into(), "transformer.ln_f.weight".into(), "transformer.wpe.weight".into()]).collect(),
    };
    if config.architecture == Architecture::Llama && !config.tie_word_embeddings {
        names.push("lm_head.weight".into());
    }
    names
}

/// The name of a weight's bias.
pub(crate) fn bias_name(weight: &str) -> Option<String> {
    weight.strip_suffix(".weight").map(|module| format!("{module}.bias"))
}

/// Where `weight_names` puts the token embedding, the final norm, and the entry after it
/// (GPT-2's position table, or an untied Llama's lm_head).
pub(crate) struct Indices {
    pub embed: usize,
    pub norm: usize,
    pub extra: usize,
    /// The output projection: lm_head, or the token embedding it is tied to.
    pub head: usize,
}

impl Indices {
    pub fn new(config: &ModelConfig) -> Self {
        let embed = config.num_layers * per_layer(config);
        let untied = config.architecture == Architecture::Llama && !config.tie_word_embeddings;
        Indices { embed, norm: embed + 1, extra: embed + 2, head: if untied { embed + 2 } else { embed } }
    }
}

/// A read lock on a tensor's storage (candle's lock type is its own business).
type StorageGuard<'t> = Box<dyn Deref<Target = Storage> + 't>;

/// Tensors' storage held for reading, by index, some entries absent (a weight without a
/// bias or an adapter).
pub(crate) struct Locked<'t> {
    guards: Vec<Option<(StorageGuard<'t>, &'t TensorLayout)>>,
}

impl<'t> Locked<'t> {
    pub fn new(tensors: impl IntoIterator<Item = Option<&'t Tensor>>) -> Self {
        Locked {
            guards: tensors
                .into_iter()
                .map(|t| t.map(|t| {
                    let (storage, layout) = t.storage_and_layout();
                    (Box::new(storage) as StorageGuard<'t>, layout)
                }))
                .collect(),
        }
    }

    /// Entry i's values, if it has a tensor.
    pub fn get(&self, i: usize) -> Result<Option<&[f32]>> {
        let Some((storage, layout)) = &self.guards[i] else { return Ok(None) };
        match (&***storage, layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => Ok(Some(&data[start..end])),
            _ => Err(CoreError::new(ErrorCode::Compute, "the layer-wise engine reads contiguous f32 weights on the CPU")),
        }
    }

    /// The first dimension of entry i's tensor (0 when absent).
    pub fn rows(&self, i: usize) -> usize {
        self.guards[i].as_ref().map_or(0, |(_, layout)| layout.shape().dims()[0])
    }
}

/// Tensors held for a pass: every weight of the model in `weight_names` order, with their
/// biases and, when only adapters train, the adapters' A and B.
pub(crate) struct WeightLocks<'t> {
    pub weights: Locked<'t>,
    pub biases: Locked<'t>,
    pub adapters: [Locked<'t>; 2],
}

impl WeightLocks<'_> {
    /// The engine's view of every weight; `scale` is the adapters' alpha / rank.
    pub fn views(&self, config: &ModelConfig, scale: f32) -> Result<Vec<Weight<'_>>> {
        let layout = if config.architecture == Architecture::Gpt2 { Layout::InOut } else { Layout::OutIn };
        (0..self.weights.guards.len())
            .map(|i| {
                let w = self.weights.get(i)?.expect("every weight is present");
                let lora = match (self.adapters[0].get(i)?, self.adapters[1].get(i)?) {
                    (Some(a), Some(b)) => Some(Adapter { a, b, rank: self.adapters[0].rows(i), scale }),
                    _ => None,
                };
                Ok(Weight { w, layout, bias: self.biases.get(i)?, lora })
            })
            .collect()
    }
}

/// A decoder's tensors in the engine's order, with their biases and any unmerged LoRA
/// factors (A and s * B), looked up by name once: a pass then only locks them.
pub(crate) struct EngineTensors {
    weights: Vec<Tensor>,
    biases: Vec<Option<Tensor>>,
    adapters: [Vec<Option<Tensor>>; 2],
}

impl EngineTensors {
    pub fn new(config: &ModelConfig, weights: &Weights) -> Result<Self> {
        let names = weight_names(config);
        let find = |name: Option<String>| name.and_then(|n| weights.get(&n).cloned());
        let adapter = |j: usize| names.iter().map(|n| find(n.strip_suffix(".weight").map(|m| LoraFactors::names(m)[j].clone()))).collect();
        Ok(EngineTensors {
            weights: lookup(&names, |n| weights.get(n))?.into_iter().cloned().collect(),
            biases: names.iter().map(|n| find(bias_name(n))).collect(),
            adapters: [adapter(0), adapter(1)],
        })
    }

    /// Tensor `i` (in `weight_names` order).
    pub fn weight(&self, i: usize) -> &Tensor {
        &self.weights[i]
    }

    /// Every tensor held for a pass (the adapters' scale is already in their B).
    pub fn lock(&self) -> WeightLocks<'_> {
        fn some(ts: &[Option<Tensor>]) -> Locked<'_> {
            Locked::new(ts.iter().map(Option::as_ref))
        }
        WeightLocks {
            weights: Locked::new(self.weights.iter().map(Some)),
            biases: some(&self.biases),
            adapters: [some(&self.adapters[0]), some(&self.adapters[1])],
        }
    }
}

/// Looks up every weight of the engine's order in `weights` (a missing one is a model error).
pub(crate) fn lookup<'m, T>(names: &[String], find: impl Fn(&str) -> Option<&'m T>) -> Result<Vec<&'m T>> {
    names
        .iter()
        .map(|n| find(n).ok_or_else(|| CoreError::new(ErrorCode::InvalidModel, format!("the layer-wise engine needs the weight {n}"))))
        .collect()
}
