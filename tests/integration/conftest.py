"""Fixtures for the core's integration tests: real variants in a real registry."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from support.containers import ContainersEnv
from support.docker29 import wrap_docker29
from support.images import build_tiny_image, push
from support.oci_cli import AuthRegistry, Variants
from support.pass_store import PassStore, create_pass_store
from support.proc import ToolMissingError
from support.registry import Registry, free_port, start_registry

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="session")
def variants(registry: Registry, containers: ContainersEnv) -> Variants:
    """amd64 pushed flat (OCI), arm64/v8 pushed as Docker 29 does (image + attestation)."""
    repository = "team/metrics-api"
    build_tiny_image(containers, "variant-amd64", "amd64")
    build_tiny_image(containers, "variant-arm64", "arm64", variant="v8")
    build_tiny_image(containers, "variant-amd64-b", "amd64")
    amd64 = push(containers, "variant-amd64", registry.ref(repository, "v2.0.0-amd64"))
    pushed_arm64 = push(
        containers, "variant-arm64", registry.ref(repository, "arm64-image"), format="docker"
    )
    wrapped = wrap_docker29(registry.host, repository, pushed_arm64, "v2.0.0-arm64")
    assert wrapped.image_digest == pushed_arm64
    other = push(containers, "variant-amd64-b", registry.ref(repository, "v2.0.1-amd64"))
    return Variants(registry, repository, amd64, pushed_arm64, wrapped.index_digest, other)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A second registry that refuses anonymous requests."""
    data_dir: Path = tmp_path_factory.mktemp("auth-registry")
    registry = AuthRegistry(data_dir, free_port(), owns_data_dir=False)
    registry.start()
    yield registry
    registry.close()


@pytest.fixture
def fresh_registry() -> Iterator[Registry]:
    """A registry of its own, for tests that stop it or compare across registries."""
    with start_registry() as registry:
        yield registry


@pytest.fixture(scope="session")
def pass_store() -> Iterator[PassStore]:
    """A real credential helper (docker-credential-pass) over a throwaway gpg key and store."""
    try:
        store = create_pass_store()
    except ToolMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield store
    finally:
        store.close()
