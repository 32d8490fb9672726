#!/usr/bin/env bash
# The assemble benchmark from a fresh clone, in one command: set up (scripts/setup.sh),
# then run bench/assemble_bench.py with .venv's Python. Arguments go to the benchmark
# (for example: bash scripts/bench.sh --runs 10).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/local/go/bin"  # the benchmark `go install`s its peers
exec .venv/bin/python bench/assemble_bench.py "$@"
