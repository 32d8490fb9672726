"""Faults between the core and a real registry, injected by a proxy in front of it.

Transient faults must be absorbed by the bounded retries; permanent faults and tampered
content must end in one clear line on stderr, a non-zero exit and an untouched release
tag (checked on the real registry, not through the proxy); a later run, with the fault
gone, must succeed. Nothing may hang, and no credential may show up anywhere.
"""

import base64
import json
import signal
import subprocess
import time
from typing import Any, Literal

import httpx
import pytest
from support.docker29 import get_manifest, manifest_digest
from support.faultproxy import (
    DieAfterIndexPut,
    Drop,
    FaultProxy,
    Flood,
    Hang,
    Match,
    NotYet,
    Page,
    Scenario,
    Status,
    Tamper,
    start_proxy,
)
from support.oci_cli import AuthRegistry, CliResult, Variants, cli_command, run_cli

pytestmark = pytest.mark.integration

GET = frozenset({"GET"})
GET_HEAD = frozenset({"GET", "HEAD"})
PUT = frozenset({"PUT"})
HUNG_CLI_TIMEOUT = 60.0  # only a guard: the jobs under test stop long before
MANIFEST_LIMIT = 4 * 1024 * 1024


def assemble(  # noqa: PLR0913 - keyword options of one CLI call
    proxy: FaultProxy,
    variants: Variants,
    target: str,
    *extra: str,
    amd64: str = "v2.0.0-amd64",
    arm64: str = "v2.0.0-arm64",
    env: dict[str, str] | None = None,
) -> tuple[CliResult, float]:
    """Assemble both variants, read through the proxy, into ``target``; time the process."""
    started = time.monotonic()
    result = run_cli(
        "assemble",
        target,
        "--variant",
        f"linux/amd64={proxy.ref(variants.repository, amd64)}",
        "--variant",
        f"linux/arm64={proxy.ref(variants.repository, arm64)}",
        *extra,
        env=env,
    )
    return result, time.monotonic() - started


def show(text: str) -> None:
    """Print a figure the run is about (pytest shows it with -s or -rP)."""
    print(f"\n{text}")  # noqa: T201 - the retries a fault cost are part of the result


def report_retries(name: str, result: CliResult, proxy: FaultProxy, elapsed: float) -> None:
    """Print what the fault cost, and check the client counted what the proxy saw."""
    faults = [entry for entry in proxy.log if entry.fault]
    show(
        f"[{name}] {result.report['requests']} requests, {result.report['retries']} retries, "
        f"{len(faults)} injected faults, {elapsed:.2f} s"
    )
    assert result.report["requests"] == len(proxy.log)
    assert result.report["retries"] > 0, "the fault did not happen"


def check_published(
    variants: Variants, report: dict[str, Any], tag: str, repository: str | None = None
) -> None:
    """The tag on the real registry serves the index of exactly the recorded digests."""
    assert report["ok"] is True
    assert report["verification"]["ok"] is True
    entries = [(e["platform"], e["digest"]) for e in report["entries"]]
    assert entries == [("linux/amd64", variants.amd64), ("linux/arm64/v8", variants.arm64)]
    served = get_manifest(variants.registry.host, repository or variants.repository, tag)
    assert served.digest == report["digest"]
    assert [m["digest"] for m in served.json()["manifests"]] == [variants.amd64, variants.arm64]


def assert_refused(result: CliResult, *phrases: str) -> str:
    """One ``error:`` line on stderr with every phrase, exit 1, ``ok: false``; the line."""
    lines = result.stderr.strip().splitlines()
    assert result.code == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for phrase in phrases:
        assert phrase in lines[0], f"{phrase!r} not in {lines[0]!r}"
    assert result.report["ok"] is False
    return lines[0]


def tag_on_registry(variants: Variants, tag: str, repository: str | None = None) -> str | None:
    """What ``tag`` points at on the real registry (never through the proxy)."""
    return manifest_digest(variants.registry.host, repository or variants.repository, tag)


