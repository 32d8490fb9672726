"""Blobs copied across registries as streams: bit-identical, bounded in memory, and robust.

The copy reads the source and writes the target at once (``metrics_api.oci.registry.blobcopy``):
one PUT of the streamed body, or chunked PATCHes where a registry refuses a large body,
and a blob restarted from its first byte when a connection drops. Every test reads the
result back from the target registry itself (never through a proxy).
"""

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import anyio
import httpx
import pytest
from support.copy_driver import peak_growth
from support.docker29 import get_blob, push_blob
from support.faultproxy import BodyLimit, Drop, FaultProxy, Match, Scenario, Tamper, start_proxy
from support.images import sha256_digest
from support.registry import Registry

from metrics_api.oci import DigestMismatchError, Settings, open_client, parse_reference
from metrics_api.oci.registry.blobcopy import CHUNK_SIZE, copy_blob
from metrics_api.oci.registry.transport import RetryPolicy

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
GET = frozenset({"GET"})


def digest_param(digest: str) -> str:
    """The final PUT's query, as sent: ``digest=sha256%3A...``."""
    return "digest=" + quote(digest, safe="")


@pytest.fixture(scope="module")
def large_blob(registry: Registry) -> tuple[str, str, int]:
    """A random blob larger than two upload chunks, in the session's registry."""
    data = os.urandom(2 * CHUNK_SIZE + 12345)
    repository = "copy/source"
    return repository, push_blob(registry.host, repository, data), len(data)


@pytest.fixture
def target_proxy(fresh_registry: Registry) -> Iterator[FaultProxy]:
    """A proxy in front of an empty second registry, to count and fault the upload."""
    with start_proxy(fresh_registry.host) as proxy:
        yield proxy


def copy(source: str, target: str, digest: str) -> tuple[int, int]:
    """Copy one blob with the core; the client's request and retry counts."""

    async def run() -> tuple[int, int]:
        settings = Settings(use_docker_config=False, retry=RetryPolicy(base_delay=0.01))
        async with open_client(settings) as client:
            await copy_blob(client, parse_reference(source), parse_reference(target), digest)
            return client.stats.requests, client.stats.retries

    return anyio.run(run)


def on_target(registry: Registry, repository: str, digest: str) -> bytes:
    """The blob as the target registry serves it (``get_blob`` checks its digest)."""
    return get_blob(registry.host, repository, digest)


def test_a_copied_blob_is_bit_identical_and_sent_in_one_put(
    registry: Registry,
    fresh_registry: Registry,
    target_proxy: FaultProxy,
    large_blob: tuple[str, str, int],
) -> None:
    repository, digest, size = large_blob
    requests, retries = copy(
        registry.ref(repository), target_proxy.ref("copy/target", "latest"), digest
    )
    assert retries == 0
    served = on_target(fresh_registry, "copy/target", digest)
    assert (len(served), sha256_digest(served)) == (size, digest)
    assert served == get_blob(registry.host, repository, digest)
    # One upload session, one PUT carrying the whole body and ?digest= (the registry checked
    # the digest before it answered 201), no PATCH.
    puts = [e for e in target_proxy.log if e.method == "PUT"]
    assert [(e.status, e.path.endswith(digest_param(digest))) for e in puts] == [(201, True)]
    assert target_proxy.count("PATCH") == 0
    assert requests == 3  # POST on the target, GET on the source, PUT on the target


