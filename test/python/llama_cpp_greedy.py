"""Runs a GGUF file in llama.cpp (llama-cpp-python) and prints what it makes of a prompt.

Usage: llama_cpp_greedy.py MODEL.gguf PROMPT_TEXT N_TOKENS
Prints JSON: the prompt's token ids as llama.cpp tokenizes it (special tokens parsed, no
BOS added), the chat template it read, and N_TOKENS greedy continuation ids.
"""
import json
import sys

from llama_cpp import Llama

path, prompt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
llm = Llama(model_path=path, n_ctx=512, n_threads=1, verbose=False, logits_all=False)
prompt_ids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
continuation = []
for token in llm.generate(prompt_ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
    continuation.append(int(token))
    if len(continuation) == n:
        break
print(json.dumps({
    "prompt_ids": [int(t) for t in prompt_ids],
    "continuation": continuation,
    "chat_template": llm.metadata.get("tokenizer.chat_template"),
    "architecture": llm.metadata.get("general.architecture"),
}))
