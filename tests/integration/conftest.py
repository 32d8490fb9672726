"""Fixtures for the core's integration tests: real variants in a real registry.

``variants`` live in the session's distribution 2.8 registry. ``kind_variants`` are the
same images pushed to each implementation of ``support.registry_kinds`` in turn (a
parametrised session fixture: pytest runs every test of one kind before starting the
next kind's registry). ``token_variants`` are copies in a registry with token auth.
"""

import base64
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from support.containers import ContainersEnv
from support.docker29 import wrap_docker29
from support.faultproxy import FaultProxy, start_proxy
from support.images import build_tiny_image, push
from support.listeners import Listener
from support.oci_cli import AuthRegistry, TlsRegistry, Variants
from support.pass_store import PassStore, create_pass_store
from support.proc import ToolMissingError, run
from support.registry import Registry, RegistryStartError, free_port, start_registry
from support.registry_kinds import DISTRIBUTION_2_8, DISTRIBUTION_3, KINDS, RegistryKind
from support.tinyproxy import TinyProxy
from support.token_registry import ACCOUNTS, CI_BOT, TOKEN_REGISTRIES, TokenRegistry
from support.token_server import TokenServer, start_token_server

if TYPE_CHECKING:
    from pathlib import Path

VARIANTS_REPOSITORY = "team/metrics-api"


@pytest.fixture(scope="session")
def variant_images(containers: ContainersEnv) -> tuple[str, str, str]:
    """The local images every registry's variants are pushed from: amd64, arm64/v8, amd64."""
    return (
        build_tiny_image(containers, "variant-amd64", "amd64"),
        build_tiny_image(containers, "variant-arm64", "arm64", variant="v8"),
        build_tiny_image(containers, "variant-amd64-b", "amd64"),
    )


def push_variants(
    registry: Registry, containers: ContainersEnv, images: tuple[str, str, str]
) -> Variants:
    """amd64 pushed flat (OCI), arm64/v8 pushed as Docker 29 does (image + attestation)."""
    repository = VARIANTS_REPOSITORY
    amd64_image, arm64_image, other_image = images
    amd64 = push(containers, amd64_image, registry.ref(repository, "v2.0.0-amd64"))
    pushed_arm64 = push(
        containers, arm64_image, registry.ref(repository, "arm64-image"), format="docker"
    )
    wrapped = wrap_docker29(registry.host, repository, pushed_arm64, "v2.0.0-arm64")
    assert wrapped.image_digest == pushed_arm64
    other = push(containers, other_image, registry.ref(repository, "v2.0.1-amd64"))
    return Variants(registry, repository, amd64, pushed_arm64, wrapped.index_digest, other)


@pytest.fixture(scope="session")
def registry_variants(
    registry: Registry, containers: ContainersEnv, variant_images: tuple[str, str, str]
) -> Variants:
    """The variants in the session's distribution 2.8 registry."""
    return push_variants(registry, containers, variant_images)


@pytest.fixture(scope="session")
def variants(registry_variants: Variants) -> Variants:
    """The variants in the session's distribution 2.8 registry (a module may override it)."""
    return registry_variants


@pytest.fixture(scope="session", params=list(KINDS))
def registry_kind(request: pytest.FixtureRequest) -> RegistryKind:
    """Each registry implementation in turn (``support.registry_kinds``)."""
    return KINDS[request.param]


def start_kind(kind: RegistryKind) -> Registry:
    """A registry of ``kind``; a missing program fails the test saying how to install it."""
    try:
        return kind.start()
    except (ToolMissingError, RegistryStartError) as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def kind_registry(
    registry_kind: RegistryKind, request: pytest.FixtureRequest
) -> Iterator[Registry]:
    """A running registry of ``registry_kind`` (for 2.8, the session's own)."""
    if registry_kind is DISTRIBUTION_2_8:
        yield request.getfixturevalue("registry")
        return
    started = start_kind(registry_kind)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="session")
def kind_variants(
    registry_kind: RegistryKind,
    kind_registry: Registry,
    containers: ContainersEnv,
    variant_images: tuple[str, str, str],
    request: pytest.FixtureRequest,
) -> Variants:
    """The variants pushed to ``kind_registry`` (for 2.8, the session's ``variants``)."""
    if registry_kind is DISTRIBUTION_2_8:
        found: Variants = request.getfixturevalue("registry_variants")
        return found
    return push_variants(kind_registry, containers, variant_images)


