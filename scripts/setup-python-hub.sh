#!/usr/bin/env bash
# Python's huggingface_hub in .venv-hub (gitignored), for test/hub.python.test.ts: the test
# that a Hub cache written by Python is read by the project and the other way round.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-hub/bin/python ]; then
  python3 -m venv .venv-hub
fi
.venv-hub/bin/pip install --quiet --disable-pip-version-check 'huggingface_hub==2.4.0'
.venv-hub/bin/python -c 'import huggingface_hub; print("huggingface_hub", huggingface_hub.__version__, "in .venv-hub")'
