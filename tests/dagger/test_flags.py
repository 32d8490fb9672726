"""`dagger call`'s flags: none collides; README's examples and the error hints use real ones."""

import argparse
import ast
import re
from pathlib import Path
from typing import Any

import pytest
from support.dagger_cli import (
    OWNED_BY_DAGGER,
    check_call,
    cli_name,
    commands,
    dagger_calls,
)

from metrics_api.main import HINTS as DAGGER_HINTS
from metrics_api.oci.cli import HINTS as CLI_HINTS
from metrics_api.oci.cli import _parser
from metrics_api.oci.errors import Hints, OciError, Remedy

pytestmark = pytest.mark.dagger

ROOT = Path(__file__).resolve().parents[2]
# Where each remedy can arise: the functions (and subcommands) that run that part of the core.
DAGGER_RAISERS = {
    Remedy.FORCE: ("publish-variant", "assemble", "release"),
    Remedy.VARIANTS: ("assemble", "release"),
    Remedy.LEDGER: ("assemble", "verify"),
}
DAGGER_REGISTRY_USERS = ("publish-variant", "assemble", "verify", "release")
LOGIN_FLAGS = {"username", "password", "password-env"}
CLI_RAISERS = {
    Remedy.FORCE: ("assemble",),
    Remedy.VARIANTS: ("assemble",),
    Remedy.LEDGER: ("assemble", "verify"),
}


def test_names_are_derived_as_the_dagger_cli_derives_them() -> None:
    assert cli_name("insecure_registries") == "insecure-registries"
    assert cli_name("format_") == "format"
    assert cli_name("publish_variant") == "publish-variant"
    assert cli_name("source_date_epoch") == "source-date-epoch"


def test_no_argument_takes_a_flag_that_dagger_call_owns(functions: dict[str, Any]) -> None:
    for function, flags in commands(functions).items():
        clashes = sorted(OWNED_BY_DAGGER.intersection(flags))
        assert not clashes, f"`dagger call {function}` would fail: flag already exists: {clashes}"


def test_every_readme_example_calls_a_function_with_its_own_flags(
    functions: dict[str, Any],
) -> None:
    calls = dagger_calls((ROOT / "README.md").read_text())
    called = {check_call(words, commands(functions)) for words in calls}
    assert called == set(commands(functions)), "README shows an example of every function"


def test_the_readme_check_catches_a_flag_that_does_not_exist(functions: dict[str, Any]) -> None:
    (words,) = dagger_calls(
        "```sh\ndagger call release --insecure-registry r.example \\\n  -o x\n```"
    )
    with pytest.raises(AssertionError, match="--insecure-registry`: no such argument"):
        check_call(words, commands(functions))


def _flags_named(text: str) -> set[str]:
    return set(re.findall(r"--([a-z][a-z-]*)", text))


def _rendered(hints: Hints, remedy: Remedy, *, login: bool) -> str:
    """The remedy's hint for the registry the call logs in to, or for another one."""
    error = OciError("something failed", remedy=remedy, host="r.example")
    rendered = hints.render(error, "r.example" if login else "other.example")
    assert "{" not in rendered
    return rendered


@pytest.mark.parametrize("login", [True, False], ids=["login-host", "other-host"])
@pytest.mark.parametrize("remedy", list(Remedy))
def test_every_remedy_names_flags_of_the_dagger_functions_that_can_raise_it(
    remedy: Remedy, login: bool, functions: dict[str, Any]
) -> None:
    rendered = _rendered(DAGGER_HINTS, remedy, login=login)
    named = _flags_named(rendered)
    for function in DAGGER_RAISERS.get(remedy, DAGGER_REGISTRY_USERS):
        missing = named - set(commands(functions)[function])
        assert not missing, f"`dagger call {function}` has no {missing} ({rendered})"


@pytest.mark.parametrize("login", [True, False], ids=["login-host", "other-host"])
@pytest.mark.parametrize("remedy", list(Remedy))
def test_every_remedy_names_flags_of_the_command_line_that_can_raise_it(
    remedy: Remedy, login: bool
) -> None:
    rendered = _rendered(CLI_HINTS, remedy, login=login)
    subcommands = next(
        action
        for action in _parser()._actions  # noqa: SLF001 - argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction)  # noqa: SLF001
    ).choices
    for name in CLI_RAISERS.get(remedy, ("resolve", "assemble", "verify")):
        options = {
            option.lstrip("-")
            for action in subcommands[name]._actions  # noqa: SLF001
            for option in action.option_strings
        }
        missing = _flags_named(rendered) - options
        assert not missing, f"`{name}` has no {missing} ({rendered})"


@pytest.mark.parametrize("hints", [DAGGER_HINTS, CLI_HINTS], ids=["dagger", "command-line"])
def test_credentials_for_another_registry_are_never_asked_of_the_login_flags(
    hints: Hints,
) -> None:
    """--username/--password only reach the call's own registry: useless for any other."""
    for_login = _rendered(hints, Remedy.CREDENTIALS, login=True)
    elsewhere = _rendered(hints, Remedy.CREDENTIALS, login=False)
    assert "--username" in for_login
    assert "r.example" in elsewhere
    assert not LOGIN_FLAGS & _flags_named(elsewhere), elsewhere


def _messages(path: Path) -> list[str]:
    """The string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_the_core_names_no_front_end_flag() -> None:
    core = [
        path
        for path in (ROOT / "src/metrics_api/oci").glob("*.py")
        if path.name not in {"cli.py", "__main__.py"}
    ]
    core.append(ROOT / "src/metrics_api/release.py")
    for path in core:
        for message in _messages(path):
            assert not _flags_named(message), f"{path.name} names a flag: {message!r}"
