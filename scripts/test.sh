#!/usr/bin/env bash
# The one test command: on a fresh Debian/Ubuntu machine, as root, install what the tests
# need (Debian and Python packages), check style and types, then run every test.
# Extra arguments go to pytest (for example: bash scripts/test.sh -m unit).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

packages=(docker-registry buildah skopeo podman runc qemu-user-static binfmt-support mmdebstrap)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ! command -v go >/dev/null; then missing+=(golang-go); fi
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

python3 -m pip install -q --root-user-action=ignore --disable-pip-version-check -e '.[test]'

echo "== lint and types"
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy

echo "== go vet and go test (app-amd64)"
(cd app-amd64 && go vet ./... && go test ./...)

echo "== pytest"
python3 -m pytest "$@"
