#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine, as root, for the tests and the benchmarks: the
# Debian packages, the project and its test tools in its own virtual environment (.venv),
# and the pinned Go programs. Already set up: checks and does nothing. The Python first on
# PATH is only used to create .venv; nothing is installed into it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

bash scripts/debian-packages.sh

# Reuse .venv while it works and pyproject.toml is what it was installed from.
venv=.venv
python=$venv/bin/python
stamp=$venv/metrics-api-installed
wanted="$PWD $(sha256sum pyproject.toml) compiled"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]] || ! "$python" -c pass 2>/dev/null; then
  # Made anew, so nothing an earlier pyproject.toml wanted stays installed.
  echo "creating $venv, installing the project and its test tools into it"
  python3 -m venv --clear "$venv"
  # uv (a test tool anyway) installs in seconds what pip takes half a minute for;
  # --no-sources: sdk/ exists only inside a Dagger engine (pyproject.toml, tool.uv.sources).
  # --compile-bytecode, as pip does: where PYTHONDONTWRITEBYTECODE is set (CI images often
  # set it) every process would otherwise compile its imports again, half its start-up CPU.
  "$python" -m pip install -q --disable-pip-version-check 'uv>=0.8'
  "$python" -m uv pip install -q --no-sources --compile-bytecode --reinstall \
    --python "$python" -e '.[test]'
  "$python" -m compileall -q src  # the editable project's own modules, which uv leaves
  echo "$wanted" >"$stamp"
fi

# The registries Debian does not package (distribution v3, go-containerregistry's), `go
# install`ed at pinned versions into /var/cache/metrics-api-tools when missing.
PYTHONPATH=tests "$python" -m support.go_tools
# Python test tools, each in its own environment: their dependencies stay out of .venv.
PYTHONPATH=tests "$python" -m support.python_tools
