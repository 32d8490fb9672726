"""The facts each variant's provenance states, gathered through the engine API the module
uses (Dagger v0.21), with fake engine objects in place of a running engine."""

import inspect
import json
import sys
from base64 import b64encode
from datetime import UTC
from hashlib import sha256
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast, get_type_hints

import anyio
import dagger
import pytest
from dagger._exceptions import QueryErrorValue
from gql import GraphQLRequest
from support.captured_jobs import Captured, capture_building_jobs, no_embedded_registry
from support.dagger_cli import OWNED_BY_DAGGER
from support.proc import run

from metrics_api import builds, release_functions
from metrics_api.main import MetricsApi
from metrics_api.oci import jobs
from metrics_api.oci.release import job as release_job
from metrics_api.oci.release.job import VariantPlan
from metrics_api.oci.release.provenance import BaseImage, BuildFacts, statement, subject_name
from metrics_api.oci.spec.platform import parse_platform
from metrics_api.oci.spec.reference import parse_reference
from metrics_api.pipeline_errors import PipelineError

pytestmark = pytest.mark.dagger

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = {
    f"{folder}/Dockerfile": (ROOT / folder / "Dockerfile").read_text()
    for folder in ("app-amd64", "app-arm64")
}
ENGINE_VERSION = "v0.21.11"
PASSWORD = "pa55-w0rd-never-in-provenance"  # noqa: S105 - a test's fake secret
CONFIG_SECRET = "c0nfig-t0ken-never-in-provenance"  # noqa: S105 - a test's fake secret
BUILD_SECRET = "npm-t0ken-never-in-provenance"  # noqa: S105 - a test's fake secret


def _digest(text: str) -> str:
    return f"sha256:{sha256(text.encode()).hexdigest()}"


def engine_image_ref(address: str, digest: str) -> str:
    """``imageRef`` right after ``from``, as Dagger v0.21.8 makes it (core/schema/container.go).

    ``from`` parses the address as a normalized name (``reference.ParseNormalizedNamed``:
    Docker Hub's domain and ``library/`` added), adds ``:latest`` when it has neither tag
    nor digest (``TagNameOnly``), resolves the tag for the container's platform and calls
    itself again with ``WithDigest(name, root digest)``; the canonical path sets
    ``ImageRef`` to that reference's ``String()``, and ``imageRef`` returns it.
    """
    name, at, pinned = address.partition("@")
    first, slash, _ = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}"
        if name.count("/") == 1:
            name = name.replace("docker.io/", "docker.io/library/", 1)
    if not at and ":" not in name.rpartition("/")[2]:
        name += ":latest"
    return f"{name}@{pinned if at else digest}"


def test_the_engine_image_ref_is_the_normalized_name_pinned_by_digest() -> None:
    digest = _digest("index")
    assert engine_image_ref("python:3.12-slim", digest) == (
        f"docker.io/library/python:3.12-slim@{digest}"
    )
    assert engine_image_ref("gcr.io/distroless/static-debian12:nonroot", digest) == (
        f"gcr.io/distroless/static-debian12:nonroot@{digest}"
    )
    assert engine_image_ref("team/app", digest) == f"docker.io/team/app:latest@{digest}"
    assert engine_image_ref("localhost:5000/app:v1", digest) == f"localhost:5000/app:v1@{digest}"


def test_the_sdk_of_the_engine_version_has_the_calls_the_facts_use() -> None:
    """dagger-io 0.21.11: each call, its GraphQL field and the signature the module uses."""
    assert metadata.version("dagger-io") == ENGINE_VERSION.removeprefix("v")
    calls = {
        (dagger.Client, "version"): ("version", ["self"], str),
        (dagger.Directory, "glob"): ("glob", ["self", "pattern"], list[str]),
        (dagger.File, "digest"): ("digest", ["self", "exclude_metadata"], str),
        (dagger.Container, "image_ref"): ("imageRef", ["self"], str),
    }
    for (owner, name), (field, parameters, returned) in calls.items():
        method = getattr(owner, name)
        assert inspect.iscoroutinefunction(method), f"{owner.__name__}.{name} is not awaited"
        assert list(inspect.signature(method).parameters) == parameters
        assert get_type_hints(method)["return"] == returned
        assert f'_select("{field}"' in inspect.getsource(method)
    exclude = inspect.signature(dagger.File.digest).parameters["exclude_metadata"]
    assert exclude.kind is inspect.Parameter.KEYWORD_ONLY
    assert 'Arg("excludeMetadata", exclude_metadata' in inspect.getsource(dagger.File.digest)

    container = inspect.signature(dagger.Client.container).parameters["platform"]
    assert container.kind is inspect.Parameter.KEYWORD_ONLY
    assert get_type_hints(dagger.Client.container)["platform"] == dagger.Platform | None
    from_ = inspect.signature(dagger.Container.from_).parameters
    assert list(from_)[:2] == ["self", "address"]
    assert '_select("from"' in inspect.getsource(dagger.Container.from_)


