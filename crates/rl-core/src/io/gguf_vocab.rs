//! A model's tokenizer as GGUF `tokenizer.*` metadata, the way llama.cpp's converter
//! writes a byte-level BPE tokenizer: `tokenizer.ggml.model` "gpt2", one token string and
//! type per embedding row, the merges, the pre-tokenizer's name, the special token ids and
//! the chat template.
//!
//! llama.cpp knows a pre-tokenizer only by name. The name is chosen by rebuilding the
//! tokenizer from the metadata with each candidate (the GGUF loader's own code) and keeping
//! one that splits a probe text exactly as the model's tokenizer does, preferring the one
//! built like the model's own; if none does, the export fails rather than write a file that
//! tokenizes differently.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use serde_json::Value as Json;

use super::errors::invalid;
use super::gguf_metadata::Metadata;
use super::gguf_tokenizer::tokenizer_from_metadata;
use super::LoadedModel;
use crate::error::Result;

/// llama.cpp token types.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const UNUSED: i32 = 5;

/// llama.cpp's names of the byte-level BPE pre-tokenizers the GGUF loader rebuilds, in
/// the order they are tried.
const PRE_TOKENIZERS: [&str; 4] = ["gpt-2", "smollm", "llama-bpe", "qwen2"];

/// Text on which those pre-tokenizers disagree: digit runs, contractions in capitals,
/// punctuation before letters, runs of spaces and newlines, a decomposed accent (which
/// Qwen2 normalizes), scripts and emoji.
const PROBE: &str = "Order 7 77 777 7777 1234567 3.14 is late!! I'LL wait, you're SURE it's 'Gone'? (normal) $price\n\n  two  spaces\t\ttabs \n \
    e\u{301}te\u{301} cafe\u{301} naïve Grüße 我想在apple工作 нещо на Български 🚀😶‍🌫️ ```====..!!?? \r\n";

/// The tokenizer metadata, and the name of the pre-tokenizer it chose.
pub struct VocabMetadata {
    pub entries: Vec<(String, Value)>,
    pub pre: &'static str,
}

pub fn vocab_metadata(model: &LoadedModel, source: &str) -> Result<VocabMetadata> {
    let json: Json = serde_json::from_str(&model.tokenizer.to_json()?).map_err(|e| invalid(format!("{source}: cannot read the tokenizer ({e})")))?;
    check_byte_level_bpe(&json, source)?;
    let (tokens, types) = tokens_and_types(&json, model.config.vocab_size, source)?;
    let mut entries = vec![
        ("tokenizer.ggml.model".to_string(), Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens".to_string(), Value::Array(tokens.into_iter().map(Value::String).collect())),
        ("tokenizer.ggml.token_type".to_string(), Value::Array(types.into_iter().map(Value::I32).collect())),
        ("tokenizer.ggml.merges".to_string(), Value::Array(merges(&json, source)?.into_iter().map(Value::String).collect())),
    ];
    entries.extend(special_token_ids(model, &json));
    // The chat template writes every special token itself, as the project's tokenizer expects.
    entries.push(("tokenizer.ggml.add_bos_token".to_string(), Value::Bool(false)));
    entries.push(("tokenizer.ggml.add_eos_token".to_string(), Value::Bool(false)));
    if let Some(template) = &model.chat_template {
        entries.push(("tokenizer.chat_template".to_string(), Value::String(template.clone())));
    }
    let pre = matching_pre_tokenizer(model, &entries, &json, source)?;
    entries.insert(1, ("tokenizer.ggml.pre".to_string(), Value::String(pre.into())));
    Ok(VocabMetadata { entries, pre })
}

/// GGUF's "gpt2" tokenizer is byte-level BPE; SentencePiece-style BPE (byte fallback, as in
/// Llama 2 and TinyLlama) would need llama.cpp's "llama" tokenizer with scores.
fn check_byte_level_bpe(json: &Json, source: &str) -> Result<()> {
    let kind = json["model"]["type"].as_str().unwrap_or("unknown");
    let byte_level = json["decoder"].to_string().contains("\"ByteLevel\"");
    if kind != "BPE" || json["model"]["byte_fallback"].as_bool() == Some(true) || !byte_level {
        let what = if kind == "BPE" { "a SentencePiece-style BPE tokenizer (byte fallback, as in Llama 2 and TinyLlama)".to_string() } else { format!("a {kind} tokenizer") };
        return Err(invalid(format!(
            "{source} has {what}; GGUF export supports byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3, Qwen2)"
        )));
    }
    Ok(())
}

/// One token per embedding row: the BPE vocabulary, the added tokens (special ones as
/// control tokens), and "[PADn]" for rows the tokenizer never produces.
fn tokens_and_types(json: &Json, rows: usize, source: &str) -> Result<(Vec<String>, Vec<i32>)> {
    let mut tokens: Vec<Option<String>> = vec![None; rows];
    let mut types = vec![UNUSED; rows];
    let mut put = |id: Option<u64>, text: &str, kind: i32| -> Result<()> {
        let slot = id.map(|id| id as usize).filter(|&id| id < rows).ok_or_else(|| {
            invalid(format!("{source}: the tokenizer's token '{text}' has id {id:?}, outside the {rows} rows of the embedding"))
        })?;
        tokens[slot] = Some(text.to_string());
        types[slot] = kind;
        Ok(())
    };
    let vocab = json["model"]["vocab"].as_object().ok_or_else(|| invalid(format!("{source}: the tokenizer has no BPE vocabulary")))?;
    for (text, id) in vocab {
        put(id.as_u64(), text, NORMAL)?;
    }
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        let text = added["content"].as_str().unwrap_or_default();
        put(added["id"].as_u64(), text, if added["special"].as_bool() == Some(true) { CONTROL } else { USER_DEFINED })?;
    }
    let tokens = tokens.into_iter().enumerate().map(|(id, t)| t.unwrap_or_else(|| format!("[PAD{id}]"))).collect();
    Ok((tokens, types))
}

