"""How `dagger call` turns this module's functions into a command line (Dagger v0.21).

- An argument's flag is its API name in kebab case: the SDK registers the Python name
  (a trailing ``_`` dropped), the engine stores it in lower camel case (core/gqlformat.go,
  ``gqlArgName``) and the CLI derives the flag with ``strcase.ToKebab`` (cmd/dagger,
  ``cliName``); a function's command name is derived the same way.
- ``dagger call`` adds ``--output/-o`` and ``--json/-j`` to every function command
  (cmd/dagger/functions.go); the module flags and the global flags are on every command
  (cmd/dagger/module.go ``moduleAddFlags``, main.go ``installGlobalFlags`` and ``--help``).
  An argument whose flag already exists fails every call that passes a flag
  (cmd/dagger/flags.go ``AddFlag``: "flag already exists").
"""

from __future__ import annotations

import re
import shlex
from typing import Any

OWNED_BY_DAGGER = frozenset(
    {
        # dagger call
        "output",
        "json",
        # module flags
        "mod",
        "no-mod",
        "allow-llm",
        "eager-runtime",
        "help",
        # global flags
        "workdir",
        "verbose",
        "quiet",
        "silent",
        "debug",
        "progress",
        "lock",
        "interactive",
        "interactive-command",
        "web",
        "no-exit",
        "auto-apply",
        "x-release",
        "dot-output",
        "dot-focus-field",
        "dot-show-internal",
        "cloud",
        "scale-out",
    }
)
SHORT_FLAGS_OF_DAGGER = frozenset("ojmMhvqsdiwEy")


def api_name(python_name: str) -> str:
    """lower camel case, as the engine stores a name the SDK registered."""
    first, *rest = python_name.strip("_").split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def cli_name(name: str) -> str:
    """kebab case, as the CLI derives a flag or a command from an API name."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", api_name(name)).lower()


def commands(functions: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Each function's command name and its flags, each flag with whether it is boolean."""
    return {
        cli_name(name): {
            cli_name(arg): spec["type"] == "<class 'bool'>"
            for arg, spec in function["args"].items()
        }
        for name, function in functions.items()
    }


def _command_text(text: str, match: re.Match[str]) -> str:
    """The rest of the command ``match`` starts: its line, or the ``$( )`` it sits in."""
    inside = text[: match.start()].endswith("$(")
    depth, end = int(inside), match.end()
    while end < len(text):
        if text.startswith("$(", end):
            depth, end = depth + 1, end + 2
            continue
        if text[end] == ")" and depth:
            depth -= 1
            if inside and not depth:
                break
        if text[end] == "\n" and text[end - 1] != "\\":
            break
        end += 1
    return text[match.end() : end].replace("\\\n", " ")


# `dagger call`, also as `dagger -m MODULE call` (this module run from another folder).
CALL = re.compile(r"\bdagger(?:\s+(?:-m|--mod)(?:=|\s+)\S+)?\s+call\b")


def dagger_calls(markdown: str) -> list[list[str]]:
    """The words after ``dagger [-m MODULE] call`` of every example in the code blocks."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", markdown, flags=re.DOTALL)
    calls = []
    for block in blocks:
        for match in CALL.finditer(block):
            text = _command_text(block, match)
            calls.append(shlex.split(text, comments=True))
    return calls


def check_call(words: list[str], known: dict[str, dict[str, bool]]) -> str:
    """The function a call runs, after checking every flag it passes exists; else raise."""
    function = ""
    flags: dict[str, bool] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-"):
            if function:
                break  # a call chained on the result, e.g. `export --path`
            function = word
            if function not in known:
                msg = f"`dagger call {function}`: the module has no such function"
                raise AssertionError(msg)
            flags = known[function]
            continue
        name = word.lstrip("-").split("=", 1)[0]
        if name in OWNED_BY_DAGGER or (len(name) == 1 and name in SHORT_FLAGS_OF_DAGGER):
            continue
        if name not in flags:
            msg = f"`dagger call {function or ''} --{name}`: no such argument"
            raise AssertionError(msg)
        if not flags[name] and "=" not in word:
            index += 1  # the flag's value
    if not function:
        msg = f"`dagger call {' '.join(words)}`: no function named"
        raise AssertionError(msg)
    return function