class _Pulled:
    """``dag.container(platform=...)``, then ``from_(address)``."""

    def __init__(self, engine: "_Engine", platform: str) -> None:
        self.engine = engine
        self.platform = platform
        self.address = ""

    def from_(self, address: str) -> "_Pulled":
        self.address = address
        return self

    async def image_ref(self) -> str:
        self.engine.resolved.append((self.platform, self.address))
        if self.engine.failure:
            raise dagger.QueryError(
                [QueryErrorValue(message=self.engine.failure)], GraphQLRequest("{ x }")
            )
        return engine_image_ref(self.address, self.engine.root_digest(self.address))


class _Engine:
    """The calls of ``dag`` the facts make."""

    def __init__(self, failure: str = "") -> None:
        self.resolved: list[tuple[str, str]] = []
        self.failure = failure

    async def version(self) -> str:
        return ENGINE_VERSION

    def container(self, *, platform: dagger.Platform | None = None) -> _Pulled:
        return _Pulled(self, str(platform))

    @staticmethod
    def root_digest(address: str) -> str:
        return _digest(f"index of {address}")


class _File:
    def __init__(self, text: str) -> None:
        self.text = text

    async def contents(self) -> str:
        return self.text

    async def digest(self, *, exclude_metadata: bool = False) -> str:
        """As v0.21.8 digests content alone: the SHA-256 of the content's SHA-256 (core/file.go)."""
        assert exclude_metadata, "the module digests content only"
        return f"sha256:{sha256(sha256(self.text.encode()).digest()).hexdigest()}"


class _Build:
    """``docker_build``'s container; publishing it gives a digest-pinned reference."""

    def __init__(self, folder: "_Folder", options: dict[str, Any]) -> None:
        self.folder = folder
        self.options = options

    async def publish(self, address: str, **_options: object) -> str:
        self.folder.builds.append(self.options)
        return f"{address}@{_digest(address)}"


class _Folder:
    """A directory of files: the repository, or one variant's folder in it."""

    def __init__(self, files: dict[str, str], path: str = "") -> None:
        self.files = files
        self.path = path
        self.builds: list[dict[str, Any]] = []

    def directory(self, path: str) -> "_Folder":
        sub = _Folder(self.files, f"{self.path}{path}/")
        sub.builds = self.builds
        return sub

    def file(self, path: str) -> _File:
        return _File(self.files[f"{self.path}{path}"])

    async def glob(self, pattern: str) -> list[str]:
        """As the engine answers ``**``: every file and folder (``/`` last) below, walked."""
        assert pattern == "**"
        names = [name[len(self.path) :] for name in self.files if name.startswith(self.path)]
        folders = {name.rsplit("/", 1)[0] + "/" for name in names if "/" in name}
        return [*names, *folders]

    def docker_build(self, **options: Any) -> _Build:  # noqa: ANN401 - the SDK's options
        return _Build(self, options)


def _repository() -> _Folder:
    return _Folder(dict(REPOSITORY))


GO_MIRROR = "registry.example.com/mirror/golang:1.26-bookworm"
VARIANTS = {
    "linux/amd64": (
        "app-amd64",
        [GO_MIRROR, "gcr.io/distroless/static-debian12:nonroot"],
    ),
    "linux/arm64": ("app-arm64", ["docker.io/library/python:3.12-slim"]),
}


def recomputed(files: dict[str, str], folder: str, where: Path) -> str:
    """What scripts/source-digest.py prints for ``folder``, its files written under ``where``."""
    for name, text in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    script = ROOT / "scripts" / "source-digest.py"
    return run([sys.executable, str(script), str(where / folder)]).stdout.strip()


def test_the_source_digest_is_what_the_documented_script_prints(tmp_path: Path) -> None:
    files = {
        "app/Dockerfile": "FROM scratch\n",
        "app/.dockerignore": "tests\n",
        "app/a-b": "dash\n",
        "app/a/b": "nested\n",
        "app/B": "upper case sorts first\n",
        "app/pkg/deep/x.py": "print('x')\n",
        "other/Dockerfile": "FROM busybox\n",
    }
    digest = anyio.run(builds.content_digest, cast("dagger.Directory", _Folder(files, "app/")))
    assert digest == recomputed(files, "app", tmp_path)
    assert digest != recomputed(files, "other", tmp_path)
    assert (
        "python3 scripts/source-digest.py app-arm64"
        in (ROOT / "docs" / "provenance.md").read_text()
    )


