"""Scores token sequences with Python transformers + peft: a base model folder with a PEFT
adapter on top. The tinker backend's test checks that an adapter it downloaded loads in peft.
usage: peft_logprobs.py BASE ADAPTER  (stdin: JSON list of token-id lists; stdout: JSON list of
per-token log-probs, token 1 on, as the project's `score` returns them)"""
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

base, adapter = sys.argv[1], sys.argv[2]
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32), adapter)
model.eval()
out = []
with torch.no_grad():
    for ids in json.load(sys.stdin):
        x = torch.tensor([ids])
        logp = torch.log_softmax(model(x).logits[0, :-1].float(), dim=-1)
        out.append(logp.gather(1, x[0, 1:, None])[:, 0].tolist())
json.dump(out, sys.stdout)
