"""Credentials per registry host: each reaches its own host and no other."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import anyio
import pytest
from pydantic import SecretStr
from support.oci_cli import AuthRegistry, Variants
from support.registry import free_port

from metrics_api.oci import AssembleReport, AuthenticationError, Settings, assemble, open_client
from metrics_api.oci.inputs import parse_requests
from metrics_api.oci.registry.auth import Credentials

if TYPE_CHECKING:
    from pathlib import Path


class OtherAuthRegistry(AuthRegistry):
    """A registry with an account of its own."""

    username = "release-bot"
    password = "another-battery-staple"  # noqa: S105 - a test registry's password


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    data_dir: Path = tmp_path_factory.mktemp("other-auth-registry")
    registry = OtherAuthRegistry(data_dir, free_port(), owns_data_dir=False)
    registry.start()
    yield registry
    registry.close()


def login(registry: AuthRegistry) -> Credentials:
    return Credentials(username=registry.username, password=SecretStr(registry.password))


def assemble_to(
    target: str, variants: list[str], credentials: dict[str, Credentials]
) -> AssembleReport:
    async def job() -> AssembleReport:
        settings = Settings(credentials=credentials, use_docker_config=False)
        async with open_client(settings) as client:
            return await assemble(
                client, target, parse_requests(variants, [], ("--variant", "--expect"))
            )

    return anyio.run(job)


@pytest.fixture(scope="module")
def source(variants: Variants, auth_registry: AuthRegistry) -> list[str]:
    """The two variants, copied into a registry that wants credentials."""
    plain = [
        f"linux/amd64={variants.ref(variants.amd64)}",
        f"linux/arm64={variants.ref(variants.arm64_index)}",
    ]
    assemble_to(
        auth_registry.ref("team/metrics-api", "source"),
        plain,
        {auth_registry.host: login(auth_registry)},
    )
    return [
        f"linux/amd64={auth_registry.ref('team/metrics-api', variants.amd64)}",
        f"linux/arm64={auth_registry.ref('team/metrics-api', variants.arm64)}",
    ]


@pytest.mark.integration
def test_variants_and_target_on_two_registries_each_get_their_own_credentials(
    source: list[str], auth_registry: AuthRegistry, other_registry: AuthRegistry
) -> None:
    report = assemble_to(
        other_registry.ref("metrics-api", "v2.0.0"),
        source,
        {auth_registry.host: login(auth_registry), other_registry.host: login(other_registry)},
    )
    assert report.ok
    assert [v.child_action for v in report.variants] == ["copied", "copied"]


@pytest.mark.integration
def test_credentials_of_one_host_are_never_offered_to_another(
    source: list[str], auth_registry: AuthRegistry, other_registry: AuthRegistry
) -> None:
    swapped = {auth_registry.host: login(other_registry), other_registry.host: login(auth_registry)}
    with pytest.raises(AuthenticationError) as refused:
        assemble_to(other_registry.ref("metrics-api", "swapped"), source, swapped)
    assert refused.value.host in {auth_registry.host, other_registry.host}
    assert "even with the configured credentials" in str(refused.value)


@pytest.mark.integration
def test_the_host_without_credentials_is_named(
    source: list[str], auth_registry: AuthRegistry, other_registry: AuthRegistry
) -> None:
    with pytest.raises(AuthenticationError) as refused:
        assemble_to(
            other_registry.ref("metrics-api", "half"),
            source,
            {other_registry.host: login(other_registry)},
        )
    assert refused.value.host == auth_registry.host
    assert f"{auth_registry.host} asks for a username and password" in str(refused.value)
