"""The command line's first reads go out while it loads, once its input passed; never twice.

As ``python -m metrics_api.oci`` starts (``__main__``): the command line parsed, the
connections opened, the reads sent for input the job's checks accept; then the job runs
and takes their answers. Through the fault proxy, which logs every request the registry
gets.
"""

import json
import uuid

import pytest
from support.faultproxy import FaultProxy
from support.oci_cli import Variants, run_cli, run_cli_text

from metrics_api.oci import cli
from metrics_api.oci.cli_checks import first_reads
from metrics_api.oci.cli_parser import PROG, build_parser, references
from metrics_api.oci.defaults import MAX_MANIFEST_BYTES
from metrics_api.oci.registry.early import EarlyConnections
from metrics_api.oci.spec.media_types import MANIFEST_ACCEPT

pytestmark = pytest.mark.integration


def test_the_first_reads_are_answered_before_the_job_asks_and_never_sent_again(
    proxy: FaultProxy, variants: Variants, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = variants.repository
    target = proxy.ref(repository, f"early-{uuid.uuid4().hex[:8]}")
    args = build_parser(PROG).parse(
        [
            "assemble",
            target,
            "--variant",
            f"linux/amd64={proxy.ref(repository, 'v2.0.0-amd64')}",
            "--variant",
            f"linux/arm64={proxy.ref(repository, 'v2.0.0-arm64')}",
            "--json",
        ]
    )
    early = EarlyConnections.open(references(args), args.insecure_registry, args.request_timeout)
    early.send(first_reads(args), MANIFEST_ACCEPT, MAX_MANIFEST_BYTES)
    for read in list(early._reads.values()):  # noqa: SLF001 - the reads in flight
        assert read.finished.wait(30)

    sent_early = sorted((entry.method, entry.path) for entry in proxy.log)
    tag = target.rsplit(":", 1)[1]
    assert sent_early == [
        ("GET", f"/v2/{repository}/manifests/v2.0.0-amd64"),
        ("GET", f"/v2/{repository}/manifests/v2.0.0-arm64"),
        ("HEAD", f"/v2/{repository}/manifests/{tag}"),
    ], "before the job: its tag's look and each variant's manifest"

    try:
        code = cli.main(prog=PROG, parsed=args, early=early)
    finally:
        early.close()
    report = json.loads(capsys.readouterr().out)

    assert code == 0, report
    assert report["tag_action"] == "created"
    assert report["requests"] == len(proxy.log), "each request counted once, the early ones too"
    for method, path in sent_early[:2]:
        assert proxy.count(method, path) == 1, f"{method} {path} was not sent again"
    assert proxy.accepted == 3, "the job's later requests went over the same connections"


@pytest.mark.parametrize(
    ("case", "extra", "env"),
    [
        ("two variants for one platform", ["--variant", "linux/amd64=@REF@"], {}),
        ("a ledger line for no variant", ["--expect", "linux/s390x=sha256:" + "a" * 64], {}),
        ("an annotation with no '='", ["--annotation", "NOEQUALS"], {}),
        ("--username without its password", ["--username", "ci"], {"REGISTRY_PASSWORD": ""}),
        ("an unreadable --ca-file", ["--ca-file", "/nonexistent/ca.pem"], {}),
    ],
)
def test_input_the_job_refuses_gets_no_request_at_all(
    proxy: FaultProxy, variants: Variants, case: str, extra: list[str], env: dict[str, str]
) -> None:
    variant = proxy.ref(variants.repository, "v2.0.0-amd64")
    command = [
        "assemble",
        proxy.ref(variants.repository, "never"),
        "--variant",
        f"linux/amd64={variant}",
        *(part.replace("@REF@", variant) for part in extra),
    ]

    result = run_cli(*command, env=env)

    assert result.code == 2, f"{case}: {result.stderr}"
    assert proxy.log == [], f"{case}: the registry got {proxy.log}"


def test_a_resolve_reads_its_reference_once(proxy: FaultProxy, variants: Variants) -> None:
    reference = proxy.ref(variants.repository, "v2.0.0-amd64")

    result = run_cli("resolve", reference, "--platform", "linux/amd64")

    assert result.code == 0, result.stderr
    assert result.report["digest"] == variants.amd64
    path = f"/v2/{variants.repository}/manifests/v2.0.0-amd64"
    assert proxy.count("GET", path) == 1, "sent early, taken by the job, not sent again"


def test_a_bad_platform_for_resolve_gets_no_request(proxy: FaultProxy, variants: Variants) -> None:
    reference = proxy.ref(variants.repository, "v2.0.0-amd64")

    result = run_cli_text("resolve", reference, "--platform", "linux")

    assert result.returncode == 2, result.stderr
    assert proxy.log == []