@pytest.mark.parametrize("platform", sorted(VARIANTS))
def test_the_facts_of_a_variant_are_what_the_engine_built_it_from(
    platform: str, tmp_path: Path
) -> None:
    folder, images = VARIANTS[platform]
    repository, engine = _repository(), _Engine()
    variant_builds = builds.VariantBuilds.stamped(
        cast("dagger.Directory", repository),
        "v2.0.0",
        "abc123",
        [f"GO_IMAGE={GO_MIRROR}"],
        "https://git.example.com/metrics-api",
    )
    plan = VariantPlan(parse_platform(platform), folder)
    stage = variant_builds.stager(cast("dagger.Service", None))
    facts_of = variant_builds.provenance(cast("dagger.Client", engine))

    async def build_then_facts() -> BuildFacts:
        pinned = await stage(plan, "localhost:5000/staging/metrics-api:v2.0.0-x")
        return await facts_of(plan, pinned.partition("@")[2])

    facts = anyio.run(build_then_facts)

    (built,) = repository.builds
    given = {arg.name: arg.value for arg in built["build_args"]}
    stamps = {
        "VERSION": "2.0.0",
        "REVISION": "abc123",
        "SOURCE": "https://git.example.com/metrics-api",
    }
    assert given == {**stamps, "GO_IMAGE": GO_MIRROR}
    started, finished = variant_builds.times[plan]
    assert started.tzinfo is UTC
    assert started <= finished
    assert facts == BuildFacts(
        platform=platform,
        folder=folder,
        dockerfile="Dockerfile",
        version="v2.0.0",
        revision="abc123",
        source_url="https://git.example.com/metrics-api",
        build_args=given,
        engine_version=ENGINE_VERSION,
        module_version=metadata.version("metrics-api"),
        source_digest=recomputed(REPOSITORY, folder, tmp_path),
        base_images=[BaseImage(uri=name, digest=_Engine.root_digest(name)) for name in images],
        started_on=started,
        finished_on=finished,
        invocation_id=variant_builds.invocation_id,
    )
    assert engine.resolved == [(platform, name) for name in images]


def test_every_variant_of_one_call_shares_its_invocation_id_and_calls_do_not() -> None:
    def stamped() -> builds.VariantBuilds:
        return builds.VariantBuilds.stamped(
            cast("dagger.Directory", _repository()), "v2.0.0", "x", [], ""
        )

    first, second = stamped(), stamped()
    assert first.invocation_id != second.invocation_id
    assert len(first.invocation_id) == 36  # a UUID


def test_a_base_image_the_engine_cannot_resolve_is_one_message_naming_the_way_out() -> None:
    repository = _repository()
    variant_builds = builds.VariantBuilds.stamped(
        cast("dagger.Directory", repository), "v2.0.0", "x", [], ""
    )
    plan = VariantPlan(parse_platform("linux/arm64"), "app-arm64")
    engine = _Engine(failure="pull access denied")

    async def build_then_facts() -> BuildFacts:
        await variant_builds.stager(cast("dagger.Service", None))(plan, "localhost:5000/s:x")
        return await variant_builds.provenance(cast("dagger.Client", engine))(plan, "x")

    with pytest.raises(PipelineError) as raised:
        anyio.run(build_then_facts)
    assert str(raised.value) == (
        "gathering the provenance of linux/arm64 (app-arm64, Dockerfile) failed: pull access "
        "denied; re-run, or pass --provenance=false to release without provenance"
    )


class _Secret:
    def __init__(self, value: str) -> None:
        self.value = value

    async def plaintext(self) -> str:
        return self.value


DOCKER_CONFIG = json.dumps(
    {"auths": {"mirror.example.com": {"auth": b64encode(f"ci:{CONFIG_SECRET}".encode()).decode()}}}
)