# -- transient faults: absorbed by the bounded retries ------------------------------------


def test_every_second_request_answers_503(proxy: FaultProxy, variants: Variants) -> None:
    proxy.scenario = Scenario(faults=(Status(503, "0", Match(every=2)),))
    result, elapsed = assemble(proxy, variants, proxy.ref(variants.repository, "faults-503"))
    assert result.code == 0, result.stderr
    check_published(variants, result.report, "faults-503")
    report_retries("503 every 2nd request", result, proxy, elapsed)
    assert proxy.count(fault="status 503") == result.report["retries"]


def test_429_retry_after_is_honoured(proxy: FaultProxy, variants: Variants) -> None:
    proxy.scenario = Scenario(
        faults=(Status(429, "1", Match(methods=GET, path="/manifests/", first=2)),)
    )
    result, elapsed = assemble(proxy, variants, proxy.ref(variants.repository, "faults-429"))
    assert result.code == 0, result.stderr
    check_published(variants, result.report, "faults-429")
    report_retries("429 Retry-After: 1, first 2 manifest GETs", result, proxy, elapsed)
    assert result.report["retries"] == 2
    # The client's own wait, as the proxy saw it: from each 429 to the same request again.
    log = proxy.log
    for position, entry in enumerate(log):
        if entry.fault == "status 429":
            again = (entry.method, entry.path)
            retry = next(e for e in log[position + 1 :] if (e.method, e.path) == again)
            assert retry.started - entry.ended >= 1.0, "Retry-After: 1 was not waited for"


def test_connections_dropped_mid_response(proxy: FaultProxy, variants: Variants) -> None:
    proxy.scenario = Scenario(faults=(Drop(Match(methods=GET, every=3)),))
    result, elapsed = assemble(proxy, variants, proxy.ref(variants.repository, "faults-drop"))
    assert result.code == 0, result.stderr
    check_published(variants, result.report, "faults-drop")
    report_retries("connection dropped mid-body, every 3rd GET", result, proxy, elapsed)
    assert proxy.count(fault="drop") >= 2


def test_children_reported_unknown_right_after_their_push(
    proxy: FaultProxy, variants: Variants
) -> None:
    children = f"/manifests/({variants.amd64}|{variants.arm64})$"
    proxy.scenario = Scenario(
        faults=(NotYet(Match(methods=GET_HEAD, path=children, first=2, after_put=True)),)
    )
    result, elapsed = assemble(proxy, variants, proxy.ref("faults/release", "v2.0.0"))
    assert result.code == 0, result.stderr
    assert [v["child_action"] for v in result.report["variants"]] == ["mounted", "mounted"]
    check_published(variants, result.report, "v2.0.0", "faults/release")
    report_retries("404 MANIFEST_BLOB_UNKNOWN after push", result, proxy, elapsed)
    assert proxy.count(fault="not-yet") == 2


def test_slow_and_flaky_registry(proxy: FaultProxy, variants: Variants) -> None:
    proxy.scenario = Scenario(faults=(Status(503, "0", Match(every=4)),), latency=0.05)
    result, elapsed = assemble(proxy, variants, proxy.ref(variants.repository, "faults-slow"))
    assert result.code == 0, result.stderr
    check_published(variants, result.report, "faults-slow")
    report_retries("50 ms per request and 503 every 4th", result, proxy, elapsed)


def test_a_hung_request_is_cut_by_its_timeout_and_retried(
    proxy: FaultProxy, variants: Variants
) -> None:
    proxy.scenario = Scenario(faults=(Hang(match=Match(methods=GET, path="/manifests/", first=1)),))
    target = proxy.ref(variants.repository, "faults-hang-once")
    result, elapsed = assemble(proxy, variants, target, "--request-timeout", "1")
    assert result.code == 0, result.stderr
    check_published(variants, result.report, "faults-hang-once")
    report_retries("first manifest GET never answered, 1 s request timeout", result, proxy, elapsed)
    assert result.report["retries"] == 1


# -- permanent faults: one clear error, the tag untouched, a later run succeeds ----------


