"""The SBOM scan through the engine API the module uses (Dagger v0.21), with fake engine
objects in place of a running engine: which image runs, what is mounted, what is run."""

import inspect
import json
from hashlib import sha256
from types import SimpleNamespace
from typing import Any, cast, get_type_hints

import anyio
import dagger
import pytest
from dagger._exceptions import QueryErrorValue
from gql import GraphQLRequest
from support.captured_jobs import capture_building_jobs
from support.dagger_cli import OWNED_BY_DAGGER

from metrics_api import builds
from metrics_api.main import MetricsApi
from metrics_api.oci.release.job import VariantPlan
from metrics_api.oci.release.provenance import BaseImage
from metrics_api.oci.release.sbom import Scan
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import parse_reference
from metrics_api.pipeline_errors import PipelineError
from metrics_api.scanner import (
    DEFAULT_SCANNER,
    OUTPUT,
    ROOTFS,
    SCANNER_ENVIRONMENT,
    sbom_scanner,
    scanner_arguments,
)

pytestmark = pytest.mark.dagger

SCANNER_DIGEST = "sha256:" + sha256(b"syft index").hexdigest()
DOCUMENT = json.dumps({"spdxVersion": "SPDX-2.3", "packages": []})
PLAN = VariantPlan(parse_platform("linux/arm64"), "app-arm64")
STAGED = parse_reference(f"localhost:5000/staging/metrics-api@sha256:{'a' * 64}")


def test_the_sdk_of_the_engine_version_has_the_calls_the_scan_uses() -> None:
    """dagger-io 0.21.11: each call, its GraphQL field and the arguments the module passes."""
    calls = {
        (dagger.Container, "rootfs"): ("rootfs", ["self"]),
        (dagger.Container, "with_mounted_directory"): (
            "withMountedDirectory",
            ["self", "path", "source", "owner", "read_only", "expand"],
        ),
        (dagger.Container, "with_env_variable"): (
            "withEnvVariable",
            ["self", "name", "value", "expand"],
        ),
        (dagger.Container, "file"): ("file", ["self", "path", "expand"]),
        (dagger.File, "contents"): ("contents", ["self", "offset_lines", "limit_lines"]),
    }
    for (owner, name), (field, parameters) in calls.items():
        method = getattr(owner, name)
        assert list(inspect.signature(method).parameters) == parameters, name
        assert f'_select("{field}"' in inspect.getsource(method), name
    exec_ = inspect.signature(dagger.Container.with_exec).parameters
    assert list(exec_)[:2] == ["self", "args"]
    # The scanner image's entrypoint is not applied: the module names the binary itself.
    assert exec_["use_entrypoint"].default is False
    assert get_type_hints(dagger.File.contents)["return"] is str
    assert "read_only" in inspect.getsource(dagger.Container.with_mounted_directory)


class _Container:
    """A container as the fake engine builds it: every call recorded, in order."""

    def __init__(self, engine: "_Engine", steps: tuple[tuple[Any, ...], ...] = ()) -> None:
        self.engine = engine
        self.steps = steps

    def _then(self, *step: Any) -> "_Container":  # noqa: ANN401 - a recorded call
        return _Container(self.engine, (*self.steps, step))

    def from_(self, address: str) -> "_Container":
        return self._then("from", address)

    async def image_ref(self) -> str:
        if self.engine.pull_failure:
            raise dagger.QueryError(
                [QueryErrorValue(message=self.engine.pull_failure)], GraphQLRequest("{ x }")
            )
        (_, address) = self.steps[0]
        return f"{address}@{SCANNER_DIGEST}"

    def rootfs(self) -> str:
        return f"rootfs of {self.steps[0][1]}"

    def with_mounted_directory(self, path: str, source: str, **options: object) -> "_Container":
        return self._then("mount", path, source, options)

    def with_env_variable(self, name: str, value: str) -> "_Container":
        return self._then("env", name, value)

    def with_exec(self, args: list[str]) -> "_Container":
        return self._then("exec", args)

    def file(self, path: str) -> "_Container":
        return self._then("file", path)

    async def contents(self) -> str:
        self.engine.ran.append(self.steps)
        if self.engine.exit_code:
            # As the SDK raises it: a QueryError whose extensions say EXEC_ERROR.
            extensions = {
                "_type": "EXEC_ERROR",
                "cmd": self.steps[-2][1],
                "exitCode": self.engine.exit_code,
                "stdout": "",
                "stderr": "failed to catalog: permission denied",
            }
            error = dagger.QueryError(
                [QueryErrorValue(message="process did not complete", extensions=extensions)],
                GraphQLRequest("{ x }"),
            )
            assert isinstance(error, dagger.ExecError)
            raise error
        return DOCUMENT


class _Engine:
    def __init__(self, *, pull_failure: str = "", exit_code: int = 0) -> None:
        self.pull_failure = pull_failure
        self.exit_code = exit_code
        self.ran: list[tuple[tuple[Any, ...], ...]] = []

    def container(self) -> _Container:
        return _Container(self)


def scan(engine: _Engine, scanner: str = DEFAULT_SCANNER) -> Scan:
    built = {PLAN: cast("dagger.Container", _Container(engine, (("build", "app-arm64"),)))}
    sbom = sbom_scanner(
        cast("dagger.Client", engine),
        scanner,
        built,
        name="metrics-api",
        version="v2.0.0",
        described=lambda plan: f"{plan.platform} (app-arm64, Dockerfile)",
    )
    return anyio.run(sbom, PLAN, STAGED)


