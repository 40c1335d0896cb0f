//! Resolves special tokens (bos, eos, pad) to text and id, from token strings
//! (tokenizer_config.json) or ids (config.json, generation_config.json, GGUF metadata).

use serde_json::Value;

use super::errors::invalid;
use super::{SpecialTokens, Token};
use crate::error::Result;
use crate::tokenizer::TextTokenizer;

/// Candidates for each special token, in order of preference: texts first, then ids.
#[derive(Debug, Default)]
pub struct SpecialTokenSources {
    pub bos_text: Option<String>,
    pub bos_ids: Vec<u32>,
    pub eos_texts: Vec<String>,
    pub eos_ids: Vec<u32>,
    pub pad_text: Option<String>,
    pub pad_ids: Vec<u32>,
}

impl SpecialTokenSources {
    /// `source` names where the candidates came from, for error messages.
    pub fn resolve(&self, tokenizer: &TextTokenizer, source: &str) -> Result<SpecialTokens> {
        let texts = |t: &Option<String>| t.iter().cloned().collect::<Vec<_>>();
        let bos = resolve_all(tokenizer, &texts(&self.bos_text), &self.bos_ids, source)?.into_iter().next();
        let mut eos: Vec<Token> = Vec::new();
        for token in resolve_all(tokenizer, &self.eos_texts, &self.eos_ids, source)? {
            if !eos.iter().any(|t| t.id == token.id) {
                eos.push(token);
            }
        }
        let pad = resolve_all(tokenizer, &texts(&self.pad_text), &self.pad_ids, source)?.into_iter().next();
        Ok(SpecialTokens { bos, eos, pad })
    }
}

fn resolve_all(tokenizer: &TextTokenizer, texts: &[String], ids: &[u32], source: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    for text in texts {
        let id = tokenizer.token_to_id(text).ok_or_else(|| {
            invalid(format!("{source} names the special token '{text}', which the tokenizer's vocabulary does not contain"))
        })?;
        out.push(Token { text: text.clone(), id });
    }
    for &id in ids {
        let text = tokenizer.id_to_token(id).ok_or_else(|| {
            invalid(format!(
                "{source} names special token id {id}, outside the tokenizer's vocabulary (size {})",
                tokenizer.vocab_size()
            ))
        })?;
        out.push(Token { text, id });
    }
    Ok(out)
}

/// A token in tokenizer_config.json is a string or an object with `content`.
pub fn token_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}