@pytest.mark.parametrize(
    ("tag", "path", "request_kind"),
    [
        ("faults-perm-index", "/manifests/sha256:", "the index PUT by digest"),
        ("faults-perm-tag", "/manifests/faults-perm-tag$", "the tag PUT"),
    ],
)
def test_503_for_good(
    proxy: FaultProxy, variants: Variants, tag: str, path: str, request_kind: str
) -> None:
    proxy.scenario = Scenario(faults=(Status(503, "0", Match(methods=PUT, path=path)),))
    target = proxy.ref(variants.repository, tag)
    failed, _ = assemble(proxy, variants, target)
    line = assert_refused(
        failed, proxy.host, "PUT http://", "still failing after 5 attempts", "HTTP 503"
    )
    expected_request = f"/manifests/{tag}" if "tag" in request_kind else "/manifests/sha256:"
    assert expected_request in line
    assert tag_on_registry(variants, tag) is None
    proxy.scenario = Scenario()
    later, _ = assemble(proxy, variants, target)
    assert later.code == 0, later.stderr
    check_published(variants, later.report, tag)


def test_children_unknown_for_good(proxy: FaultProxy, variants: Variants) -> None:
    proxy.scenario = Scenario(faults=(NotYet(),))
    target = proxy.ref("faults/unknown", "v2.0.0")
    failed, _ = assemble(proxy, variants, target)
    assert_refused(
        failed,
        "did not verify",
        "was left as it was (absent)",
        f"GET http://{proxy.host}/v2/faults/unknown/manifests/sha256:",
        "MANIFEST_BLOB_UNKNOWN",
        "kept reporting the content unknown",
    )
    assert tag_on_registry(variants, "v2.0.0", "faults/unknown") is None
    proxy.scenario = Scenario()
    later, _ = assemble(proxy, variants, target)
    assert later.code == 0, later.stderr
    check_published(variants, later.report, "v2.0.0", "faults/unknown")


def test_registry_dies_between_index_put_and_tag_put(proxy: FaultProxy, variants: Variants) -> None:
    proxy.scenario = Scenario(die_after_index_put=DieAfterIndexPut("reset"))
    target = proxy.ref("faults/dies", "v2.0.0")
    failed, _ = assemble(proxy, variants, target)
    assert_refused(
        failed,
        proxy.host,
        "did not verify",
        "was left as it was (absent)",
        "still failing after 5 attempts",
        "check that",
    )
    pushed = [e for e in proxy.log if e.method == "PUT" and e.status == 201]
    index_digest = pushed[-1].path.rsplit("/", 1)[-1]
    assert manifest_digest(variants.registry.host, "faults/dies", index_digest) == index_digest
    assert tag_on_registry(variants, "v2.0.0", "faults/dies") is None
    proxy.scenario = Scenario()  # the registry is back
    later, _ = assemble(proxy, variants, target)
    assert later.code == 0, later.stderr
    assert later.report["digest"] == index_digest
    assert later.report["tag_action"] == "created"
    check_published(variants, later.report, "v2.0.0", "faults/dies")


# -- tampered content: refused, never tagged --------------------------------------------


@pytest.mark.parametrize("how", ["flip", "whitespace"])
@pytest.mark.parametrize("digest_header", ["keep", "recompute"])
def test_tampered_manifest_fetched_by_digest(
    proxy: FaultProxy,
    variants: Variants,
    how: Literal["flip", "whitespace"],
    digest_header: Literal["keep", "recompute"],
) -> None:
    tamper = Tamper(how, digest_header, Match(methods=GET, path=f"/manifests/{variants.amd64}"))
    proxy.scenario = Scenario(faults=(tamper,))
    tag = f"faults-tamper-{how}-{digest_header}"
    target = proxy.ref(variants.repository, tag)
    result, _ = assemble(proxy, variants, target, amd64=variants.amd64)
    assert_refused(
        result,
        f"fetching manifest {proxy.host}/{variants.repository}@{variants.amd64}",
        f"expected content with digest {variants.amd64}",
        "the bytes received hash to sha256:",
    )
    assert tag_on_registry(variants, tag) is None
    proxy.scenario = Scenario()
    later, _ = assemble(proxy, variants, target, amd64=variants.amd64)
    assert later.code == 0, later.stderr
    check_published(variants, later.report, tag)