/// Merges as "left right"; tokenizer.json holds either that string or a [left, right] pair.
fn merges(json: &Json, source: &str) -> Result<Vec<String>> {
    let items = json["model"]["merges"].as_array().ok_or_else(|| invalid(format!("{source}: the tokenizer has no BPE merges")))?;
    items
        .iter()
        .map(|m| match m {
            Json::String(s) => Ok(s.clone()),
            Json::Array(pair) => match (pair.first().and_then(Json::as_str), pair.get(1).and_then(Json::as_str)) {
                // A space inside a piece would make "left right" ambiguous; byte-level pieces have none.
                (Some(a), Some(b)) if !a.contains(' ') && !b.contains(' ') => Ok(format!("{a} {b}")),
                _ => Err(invalid(format!("{source}: the tokenizer's merge {m} cannot be written as two space-separated pieces"))),
            },
            other => Err(invalid(format!("{source}: the tokenizer's merge {other} is neither a string nor a pair"))),
        })
        .collect()
}

/// bos, eos (the first end token; a second one becomes llama.cpp's end-of-turn token, which
/// also ends generation), pad, and unk when the BPE model has one.
fn special_token_ids(model: &LoadedModel, json: &Json) -> Vec<(String, Value)> {
    let s = &model.special_tokens;
    let unk = json["model"]["unk_token"].as_str().and_then(|t| model.tokenizer.token_to_id(t));
    let ids = [
        ("bos_token_id", s.bos.as_ref().map(|t| t.id)),
        ("eos_token_id", s.eos.first().map(|t| t.id)),
        ("eot_token_id", s.eos.get(1).map(|t| t.id)),
        ("unknown_token_id", unk),
        ("padding_token_id", s.pad.as_ref().map(|t| t.id)),
    ];
    ids.into_iter().filter_map(|(key, id)| Some((format!("tokenizer.ggml.{key}"), Value::U32(id?)))).collect()
}

/// The first pre-tokenizer that splits the probe as the model does; one built exactly like
/// the model's own is preferred, since on some vocabularies two split every text alike
/// (SmolLM2 has no multi-digit tokens, so GPT-2's and SmolLM's splits agree).
fn matching_pre_tokenizer(model: &LoadedModel, entries: &[(String, Value)], json: &Json, source: &str) -> Result<&'static str> {
    let mut probe = PROBE.to_string();
    for t in model.special_tokens.bos.iter().chain(&model.special_tokens.eos) {
        probe = format!("{}{probe}{}", t.text, t.text);
    }
    let expected = model.tokenizer.encode(&probe)?;
    let mut values: HashMap<String, Value> = entries.iter().cloned().collect();
    let mut first_match = None;
    for pre in PRE_TOKENIZERS {
        values.insert("tokenizer.ggml.pre".into(), Value::String(pre.into()));
        let rebuilt = tokenizer_from_metadata(&Metadata { values: &values, source: source.to_string() })?;
        if rebuilt.encode(&probe)? != expected {
            continue;
        }
        let built_alike = serde_json::to_value(rebuilt.inner().get_pre_tokenizer()).is_ok_and(|p| p == json["pre_tokenizer"]);
        if built_alike {
            return Ok(pre);
        }
        first_match.get_or_insert(pre);
    }
    first_match.ok_or_else(|| invalid(format!(
        "{source}: the tokenizer splits text unlike every pre-tokenizer llama.cpp names that the exporter knows ({}); a GGUF file would tokenize differently, so none was written",
        PRE_TOKENIZERS.join(", ")
    )))
}
