"""What a provenance publishes of each build argument, and which names look like secrets."""

from hashlib import sha256

import pytest

from metrics_api.oci.release.build_args import looks_secret, recorded_build_args, secret_warnings
from metrics_api.oci.release.provenance import input_changes


def _digest(value: str) -> str:
    return f"sha256:{sha256(value.encode()).hexdigest()}"


def test_only_the_stamps_values_are_recorded_the_others_as_digests() -> None:
    given = {"VERSION": "2.0.0", "REVISION": "abc", "SOURCE": "https://git.example.com/x"}
    recorded = recorded_build_args({**given, "NPM_TOKEN": "s3cr3t", "GO_IMAGE": "mirror/go:1"})
    assert recorded == {**given, "NPM_TOKEN": _digest("s3cr3t"), "GO_IMAGE": _digest("mirror/go:1")}


def test_the_same_values_are_the_same_inputs_and_a_changed_one_is_named_not_shown() -> None:
    def definition(value: str) -> dict[str, object]:
        return {"externalParameters": {"buildArgs": recorded_build_args({"NPM_TOKEN": value})}}

    assert input_changes("linux/amd64", definition("a"), definition("a")) == []
    (change,) = input_changes("linux/amd64", definition("old-s3cr3t"), definition("new-s3cr3t"))
    assert change.startswith("linux/amd64: the parameter buildArgs changed from ")
    assert "s3cr3t" not in change


@pytest.mark.parametrize(
    "name",
    ["NPM_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "apiKey", "GITHUB_AUTH", "SSH_KEY"],
)
def test_names_with_a_secrets_word_look_secret(name: str) -> None:
    assert looks_secret(name)
    (warning,) = secret_warnings([name, "VERSION"])
    assert warning.startswith(f"warning: build argument {name} looks like a secret: ")


@pytest.mark.parametrize(
    "name", ["GO_IMAGE", "VERSION", "PYTHON_IMAGE", "PUBLIC_KEY", "MONKEY", "TOKENIZER_MODEL"]
)
def test_other_names_do_not(name: str) -> None:
    assert not looks_secret(name)
    assert secret_warnings([name]) == []
