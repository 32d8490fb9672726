"""Tiny real images built with buildah from scratch, pushed to a test registry.

Each image is one small file with unique content on ``FROM scratch``, with os/arch/variant
set in its config, so every variant has its own digests and a real platform to match.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .proc import run, run_bytes

if TYPE_CHECKING:
    from .containers import ContainersEnv

PUSH_TIMEOUT = 300.0
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _docker_ref(ref: str) -> str:
    return ref if ref.startswith("docker://") else f"docker://{ref}"


def _tls_args(ref: str) -> list[str]:
    """Loopback test registries speak plain HTTP."""
    host = ref.removeprefix("docker://").split("/", 1)[0]
    name = host.rsplit(":", 1)[0] if ":" in host else host
    return ["--tls-verify=false"] if name in {"127.0.0.1", "localhost"} else []


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of exact bytes, the way a registry names content."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# What a Debian image says of itself and its packages, as dpkg leaves it.
PACKAGED_FILES = {
    "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
    "var/lib/dpkg/status": (
        "Package: base-files\nStatus: install ok installed\nPriority: required\n"
        "Section: admin\nInstalled-Size: 340\nMaintainer: Santiago Vila <sanvila@debian.org>\n"
        "Architecture: ARCH\nVersion: 12.4+deb12u13\nDescription: Debian base system files\n\n"
        "Package: netbase\nStatus: install ok installed\nPriority: optional\n"
        "Section: admin\nInstalled-Size: 41\nMaintainer: Marco d'Itri <md@linux.it>\n"
        "Architecture: all\nVersion: 6.4\nDescription: Basic TCP/IP networking system\n"
    ),
}


def build_tiny_image(  # noqa: PLR0913, PLR0917 - signature agreed with the tests
    containers: ContainersEnv,
    name: str,
    arch: str,
    os: str = "linux",
    variant: str | None = None,
    content: str | None = None,
    *,
    packaged: bool = False,
) -> str:
    """Commit ``name`` (local storage): scratch + /hello.txt, config os/arch/variant.

    ``content`` defaults to a fresh random string so two calls never share digests.
    ``packaged``: also a Debian ``os-release`` and dpkg status of two packages, which an
    SBOM scanner lists. Returns the local image name to pass to ``push()``.
    """
    if content is None:
        content = (
            f"tiny image {name} {os}/{arch}{'/' + variant if variant else ''} {uuid.uuid4()}\n"
        )
    with tempfile.TemporaryDirectory(dir=containers.tmpdir) as tmp:
        payload = Path(tmp) / "hello.txt"
        payload.write_text(content)
        ctr = containers.run(["buildah", "from", "--arch", arch, "--os", os, "scratch"])
        container = ctr.stdout.strip().splitlines()[-1]
        try:
            containers.run(["buildah", "add", "--quiet", container, str(payload), "/hello.txt"])
            if packaged:
                tree = Path(tmp) / "packaged"
                for path, text in PACKAGED_FILES.items():
                    (tree / path).parent.mkdir(parents=True, exist_ok=True)
                    (tree / path).write_text(text.replace("ARCH", arch))
                containers.run(["buildah", "add", "--quiet", container, str(tree), "/"])
            config = ["buildah", "config", "--arch", arch, "--os", os]
            if variant:
                config += ["--variant", variant]
            config += ["--label", f"test.tiny.name={name}", container]
            containers.run(config)
            containers.run(["buildah", "commit", "--quiet", container, name], timeout=120)
        finally:
            containers.run(["buildah", "rm", container], check=False)
    return name


def push(
    containers: ContainersEnv,
    image: str,
    dest: str,
    format: Literal["oci", "docker"] = "oci",  # noqa: A002 - mirrors buildah push --format
) -> str:
    """Push a local image to ``127.0.0.1:PORT/repo:tag``; return the pushed manifest digest.

    The digest comes from ``buildah push --digestfile`` and is checked against sha256 of
    the bytes the registry serves (``skopeo inspect --raw``), so it is the digest of the
    manifest as pushed (layers compressed), not of the local one.
    """
    manifest_format = "oci" if format == "oci" else "v2s2"
    with tempfile.TemporaryDirectory(dir=containers.tmpdir) as tmp:
        digest_file = Path(tmp) / "digest"
        containers.run(
            [
                "buildah",
                "push",
                "--quiet",
                *_tls_args(dest),
                "--format",
                manifest_format,
                "--digestfile",
                str(digest_file),
                image,
                _docker_ref(dest),
            ],
            timeout=PUSH_TIMEOUT,
        )
        digest = digest_file.read_text().strip()
    raw = skopeo_raw(dest)
    served = sha256_digest(raw)
    if served != digest:
        raise AssertionError(
            f"buildah push --digestfile said {digest} but {dest} serves bytes with {served}"
        )
    media_type = json.loads(raw).get("mediaType")
    expected = OCI_MANIFEST if format == "oci" else DOCKER_MANIFEST
    if media_type != expected:
        raise AssertionError(f"pushed {dest} as {format} but it is {media_type!r}")
    return digest


def skopeo_raw(ref: str) -> bytes:
    """The exact manifest bytes the registry serves for ``ref`` (tag or digest)."""
    proc = run_bytes(["skopeo", "inspect", *_tls_args(ref), "--raw", _docker_ref(ref)], timeout=60)
    return proc.stdout


def skopeo_config(ref: str) -> dict[str, Any]:
    """The image config JSON (resolves an index for this machine's platform)."""
    proc = run(["skopeo", "inspect", *_tls_args(ref), "--config", _docker_ref(ref)], timeout=60)
    config: dict[str, Any] = json.loads(proc.stdout)
    return config


def skopeo_inspect_platform(
    ref: str,
    os: str,
    arch: str,
    variant: str | None = None,
) -> dict[str, Any]:
    """``skopeo inspect`` as a client on os/arch[/variant] resolves ``ref``.

    Careful: skopeo 1.9 puts the digest of what ``ref`` names (the index) in ``Digest``.
    The digest of the manifest chosen for the platform is added as ``ResolvedDigest``:
    for an index it comes from ``skopeo copy`` of that platform to a ``dir:`` (the same
    choice a pulling client makes, manifest bytes kept as served).
    """
    overrides = ["--override-os", os, "--override-arch", arch]
    if variant:
        overrides += ["--override-variant", variant]
    cmd = ["skopeo", *overrides, "inspect", "--no-tags", *_tls_args(ref), _docker_ref(ref)]
    info: dict[str, Any] = json.loads(run(cmd, timeout=60).stdout)
    raw = skopeo_raw(ref)
    if json.loads(raw).get("manifests") is None:
        info["ResolvedDigest"] = sha256_digest(raw)
        return info
    with tempfile.TemporaryDirectory(prefix="skopeo-resolve-") as tmp:
        src_tls = [f"--src-{arg[2:]}" for arg in _tls_args(ref)]
        run(
            [
                "skopeo",
                "--insecure-policy",
                *overrides,
                "copy",
                "--quiet",
                *src_tls,
                _docker_ref(ref),
                f"dir:{tmp}",
            ],
            timeout=PUSH_TIMEOUT,
        )
        info["ResolvedDigest"] = sha256_digest((Path(tmp) / "manifest.json").read_bytes())
    return info


__all__ = [
    "DOCKER_MANIFEST",
    "OCI_MANIFEST",
    "build_tiny_image",
    "push",
    "sha256_digest",
    "skopeo_config",
    "skopeo_inspect_platform",
    "skopeo_raw",
]
