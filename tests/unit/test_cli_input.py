import json
import socket
from pathlib import Path

import pytest

from metrics_api.oci.cli import main

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resolve", "Bad Ref", "--platform", "linux/amd64"], "expected an image reference"),
        (
            ["resolve", "r.io/m:v1", "--platform", "amd64"],
            "--platform 'amd64': expected a platform of the form os/architecture[/variant]",
        ),
        (["assemble", "r.io/m", "--variant", "linux/amd64=r.io/m:a"], "expected the target"),
        (
            ["assemble", "r.io/m:v1", "--variant", "linux/amd64"],
            (
                "--variant 'linux/amd64': expected PLATFORM=REFERENCE (linux/arm64=REPO:TAG), "
                "found no '='"
            ),
        ),
        (
            ["assemble", "r.io/m:v1", "--variant", "=r.io/m:a"],
            (
                "--variant '=r.io/m:a': expected PLATFORM=REFERENCE (linux/arm64=REPO:TAG), "
                "found nothing before '='"
            ),
        ),
        (
            ["assemble", "r.io/m:v1", "--variant", "linux=r.io/m:a"],
            "--variant 'linux=r.io/m:a': expected a platform of the form",
        ),
        (
            ["assemble", "r.io/m:v1", "--variant", "linux/amd64=r.io/m:a", "--annotation", "k"],
            "--annotation 'k': expected KEY=VALUE, found no '='",
        ),
        (
            ["verify", "r.io/m:v1", "--expect", "linux/amd64=sha256:1"],
            "--expect 'linux/amd64=sha256:1': expected a digest like",
        ),
        (
            ["verify", "r.io/m:v1", "--expect", "linux/amd64="],
            (
                "--expect 'linux/amd64=': expected PLATFORM=DIGEST (linux/arm64=sha256:...), "
                "found nothing after '='"
            ),
        ),
        (
            ["compare", "r.io/m:v1", "--rebuilt", "linux/amd64=r.io/x"],
            "--rebuilt 'linux/amd64=r.io/x': expected the variant with a tag or a digest",
        ),
        (
            [
                "assemble",
                "r.io/m:v1",
                "--variant",
                "linux/amd64=r.io/m:a",
                "--variant",
                "linux/amd64=r.io/m:b",
            ],
            "expected one variant per platform, found two for linux/amd64",
        ),
        (
            [
                "verify",
                "r.io/m:v1",
                "--expect",
                f"linux/arm64=sha256:{'a' * 64}",
                "--expect",
                f"linux/arm64/v8=sha256:{'b' * 64}",
            ],
            "expected one ledger line per platform, found two for linux/arm64/v8",
        ),
        (
            [
                "assemble",
                "r.io/m:v1",
                "--variant",
                "linux/amd64=r.io/m:a",
                "--signing-key",
                "/nope",
            ],
            (
                "expected --signing-key to name a readable file with a private key, found "
                "'/nope' (No such file or directory); check the path"
            ),
        ),
        (
            [
                "verify",
                "r.io/m:v1",
                "--expect",
                f"linux/amd64=sha256:{'a' * 64}",
                "--public-key",
                "/dev/null",
            ],
            "expected --public-key /dev/null to hold a PEM public key",
        ),
        (["resolve", "r.io/m", "--platform", "linux/amd64"], "expected the variant with a tag"),
        (
            ["assemble", "r.io/m:v1", "--variant", "linux/amd64=r.io/m"],
            "--variant 'linux/amd64=r.io/m': expected the variant with a tag or a digest",
        ),
        (
            ["verify", "r.io/m", "--expect", f"linux/amd64=sha256:{'a' * 64}"],
            "expected the index to verify with a tag or a digest, found 'r.io/m'",
        ),
        (
            [
                "compare",
                "r.io/m:v1",
                "--rebuilt",
                "linux/amd64=r.io/x:1",
                "--rebuilt",
                "linux/amd64=r.io/x:2",
            ],
            "expected one rebuilt image per platform, found two for linux/amd64",
        ),
        (
            [
                "verify",
                "r.io/m:v1",
                "--expect",
                f"linux/amd64=sha256:{'a' * 64}",
                "--trust-config",
                "/nope",
            ],
            "with --trust-config, found no identity; give the identity too",
        ),
        (["assemble", "r.io/m:v1"], "the following arguments are required: --variant"),
        (["resolve", "r.io/m:v1"], "the following arguments are required: --platform"),
        (
            ["verify", "r.io/m:v1", "--expect", "linux/amd64=x", "--nope"],
            (
                "expected only the options `metrics-oci verify --help` lists, found unknown "
                "option --nope; see `metrics-oci verify --help`"
            ),
        ),
        (
            ["--json", "resolve", "r.io/m:v1", "--platform", "linux/amd64"],
            "found unknown option --json: a command's options go after the command",
        ),
        *[
            (
                ["assemble", "r.io/m:v1", "--variant", "linux/amd64=r.io/m:a", option, ""],
                f"argument {option}: expected a value, found an empty one (an unset variable?)",
            )
            for option in ("--signing-key", "--ca-file", "--username", "--trust-config")
        ],
        (
            [
                "resolve",
                "r.io/m:v1",
                "--platform",
                "linux/amd64",
                "--insecure-registry",
                "http://h",
            ],
            "argument --insecure-registry: expected HOST[:PORT], found 'http://h'",
        ),
        (["publish", "r.io/m:v1"], "argument COMMAND: invalid choice: 'publish'"),
        *[
            (
                ["resolve", "r.io/m:v1", "--platform", "linux/amd64", option, value],
                f"argument {option}: expected a number of seconds greater than 0, found {value!r}",
            )
            for option in ("--deadline", "--request-timeout")
            for value in ("nan", "inf", "-1", "0", "ten")
        ],
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert json.loads(captured.out)["ok"] is False


