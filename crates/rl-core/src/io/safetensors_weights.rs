//! Reads model weights from safetensors files (one file or a sharded index), converts
//! f16 / bf16 / f64 to f32, and maps the names to the ones `expected_weights` uses.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::safetensors::Load;
use candle_core::{DType, Device};
use safetensors::tensor::Metadata;
use safetensors::{Dtype, SafeTensors};

use super::errors::{invalid, read_json, reason};
use super::finite::ensure_finite;
use crate::error::Result;
use crate::model::{expected_weights, validate_weights, Architecture, ConfigKeys, ModelConfig, TensorShapes, Weights};

const SINGLE_FILE: &str = "model.safetensors";
const INDEX_FILE: &str = "model.safetensors.index.json";
/// The safetensors crate's own limit on the JSON header.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Loads and validates the weights of the HuggingFace folder `dir`. The sizes in `config`
/// (read from `config_source`) are checked against the files' headers before any tensor
/// data is read or anything sized by the config is allocated.
pub fn load_folder_weights(dir: &Path, config: &ModelConfig, config_source: &str) -> Result<Weights> {
    let files = weight_files(dir)?;
    let mut shapes = TensorShapes::new();
    for file in &files {
        for (name, shape) in header_shapes(file)? {
            shapes.insert(canonical_name(config.architecture, &name), shape);
        }
    }
    config.check_against_tensors(&shapes, ConfigKeys::json(config.architecture), config_source)?;
    let expected: HashSet<String> = expected_weights(config).into_iter().map(|s| s.name).collect();
    let mut weights = Weights::new();
    for file in &files {
        read_file_into(file, config, &expected, &mut weights)?;
    }
    validate_weights(config, &weights, &dir.display().to_string())?;
    Ok(weights)
}

/// `model.safetensors`, or the shards listed by `model.safetensors.index.json`.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join(SINGLE_FILE);
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join(INDEX_FILE);
    if !index.is_file() {
        return Err(invalid(format!(
            "{} has neither {SINGLE_FILE} nor {INDEX_FILE}; save the model with safe_serialization (the default of transformers)",
            dir.display()
        )));
    }
    let map = read_json(&index)?;
    let Some(weight_map) = map.get("weight_map").and_then(|m| m.as_object()) else {
        return Err(invalid(format!("{} has no 'weight_map' object mapping tensor names to shard files", index.display())));
    };
    let shards: BTreeSet<&str> = weight_map.values().filter_map(|v| v.as_str()).collect();
    if shards.is_empty() {
        return Err(invalid(format!("{}: 'weight_map' lists no shard files", index.display())));
    }
    Ok(shards.into_iter().map(|s| dir.join(s)).collect())
}

/// The name and shape of each tensor of a safetensors file, from its header alone, with
/// every tensor's extent checked against the file's length.
fn header_shapes(file: &Path) -> Result<Vec<(String, Vec<usize>)>> {
    let corrupt = |what: String| invalid(format!("{} is not a valid safetensors file ({what}); it may be truncated or corrupt", file.display()));
    let mut f = File::open(file).map_err(|e| invalid(format!("cannot read {} ({e})", file.display())))?;
    let file_len = f.metadata().map_err(|e| invalid(format!("cannot read {} ({e})", file.display())))?.len();
    let mut prefix = [0u8; 8];
    f.read_exact(&mut prefix).map_err(|_| corrupt("shorter than the 8 bytes that give its header's length".into()))?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER_BYTES || header_len > file_len.saturating_sub(8) {
        return Err(corrupt(format!("its header claims {header_len} bytes, but the file holds {file_len}")));
    }
    let mut header = vec![0u8; header_len as usize];
    f.read_exact(&mut header).map_err(|e| corrupt(format!("cannot read its header ({e})")))?;
    // Deserializing checks that the tensors' offsets tile the data and match their shapes.
    let metadata: Metadata = serde_json::from_slice(&header).map_err(|e| corrupt(format!("bad header: {e}")))?;
    let data_len = file_len - 8 - header_len;
    if metadata.data_len() as u64 != data_len {
        return Err(corrupt(format!("its header describes {} bytes of tensor data, but {data_len} follow it", metadata.data_len())));
    }
    Ok(metadata.tensors().into_iter().map(|(name, info)| (name, info.shape.clone())).collect())
}

fn read_file_into(file: &Path, config: &ModelConfig, expected: &HashSet<String>, weights: &mut Weights) -> Result<()> {
    let bytes = std::fs::read(file).map_err(|e| invalid(format!("cannot read {} ({e})", file.display())))?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| invalid(format!("{} is not a valid safetensors file ({e}); it may be truncated or corrupt", file.display())))?;
    for (stored_name, view) in tensors.tensors() {
        let name = canonical_name(config.architecture, &stored_name);
        if !expected.contains(&name) {
            if is_ignorable(config, &name) {
                continue;
            }
            return Err(invalid(format!(
                "{} holds tensor '{stored_name}', which a {:?} model with this config.json does not have; check that config.json belongs to these weights",
                file.display(),
                config.architecture
            )));
        }
        if !matches!(view.dtype(), Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64) {
            return Err(invalid(format!(
                "{}: tensor '{stored_name}' has dtype {:?}; expected a float type (f32, f16 or bf16)",
                file.display(),
                view.dtype()
            )));
        }
        let tensor = view
            .load(&Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| invalid(format!("{}: cannot read tensor '{stored_name}' ({})", file.display(), reason(e))))?;
        ensure_finite(&tensor, &stored_name, &file.display().to_string())?;
        weights.insert(name, tensor);
    }
    Ok(())
}

/// GPT-2 checkpoints exist with and without the `transformer.` prefix.
fn canonical_name(arch: Architecture, name: &str) -> String {
    match arch {
        Architecture::Gpt2 if !name.starts_with("transformer.") && name != "lm_head.weight" => format!("transformer.{name}"),
        _ => name.to_string(),
    }
}

/// Tensors some checkpoints carry that the model does not need: a tied lm_head (it is the
/// token embedding), GPT-2's causal-mask buffers, precomputed RoPE frequencies.
fn is_ignorable(config: &ModelConfig, name: &str) -> bool {
    (name == "lm_head.weight" && config.tie_word_embeddings)
        || name.ends_with(".attn.bias")
        || name.ends_with(".attn.masked_bias")
        || name.ends_with(".rotary_emb.inv_freq")
}
