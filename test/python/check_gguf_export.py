"""Checks GGUF exports with llama.cpp's own Python package, gguf-py (`pip install gguf`).

Usage: check_gguf_export.py SOURCE_FOLDER F32.gguf F16.gguf Q8_0.gguf
Prints one JSON object of findings; the test asserts on it.
"""
import json
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, MODEL_ARCH_NAMES, MODEL_TENSORS, TENSOR_NAMES, get_tensor_name_map
from gguf.quants import quantize

source, f32_path, f16_path, q8_path = sys.argv[1:5]
readers = {kind: GGUFReader(path) for kind, path in (("f32", f32_path), ("f16", f16_path), ("q8_0", q8_path))}
f32 = readers["f32"]

arch_name = f32.fields["general.architecture"].contents()
arch = next(a for a, name in MODEL_ARCH_NAMES.items() if name == arch_name)
n_layers = int(f32.fields[f"{arch_name}.block_count"].contents())

# HuggingFace names of the source tensors, from the safetensors header.
raw = Path(source, "model.safetensors").read_bytes()
header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
hf_names = [k for k in header if k != "__metadata__"]
name_map = get_tensor_name_map(arch, n_layers)
expected_names = sorted(name_map.get_name(n, try_suffixes=(".weight", ".bias")) for n in hf_names)

allowed = set()
for t in MODEL_TENSORS[arch]:
    for bid in range(n_layers):
        base = TENSOR_NAMES[t].format(bid=bid)
        allowed.update({base + ".weight", base + ".bias"})

def field_type(reader, key):
    f = reader.fields[key]
    return [GGUFValueType(t).name for t in f.types]

findings = {
    "architecture": arch_name,
    "names_as_converter_maps_them": sorted(t.name for t in f32.tensors) == expected_names,
    "names_llama_cpp_knows": all(t.name in allowed for t in f32.tensors),
    "alignment": int(f32.alignment),
    "data_offsets_aligned": all(t.data_offset % 32 == 0 for r in readers.values() for t in r.tensors),
    "file_types": {k: int(r.fields["general.file_type"].contents()) for k, r in readers.items()},
    "types": {key: field_type(f32, key) for key in [
        "general.architecture", f"{arch_name}.context_length", f"{arch_name}.embedding_length", f"{arch_name}.block_count",
        f"{arch_name}.feed_forward_length", f"{arch_name}.attention.head_count", f"{arch_name}.vocab_size",
        "general.file_type", "general.quantization_version", "general.sampling.temp",
        "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id",
        "tokenizer.ggml.add_bos_token", "tokenizer.chat_template",
    ]},
    "token_count": len(f32.fields["tokenizer.ggml.tokens"].data),
    "f16_equals_f32_rounded": True,
    "q8_0_equals_gguf_py_quantize": True,
    "storage": {},
}
for t in f32.tensors:
    data = np.asarray(t.data, dtype=np.float32).reshape([int(d) for d in reversed(t.shape)])
    for kind in ("f16", "q8_0"):
        other = next(o for o in readers[kind].tensors if o.name == t.name)
        findings["storage"].setdefault(kind, {})[t.name] = other.tensor_type.name
        if other.tensor_type == GGMLQuantizationType.F32:
            same = np.array_equal(np.asarray(other.data), np.asarray(t.data))
        else:
            expected = quantize(data, other.tensor_type)
            same = expected.tobytes() == np.asarray(other.data).tobytes()
        key = "f16_equals_f32_rounded" if kind == "f16" else "q8_0_equals_gguf_py_quantize"
        if not same:
            findings[key] = False
            findings.setdefault("mismatches", []).append(f"{kind} {t.name}")
print(json.dumps(findings))
