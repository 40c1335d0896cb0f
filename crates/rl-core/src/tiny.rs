//! Tiny models the project makes itself, for tests and quick demos: a small random-init
//! GPT-2 or Llama with a real byte-level BPE tokenizer, trained on a built-in English and
//! customer-service text, ChatML special tokens and a ChatML chat template.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper, TokenizerBuilder};

use crate::error::{CoreError, ErrorCode, Result};
use crate::io::{GenerationDefaults, LoadedModel, SpecialTokens, Token};
use crate::model::{random_weights, Architecture, ModelConfig};
use crate::tokenizer::TextTokenizer;

/// The text the tiny tokenizer is trained on.
const CORPUS: &str = include_str!("tiny_corpus.txt");

/// Target vocabulary size (the corpus yields slightly fewer merges than this allows).
const TINY_VOCAB: usize = 1024;

/// Special tokens, in id order: document boundary (bos and pad), ChatML turn start and end.
pub const END_OF_TEXT: &str = "<|endoftext|>";
pub const IM_START: &str = "<|im_start|>";
pub const IM_END: &str = "<|im_end|>";

/// ChatML, as HuggingFace chat templates write it.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// The shape of a tiny model: the default is the one tests use; the demo's shipped model
/// is a wider and deeper one with the same tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TinySize {
    pub hidden_size: usize,
    pub num_layers: usize,
    /// Attention heads; must divide `hidden_size` (Llama keys and values get half as many).
    pub num_heads: usize,
}

impl Default for TinySize {
    fn default() -> Self {
        TinySize { hidden_size: 64, num_layers: 2, num_heads: 4 }
    }
}

/// A tiny model of the given architecture and the default size; `seed` decides the
/// weights (the tokenizer is the same for every seed).
pub fn make_tiny_model(arch: Architecture, seed: u64) -> Result<LoadedModel> {
    make_tiny_model_sized(arch, seed, TinySize::default())
}

/// A tiny model of the given architecture and size.
pub fn make_tiny_model_sized(arch: Architecture, seed: u64, size: TinySize) -> Result<LoadedModel> {
    make_tiny_model_with_tokens(arch, seed, size, &[])
}

/// A tiny model whose vocabulary also has `added_tokens`: strings that always encode as one
/// token each (matched before BPE, like HuggingFace's added tokens), e.g. a task's fixed
/// tool-call syntax, so that a tiny model spends its capacity on what varies.
pub fn make_tiny_model_with_tokens(arch: Architecture, seed: u64, size: TinySize, added_tokens: &[String]) -> Result<LoadedModel> {
    check_size(arch, size)?;
    let tokenizer = tiny_tokenizer()?.with_added_tokens(added_tokens)?;
    let token = |text: &str| Token { text: text.to_string(), id: tokenizer.token_to_id(text).expect("special tokens are in the vocabulary") };
    let special_tokens = SpecialTokens { bos: Some(token(END_OF_TEXT)), eos: vec![token(IM_END)], pad: Some(token(END_OF_TEXT)) };
    let config = tiny_config(arch, size, tokenizer.vocab_size(), &special_tokens);
    let weights = random_weights(&config, seed)?;
    Ok(LoadedModel {
        config,
        weights,
        tokenizer,
        chat_template: Some(CHATML_TEMPLATE.to_string()),
        special_tokens,
        generation: GenerationDefaults { temperature: Some(1.0), top_p: Some(1.0), top_k: None, repetition_penalty: None, max_new_tokens: Some(64) },
    })
}

fn check_size(arch: Architecture, size: TinySize) -> Result<()> {
    let TinySize { hidden_size, num_layers, num_heads } = size;
    let kv_heads_ok = arch != Architecture::Llama || num_heads % 2 == 0;
    if hidden_size == 0 || num_layers == 0 || num_heads == 0 || hidden_size % num_heads != 0 || !kv_heads_ok || hidden_size > 4096 || num_layers > 64 {
        let need = if arch == Architecture::Llama { "an even number of heads" } else { "heads" };
        return Err(CoreError::new(
            ErrorCode::InvalidArgument,
            format!("a tiny model needs hidden size 1..=4096 divisible by its {need} and 1..=64 layers, got hidden {hidden_size}, {num_layers} layers, {num_heads} heads"),
        ));
    }
    Ok(())
}

/// GPT-2: MLP 4x hidden; Llama: MLP 2x hidden, half as many key/value heads. Positions up to 512.
fn tiny_config(arch: Architecture, size: TinySize, vocab_size: usize, special: &SpecialTokens) -> ModelConfig {
    let llama = arch == Architecture::Llama;
    let TinySize { hidden_size, num_layers, num_heads } = size;
    ModelConfig {
        architecture: arch,
        vocab_size,
        hidden_size,
        num_layers,
        num_heads,
        num_kv_heads: if llama { num_heads / 2 } else { num_heads },
        head_dim: hidden_size / num_heads,
        intermediate_size: if llama { 2 * hidden_size } else { 4 * hidden_size },
        max_position_embeddings: 512,
        norm_eps: if llama { 1e-6 } else { 1e-5 },
        rope_theta: if llama { 10000.0 } else { 0.0 },
        rope_scaling: None,
        tie_word_embeddings: true,
        attention_bias: !llama,
        bos_token_id: special.bos.as_ref().map(|t| t.id),
        eos_token_ids: special.eos.iter().map(|t| t.id).collect(),
    }
}

