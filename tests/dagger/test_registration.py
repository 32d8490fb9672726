"""What the module registers, loaded the way the SDK runtime loads it."""

import json
from typing import Any

import pytest

pytestmark = pytest.mark.dagger


def test_exposes_the_seven_functions(functions: dict[str, Any]) -> None:
    assert sorted(functions) == [
        "assemble",
        "build",
        "publish_variant",
        "rebuild",
        "release",
        "release_layout",
        "verify",
    ]
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
    assert functions["release_layout"]["cache"] == "never"
    assert functions["release_layout"]["returns"] == "<class 'dagger.Directory'>"


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
    assert defaults["attestations"] == "drop"
    assert defaults["dry_run"] is False
    assert defaults["format"] == "text"
    assert defaults["deadline"] == 600.0
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
    assert verify["expect"]["optional"]  # --public-key alone verifies too


def test_assemble_drops_attestations_unless_told(functions: dict[str, Any]) -> None:
    args = functions["assemble"]["args"]
    assert json.loads(args["attestations"]["default"]) == "drop"
    assert "keep" in args["attestations"]["doc"]