def test_tampered_index_read_back_is_never_tagged(proxy: FaultProxy, variants: Variants) -> None:
    # Only the index is pushed through the proxy here (the children are in the repository).
    index_read_back = Match(methods=GET, path="/manifests/sha256:", after_put=True)
    proxy.scenario = Scenario(faults=(Tamper("whitespace", "recompute", index_read_back),))
    target = proxy.ref(variants.repository, "faults-tamper-index")
    failed, _ = assemble(proxy, variants, target)
    assert_refused(failed, "did not verify", "was left as it was", "fetch", "hash to")
    assert proxy.count("GET", fault="tamper") == 1
    assert tag_on_registry(variants, "faults-tamper-index") is None
    proxy.scenario = Scenario()
    later, _ = assemble(proxy, variants, target)
    assert later.code == 0, later.stderr
    check_published(variants, later.report, "faults-tamper-index")


def test_tampered_manifest_by_tag_with_a_stale_docker_content_digest(
    proxy: FaultProxy, variants: Variants
) -> None:
    tamper = Tamper("flip", "keep", Match(methods=GET, path="/manifests/v2.0.0-amd64$"))
    proxy.scenario = Scenario(faults=(tamper,))
    target = proxy.ref(variants.repository, "faults-tamper-tag")
    result, _ = assemble(proxy, variants, target)
    assert_refused(
        result,
        f"fetching manifest {proxy.host}/{variants.repository}:v2.0.0-amd64 "
        "(Docker-Content-Digest)",
        f"expected content with digest {variants.amd64}",
    )
    assert tag_on_registry(variants, "faults-tamper-tag") is None
    proxy.scenario = Scenario()
    later, _ = assemble(proxy, variants, target)
    assert later.code == 0, later.stderr
    check_published(variants, later.report, "faults-tamper-tag")


def test_forged_manifest_by_tag_is_caught_by_the_ledger(
    proxy: FaultProxy, variants: Variants
) -> None:
    # A forgery with a matching Docker-Content-Digest: only the recorded digest can tell.
    forged = Tamper("whitespace", "recompute", Match(methods=GET, path="/manifests/v2.0.0-amd64$"))
    proxy.scenario = Scenario(faults=(forged,))
    target = proxy.ref(variants.repository, "faults-forged")
    pinned, _ = assemble(proxy, variants, target, "--expect", f"linux/amd64={variants.amd64}")
    assert_refused(
        pinned, f"expected {variants.amd64}, recorded when it was pushed", "found the image"
    )
    assert tag_on_registry(variants, "faults-forged") is None
    # Without the ledger the forged child is unknown to the registry: the index is refused.
    unpinned, _ = assemble(proxy, variants, target)
    assert_refused(unpinned, "MANIFEST_BLOB_UNKNOWN", "kept reporting the content unknown")
    assert tag_on_registry(variants, "faults-forged") is None
    proxy.scenario = Scenario()
    later, _ = assemble(proxy, variants, target, "--expect", f"linux/amd64={variants.amd64}")
    assert later.code == 0, later.stderr
    check_published(variants, later.report, "faults-forged")


# -- never a hang --------------------------------------------------------------------------