/// Byte-level BPE (every byte is a token, so any text encodes) trained on the built-in
/// corpus. Training is deterministic: the same vocabulary and merges on every machine.
pub fn tiny_tokenizer() -> Result<TextTokenizer> {
    let fail = |e: tokenizers::Error| CoreError::new(ErrorCode::InvalidModel, format!("cannot build the tiny tokenizer ({e})"));
    let specials = [END_OF_TEXT, IM_START, IM_END].map(|t| AddedToken::from(t, true)).to_vec();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(TINY_VOCAB)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut tokenizer = TokenizerBuilder::<BPE, NormalizerWrapper, PreTokenizerWrapper, PostProcessorWrapper, DecoderWrapper>::new()
        .with_model(BPE::default())
        .with_pre_tokenizer(Some(ByteLevel::new(false, true, true).into()))
        .with_decoder(Some(ByteLevelDecoder::default().into()))
        .build()
        .map_err(fail)?;
    tokenizer.train(&mut trainer, CORPUS.lines()).map_err(fail)?;
    Ok(TextTokenizer::new(tokenizer.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_tokens_encode_as_one_token_and_grow_the_vocabulary() {
        let call = "<tool_call>{\"name\":\"lookup_order\",\"arguments\":{\"id\":\"".to_string();
        let plain = make_tiny_model(Architecture::Llama, 0).unwrap();
        let model = make_tiny_model_with_tokens(Architecture::Llama, 0, TinySize::default(), &[call.clone(), "\"}}</tool_call>".into()]).unwrap();
        assert_eq!(model.config.vocab_size, plain.config.vocab_size + 2);
        let text = format!("{call}#KBNJ\"}}}}</tool_call>");
        let ids = model.tokenizer.encode(&text).unwrap();
        assert_eq!(ids[0] as usize, plain.config.vocab_size, "the call prefix is the first added token: {ids:?}");
        assert_eq!(*ids.last().unwrap() as usize, plain.config.vocab_size + 1);
        assert!(ids.len() < plain.tokenizer.encode(&text).unwrap().len() / 4);
        assert_eq!(model.tokenizer.decode(&ids).unwrap(), text);
        let err = make_tiny_model_with_tokens(Architecture::Llama, 0, TinySize::default(), &[String::new()]).unwrap_err();
        assert!(err.to_string().contains("added token"), "{err}");
    }

    #[test]
    fn tokenizer_is_deterministic_and_round_trips_a_chat_turn() {
        let a = tiny_tokenizer().unwrap();
        assert_eq!(a.to_json().unwrap(), tiny_tokenizer().unwrap().to_json().unwrap());
        assert!(a.vocab_size() > 400 && a.vocab_size() <= TINY_VOCAB, "{}", a.vocab_size());
        let turn = "<|im_start|>user\nMy order 48213 never arrived, café ☕?<|im_end|>\n";
        let ids = a.encode(turn).unwrap();
        assert_eq!(ids[0], a.token_to_id(IM_START).unwrap());
        assert!(ids.contains(&a.token_to_id(IM_END).unwrap()));
        assert_eq!(a.decode(&ids).unwrap(), turn);
        // Trained merges make common words single tokens.
        assert_eq!(a.encode(" order").unwrap().len(), 1);
    }

    #[test]
    fn tiny_models_validate_and_depend_on_the_seed() {
        for arch in [Architecture::Gpt2, Architecture::Llama] {
            let m = make_tiny_model(arch, 1).unwrap();
            crate::model::validate_weights(&m.config, &m.weights, "tiny").unwrap();
            assert_eq!(m.special_tokens.eos[0].text, IM_END);
            let other = make_tiny_model(arch, 2).unwrap();
            let name = "model.embed_tokens.weight";
            let name = if arch == Architecture::Gpt2 { "transformer.wte.weight" } else { name };
            let diff = (&m.weights[name] - &other.weights[name]).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(diff > 0.0);
        }
    }

    #[test]
    fn sized_tiny_models_have_the_asked_shape_and_bad_sizes_are_refused() {
        let size = TinySize { hidden_size: 96, num_layers: 3, num_heads: 6 };
        let m = make_tiny_model_sized(Architecture::Gpt2, 1, size).unwrap();
        crate::model::validate_weights(&m.config, &m.weights, "tiny").unwrap();
        assert_eq!((m.config.hidden_size, m.config.num_layers, m.config.head_dim, m.config.intermediate_size), (96, 3, 16, 384));
        assert_eq!(m.config, make_tiny_model(Architecture::Gpt2, 1).map(|d| ModelConfig { hidden_size: 96, num_layers: 3, num_heads: 6, num_kv_heads: 6, intermediate_size: 384, ..d.config }).unwrap());
        for bad in [TinySize { hidden_size: 100, num_layers: 2, num_heads: 6 }, TinySize { hidden_size: 64, num_layers: 0, num_heads: 4 }] {
            let err = make_tiny_model_sized(Architecture::Gpt2, 1, bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidArgument, "{err}");
        }
        let odd_heads = TinySize { hidden_size: 96, num_layers: 2, num_heads: 3 };
        assert!(make_tiny_model_sized(Architecture::Llama, 1, odd_heads).is_err());
        assert!(make_tiny_model_sized(Architecture::Gpt2, 1, odd_heads).is_ok());
    }
}
