//! The committed parity fixtures (tools/make_parity_fixtures.py): folders written by
//! Python transformers and GGUF files written by the `gguf` package load, and agree.

use std::path::PathBuf;

use super::hf_tests::{assert_same_weights, max_abs_diff};
use super::{load_model, load_tokenizer, LoadedModel};
use crate::model::Architecture;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/parity").join(path)
}

/// Every recorded sequence tokenizes to the ids Python's tokenizer gave.
fn assert_tokenizes_like_python(model: &LoadedModel, logits_json: &str) {
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture(logits_json)).unwrap()).unwrap();
    for seq in record["sequences"].as_array().unwrap() {
        let text = seq["text"].as_str().unwrap();
        let expected: Vec<u32> = seq["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        assert_eq!(model.tokenizer.encode(text).unwrap(), expected, "{text}");
        assert_eq!(model.tokenizer.decode(&expected).unwrap(), text);
    }
}

#[test]
fn transformers_folders_load_with_their_tokenizer_and_template() {
    let gpt2 = load_model(&fixture("gpt2")).unwrap();
    assert_eq!((gpt2.config.architecture, gpt2.config.hidden_size, gpt2.config.intermediate_size), (Architecture::Gpt2, 32, 128));
    assert_tokenizes_like_python(&gpt2, "gpt2/logits.json");
    let llama = load_model(&fixture("llama")).unwrap();
    let c = &llama.config;
    assert_eq!((c.rope_theta, c.num_kv_heads, c.head_dim, c.tie_word_embeddings), (50000.0, 2, 8, false));
    assert_eq!(llama.special_tokens.eos.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["<|im_end|>"]);
    assert!(llama.chat_template.as_deref().unwrap().contains("<|im_start|>"));
    assert_tokenizes_like_python(&llama, "llama/logits.json");
}

#[test]
fn the_f32_gguf_holds_exactly_the_weights_of_the_folder() {
    let folder = load_model(&fixture("llama")).unwrap();
    let gguf = load_model(&fixture("llama-gguf/model-f32.gguf")).unwrap();
    assert_eq!(gguf.config, folder.config);
    assert_same_weights(&folder, &gguf, 0.0);
    assert_eq!(gguf.special_tokens, folder.special_tokens);
    assert_eq!(gguf.chat_template, folder.chat_template);
    assert_eq!((gguf.generation.temperature, gguf.generation.top_p), (Some(0.7), Some(0.9)));
    assert_tokenizes_like_python(&gguf, "llama/logits.json");
    let tokenizer_only = load_tokenizer(&fixture("llama-gguf/model-f32.gguf")).unwrap();
    assert_eq!(tokenizer_only.to_json().unwrap(), gguf.tokenizer.to_json().unwrap());
}

#[test]
fn the_q8_0_gguf_is_within_quantization_error_of_the_folder() {
    let folder = load_model(&fixture("llama")).unwrap();
    let q8 = load_model(&fixture("llama-gguf/model-q8_0.gguf")).unwrap();
    assert_eq!(q8.config, folder.config);
    for (name, w) in &folder.weights {
        // Q8_0 rounds each block of 32 to 1/127 of its largest magnitude (weights here < 0.6).
        let diff = max_abs_diff(w, &q8.weights[name]);
        let exact = w.rank() == 1;
        assert!(if exact { diff == 0.0 } else { diff > 0.0 && diff < 3e-3 }, "{name}: {diff}");
    }
}
