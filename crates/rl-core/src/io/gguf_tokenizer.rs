//! Rebuilds a HuggingFace tokenizer from GGUF `tokenizer.ggml.*` metadata: byte-level
//! BPE (tokens, merges, token types), the pre-tokenizer named by `tokenizer.ggml.pre`,
//! and the byte-level decoder.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use super::errors::invalid;
use super::gguf_metadata::Metadata;
use crate::error::Result;
use crate::tokenizer::TextTokenizer;

/// llama.cpp token types that are added tokens rather than BPE pieces.
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

pub fn tokenizer_from_metadata(meta: &Metadata) -> Result<TextTokenizer> {
    let kind = meta.opt_str("tokenizer.ggml.model")?.unwrap_or("");
    if kind != "gpt2" {
        return Err(invalid(format!(
            "{}: tokenizer.ggml.model is '{kind}'; only byte-level BPE tokenizers ('gpt2', as in SmolLM2, Llama 3, Qwen2) load from GGUF. Load this model from its HuggingFace folder instead",
            meta.source
        )));
    }
    let tokens = meta.strings("tokenizer.ggml.tokens")?;
    let merges = meta
        .strings("tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| invalid(format!("{}: tokenizer.ggml.merges holds '{m}', which is not two tokens separated by a space", meta.source)))
        })
        .collect::<Result<Vec<_>>>()?;
    let types = meta.integers("tokenizer.ggml.token_type")?.unwrap_or_default();
    let pre = meta.opt_str("tokenizer.ggml.pre")?.unwrap_or("default");
    let vocab: Vocab = tokens.iter().enumerate().map(|(id, t)| (t.to_string(), id as u32)).collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .ignore_merges(pre == "llama-bpe")
        .build()
        .map_err(|e| invalid(format!("{}: the tokenizer.ggml.* metadata does not form a BPE tokenizer ({e})", meta.source)))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer(pre, &meta.source)?));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    if pre == "qwen2" {
        tokenizer.with_normalizer(Some(NFC)).map_err(|e| invalid(format!("{}: {e}", meta.source)))?;
    }
    let added = |kind: i64, special: bool| -> Vec<AddedToken> {
        types.iter().zip(&tokens).filter(|(t, _)| **t == kind).map(|(_, text)| AddedToken::from(text.to_string(), special)).collect()
    };
    tokenizer.add_special_tokens(added(CONTROL, true)).map_err(|e| invalid(format!("{}: {e}", meta.source)))?;
    tokenizer.add_tokens(added(USER_DEFINED, false)).map_err(|e| invalid(format!("{}: {e}", meta.source)))?;
    Ok(TextTokenizer::new(tokenizer))
}

/// The pre-tokenizers of the byte-level BPE families llama.cpp names in `tokenizer.ggml.pre`.
fn pre_tokenizer(pre: &str, source: &str) -> Result<PreTokenizerWrapper> {
    let byte_level = |use_regex: bool| PreTokenizerWrapper::from(ByteLevel::new(false, true, use_regex));
    let split = |pattern: &str| -> Result<PreTokenizerWrapper> {
        let s = Split::new(SplitPattern::Regex(pattern.to_string()), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| invalid(format!("{source}: cannot build the pre-tokenizer ({e})")))?;
        Ok(s.into())
    };
    Ok(match pre {
        "default" | "gpt2" | "gpt-2" => byte_level(true),
        "smollm" | "starcoder" | "refact" => Sequence::new(vec![Digits::new(true).into(), byte_level(true)]).into(),
        "llama-bpe" | "llama3" => Sequence::new(vec![split(LLAMA3_SPLIT)?, byte_level(false)]).into(),
        "qwen2" => Sequence::new(vec![split(QWEN2_SPLIT)?, byte_level(false)]).into(),
        other => {
            return Err(invalid(format!(
                "{source}: tokenizer.ggml.pre '{other}' is not supported; supported pre-tokenizers: gpt2 (default), smollm, starcoder, llama-bpe, qwen2"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

    use super::pre_tokenizer;

    fn pieces(pre: &str, text: &str) -> Vec<String> {
        let mut s = PreTokenizedString::from(text);
        pre_tokenizer(pre, "test").unwrap().pre_tokenize(&mut s).unwrap();
        s.get_splits(OffsetReferential::Original, OffsetType::Byte).into_iter().map(|(p, _, _)| p.to_string()).collect()
    }

    #[test]
    fn pre_tokenizers_split_numbers_as_their_families_do() {
        // Byte-level pieces: a space shows as 'Ġ'.
        assert_eq!(pieces("gpt2", "ab 48213"), ["ab", "Ġ48213"]);
        assert_eq!(pieces("smollm", "ab 48213"), ["ab", "Ġ", "4", "8", "2", "1", "3"]);
        assert_eq!(pieces("llama-bpe", "ab 48213"), ["ab", "Ġ", "482", "13"]);
        assert_eq!(pieces("qwen2", "ab 48213"), ["ab", "Ġ", "4", "8", "2", "1", "3"]);
        assert_eq!(pieces("llama-bpe", "I'LL go"), ["I", "'LL", "Ġgo"]);
        assert_eq!(pieces("gpt2", "I'LL go"), ["I", "'", "LL", "Ġgo"]);
    }
}
