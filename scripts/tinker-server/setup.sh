#!/usr/bin/env bash
# Installs SkyRL's Tinker-compatible server (skyrl 0.4.0, JAX on CPU) into .venv-tinker, for
# the tinker backend's tests. Needs Python 3.12 (`python3.12` on PATH, or PYTHON312=...).
# About 6-7 GB (peft pulls a CUDA build of torch) and a few minutes from PyPI.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${TINKER_VENV:-$root/.venv-tinker}"
python="${PYTHON312:-$(command -v python3.12 || ls /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -1)}"
if [ -z "$python" ]; then echo "setup.sh: Python 3.12 not found; set PYTHON312" >&2; exit 1; fi
if [ ! -x "$venv/bin/python" ]; then "$python" -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "skyrl[tinker,jax]==0.4.0" aiohttp
"$venv/bin/python" -c "import skyrl.tinker.api, jax; print('skyrl server ready:', jax.__version__)"
