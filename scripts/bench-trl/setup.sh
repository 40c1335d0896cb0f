#!/usr/bin/env bash
# Installs HF TRL (and its torch, transformers) into .venv-bench-trl for `npm run bench:grpo`,
# which runs the same GRPO workload with TRL's GRPOTrainer and with the project. Bench only:
# CI and the tests never need it. About 5 GB (PyPI's torch wheel brings CUDA libraries).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${BENCH_TRL_VENV:-$root/.venv-bench-trl}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 10)' >/dev/null 2>&1; then
  echo "setup.sh: $python is not a working Python >= 3.10; set PYTHON=/path/to/python3" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then "$python" -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "trl==1.16.0" "torch==2.15.0" psutil
"$venv/bin/python" -c "import trl, torch, transformers; print('bench-trl ready: trl', trl.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