def test_a_registry_that_refuses_a_large_body_gets_chunks(
    registry: Registry,
    fresh_registry: Registry,
    target_proxy: FaultProxy,
    large_blob: tuple[str, str, int],
) -> None:
    repository, digest, size = large_blob
    target_proxy.scenario = Scenario(faults=(BodyLimit(CHUNK_SIZE + MIB),))
    copy(registry.ref(repository), target_proxy.ref("copy/chunked", "latest"), digest)
    assert on_target(fresh_registry, "copy/chunked", digest) == get_blob(
        registry.host, repository, digest
    )
    log = [(e.method, e.status, e.fault) for e in target_proxy.log]
    chunks = -(-size // CHUNK_SIZE)
    assert log == [
        ("POST", 202, ""),
        ("PUT", 413, "body limit"),  # the whole blob in one PUT: refused
        ("POST", 202, ""),  # a new session, the blob from its first byte
        *[("PATCH", 202, "")] * chunks,
        ("PUT", 201, ""),  # no body, ?digest=: the registry checked the whole
    ]
    final = target_proxy.log[-1]
    assert final.path.endswith(digest_param(digest))


def test_once_refused_the_registry_gets_chunks_for_the_rest_of_the_job(
    registry: Registry, target_proxy: FaultProxy
) -> None:
    blobs = [push_blob(registry.host, "copy/many", os.urandom(CHUNK_SIZE + 2 * MIB)) for _ in "abc"]
    target_proxy.scenario = Scenario(faults=(BodyLimit(CHUNK_SIZE + MIB),))

    async def run() -> None:
        async with open_client(Settings(use_docker_config=False)) as client:
            for digest in blobs:  # one after the other: the first refusal teaches the rest
                await copy_blob(
                    client,
                    parse_reference(registry.ref("copy/many")),
                    parse_reference(target_proxy.ref("copy/many", "latest")),
                    digest,
                )

    anyio.run(run)
    assert target_proxy.count("PUT", fault="body limit") == 1
    stored = [e for e in target_proxy.log if e.method == "PUT" and e.status == 201]
    assert len(stored) == 3


def test_a_connection_dropped_mid_blob_restarts_it(
    registry: Registry, fresh_registry: Registry, large_blob: tuple[str, str, int]
) -> None:
    repository, digest, _ = large_blob
    drop = Drop(match=Match(methods=GET, path="/blobs/", first=1))
    with start_proxy(registry.host, Scenario(faults=(drop,))) as source_proxy:
        _, retries = copy(
            source_proxy.ref(repository, "latest"), fresh_registry.ref("copy/dropped"), digest
        )
    assert retries == 1
    assert [(e.method, e.fault) for e in source_proxy.log] == [("GET", "drop"), ("GET", "")]
    assert sha256_digest(on_target(fresh_registry, "copy/dropped", digest)) == digest


def test_altered_bytes_are_refused_and_nothing_is_committed(
    registry: Registry, fresh_registry: Registry
) -> None:
    digest = push_blob(registry.host, "copy/tampered", os.urandom(MIB))
    flip = Tamper(how="flip", match=Match(methods=GET, path="/blobs/"))
    with (
        start_proxy(registry.host, Scenario(faults=(flip,))) as source_proxy,
        pytest.raises(DigestMismatchError, match=digest),
    ):
        copy(source_proxy.ref("copy/tampered", "latest"), fresh_registry.ref("copy/t"), digest)
    with httpx.Client(timeout=10) as client:
        absent = client.head(f"{fresh_registry.url}/v2/copy/t/blobs/{digest}")
    assert absent.status_code == 404


@pytest.mark.parametrize("refuse_body", [False, True], ids=["one-put", "chunked"])
def test_copying_64_mib_costs_a_small_fraction_of_it_in_memory(
    registry: Registry, target_proxy: FaultProxy, refuse_body: bool
) -> None:
    size = 64 * MIB
    digest = push_blob(registry.host, "copy/memory", os.urandom(size))
    if refuse_body:
        target_proxy.scenario = Scenario(faults=(BodyLimit(CHUNK_SIZE + MIB),))
    target = f"copy/memory-{uuid.uuid4().hex[:8]}"
    grown = peak_growth(
        "blob", registry.ref("copy/memory"), target_proxy.ref(target, "latest"), digest
    )
    print(f"\n[{'chunked' if refuse_body else 'one PUT'}] peak RSS grew {grown / MIB:.1f} MiB")  # noqa: T201
    # Bounded by a few pieces of at most 2 MiB (written, held back, gathering) and the read
    # buffers: 6 to 8.4 MiB measured. Whole in memory, it would be the blob's size and more.
    assert grown < size / 4, f"copying {size / MIB:.0f} MiB raised the peak RSS by {grown} B"
    assert target_proxy.count("PATCH") == (4 if refuse_body else 0)
    assert sha256_digest(get_blob(target_proxy.host, target, digest)) == digest
