"""The base images a Dockerfile builds on, read as BuildKit reads them, without building.

Provenance names each base image a variant was built from; the builder resolves them but
does not report them, so they are read here from the Dockerfile: its ``FROM`` lines, with
the ``ARG``s declared before the first ``FROM`` (overridden by build arguments) substituted
as BuildKit's parser and shell lexer do (frontend/dockerfile/parser and shell/lex.go).
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from metrics_api.oci.errors import InvalidInputError

SCRATCH = "scratch"  # the empty image: nothing is pulled
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"(?:^|\s)\d*<<(-?)([\"']?)([^\s\"'<]+)\2")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEREDOC_INSTRUCTIONS = {"run", "copy", "add"}


def base_images(
    dockerfile_text: str, build_args: Mapping[str, str], *, platform: str = ""
) -> list[str]:
    """The images the ``FROM`` lines name, in order, each once: what a build pulls.

    ``scratch`` and earlier stages (``FROM build``) are left out; so is nothing else, even
    a stage a build of the last one would not reach. ``platform`` (``linux/arm64``) gives
    the ``TARGET*`` arguments a ``FROM`` may name, as the builder predefines them.
    """
    images: list[str] = []
    for name, external in _froms(dockerfile_text, build_args, platform):
        if external and name not in images:
            images.append(name)
    return images


def final_base(
    dockerfile_text: str, build_args: Mapping[str, str], *, platform: str = ""
) -> str | None:
    """The image the last stage starts from: its layers are not the build's own.

    None when the last stage starts from ``scratch`` or from an earlier stage.
    """
    froms = list(_froms(dockerfile_text, build_args, platform))
    if not froms:
        return None
    name, external = froms[-1]
    return name if external else None


def pin_bases(
    dockerfile_text: str,
    build_args: Mapping[str, str],
    pins: Mapping[str, str],
    *,
    platform: str = "",
) -> str:
    """The Dockerfile with each ``FROM`` of an image in ``pins`` naming it ``IMAGE@DIGEST``.

    A rebuild starts from the base images a provenance recorded, not from what their tags
    name today. Only single-line ``FROM`` instructions are rewritten; any other layout is
    refused rather than guessed at.
    """
    froms = list(_froms(dockerfile_text, build_args, platform))
    lines = dockerfile_text.splitlines(keepends=True)
    at = [number for number, line in enumerate(lines) if _FROM_LINE.match(line)]
    continued = any(lines[number].rstrip().endswith(("\\", "`")) for number in at)
    if len(at) != len(froms) or continued:
        raise InvalidInputError(
            f"expected each FROM of the Dockerfile on a line of its own, found {len(froms)} "
            f"FROM instructions on {len(at)} such lines; write each FROM on one line"
        )
    for number, (name, external) in zip(at, froms, strict=True):
        if not external or name not in pins:
            continue
        line = lines[number]
        image, _ = _from_words(line.split(maxsplit=1)[1])
        lines[number] = line.replace(image, f"{name.partition('@')[0]}@{pins[name]}", 1)
    return "".join(lines)


def _froms(
    dockerfile_text: str, build_args: Mapping[str, str], platform: str
) -> Iterator[tuple[str, bool]]:
    """Each ``FROM``'s image, substituted, and whether it is an image (not scratch, a stage)."""
    escape, instructions = _instructions(dockerfile_text)
    env = _platform_args(platform, build_args)
    stages: set[str] = set()
    seen_from = False
    for keyword, arguments in instructions:
        if keyword == "arg" and not seen_from:
            for name, default in _arg_pairs(arguments, escape):
                if name in build_args:
                    env[name] = build_args[name]
                elif default is not None:
                    env[name] = _Lexer(default, env, escape).word()
        elif keyword == "from":
            seen_from = True
            written, stage = _from_words(arguments)
            name = _Lexer(written, env, escape).word()
            if not name:
                raise InvalidInputError(
                    f"expected an image in FROM {arguments.strip()!r}, found an empty name "
                    "once its arguments are substituted (give the argument a value)"
                )
            yield name, name != SCRATCH and name.lower() not in stages
            if stage:
                stages.add(stage.lower())


def _platform_args(platform: str, build_args: Mapping[str, str]) -> dict[str, str]:
    """The builder's predefined ``TARGET*`` arguments for ``platform``; build args win."""
    if not platform:
        return {}
    os, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    predefined = {
        "TARGETPLATFORM": platform,
        "TARGETOS": os,
        "TARGETARCH": arch,
        "TARGETVARIANT": variant,
    }
    return {name: build_args.get(name, value) for name, value in predefined.items()}


