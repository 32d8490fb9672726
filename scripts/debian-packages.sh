#!/usr/bin/env bash
# Install the Debian packages the tests need, as root, without starting any service they
# ship (a test session starts its own registry) and without recommends nobody uses.
# Quiet unless apt fails; then its whole log is shown. Already installed: does nothing.
set -euo pipefail

packages=(
  docker-registry buildah skopeo podman runc   # a real registry and the container tools
  catatonit netavark aardvark-dns              # `podman run --init -p` (podman recommends)
  qemu-user-static binfmt-support mmdebstrap   # arm64 binaries; stand-in base images
  golang-docker-credential-helpers pass gnupg  # a real Docker credential helper
  git                                          # the Dagger tests list the module's files
  openssl ca-certificates                      # TLS test registries; the system trust store
  tinyproxy                                    # a real forward proxy (HTTP_PROXY, CONNECT)
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ! command -v go >/dev/null; then missing+=(golang-go); fi
# The project's virtual environment needs venv and ensurepip (Debian splits them off).
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
((${#missing[@]})) || exit 0

echo "installing Debian packages: ${missing[*]}"
# invoke-rc.d and deb-systemd-invoke ask policy-rc.d; 101 means "do not start services".
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# metrics-api scripts/debian-packages.sh: start no service\nexit 101\n' \
    >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
log=$(mktemp)
if ! {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}"
} >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "error: installing ${missing[*]} failed (apt's log above)" >&2
  exit 1
fi
rm -f "$log"
