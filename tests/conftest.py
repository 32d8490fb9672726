"""Session fixtures: a real registry, an isolated containers environment, base images.

Missing tools fail the test with the Debian package to install; they never skip,
so a machine without them cannot pass the suite by accident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from support.bases import BaseImages, ensure_base_images
from support.containers import ContainersEnv, create_containers_env, enable_binfmt_arm64
from support.proc import ToolMissingError
from support.registry import Registry, RegistryStartError, start_registry
from support.sigstore_stack import SigstoreStack, SigstoreStartError, start_sigstore_stack

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """One CNCF distribution registry for the session (``.host``, ``.url``)."""
    try:
        reg = start_registry()
    except (ToolMissingError, RegistryStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture(scope="session")
def sigstore_stack() -> Iterator[SigstoreStack]:
    """A local Sigstore for keyless signing: OIDC issuer, Fulcio, TesseraCT, Rekor v2, TSA."""
    try:
        stack = start_sigstore_stack()
    except (ToolMissingError, SigstoreStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield stack
    finally:
        stack.close()


def _containers_env() -> Iterator[ContainersEnv]:
    try:
        env = create_containers_env()
    except ToolMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield env
    finally:
        env.cleanup()


@pytest.fixture(scope="session")
def containers() -> Iterator[ContainersEnv]:
    """Isolated buildah/skopeo/podman storage and config, removed at session end."""
    yield from _containers_env()


@pytest.fixture(scope="session")
def client_containers() -> Iterator[ContainersEnv]:
    """A second, empty environment acting as a pulling client (podman must pull it all)."""
    yield from _containers_env()


@pytest.fixture(scope="session")
def arm64_emulation() -> None:
    """qemu-user for arm64 binaries (machine-wide binfmt; idempotent)."""
    try:
        enable_binfmt_arm64()
    except ToolMissingError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def base_images(containers: ContainersEnv) -> BaseImages:
    """Local stand-ins for golang, distroless and python base images (cached on disk)."""
    try:
        return ensure_base_images(containers)
    except ToolMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