def test_a_usage_error_names_the_help_of_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assemble", "r.io/m:v1"]) == 2
    assert capsys.readouterr().err == (
        "error: the following arguments are required: --variant; "
        "see `metrics-oci assemble --help`\n"
    )


def test_username_without_password_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    code = main(["resolve", "r.example/m:v1", "--platform", "linux/amd64", "--username", "ci"])
    assert code == 2
    assert "expected the password in $REGISTRY_PASSWORD" in capsys.readouterr().err


def test_an_unknown_attestation_mode_is_refused_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["assemble", "r.io/m:v1", "--variant", "linux/amd64=r.io/m:a", "--attestations", "x"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "argument --attestations: invalid choice: 'x'" in error
    assert "keep" in error
    assert "drop" in error


@pytest.mark.parametrize(
    "argv",
    [
        # An abbreviation argparse would have read as --password-env SECRET.
        ["resolve", "r.io/m:v1", "--platform", "linux/amd64", "--username", "u", "--password"],
        ["assemble", "r.io/m:v1", "--variant", "linux/amd64=r.io/m:a", "--signing-password"],
        ["assemble", "r.io/m:v1", "--variant", "linux/amd64=r.io/m:a", "--identity-token"],
        ["assemble", "r.io/m:v1", "--variant", "linux/amd64=r.io/m:a", "--signing-key-password"],
    ],
)
def test_a_value_given_to_an_unknown_option_is_never_shown(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-value-typed-on-the-command-line"  # noqa: S105 - what must not show
    assert main([*argv, secret, "--json"]) == 2
    captured = capsys.readouterr()
    assert f"found unknown option {argv[-1]} (and 1 value, not shown)" in captured.err
    assert secret not in captured.err
    assert secret not in captured.out


def test_a_verification_that_could_not_fetch_says_why_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        argv = ["verify", f"127.0.0.1:{port}/m:v1", "--expect", f"linux/amd64=sha256:{'a' * 64}"]
        assert main(argv) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"error: verification failed: fetch (fetching manifest 127.0.0.1:{port}"
    )
    assert "up and reachable" in lines[0]


def test_a_trust_config_is_read_whole_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skeleton = tmp_path / "trusted_root.json"
    media_type = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    skeleton.write_text(json.dumps({"mediaType": media_type}))  # its roots missing
    identity = ["--certificate-identity", "ci", "--certificate-oidc-issuer", "https://issuer"]
    argv = ["verify", "127.0.0.1:1/m:v1", *identity, "--trust-config", str(skeleton), "--json"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "expected --trust-config" in captured.err
    assert "to be a usable Sigstore trusted root" in captured.err
    assert json.loads(captured.out)["requests"] == 0
