//! Writes a `ModelConfig` as the HuggingFace config.json that transformers reads back.

use serde_json::{json, Map, Value};

use crate::model::{Architecture, ModelConfig, RopeScaling};

pub fn config_to_hf_json(c: &ModelConfig) -> Value {
    let mut v = match c.architecture {
        Architecture::Gpt2 => gpt2(c),
        Architecture::Llama => llama(c),
    };
    let obj = v.as_object_mut().expect("config is a JSON object");
    if let Some(bos) = c.bos_token_id {
        obj.insert("bos_token_id".into(), json!(bos));
    }
    match c.eos_token_ids.as_slice() {
        [] => {}
        [one] => {
            obj.insert("eos_token_id".into(), json!(one));
        }
        many => {
            obj.insert("eos_token_id".into(), json!(many));
        }
    }
    obj.insert("torch_dtype".into(), json!("float32"));
    v
}

fn gpt2(c: &ModelConfig) -> Value {
    json!({
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": c.vocab_size,
        "n_embd": c.hidden_size,
        "n_head": c.num_heads,
        "n_layer": c.num_layers,
        "n_inner": c.intermediate_size,
        "n_positions": c.max_position_embeddings,
        "n_ctx": c.max_position_embeddings,
        "layer_norm_epsilon": c.norm_eps,
        "activation_function": "gelu_new",
        "tie_word_embeddings": true,
    })
}

/// Llama, or Qwen2 when q/k/v carry biases (Llama's `attention_bias` would add an o_proj
/// bias too, which these models do not have).
fn llama(c: &ModelConfig) -> Value {
    let (model_type, class) = if c.attention_bias { ("qwen2", "Qwen2ForCausalLM") } else { ("llama", "LlamaForCausalLM") };
    let mut v = json!({
        "model_type": model_type,
        "architectures": [class],
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_layers,
        "num_attention_heads": c.num_heads,
        "num_key_value_heads": c.num_kv_heads,
        "head_dim": c.head_dim,
        "max_position_embeddings": c.max_position_embeddings,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_theta,
        "hidden_act": "silu",
        "tie_word_embeddings": c.tie_word_embeddings,
    });
    if !c.attention_bias {
        v["attention_bias"] = json!(false);
        v["mlp_bias"] = json!(false);
    }
    v["rope_scaling"] = c.rope_scaling.as_ref().map(rope_scaling).unwrap_or(Value::Null);
    v
}

fn rope_scaling(r: &RopeScaling) -> Value {
    let mut m = Map::new();
    match r {
        RopeScaling::Linear { factor } => {
            m.insert("rope_type".into(), json!("linear"));
            m.insert("factor".into(), json!(factor));
        }
        RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings } => {
            m.insert("rope_type".into(), json!("llama3"));
            m.insert("factor".into(), json!(factor));
            m.insert("low_freq_factor".into(), json!(low_freq_factor));
            m.insert("high_freq_factor".into(), json!(high_freq_factor));
            m.insert("original_max_position_embeddings".into(), json!(original_max_position_embeddings));
        }
    }
    Value::Object(m)
}
