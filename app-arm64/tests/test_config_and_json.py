"""Configuration, /version identity and the Go-compatible JSON encoding."""

import pytest
from metrics_api_legacy.config import Config, identity, load_config, machine_arch
from metrics_api_legacy.jsonbody import encode_json


def test_load_config_defaults() -> None:
    assert load_config({}) == Config(port=8080, version="2.0.0", revision="unknown")
    assert load_config({"METRICS_API_VERSION": "", "PORT": ""}).version == "2.0.0"


def test_load_config_reads_the_environment() -> None:
    config = load_config(
        {"PORT": "9000", "METRICS_API_VERSION": "3.1.4", "METRICS_API_REVISION": "abc"}
    )
    assert config == Config(port=9000, version="3.1.4", revision="abc")


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1", "\u0663"])
def test_load_config_refuses_bad_ports(port: str) -> None:
    with pytest.raises(ValueError, match="PORT must be a number"):
        load_config({"PORT": port})


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("x86_64", "amd64"),
        ("AMD64", "amd64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("riscv64", "riscv64"),
    ],
)
def test_machine_arch_uses_go_names(machine: str, arch: str) -> None:
    assert machine_arch(machine) == arch


def test_identity_key_order_is_the_contract() -> None:
    document = identity(Config(port=1, version="v", revision="r"))
    assert list(document) == ["service", "version", "revision", "implementation", "os", "arch"]
    assert document["implementation"] == "python"


def test_encode_json_matches_go_encoding() -> None:
    document = {
        "s": '<&>\u2028\b\f\x01\x7f"\\\ud800',
        "n": 3.0,
        "i": 7,
        "inf": float("inf"),
        "l": [True, None],
    }
    assert (
        encode_json(document)
        == (
            '{"s":"<&>\\u2028\\b\\f\\u0001\x7f\\"\\\\\ufffd","n":3,"i":7,"inf":null,"l":[true,null]}\n'
        ).encode()
    )


def test_encode_json_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        encode_json({"x": object()})
