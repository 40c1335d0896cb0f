#!/usr/bin/env bash
# Installs SkyRL's Tinker-compatible server (skyrl 0.4.0, JAX on CPU) into .venv-tinker, for
# the tinker backend's tests. Needs Python 3.12 (`python3.12` on PATH, or PYTHON312=...).
# About 6-7 GB (peft pulls a CUDA build of torch) and a few minutes from PyPI.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${TINKER_VENV:-$root/.venv-tinker}"
# A pyenv shim named python3.12 exists even when 3.12 is not the selected version, and then
# fails; so every candidate is tried by running it, and pyenv's own installs are searched too.
find_python312() {
  local candidate
  for candidate in "${PYTHON312:-}" python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}
if ! python="$(find_python312)"; then
  echo "setup.sh: no working Python 3.12 found (tried \$PYTHON312, python3.12 on PATH, pyenv's versions); install one or set PYTHON312=/path/to/python3.12" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then "$python" -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "skyrl[tinker,jax]==0.4.0" aiohttp
"$venv/bin/python" -c "import skyrl.tinker.api, jax; print('skyrl server ready:', jax.__version__)"