def _instructions(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The escape character and each instruction (lower-case keyword, its arguments).

    Comment lines go, inside a continuation too; a continuation joins lines ending in the
    escape character; heredoc bodies (``RUN <<EOF``) are skipped, never read as lines.
    """
    escape, lines = _directives(text.removeprefix("\ufeff").splitlines())
    instructions: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        joined, ended = _trim_continuation(line, escape)
        while not ended and (following := next(lines, None)) is not None:
            following = following.lstrip()
            if following and not following.startswith("#"):
                part, ended = _trim_continuation(following, escape)
                joined += part
        if not joined.strip():
            continue
        keyword, *rest = joined.split(maxsplit=1)
        arguments = rest[0] if rest else ""
        instructions.append((keyword.lower(), arguments))
        if keyword.lower() in _HEREDOC_INSTRUCTIONS:
            for chomp, _, terminator in _HEREDOC.findall(arguments):
                _skip_heredoc(lines, terminator, chomp=bool(chomp))
    return escape, instructions


def _directives(lines: list[str]) -> tuple[str, Iterator[str]]:
    """The escape character (``# escape=``` `` directive at the top), and the lines after."""
    escape = "\\"
    at = 0
    while at < len(lines) and (directive := _DIRECTIVE.match(lines[at].lstrip())):
        if directive[1].lower() == "escape" and directive[2] in {"\\", "`"}:
            escape = directive[2]
        at += 1
    return escape, iter(lines[at:])


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """The line without a trailing escape character, and whether the instruction ends."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape) and not stripped.endswith(escape * 2):
        return stripped[:-1], False
    return line, True


def _skip_heredoc(lines: Iterator[str], terminator: str, *, chomp: bool) -> None:
    """Consume a heredoc's body up to its terminator line."""
    for line in lines:
        if (line.lstrip("\t") if chomp else line) == terminator:
            return


def _arg_pairs(arguments: str, escape: str) -> list[tuple[str, str | None]]:
    """``ARG A=1 B`` as (name, raw default or None) pairs."""
    pairs: list[tuple[str, str | None]] = []
    for word in _split_words(arguments, escape):
        name, sep, default = word.partition("=")
        pairs.append((name, default if sep else None))
    return pairs


def _split_words(text: str, escape: str) -> list[str]:
    """Split on blanks outside quotes; quotes and escapes stay for the lexer."""
    words: list[str] = []
    current = ""
    quote = ""
    chars = iter(text)
    for char in chars:
        if char == escape and quote != "'":
            current += char + next(chars, "")
        elif quote:
            current += char
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
            current += char
        elif char in " \t":
            if current:
                words.append(current)
            current = ""
        else:
            current += char
    if current:
        words.append(current)
    return words


def _from_words(arguments: str) -> tuple[str, str]:
    """``[--platform=P] IMAGE [AS NAME]``: the image as written, and the stage's name."""
    words = [word for word in arguments.split() if not word.startswith("--")]
    if len(words) == 1:
        return words[0], ""
    if len(words) == 3 and words[1].lower() == "as":  # noqa: PLR2004 - IMAGE AS NAME
        return words[0], words[2]
    raise InvalidInputError(
        f"expected FROM IMAGE [AS NAME] in a Dockerfile, found FROM {arguments.strip()!r}"
    )


_FROM_LINE = re.compile(r"^\s*FROM\s+\S", re.IGNORECASE)


@dataclass
class _Lexer:
    """BuildKit's word processing (shell/lex.go) for one word: quotes, escapes, variables."""

    text: str
    env: Mapping[str, str]
    escape: str
    at: int = 0

    def word(self) -> str:
        """The whole text, processed."""
        return self._until(frozenset())

    def _peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def _take(self) -> str:
        char = self._peek()
        self.at += 1
        return char

    def _until(self, stops: frozenset[str]) -> str:
        """Process up to (not past) a character of ``stops``, or the end."""
        out = ""
        while self._peek() and self._peek() not in stops:
            char = self._take()
            if char == self.escape:
                out += self._take()
            elif char == "'":
                out += self._single_quoted()
            elif char == '"':
                out += self._double_quoted()
            elif char == "$":
                out += self._variable()
            else:
                out += char
        return out

    def _single_quoted(self) -> str:
        end = self.text.find("'", self.at)
        if end < 0:
            raise self._error("an unmatched single quote")
        literal, self.at = self.text[self.at : end], end + 1
        return literal

    def _double_quoted(self) -> str:
        out = ""
        while True:
            char = self._take()
            if not char:
                raise self._error("an unmatched double quote")
            if char == '"':
                return out
            if char == self.escape and self._peek() in {'"', "$", self.escape}:
                out += self._take()
            elif char == "$":
                out += self._variable()
            else:
                out += char

    def _variable(self) -> str:
        """``$NAME`` or ``${...}``; a ``$`` before no name is itself."""
        if self._peek() == "{":
            self.at += 1
            return self._braced()
        name = _NAME.match(self.text, self.at)
        if name is None:
            return "$"
        self.at = name.end()
        return self.env.get(name[0], "")

    def _braced(self) -> str:
        """``${NAME}``, ``${NAME:-word}``, ``${NAME-word}``, ``:+``, ``+``, ``:?``, ``?``."""
        name = _NAME.match(self.text, self.at)
        if name is None:
            raise self._error("a ${...} without a variable name")
        self.at = name.end()
        value = self.env.get(name[0])
        if not self._peek():
            raise self._error("a ${ without its }")
        if self._peek() == "}":
            self.at += 1
            return value or ""
        colon = self._peek() == ":"
        self.at += colon
        modifier = self._take()
        if modifier not in {"-", "+", "?"}:
            raise self._error(f"an unsupported modifier {modifier!r} in ${{{name[0]}...}}")
        word = self._until(frozenset("}"))
        if self._take() != "}":
            raise self._error("a ${ without its }")
        unset = value is None or (colon and not value)
        if modifier == "-":
            return word if unset else value or ""
        if modifier == "+":
            return "" if unset else word
        if unset:
            raise self._error(f"{name[0]} is not set: {word or 'a value is required'}")
        return value or ""

    def _error(self, what: str) -> InvalidInputError:
        return InvalidInputError(f"expected a Dockerfile word, found {what} in {self.text!r}")
