"""`dagger call`'s flags: none collides; the examples and argument tables of README and docs/,
and the error hints, use real ones."""

import argparse
import ast
import json
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

from metrics_api.oci.cli import HINTS as CLI_HINTS
from metrics_api.oci.cli_parser import build_parser as _parser
from metrics_api.oci.errors import Hints, OciError, Remedy
from metrics_api.pipeline_errors import HINTS as DAGGER_HINTS

pytestmark = pytest.mark.dagger

ROOT = Path(__file__).resolve().parents[2]
# Where `dagger call` is shown: README for a newcomer, docs/ for the reference.
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FUNCTIONS_DOC = ROOT / "docs" / "functions.md"
ARGUMENT_ROW = re.compile(r"^\|\s*`--([a-z][a-z-]*)`\s*\|\s*(.*?)\s*\|\s*(.*?)\s*\|$")
# Where each remedy can arise: the functions (and subcommands) that run that part of the core.
DAGGER_RAISERS = {
    Remedy.FORCE: ("publish-variant", "assemble", "release"),
    Remedy.VARIANTS: ("assemble", "release"),
    Remedy.LEDGER: ("verify",),
    Remedy.IDENTITY: ("verify",),
}
DAGGER_REGISTRY_USERS = ("publish-variant", "assemble", "verify", "release")
LOGIN_FLAGS = {"username", "password", "password-env"}
CLI_RAISERS = {
    Remedy.FORCE: ("assemble",),
    Remedy.VARIANTS: ("assemble",),
    Remedy.LEDGER: ("verify",),
    Remedy.IDENTITY: ("verify",),
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


def test_every_example_in_readme_and_docs_calls_a_function_with_its_own_flags(
    functions: dict[str, Any],
) -> None:
    called: set[str] = set()
    for document in DOCUMENTS:
        for words in dagger_calls(document.read_text()):
            try:
                called.add(check_call(words, commands(functions)))
            except AssertionError as error:
                raise AssertionError(f"{document.relative_to(ROOT)}: {error}") from error
    missing = sorted(set(commands(functions)) - called)
    assert not missing, f"README.md and docs/ show no example of {missing}"


def test_the_readme_check_catches_a_flag_that_does_not_exist(functions: dict[str, Any]) -> None:
    (words,) = dagger_calls(
        "```sh\ndagger call release --insecure-registry r.example \\\n  -o x\n```"
    )
    with pytest.raises(AssertionError, match="--insecure-registry`: no such argument"):
        check_call(words, commands(functions))


def test_the_readme_check_reads_calls_of_this_module_from_another_folder(
    functions: dict[str, Any],
) -> None:
    """`dagger -m PATH call ...` and Dagger's own flags before the function are checked too."""
    text = (
        "```sh\ncd ~/src/myapp\n"
        "dagger -m ../metrics-api call --progress=dots release --source . --variant linux/amd64=.\n"
        "```"
    )
    (words,) = dagger_calls(text)
    assert words[:3] == ["--progress=dots", "release", "--source"]
    with pytest.raises(AssertionError, match="release --variant`: no such argument"):
        check_call(words, commands(functions))


def shown_default(spec: dict[str, Any]) -> str:
    """An argument's default as docs/functions.md shows it."""
    if spec["default_path"]:
        return "this module's repository"
    if not spec["optional"]:
        return "required"
    value = json.loads(spec["default"])
    if value in (None, "", []):
        return ""
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, float):
        value = f"{value:g}"
    elif isinstance(value, list):
        value = ",".join(value)
    return f"`{value}`"


def argument_table(function: dict[str, Any]) -> str:
    """The table of a function's arguments docs/functions.md must show."""
    rows = [
        f"| `--{cli_name(name)}` | {shown_default(spec)} | {spec['doc']} |"
        for name, spec in function["args"].items()
    ]
    return "\n".join(["| argument | default | |", "|---|---|---|", *rows])


def documented_arguments(markdown: str) -> dict[str, dict[str, tuple[str, str]]]:
    """Each function's argument rows (default, text), under the heading that names it."""
    tables: dict[str, dict[str, tuple[str, str]]] = {}
    function = ""
    for line in markdown.splitlines():
        heading = re.match(r"## `([a-z-]+)`", line)
        if heading:
            function = heading[1]
        row = ARGUMENT_ROW.match(line)
        if row and function:
            tables.setdefault(function, {})[row[1]] = (row[2], row[3])
    return tables


def placeholder(usage: str, type_name: str) -> str:
    """The value name `dagger call --help` shows after a flag, as pflag v1.0.10 (Dagger
    v0.21.8's) ``UnquoteUsage`` picks it: the first back-quoted words, else the type."""
    _, quote, rest = usage.partition("`")
    name, closed, _ = rest.partition("`")
    return name if quote and closed else type_name


def test_no_argument_text_replaces_its_flags_value_name(functions: dict[str, Any]) -> None:
    assert placeholder("sign with `cosign generate-key-pair` keys", "Secret") == (
        "cosign generate-key-pair"
    ), "the engine showed `--signing-key cosign generate-key-pair` for this"
    for name, function in functions.items():
        for arg, spec in function["args"].items():
            shown = placeholder(spec["doc"], "TYPE")
            assert shown == "TYPE", (
                f"`dagger call {cli_name(name)} --help` shows --{cli_name(arg)} {shown}"
            )


def test_docs_list_every_argument_of_every_function_as_it_is(functions: dict[str, Any]) -> None:
    documented = documented_arguments(FUNCTIONS_DOC.read_text())
    for name, function in functions.items():
        real = {
            cli_name(arg): (shown_default(spec), spec["doc"])
            for arg, spec in function["args"].items()
        }
        assert documented.get(cli_name(name)) == real, (
            f"docs/functions.md's arguments of `{cli_name(name)}` differ from the module's; "
            f"paste under its heading:\n{argument_table(function)}"
        )


def test_the_argument_check_catches_an_argument_that_does_not_exist(
    functions: dict[str, Any],
) -> None:
    table = argument_table(functions["verify"])
    real = documented_arguments(f"## `verify`: check\n\n{table}\n")["verify"]
    assert set(real) == set(commands(functions)["verify"])
    invented = documented_arguments(f"## `verify`\n\n{table}\n| `--jsonl` | | x |\n")
    assert set(invented["verify"]) - set(real) == {"jsonl"}


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
        for path in (ROOT / "src/metrics_api/oci").rglob("*.py")
        if not path.name.startswith("cli") and path.name != "__main__.py"
    ]
    for path in core:
        for message in _messages(path):
            assert not _flags_named(message), f"{path.name} names a flag: {message!r}"