def test_no_registry_secret_reaches_the_facts_nor_the_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A release with --password and --docker-config: the core gets the credentials in its
    settings, and none of their text is in the facts or the provenance statement."""
    captured, engine = Captured(), _Engine()
    report = SimpleNamespace(summary=lambda: "ok")
    monkeypatch.setattr(release_job, "release", captured.job(report))
    monkeypatch.setattr(release_functions, "embedded_registry", no_embedded_registry)
    monkeypatch.setattr(builds, "dag", engine)

    async def release_and_state() -> list[bytes]:
        await MetricsApi().release(
            source=cast("dagger.Directory", _repository()),
            registry="registry.example.com",
            username="ci",
            password=cast("dagger.Secret", _Secret(PASSWORD)),
            docker_config=cast("dagger.Secret", _Secret(DOCKER_CONFIG)),
            build_args=[f"GO_IMAGE={GO_MIRROR}"],
            revision="abc123",
        )
        (call,) = captured.calls
        settings = call["settings"]
        assert settings.credentials["registry.example.com"].password.get_secret_value() == (
            PASSWORD
        )
        assert CONFIG_SECRET in str(
            settings.credentials["mirror.example.com"].password.get_secret_value()
        )
        plans, stage = call["args"]
        target = parse_reference("registry.example.com/metrics-api:v2.0.0")
        statements = []
        for plan in plans:  # as the job does: stage, then the facts of what was staged
            digest = (await stage(plan, "localhost:5000/staging/metrics-api:x")).partition("@")[2]
            facts = await call["attach"].provenance(plan, digest)
            name = subject_name(target, "v2.0.0-x", plan.platform)
            assert GO_MIRROR in facts.model_dump_json()
            statements.append(statement(digest, name, facts))
        return statements

    statements = anyio.run(release_and_state)
    assert len(statements) == 2
    secrets = [PASSWORD, CONFIG_SECRET, b64encode(f"ci:{CONFIG_SECRET}".encode()).decode()]
    for text in statements:
        for secret in secrets:
            assert secret.encode() not in text


def test_a_build_arguments_value_is_published_as_its_digest_and_a_secret_name_warned(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the stamps' values are in the statement; NPM_TOKEN's is not, and is warned of."""
    captured = Captured()
    monkeypatch.setattr(release_job, "release", captured.job(SimpleNamespace(summary=str)))
    monkeypatch.setattr(release_functions, "embedded_registry", no_embedded_registry)
    monkeypatch.setattr(builds, "dag", _Engine())

    async def release_and_state() -> bytes:
        await MetricsApi().release(
            source=cast("dagger.Directory", _repository()),
            build_args=[f"NPM_TOKEN={BUILD_SECRET}", f"GO_IMAGE={GO_MIRROR}"],
            revision="abc123",
        )
        (call,) = captured.calls
        plan = call["args"][0][0]
        digest = (await call["args"][1](plan, "localhost:5000/s:x")).partition("@")[2]
        facts = await call["attach"].provenance(plan, digest)
        target = parse_reference("registry.example.com/metrics-api:v2.0.0")
        return statement(digest, subject_name(target, "v2.0.0-amd64", plan.platform), facts)

    published = json.loads(anyio.run(release_and_state))
    recorded = published["predicate"]["buildDefinition"]["externalParameters"]["buildArgs"]
    assert recorded == {
        "VERSION": "2.0.0",
        "REVISION": "abc123",
        "NPM_TOKEN": f"sha256:{sha256(BUILD_SECRET.encode()).hexdigest()}",
        "GO_IMAGE": f"sha256:{sha256(GO_MIRROR.encode()).hexdigest()}",
    }
    assert BUILD_SECRET not in json.dumps(published)
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("warning: build argument NPM_TOKEN looks like a secret: ")
    assert BUILD_SECRET not in warning


def _call(function: str, **arguments: object) -> None:
    """Call ``function`` with the arguments each needs, and ``arguments``."""
    source = cast("dagger.Directory", _repository())
    needed: dict[str, dict[str, object]] = {
        "release": {"source": source},
        "release_layout": {"source": source},
        "publish_variant": {
            "source": source,
            "platform": dagger.Platform("linux/arm64"),
            "registry": "registry.example.com",
        },
        "verify": {
            "target": "registry.example.com/metrics-api:v2.0.0",
            "expect": [f"linux/arm64={_digest('image')}"],
        },
    }
    anyio.run(lambda: getattr(MetricsApi(), function)(**needed[function], **arguments))


@pytest.mark.parametrize("function", ["release", "release_layout", "publish_variant"])
@pytest.mark.parametrize("provenance", [True, False])
def test_the_provenance_flag_hands_the_job_the_facts_or_none(
    function: str, provenance: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    captured = capture_building_jobs(monkeypatch)

    _call(function, **({} if provenance else {"provenance": False}))

    attach = captured.calls[0]["attach"]
    assert callable(attach.provenance) if provenance else attach.provenance is None


@pytest.mark.parametrize("required", [True, False])
def test_verify_hands_require_provenance_to_the_core(
    required: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    captured = Captured()
    monkeypatch.setattr(jobs, "verify", captured.job(SimpleNamespace(ok=True, text=lambda: "")))

    _call("verify", **({"require_provenance": True} if required else {}))

    (call,) = captured.calls
    assert call["require_provenance"] is required


def test_provenance_is_on_by_default_and_a_flag_of_its_own(functions: dict[str, Any]) -> None:
    """`--provenance` (and verify's `--require-provenance`) is no flag `dagger call` owns."""
    for name in ("release", "release_layout", "publish_variant"):
        spec = functions[name]["args"]["provenance"]
        assert spec["type"] == "<class 'bool'>"
        assert json.loads(spec["default"]) is True
        assert "--provenance=false" in spec["doc"]
    required = functions["verify"]["args"]["require_provenance"]
    assert json.loads(required["default"]) is False
    assert {"provenance", "require-provenance"}.isdisjoint(OWNED_BY_DAGGER)
    assert "provenance" not in functions["assemble"]["args"]  # it builds nothing