@pytest.fixture
def fresh_kind_registry(registry_kind: RegistryKind) -> Iterator[Registry]:
    """A registry of ``registry_kind`` of its own, for copies across registries."""
    with start_kind(registry_kind) as started:
        yield started


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    """The token service of the token registries (accounts: ``support.token_registry``)."""
    with start_token_server(ACCOUNTS) as server:
        yield server


@pytest.fixture(scope="session", params=list(TOKEN_REGISTRIES))
def token_registry(
    request: pytest.FixtureRequest,
    token_server: TokenServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TokenRegistry]:
    """Distribution 2.8, then v3, with ``auth: token`` behind ``token_server``."""
    registry_class = TOKEN_REGISTRIES[request.param]
    data_dir: Path = tmp_path_factory.mktemp(f"token-{request.param}")
    registry = registry_class(data_dir, free_port(), owns_data_dir=False, token_server=token_server)
    try:
        registry.start()
    except (ToolMissingError, RegistryStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield registry
    finally:
        registry.close()


@pytest.fixture(scope="session")
def token_variants(
    token_registry: TokenRegistry,
    registry_variants: Variants,
    tmp_path_factory: pytest.TempPathFactory,
) -> Variants:
    """The variants copied into ``token_registry`` as CI_BOT, every digest kept."""
    auth_dir: Path = tmp_path_factory.mktemp("token-login")
    authfile = auth_dir / "auth.json"  # skopeo's login; the password never in an argument
    login = base64.b64encode(f"{CI_BOT.username}:{CI_BOT.password}".encode()).decode()
    authfile.write_text(json.dumps({"auths": {token_registry.host: {"auth": login}}}))
    repository = registry_variants.repository
    try:
        for tag in ("v2.0.0-amd64", "v2.0.0-arm64", "v2.0.1-amd64"):
            run(
                [
                    "skopeo",
                    "--insecure-policy",
                    "copy",
                    "--all",
                    "--preserve-digests",
                    "--quiet",
                    "--src-tls-verify=false",
                    "--dest-tls-verify=false",
                    "--dest-authfile",
                    str(authfile),
                    f"docker://{registry_variants.ref(tag)}",
                    f"docker://{token_registry.ref(repository, tag)}",
                ],
                timeout=120,
            )
    finally:
        shutil.rmtree(auth_dir)
    return replace(registry_variants, registry=token_registry)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A second registry that refuses anonymous requests."""
    data_dir: Path = tmp_path_factory.mktemp("auth-registry")
    registry = AuthRegistry(data_dir, free_port(), owns_data_dir=False)
    registry.start()
    yield registry
    registry.close()


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    """A registry serving HTTPS under this machine's name with a certificate of its own CA."""
    data_dir: Path = tmp_path_factory.mktemp("tls-registry")
    try:
        registry = TlsRegistry(data_dir, free_port(), owns_data_dir=False)
        registry.start()
    except (ToolMissingError, RegistryStartError, RuntimeError) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield registry
    registry.close()


@pytest.fixture
def holding() -> Iterator[Listener]:
    """A registry stand-in that answers HEAD 404 and holds every GET."""
    with Listener("hold").start() as listener:
        yield listener


@pytest.fixture(scope="session")
def tinyproxy() -> Iterator[TinyProxy]:
    """A real forward proxy (tinyproxy): plain HTTP forwarded, HTTPS through CONNECT."""
    try:
        started = TinyProxy()
    except (ToolMissingError, RuntimeError) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield started
    started.close()


@pytest.fixture
def proxy(variants: Variants) -> Iterator[FaultProxy]:
    """A fault proxy in front of the variants' registry, no faults until a test sets some."""
    with start_proxy(variants.registry.host) as started:
        yield started


@pytest.fixture(scope="module")
def staging() -> Iterator[Registry]:
    """The release tests' staging registry, one per module: Dagger's runs `registry:3`."""
    with DISTRIBUTION_3.start() as registry:
        yield registry


@pytest.fixture
def target() -> Iterator[Registry]:
    """The registry released to, empty at the start of each test."""
    with start_registry() as registry:
        yield registry


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