def test_syft_runs_with_the_catalogers_buildkits_scanner_selects() -> None:
    assert scanner_arguments("/scan/rootfs", "metrics-api", "v2.0.0", "/out/sbom.json") == [
        "scan",
        "dir:/scan/rootfs",
        "--base-path",
        "/scan/rootfs",
        "--source-name",
        "metrics-api",
        "--source-version",
        "v2.0.0",
        "--override-default-catalogers",
        "image,file",
        "--select-catalogers",
        "+sbom-cataloger",
        "--output",
        "spdx-json=/out/sbom.json",
        "--quiet",
    ]
    assert SCANNER_ENVIRONMENT == {"SYFT_CHECK_FOR_APP_UPDATE": "false"}


def test_the_scanner_runs_offline_over_the_build_it_scans() -> None:
    engine = _Engine()
    scanned = scan(engine)
    assert scanned == Scan(DOCUMENT.encode(), BaseImage(uri=DEFAULT_SCANNER, digest=SCANNER_DIGEST))
    (steps,) = engine.ran
    assert steps == (
        ("from", "docker.io/anchore/syft:v1.57.2"),
        ("mount", ROOTFS, "rootfs of app-arm64", {"read_only": True}),
        ("env", "SYFT_CHECK_FOR_APP_UPDATE", "false"),
        ("exec", ["/syft", *scanner_arguments(ROOTFS, "metrics-api", "v2.0.0", OUTPUT)]),
        ("file", OUTPUT),
    )


def test_a_scanner_the_engine_cannot_pull_names_the_variant_and_the_way_out() -> None:
    with pytest.raises(PipelineError) as raised:
        scan(_Engine(pull_failure="pull access denied"), "mirror.example.com/syft:v1")
    assert str(raised.value) == (
        "scanning linux/arm64 (app-arm64, Dockerfile) for its SBOM with "
        "mirror.example.com/syft:v1 failed: pull access denied; pass --sbom-scanner with an "
        "image the engine can pull and run (a mirror's copy of docker.io/anchore/syft:v1.57.2), "
        "or --sbom=false to release without SBOMs"
    )


def test_a_failing_scanner_says_what_it_printed() -> None:
    with pytest.raises(PipelineError) as raised:
        scan(_Engine(exit_code=1))
    assert str(raised.value).startswith(
        "scanning linux/arm64 (app-arm64, Dockerfile) for its SBOM failed: the scanner "
        "docker.io/anchore/syft:v1.57.2 exited 1: failed to catalog: permission denied; pass "
        "--sbom-scanner with"
    )


def test_the_stager_keeps_the_container_it_built_for_the_scan() -> None:
    published: list[str] = []

    class _Build(SimpleNamespace):
        async def publish(self, address: str, **_options: object) -> str:
            published.append(address)
            return f"{address}@sha256:{'b' * 64}"

    class _Folder(SimpleNamespace):
        def directory(self, _path: str) -> "_Folder":
            return self

        def docker_build(self, **_options: object) -> _Build:
            return build

    build = _Build()
    variant_builds = builds.VariantBuilds.stamped(
        cast("dagger.Directory", _Folder()), "v2.0.0", "x", [], ""
    )
    stage = variant_builds.stager(cast("dagger.Service", None))
    anyio.run(stage, PLAN, "localhost:5000/staging/metrics-api:v2.0.0-arm64")
    assert published == ["localhost:5000/staging/metrics-api:v2.0.0-arm64"]
    assert variant_builds.built == {PLAN: build}


@pytest.mark.parametrize("function", ["release", "release_layout", "publish_variant"])
@pytest.mark.parametrize("sbom", [True, False])
def test_the_sbom_flag_hands_the_job_a_scanner_or_none(
    function: str, sbom: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    captured = capture_building_jobs(monkeypatch)
    arguments: dict[str, object] = {"source": cast("dagger.Directory", SimpleNamespace())}
    if function == "publish_variant":
        arguments |= {"platform": dagger.Platform("linux/arm64"), "registry": "r.example.com"}
    if not sbom:
        arguments["sbom"] = False

    anyio.run(lambda: getattr(MetricsApi(), function)(**arguments))

    attach = captured.calls[0]["attach"]
    assert callable(attach.sbom) if sbom else attach.sbom is None
    assert callable(attach.provenance)


def test_sbom_is_on_by_default_with_flags_of_its_own(functions: dict[str, Any]) -> None:
    """`--sbom`, `--sbom-scanner` and verify's `--require-sbom` are no flags `dagger call` owns."""
    for name in ("release", "release_layout", "publish_variant"):
        arguments = functions[name]["args"]
        assert json.loads(arguments["sbom"]["default"]) is True
        assert "--sbom=false" in arguments["sbom"]["doc"]
        assert json.loads(arguments["sbom_scanner"]["default"]) == DEFAULT_SCANNER
    assert json.loads(functions["verify"]["args"]["require_sbom"]["default"]) is False
    assert {"sbom", "sbom-scanner", "require-sbom"}.isdisjoint(OWNED_BY_DAGGER)
    assert "sbom" not in functions["assemble"]["args"]  # it builds nothing
