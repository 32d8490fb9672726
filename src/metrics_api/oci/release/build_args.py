"""What a published provenance says of each build argument, and which names look secret.

Anyone who can pull reads the provenance, so it shows the values only of the arguments this
module sets itself (VERSION, REVISION, SOURCE: the images' labels show them anyway). Any
other argument is recorded as the SHA-256 of its value: a rebuilder who has the values can
compare, and a re-run with the same values is still recognised as the same inputs. A name
that looks like a secret (the words BuildKit's SecretsUsedInArgOrEnv check looks for) gets
a warning: a digest of a short or guessable value can be reversed by trying values, and a
Dockerfile that uses the argument keeps it in the image's build history.
"""

import re
from collections.abc import Mapping
from hashlib import sha256
from typing import Final

STAMPED: Final = frozenset({"VERSION", "REVISION", "SOURCE"})
SECRET_WORDS: Final = frozenset(
    {"apikey", "auth", "credential", "credentials", "key", "pass", "passwd", "password"}
    | {"pword", "secret", "token"}
)


def public_source(url: str) -> str:
    """``url`` without what may be secret in it: a user, a password, a query, a fragment.

    Cut at the last ``@`` before the path rather than parsed: a password holding ``/`` or
    ``?`` makes a parser take it for the path, and the secret would be kept.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    rest = rest.rpartition("@")[2].split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}{separator}{rest}"


def recorded_build_args(arguments: Mapping[str, str]) -> dict[str, str]:
    """The arguments as the provenance records them: stamped values, others' digests."""
    return {name: _recorded(name, value) for name, value in arguments.items()}


def _recorded(name: str, value: str) -> str:
    if name == "SOURCE":
        return public_source(value)
    return value if name in STAMPED else f"sha256:{sha256(value.encode()).hexdigest()}"


def looks_secret(name: str) -> bool:
    """Whether ``name`` has a word secrets are named with (``NPM_TOKEN``, ``apiKey``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    words = set(re.split(r"[^a-z0-9]+", spaced))
    return "public" not in words and bool(words & SECRET_WORDS)


def secret_warnings(names: list[str]) -> list[str]:
    """One warning per build argument whose name looks like a secret."""
    return [
        f"warning: build argument {name} looks like a secret: its value is not published "
        "(the provenance records its SHA-256, which a short or guessable value does not "
        "hide), but a Dockerfile that uses it keeps it in the image's history; pass secrets "
        "to builds as secret mounts, never as build arguments"
        for name in names
        if looks_secret(name)
    ]
