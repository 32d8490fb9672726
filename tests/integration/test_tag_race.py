"""Two releases of one tag at once: at most one reports success, and every report is true.

A proxy holds one request of one run until the other run has finished, which orders the
two writers exactly: no timing, no luck. Run once per registry implementation.
"""

import threading
from collections.abc import Callable, Iterator

import anyio
import pytest
from support.docker29 import manifest_digest
from support.faultproxy import FaultProxy, Hold, Match, Scenario, start_proxy
from support.oci_cli import Variants

from metrics_api.oci import (
    AssembleReport,
    OciError,
    Settings,
    TagConflictError,
    VerificationError,
    assemble,
    open_client,
    parse_variant,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def variants(kind_variants: Variants) -> Variants:
    """The variants in the registry of the kind under test."""
    return kind_variants


@pytest.fixture
def proxy(variants: Variants) -> Iterator[FaultProxy]:
    with start_proxy(variants.registry.host) as started:
        yield started


def run_assemble(
    host: str, variants: Variants, tag: str, amd64: str, *, force: bool = False
) -> AssembleReport:
    """Assemble ``amd64`` with the arm64 variant into ``tag``, talking to ``host``."""
    requests = [
        parse_variant(f"linux/amd64={host}/{variants.repository}@{amd64}", "--variant"),
        parse_variant(f"linux/arm64={host}/{variants.repository}@{variants.arm64}", "--variant"),
    ]

    async def job() -> AssembleReport:
        async with open_client(Settings(use_docker_config=False)) as client:
            return await assemble(
                client, f"{host}/{variants.repository}:{tag}", requests, force=force
            )

    return anyio.run(job)


def in_background(call: Callable[[], AssembleReport]) -> tuple[threading.Thread, list[object]]:
    """Run ``call`` in a thread; its report or its error lands in the returned list."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except OciError as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_tag_created_while_a_run_worked_is_not_overwritten(
    variants: Variants, proxy: FaultProxy
) -> None:
    release = threading.Event()
    hold = Hold(
        release, match=Match(methods=frozenset({"PUT"}), path="/manifests/sha256:", first=1)
    )
    proxy.scenario = Scenario(faults=(hold,))
    # The late run looked at the tag (absent), then its index PUT is held ...
    late, outcome = in_background(
        lambda: run_assemble(proxy.host, variants, "race-created", variants.other_amd64)
    )
    assert hold.reached.wait(30)
    # ... while another run creates the tag.
    early = run_assemble(variants.registry.host, variants, "race-created", variants.amd64)
    release.set()
    late.join(60)

    (error,) = outcome
    assert isinstance(error, TagConflictError)
    assert f"points at {early.digest} now" in str(error)
    assert "changed while this job ran" in str(error)
    assert early.tag_action == "created"
    assert (
        manifest_digest(variants.registry.host, variants.repository, "race-created") == early.digest
    )


def test_a_tag_moved_right_after_our_write_is_reported_not_hidden(
    variants: Variants, proxy: FaultProxy
) -> None:
    release = threading.Event()
    tag_put = Match(methods=frozenset({"PUT"}), path="/manifests/race-moved$", first=1)
    hold = Hold(release, after_forward=True, match=tag_put)
    proxy.scenario = Scenario(faults=(hold,))
    # The first run's tag PUT is stored, but its answer is held ...
    first, outcome = in_background(
        lambda: run_assemble(proxy.host, variants, "race-moved", variants.amd64)
    )
    assert hold.reached.wait(30)
    # ... while another run, allowed to, moves the tag.
    second = run_assemble(
        variants.registry.host, variants, "race-moved", variants.other_amd64, force=True
    )
    release.set()
    first.join(60)

    (error,) = outcome
    assert isinstance(error, VerificationError)
    assert f"points at {second.digest}" in str(error)
    assert second.tag_action == "moved"
    assert (
        manifest_digest(variants.registry.host, variants.repository, "race-moved") == second.digest
    )
    assert second.previous_digest is not None
    assert second.previous_digest != second.digest