def test_a_registry_that_never_answers_fails_within_the_deadline(
    proxy: FaultProxy, variants: Variants
) -> None:
    proxy.scenario = Scenario(faults=(Hang(),))
    result, _ = assemble(
        proxy, variants, proxy.ref(variants.repository, "faults-deadline"), "--deadline", "3"
    )
    assert_refused(
        result,
        "did not finish within its 3 s deadline",
        "no answer yet to ",
        f"GET http://{proxy.host}/v2/{variants.repository}/manifests/v2.0.0-amd64",
        "raise --deadline",
    )
    # The job's own clock (interpreter start-up excluded): it waited for the deadline and
    # stopped there, with nothing retried (a request may wait 30 s by default).
    show(f"[deadline 3 s] the job failed after {result.report['elapsed']} s")
    assert 3.0 <= result.report["elapsed"] < 3.0 + 1.0
    assert result.report["requests"] == len(proxy.log) == proxy.count(fault="hang")
    assert result.report["retries"] == 0
    assert tag_on_registry(variants, "faults-deadline") is None


def test_a_request_that_gets_no_answer_is_tried_twice_and_named(
    proxy: FaultProxy, variants: Variants
) -> None:
    hung = f"/{variants.repository}/manifests/v2.0.0-amd64$"
    proxy.scenario = Scenario(faults=(Hang(match=Match(methods=GET, path=hung)),))
    result = run_cli(
        "resolve",
        proxy.ref(variants.repository, "v2.0.0-amd64"),
        "--platform",
        "linux/amd64",
        "--request-timeout",
        "1",
    )
    assert_refused(
        result,
        f"GET http://{proxy.host}/v2/{variants.repository}/manifests/v2.0.0-amd64",
        "still failing after 2 attempts, last cause: no answer within 1 s",
        f"check that {proxy.host} is up and answering",
    )
    assert proxy.count("GET", hung, fault="hang") == 2
    assert (result.report["requests"], result.report["retries"]) == (2, 1)


