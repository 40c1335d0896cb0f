"""bench:grpo's TRL side: the benchmark's GRPO workload with TRL's GRPOTrainer on CPU.

Prompts, reward and settings mirror bench/grpo/project-run.ts: each step samples 8 completions
of 64 new tokens for each of 4 prompts, scores them, and takes one full fine-tuning step
(beta 0, so no reference model). Prints one JSON object: the wall time of each step (sampling,
scoring and the update together), completion tokens per step and the peak RSS of the process.

Usage: trl_run.py --model DIR --prompts FILE --steps N [--seed S]
"""
import argparse
import json
import resource
import tempfile
import time

import torch
from datasets import Dataset
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer


def reward_length(completions, **kwargs):
    """The benchmark's reward: characters in the completion / 100 (project-run.ts has the same)."""
    return [len(c[0]["content"] if isinstance(c, list) else c) / 100 for c in completions]


class StepTimes(TrainerCallback):
    def __init__(self):
        self.seconds = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    with open(args.prompts) as f:
        prompts = [json.loads(line)["prompt"] for line in f if line.strip()]
    per_step = 4
    rows = [{"prompt": [{"role": "user", "content": prompts[i % len(prompts)]}]} for i in range(per_step * args.steps)]
    times = StepTimes()
    completion_tokens = []
    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out,
            use_cpu=True,
            bf16=False,
            per_device_train_batch_size=per_step * 8,
            gradient_accumulation_steps=1,
            num_generations=8,
            max_completion_length=64,
            temperature=1.0,
            beta=0.0,
            learning_rate=1e-6,
            max_steps=args.steps,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            seed=args.seed,
            dataloader_num_workers=0,
        )
        trainer = GRPOTrainer(model=args.model, reward_funcs=reward_length, args=config, train_dataset=Dataset.from_list(rows), callbacks=[times])
        trainer.add_callback(_TokenCounter(completion_tokens))
        trainer.train()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"step_seconds": times.seconds, "completion_tokens": completion_tokens, "peak_rss_mib": peak_kib / 1024, "threads": torch.get_num_threads()}))


class _TokenCounter(TrainerCallback):
    """Completion tokens per step, from TRL's own logged mean completion length."""

    def __init__(self, sink):
        self.sink = sink

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "completions/mean_length" in logs:
            self.sink.append(logs["completions/mean_length"] * 32)


if __name__ == "__main__":
    main()
