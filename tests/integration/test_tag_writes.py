"""A release's tags on a real registry: judged together, written together, reported truly.

A release writes its platforms' tags and then its own. Each test makes the job's check
(``plan_tags``), lets another writer act on the registry, then publishes: the other
writer's change is seen at the last look, before any tag is written, and whatever the
job did write is named in its error.
"""

import time
from collections.abc import Iterator

import anyio
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.docker29 import manifest_digest
from support.faultproxy import FaultProxy, Match, Scenario, Status, start_proxy
from support.oci_cli import Variants
from support.token_signing import TokenSigner

from metrics_api.oci import (
    OciError,
    Settings,
    TagConflictError,
    assemble,
    open_client,
    parse_variant,
)
from metrics_api.oci.errors import RegistryError
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.release.assemble import build_index
from metrics_api.oci.release.publish import PublishOutcome, publish_index
from metrics_api.oci.release.resolve import ResolvedVariant, resolve_variant
from metrics_api.oci.release.signatures import plan_release_signing
from metrics_api.oci.release.tags import TagPlan, plan_tags
from metrics_api.oci.signing.identity_tokens import GivenToken
from metrics_api.oci.signing.keyless import SigstoreTrust
from metrics_api.oci.signing.keyless_store import KeylessSigning
from metrics_api.oci.signing.keys import SigningKey
from metrics_api.oci.signing.store import write_signing
from metrics_api.oci.spec.models import Manifest
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(variants: Variants) -> Iterator[FaultProxy]:
    with start_proxy(variants.registry.host) as started:
        yield started


async def resolved(client: RegistryClient, host: str, variants: Variants) -> list[ResolvedVariant]:
    return [
        await resolve_variant(
            client, parse_reference(f"{host}/{variants.repository}@{digest}"), parse_platform(arch)
        )
        for arch, digest in (("linux/amd64", variants.amd64), ("linux/arm64", variants.arm64))
    ]


async def release_plans(
    client: RegistryClient, host: str, variants: Variants, version: str
) -> tuple[Manifest, list[ResolvedVariant], list[TagPlan]]:
    """The index of both variants, and the check of its platform tags and its own tag."""
    found = await resolved(client, host, variants)
    index = build_index(found)
    base = f"{host}/{variants.repository}:{version}"
    wanted = [
        (parse_reference(f"{base}-amd64"), found[0].manifest),
        (parse_reference(f"{base}-arm64"), found[1].manifest),
        (parse_reference(base), index),
    ]
    return index, found, await plan_tags(client, wanted)


async def put_other_index(host: str, variants: Variants, tag: str) -> str:
    """Another release writes ``tag`` (an index of other content); its digest."""
    async with open_client(Settings(use_docker_config=False)) as client:
        found = await resolved(client, host, variants)
        other = build_index(found, annotations={"org.example.writer": "another release"})
        pinned = parse_reference(f"{host}/{variants.repository}@{other.digest}")
        await client.put_manifest(pinned, other.raw, other.media_type)
        await client.put_manifest(
            parse_reference(f"{host}/{variants.repository}:{tag}"), other.raw, other.media_type
        )
        return other.digest


def tag_at(variants: Variants, tag: str) -> str | None:
    try:
        return manifest_digest(variants.registry.host, variants.repository, tag)
    except AssertionError:
        return None


def test_a_release_tag_taken_meanwhile_leaves_every_platform_tag_unwritten(
    variants: Variants,
) -> None:
    host = variants.registry.host

    async def job() -> None:
        async with open_client(Settings(use_docker_config=False)) as client:
            index, found, plans = await release_plans(client, host, variants, "meanwhile")
            other = await put_other_index(host, variants, "meanwhile")
            with pytest.raises(TagConflictError) as caught:
                await publish_index(client, index, found, plans[-1], plans[:-1])
            assert f"points at {other} now" in str(caught.value)
            assert "Left as they were" in str(caught.value)
            assert f"{variants.repository}:meanwhile-amd64" in str(caught.value)

    anyio.run(job)
    assert tag_at(variants, "meanwhile-amd64") is None
    assert tag_at(variants, "meanwhile-arm64") is None