@pytest.mark.parametrize("received", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_is_one_line_exit_128_plus_signal_and_the_tag_untouched(
    proxy: FaultProxy, variants: Variants, received: signal.Signals
) -> None:
    """Ctrl-C, and the SIGTERM a CI system sends when it cancels a job."""
    proxy.scenario = Scenario(faults=(Hang(match=Match(methods=GET, path="/manifests/")),))
    target = proxy.ref(variants.repository, "faults-interrupted")
    variant = f"linux/amd64={proxy.ref(variants.repository, 'v2.0.0-amd64')}"
    with subprocess.Popen(
        cli_command("assemble", target, "--variant", variant, "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as job:
        for _ in range(600):  # until the job waits for its held request (60 s at most)
            if proxy.count(fault="hang") or job.poll() is not None:
                break
            time.sleep(0.1)
        assert proxy.count(fault="hang") == 1, "the job never reached the held request"
        job.send_signal(received)
        stdout, stderr = job.communicate(timeout=HUNG_CLI_TIMEOUT)
    result = CliResult(job.returncode, json.loads(stdout), stderr)
    assert result.code == 128 + received, stderr
    (line,) = stderr.splitlines()
    assert line.startswith(f"error: interrupted ({received.name}) before the job finished; ")
    assert "the release tag is the last thing written" in line
    assert result.report["ok"] is False
    assert tag_on_registry(variants, "faults-interrupted") is None


# -- answers that are not a registry's -----------------------------------------------------


def test_an_html_page_instead_of_the_registry_api(proxy: FaultProxy, variants: Variants) -> None:
    proxy.scenario = Scenario(faults=(Page(),))
    result = run_cli(
        "resolve", proxy.ref(variants.repository, "v2.0.0-amd64"), "--platform", "linux/amd64"
    )
    assert_refused(
        result,
        "answered 200 with Content-Type text/html; charset=utf-8",
        f"the server at {proxy.host} is not speaking the registry API",
    )
    assert (result.report["requests"], result.report["retries"]) == (1, 0)


def test_a_manifest_over_4_mib_is_refused_unread(proxy: FaultProxy, variants: Variants) -> None:
    size = 5 * 1024 * 1024  # a JSON manifest, its Docker-Content-Digest matching
    proxy.scenario = Scenario(faults=(Flood(size, announce=True),))
    result = run_cli(
        "resolve", proxy.ref(variants.repository, "v2.0.0-amd64"), "--platform", "linux/amd64"
    )
    assert_refused(
        result,
        f"announced a body of {size} bytes",
        f"expected a manifest of at most {MANIFEST_LIMIT} bytes",
    )


def test_an_endless_manifest_is_read_no_further_than_4_mib(
    proxy: FaultProxy, variants: Variants
) -> None:
    size = 256 * 1024 * 1024  # streamed with no Content-Length, until the client hangs up
    proxy.scenario = Scenario(faults=(Flood(size, announce=False),))
    result = run_cli(
        "resolve", proxy.ref(variants.repository, "v2.0.0-amd64"), "--platform", "linux/amd64"
    )
    assert_refused(result, f"sent more than {MANIFEST_LIMIT} bytes (read no further)")
    flood = proxy.logged("flood")
    show(f"[endless manifest] the proxy got {flood.sent} bytes out before the client hung up")
    assert MANIFEST_LIMIT < flood.sent < size


# -- secrets -------------------------------------------------------------------------------


def test_credentials_never_appear_in_output_logs_or_errors(
    variants: Variants, auth_registry: AuthRegistry, proxy: FaultProxy
) -> None:
    pair = f"{auth_registry.username}:{auth_registry.password}".encode()
    secrets = [
        auth_registry.password,
        base64.b64encode(pair).decode(),
        base64.b64encode(auth_registry.password.encode()).decode(),
        auth_registry.password + "-wrong",
    ]
    env = {"REGISTRY_PASSWORD": auth_registry.password, "DOCKER_CONFIG": "/nonexistent"}
    login = ("--username", auth_registry.username)
    # Two faults on each side at most: an operation gets 5 attempts, so even if all four
    # hit one blob's copy it succeeds. (Every third request failing, without a bound, can hit
    # two blobs whose restarts keep the same pace on the same slots every time.)
    proxy.scenario = Scenario(faults=(Drop(Match(methods=GET, every=3, first=2)),))
    with start_proxy(auth_registry.host) as auth_proxy:
        # Copy across registries (uploads through the proxy), with faults on both sides.
        auth_proxy.scenario = Scenario(faults=(Status(503, "0", Match(every=3, first=2)),))
        target = auth_proxy.ref("faults/metrics-api", "v2.0.0")  # a repository of its own
        ok, elapsed = assemble(proxy, variants, target, *login, env=env)
        assert ok.code == 0, ok.stderr
        assert ok.report["verification"]["ok"] is True
        assert [v["child_action"] for v in ok.report["variants"]] == ["copied", "copied"]
        assert auth_proxy.count("PUT", path="/blobs/uploads/") >= 2  # Locations rewritten
        show(f"[auth behind faults] {ok.report['retries']} retries, {elapsed:.2f} s")
        assert ok.report["retries"] > 0
        # Failing runs: the registry down for pushes; then wrong credentials.
        auth_proxy.scenario = Scenario(faults=(Status(503, "0", Match(methods=PUT)),))
        down, _ = assemble(
            proxy, variants, auth_proxy.ref("faults/metrics-api", "v2.0.1"), *login, env=env
        )
        assert_refused(down, auth_proxy.host, "HTTP 503")
        auth_proxy.scenario = Scenario()
        wrong_env = {**env, "REGISTRY_PASSWORD": auth_registry.password + "-wrong"}
        wrong, _ = assemble(proxy, variants, target, *login, env=wrong_env)
        assert_refused(wrong, "HTTP 401")
        logs = [repr(entry) for entry in [*proxy.log, *auth_proxy.log]]
    outputs = [json.dumps(r.report) + r.stderr for r in (ok, down, wrong)]
    for secret in secrets:
        for text in [*outputs, *logs]:
            assert secret not in text
    with httpx.Client(timeout=10.0, auth=(auth_registry.username, auth_registry.password)) as c:
        tagged = c.head(
            f"{auth_registry.url}/v2/faults/metrics-api/manifests/v2.0.1",
            headers={"Accept": "application/vnd.oci.image.index.v1+json"},
        )
    assert tagged.status_code == httpx.codes.NOT_FOUND
