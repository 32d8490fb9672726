"""The command line explains itself, and docs/command-line.md shows its real `--help`."""

import argparse
import inspect
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from metrics_api.oci import cli
from metrics_api.oci.cli_parser import build_parser as _parser

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# README links here for the command line's reference; each `--help` block must be the real one.
HELP_PAGE = ROOT / "docs" / "command-line.md"
HELP_BLOCK = re.compile(r"```text\n\$ (metrics-oci(?: (\w+))? --help)\n(.*?)```", re.DOTALL)
COMMANDS = ("resolve", "assemble", "verify", "compare")


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(
        action
        for action in parser._actions  # noqa: SLF001 - argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction)  # noqa: SLF001
    )
    return dict(action.choices)


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions  # noqa: SLF001 - argparse's list of arguments
        for option in action.option_strings
    }


def options_listed(help_text: str) -> set[str]:
    """The options the "options:" part of a help text lists (not those its prose mentions)."""
    listed = help_text.split("\noptions:\n", 1)[1].split("\n\n", 1)[0]
    return {
        option
        for line in listed.splitlines()
        if line.startswith("  -")
        for option in re.findall(r"(?<![\w-])--?[a-z][\w-]*", line.split("   ")[0])
    }


def documented_help_blocks() -> dict[str, str]:
    page = HELP_PAGE.read_text()
    return {command or "": text for _, command, text in HELP_BLOCK.findall(page)}


def test_every_argument_of_every_command_says_what_it_is_for() -> None:
    parser = _parser()
    for name, command in {"": parser, **commands(parser)}.items():
        for action in command._actions:  # noqa: SLF001 - argparse's list of arguments
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                continue
            shown = action.option_strings or [action.dest]
            assert action.help, f"`{name}` {shown} has no help"
            assert action.help != argparse.SUPPRESS


def test_each_command_shows_its_defaults_and_ends_with_an_example() -> None:
    for name, command in commands(_parser()).items():
        text = command.format_help()
        assert "time for the whole job, retries included (default: 600)" in text
        assert "(default: 30)" in text.split("--request-timeout SECONDS", 1)[1]
        example = text.rstrip().split("\n\n")[-1]
        assert example.startswith("example"), f"`{name} --help` ends with: {example!r}"
        assert f"metrics-oci {name} " in example


def test_the_top_level_help_lists_exit_codes_and_the_environment_it_reads() -> None:
    text = _parser().format_help()
    codes = text.split("exit codes:\n", 1)[1].split("\n\n", 1)[0]
    assert [line.split()[0] for line in codes.splitlines() if line.startswith("  ")] == [
        "0",
        "1",
        "2",
        "130",
        "143",
    ]
    environment = text.split("environment:\n", 1)[1]
    for variable in ("REGISTRY_PASSWORD", "--password-env", "DOCKER_CONFIG", "SOURCE_DATE_EPOCH"):
        assert variable in environment


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"metrics-oci {metadata.version('metrics-api')}\n"


def test_the_console_script_and_the_module_name_themselves() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"metrics-oci": "metrics_api.oci.__main__:start"}
    assert inspect.signature(cli.run).parameters["prog"].default == "metrics-oci"
    script = subprocess.run(
        [str(Path(sys.executable).parent / "metrics-oci"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert script.stdout.startswith("usage: metrics-oci [-h] [--version] COMMAND")
    module = subprocess.run(
        [sys.executable, "-m", "metrics_api.oci", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert module.stdout.startswith("usage: python -m metrics_api.oci [-h] [--version] COMMAND")


def test_the_job_runs_with_garbage_collection_back_on() -> None:
    # Off only while the modules load (``__main__``): a job with it left off would grow.
    script = (
        "import gc\n"
        "from metrics_api.oci import cli\n"
        "cli.run = lambda prog, **_: print(prog, gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "from metrics_api.oci.__main__ import start\n"
        "start()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout == "metrics-oci True True\n"


def test_readme_links_to_the_page_that_shows_the_help() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"]({HELP_PAGE.relative_to(ROOT)})" in readme


def test_the_docs_show_the_real_help_of_every_command() -> None:
    blocks = documented_help_blocks()
    assert sorted(blocks) == sorted(["", *COMMANDS]), "docs show `--help` of each command"
    parser = _parser()
    for name, command in {"": parser, **commands(parser)}.items():
        documented, real = options_listed(blocks[name]), options_of(command)
        assert not documented - real, f"docs/command-line.md documents options `{name}` lacks"
        assert not real - documented, f"docs/command-line.md leaves out options of `{name}`"
        assert blocks[name] == command.format_help(), (
            f"docs/command-line.md's `metrics-oci {name} --help` differs from the real one; "
            "paste:\n" + command.format_help()
        )


def test_the_help_check_catches_an_option_that_does_not_exist() -> None:
    verify = commands(_parser())["verify"]
    invented = verify.format_help().replace("  --json ", "  --jsonl")
    assert options_listed(invented) - options_of(verify) == {"--jsonl"}