def test_a_platform_tag_that_fails_names_the_tags_written_and_leaves_the_release_tag(
    variants: Variants, proxy: FaultProxy
) -> None:
    refused = Match(methods=frozenset({"PUT"}), path="/manifests/halfway-arm64$")
    proxy.scenario = Scenario(faults=(Status(code=403, retry_after=None, match=refused),))

    async def job() -> None:
        async with open_client(Settings(use_docker_config=False)) as client:
            index, found, plans = await release_plans(client, proxy.host, variants, "halfway")
            with pytest.raises(RegistryError) as caught:
                await publish_index(client, index, found, plans[-1], plans[:-1])
            message = str(caught.value)
            assert f"{variants.repository}:halfway-amd64 written and read back" in message
            assert f"{variants.repository}:halfway left as it was (absent)" in message

    anyio.run(job)
    assert tag_at(variants, "halfway-amd64") == variants.amd64
    assert tag_at(variants, "halfway-arm64") is None
    assert tag_at(variants, "halfway") is None


def test_an_identical_rerun_reads_its_tag_and_refuses_one_moved_meanwhile(
    variants: Variants,
) -> None:
    host = variants.registry.host

    async def publish(client: RegistryClient, plans: list[TagPlan]) -> PublishOutcome:
        index, found = plans[-1].manifest, await resolved(client, host, variants)
        return await publish_index(client, index, found, plans[-1], plans[:-1])

    async def job() -> None:
        async with open_client(Settings(use_docker_config=False)) as client:
            _, _, plans = await release_plans(client, host, variants, "rerun")
            first = await publish(client, plans)
            assert first.tag_action == "created"
            _, _, again = await release_plans(client, host, variants, "rerun")
            assert {plan.action for plan in again} == {"unchanged"}
            before = client.stats.requests
            same = await publish(client, again)
            assert same.tag_action == "unchanged"
            # The re-run's report rests on a read of every tag, not on the check's memory.
            assert client.stats.requests - before >= len(again)
            other = await put_other_index(host, variants, "rerun")
            with pytest.raises(TagConflictError) as caught:
                await publish(client, again)
            assert f"points at {other} now" in str(caught.value)

    anyio.run(job)
    assert tag_at(variants, "rerun-amd64") == variants.amd64


def test_signatures_another_run_finished_meanwhile_leave_nothing_to_write(
    variants: Variants,
) -> None:
    signer_key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    host = variants.registry.host

    async def job() -> tuple[PublishOutcome, str]:
        async with open_client(Settings(use_docker_config=False)) as client:
            index, found, plans = await release_plans(client, host, variants, "signed-meanwhile")
            release = plans[-1].reference
            read = await plan_release_signing(client, release, index, found, signer_key)
            assert read is not None
            assert read.key is not None
            assert read.writes
            # Another run with the same key signs every digest between our check and our write.
            await write_signing(client, read.key)
            outcome = await publish_index(client, index, found, plans[-1], plans[:-1], signing=read)
            return outcome, index.digest

    outcome, index_digest = anyio.run(job)
    assert outcome.tag_action == "created"
    assert not [line for line in outcome.written if "by key" in line]
    assert outcome.written[-1] == f"tag {host}/{variants.repository}:signed-meanwhile (created)"
    assert tag_at(variants, "signed-meanwhile") == index_digest


def test_key_signatures_stored_before_keyless_signing_failed_are_named_in_its_error(
    variants: Variants,
) -> None:
    host = variants.registry.host
    claims = {"iss": "https://issuer.example", "sub": "ci", "aud": "sigstore"}
    token = TokenSigner("https://issuer.example").sign({**claims, "exp": int(time.time()) + 3600})
    reads: list[str] = []

    async def reader() -> str:
        """The token once, for the check before any write; gone when signing asks again."""
        reads.append(token)
        return token if len(reads) == 1 else ""

    keyless = KeylessSigning(SigstoreTrust(), GivenToken("the test's token", reader))
    requests = [
        parse_variant(f"linux/amd64={host}/{variants.repository}@{variants.amd64}", "--variant"),
        parse_variant(f"linux/arm64={host}/{variants.repository}@{variants.arm64}", "--variant"),
    ]

    async def job() -> None:
        async with open_client(Settings(use_docker_config=False)) as client:
            await assemble(
                client,
                f"{host}/{variants.repository}:keyless-failed",
                requests,
                signer=SigningKey(ec.generate_private_key(ec.SECP256R1())),
                keyless=keyless,
            )

    with pytest.raises(OciError) as caught:
        anyio.run(job)
    message = str(caught.value)
    assert message.startswith("expected an OIDC identity token in the test's token, found it empty")
    assert "; stored before it: " in message
    stored = message.split("; stored before it: ", 1)[1].split(", ")
    assert len(stored) == 3  # the index's signature and each image's
    for line in stored:
        tag = line.split()[1]
        assert line.startswith("signature sha256-")
        assert tag_at(variants, tag) is not None
    assert tag_at(variants, "keyless-failed") is None
