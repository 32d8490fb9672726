import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

DESCRIBE = Path(__file__).with_name("describe_module.py")


@pytest.fixture(scope="module")
def functions() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(DESCRIBE)], capture_output=True, text=True, check=True, timeout=120
    )
    described: dict[str, Any] = json.loads(result.stdout)
    assert list(described) == ["MetricsApi"]
    return {name: value for name, value in described["MetricsApi"].items() if name}


def test_exposes_the_five_functions(functions: dict[str, Any]) -> None:
    assert sorted(functions) == ["assemble", "build", "publish_variant", "release", "verify"]
    for name, function in functions.items():
        assert function["doc"], f"{name} has no docstring for `dagger call --help`"
        for arg, spec in function["args"].items():
            assert spec["doc"], f"{name} --{arg} has no Doc()"


def test_only_the_lazy_builder_may_be_cached(functions: dict[str, Any]) -> None:
    assert functions["build"]["cache"] is None
    assert functions["build"]["returns"] == "<class 'dagger.Container'>"
    for name in ("publish_variant", "assemble", "verify", "release"):
        assert functions[name]["cache"] == "never", f"{name} touches a registry"
        assert functions[name]["returns"] == "<class 'str'>"


def test_release_defaults_build_both_variants_from_the_repository(
    functions: dict[str, Any],
) -> None:
    args = functions["release"]["args"]
    assert args["source"]["type"] == "<class 'dagger.Directory'>"
    assert args["source"]["default_path"] == "/"
    assert ".git" in args["source"]["ignore"]
    assert json.loads(args["variants"]["default"]) == [
        "linux/amd64=app-amd64",
        "linux/arm64=app-arm64",
    ]
    defaults = {name: json.loads(spec["default"]) for name, spec in args.items() if spec["default"]}
    assert defaults["registry"] == ""  # empty: the embedded registry
    assert defaults["repository"] == "metrics-api"
    assert defaults["version"] == "v2.0.0"
    assert defaults["force"] is False
    assert defaults["dry_run"] is False
    assert defaults["output"] == "text"
    assert args["password"]["type"] == "dagger.Secret | None"


def test_publish_variant_needs_a_source_platform_and_registry(functions: dict[str, Any]) -> None:
    args = functions["publish_variant"]["args"]
    required = sorted(name for name, spec in args.items() if not spec["optional"])
    assert required == ["platform", "registry", "source"]
    assert args["platform"]["type"] == "<class 'dagger.Platform'>"


def test_assemble_and_verify_take_ledgers_as_text(functions: dict[str, Any]) -> None:
    assemble, verify = functions["assemble"]["args"], functions["verify"]["args"]
    assert assemble["variants"]["type"] == "list[str]"
    assert not assemble["variants"]["optional"]
    assert assemble["expect"]["type"] == "list[str]"
    assert verify["expect"]["type"] == "list[str]"
    assert not verify["expect"]["optional"]
