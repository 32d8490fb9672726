#!/usr/bin/env bash
# The one test command: on a fresh Debian/Ubuntu machine, as root, install what the tests
# need (scripts/setup.sh: Debian packages, then the project into its own virtual
# environment, .venv), check style and types, then run every test.
# Extra arguments go to pytest (for example: bash scripts/test.sh -m unit).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

bash scripts/setup.sh
python=.venv/bin/python

echo "== lint and types"
"$python" -m ruff check .
"$python" -m ruff format --check .
"$python" -m mypy

echo "== go vet and go test (app-amd64)"
(cd app-amd64 && go vet ./... && go test ./...)

echo "== pytest"
"$python" -m pytest "$@"
