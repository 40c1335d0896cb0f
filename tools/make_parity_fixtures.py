#!/usr/bin/env python3
"""Writes the parity fixtures under test/fixtures/parity/ with PyTorch + transformers.

  gpt2/        GPT2LMHeadModel folder (save_pretrained) + logits.json
  llama/       LlamaForCausalLM folder (GQA, untied lm_head, rope_theta 50000) + logits.json
  llama-gguf/  the same Llama as GGUF, F32 and Q8_0, written as llama.cpp's converter
               writes it (Q/K rows permuted, tokenizer and chat template in metadata),
               + logits-q8_0.json (the Llama's logits with the Q8_0-rounded weights)

The models are random but seeded, use the project's tiny tokenizer (made by
`stateset-agents make-tiny-model`, so run `npm run build` first) and float32 weights.
Norm scales and biases are randomized too, so that a loader or decoder that drops them
fails the comparison. Only this tool needs Python; tests read the committed files.

Usage: python tools/make_parity_fixtures.py   (from the repository root)
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType, TokenType
from gguf.quants import dequantize, quantize
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "parity"
SEED = 1234

# Token sequences whose logits are recorded. Full logit rows are kept for some positions
# (to compare with max abs diff); argmax, max and logsumexp for every position.
CHAT = [
    {"role": "system", "content": "You are a helpful support agent."},
    {"role": "user", "content": "Where is my order 48213?"},
    {"role": "assistant", "content": "It ships tomorrow."},
    {"role": "user", "content": "Thanks!"},
]
TEXTS = ["Thank you for contacting customer support.", "Hi"]


def tiny_tokenizer_dir(work: Path) -> Path:
    out = work / "tiny"
    cli = ROOT / "bin" / "stateset-agents.js"
    subprocess.run(["node", str(cli), "make-tiny-model", "--arch", "llama", "--out", str(out)], check=True)
    return out


def randomize_norms(model: torch.nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                base = 1.0 if ("ln" in name or "norm" in name) and name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=generator))


def save_folder(model, tokenizer_src: Path, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    for name in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(tokenizer_src / name, folder / name)


def sequences(tokenizer) -> list[dict]:
    chat = tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    out = []
    for text in [chat, *TEXTS]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        out.append({"text": text, "ids": ids})
    return out


def logits_record(model, seqs: list[dict]) -> dict:
    records = []
    with torch.no_grad():
        for seq in seqs:
            logits = model(torch.tensor([seq["ids"]])).logits[0].float()
            n = len(seq["ids"])
            # Every position of short sequences; the first two and last four of long ones.
            positions = list(range(n)) if n <= 10 else [0, 1, n - 4, n - 3, n - 2, n - 1]
            records.append({
                "text": seq["text"],
                "ids": seq["ids"],
                "positions": positions,
                "logits": [[round(float(x), 6) for x in logits[p]] for p in positions],
                "argmax": logits.argmax(-1).tolist(),
                "max": [round(float(x), 6) for x in logits.max(-1).values],
                "logsumexp": [round(float(x), 6) for x in torch.logsumexp(logits, -1)],
            })
    return {"torch": torch.__version__, "dtype": "float32", "sequences": records}


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, separators=(",", ":")) + "\n")


def make_gpt2(tokenizer_src: Path, tokenizer) -> None:
    torch.manual_seed(SEED)
    config = GPT2Config(
        vocab_size=tokenizer_vocab(tokenizer_src), n_embd=32, n_layer=2, n_head=4, n_positions=128,
        initializer_range=0.1, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config).eval()
    randomize_norms(model, torch.Generator().manual_seed(SEED))
    folder = OUT / "gpt2"
    save_folder(model, tokenizer_src, folder)
    write_json(folder / "logits.json", logits_record(model, sequences(tokenizer)))


def make_llama(tokenizer_src: Path, tokenizer) -> LlamaForCausalLM:
    torch.manual_seed(SEED + 1)
    config = LlamaConfig(
        vocab_size=tokenizer_vocab(tokenizer_src), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5,
        rope_theta=50000.0, tie_word_embeddings=False, initializer_range=0.1,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, attn_implementation="eager",
    )
    model = LlamaForCausalLM(config).eval()
    randomize_norms(model, torch.Generator().manual_seed(SEED + 1))
    folder = OUT / "llama"
    save_folder(model, tokenizer_src, folder)
    write_json(folder / "logits.json", logits_record(model, sequences(tokenizer)))
    return model


def tokenizer_vocab(tokenizer_src: Path) -> int:
    return json.loads((tokenizer_src / "config.json").read_text())["vocab_size"]


# --- GGUF, as llama.cpp's convert_hf_to_gguf.py writes a Llama -----------------------

GGUF_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
LAYER_NAMES = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


def gguf_name(hf: str) -> str:
    if hf in GGUF_NAMES:
        return GGUF_NAMES[hf]
    _, _, layer, rest = hf.split(".", 3)
    module, suffix = rest.rsplit(".", 1)
    return f"blk.{layer}.{LAYER_NAMES[module]}.{suffix}"


def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's reordering of Q/K rows for its rotary kernel."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_tensors(model: LlamaForCausalLM) -> dict[str, np.ndarray]:
    c = model.config
    out = {}
    for name, t in model.state_dict().items():
        w = t.float().numpy()
        if name.endswith("q_proj.weight"):
            w = permute(w, c.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            w = permute(w, c.num_key_value_heads)
        out[gguf_name(name)] = w
    return out


def write_gguf(model: LlamaForCausalLM, tokenizer_src: Path, path: Path, qtype: GGMLQuantizationType) -> None:
    c = model.config
    tok = json.loads((tokenizer_src / "tokenizer.json").read_text())
    tok_config = json.loads((tokenizer_src / "tokenizer_config.json").read_text())
    vocab = tok["model"]["vocab"]
    tokens = [""] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    special = {t["content"] for t in tok["added_tokens"] if t["special"]}
    types = [TokenType.CONTROL if t in special else TokenType.NORMAL for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]

    w = GGUFWriter(str(path), "llama")
    w.add_name("stateset tiny llama parity fixture")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_freq_base(c.rope_parameters["rope_theta"] if hasattr(c, "rope_parameters") else c.rope_theta)
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    w.add_file_type(LlamaFileType.ALL_F32 if qtype == GGMLQuantizationType.F32 else LlamaFileType.MOSTLY_Q8_0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab[tok_config["bos_token"]])
    w.add_eos_token_id(vocab[tok_config["eos_token"]])
    w.add_pad_token_id(vocab[tok_config["pad_token"]])
    w.add_chat_template(tok_config["chat_template"])
    w.add_sampling_temp(0.7)
    w.add_sampling_top_p(0.9)
    for name, data in gguf_tensors(model).items():
        # Like llama.cpp: vectors (norm scales) stay F32.
        if qtype == GGMLQuantizationType.F32 or data.ndim == 1:
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, quantize(data, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def q8_0_rounded(model: LlamaForCausalLM) -> LlamaForCausalLM:
    """The Llama with every matrix replaced by its Q8_0 round trip (what the Q8_0 GGUF holds)."""
    rounded = LlamaForCausalLM(model.config).eval()
    state = {}
    for name, t in model.state_dict().items():
        w = t.float().numpy()
        if w.ndim == 2:
            w = dequantize(quantize(w, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0).reshape(w.shape)
        state[name] = torch.from_numpy(np.ascontiguousarray(w))
    rounded.load_state_dict(state)
    return rounded


def main() -> int:
    with tempfile.TemporaryDirectory() as work:
        tokenizer_src = tiny_tokenizer_dir(Path(work))
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_src)
        make_gpt2(tokenizer_src, tokenizer)
        llama = make_llama(tokenizer_src, tokenizer)
        gguf_dir = OUT / "llama-gguf"
        if gguf_dir.exists():
            shutil.rmtree(gguf_dir)
        gguf_dir.mkdir(parents=True)
        write_gguf(llama, tokenizer_src, gguf_dir / "model-f32.gguf", GGMLQuantizationType.F32)
        write_gguf(llama, tokenizer_src, gguf_dir / "model-q8_0.gguf", GGMLQuantizationType.Q8_0)
        write_json(gguf_dir / "logits-q8_0.json", logits_record(q8_0_rounded(llama), sequences(tokenizer)))
    for f in sorted(OUT.rglob("*")):
        if f.is_file():
            print(f"{f.relative_to(ROOT)}  {f.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
