"""The docker-credential-helpers protocol: ask ``docker-credential-NAME get`` for one server.

Docker keeps secrets out of its config file by delegating to such helpers (``pass``,
``secretservice``, ``osxkeychain``, ``ecr-login``, ``gcloud``, ...); reading them the same
way lets the core use whatever ``docker login`` stored, with no password on any command
line. Protocol: the server URL on stdin; ``{"Username": ..., "Secret": ...}`` on stdout;
on failure a message on stdout and a non-zero exit.
"""

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Final

from pydantic import SecretStr

from metrics_api.oci.errors import AuthenticationError, InvalidInputError, Remedy

PROGRAM_PREFIX: Final = "docker-credential-"
# The exact message of docker-credential-helpers' ErrCredentialsNotFound: not an error.
NOT_FOUND_MESSAGE: Final = "credentials not found in native keychain"
# A helper may wait for a keyring to unlock; a hung one must not run forever (a job that
# stops waiting for it, at its deadline or an interrupt, leaves it running in its thread).
HELPER_TIMEOUT: Final = 120.0
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MESSAGE_LIMIT: Final = 300


@dataclass(frozen=True)
class HelperAnswer:
    """What a helper stored for a server: a username and a secret."""

    username: str
    secret: SecretStr


def program_name(helper: str, source: str) -> str:
    """``docker-credential-NAME`` for a helper name from the Docker config (``source``)."""
    if not _NAME.fullmatch(helper):
        raise InvalidInputError(
            f"expected a credential helper name like 'pass' or 'ecr-login' in {source}, "
            f"found {helper!r}; fix the Docker config"
        )
    return PROGRAM_PREFIX + helper


def ask_helper(helper: str, server_url: str, *, host: str, source: str) -> HelperAnswer | None:
    """Run ``docker-credential-HELPER get`` for ``server_url``; None when it has nothing.

    ``host`` is the registry the credentials are for; ``source`` says where the helper was
    configured (for example ``credHelpers in /root/.docker/config.json``), so every error
    names what was tried. No error quotes what the helper printed on success: the secret.
    """
    program = program_name(helper, source)
    path = shutil.which(program)
    if path is None:
        raise AuthenticationError(
            f"credentials for {server_url}: {source} names the credential helper {helper!r}, "
            f"but `{program}` is not installed or not on PATH; install it, or change {source}",
            remedy=Remedy.CREDENTIALS,
            host=host,
        )
    try:
        done = subprocess.run(  # noqa: S603 - the helper the user configured, as Docker runs it
            [path, "get"],
            input=server_url.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AuthenticationError(
            f"credentials for {server_url}: `{program} get` ({source}) did not answer within "
            f"{HELPER_TIMEOUT:g} s; check that its keyring is unlocked"
        ) from None
    if done.returncode != 0:
        message = done.stdout.decode(errors="replace").strip()
        if message == NOT_FOUND_MESSAGE:
            return None
        detail = message or done.stderr.decode(errors="replace").strip()
        raise AuthenticationError(
            f"credentials for {server_url}: `{program} get` ({source}) failed with exit code "
            f"{done.returncode}: {detail[-_MESSAGE_LIMIT:] or 'no message'}",
            remedy=Remedy.CREDENTIALS,
            host=host,
        )
    return _parse_answer(done.stdout, program, server_url, source)


def _parse_answer(stdout: bytes, program: str, server_url: str, source: str) -> HelperAnswer | None:
    """The helper's JSON; empty Username and Secret mean "nothing stored", as in Docker."""
    try:
        document = json.loads(stdout)
    except ValueError:
        document = None
    username = document.get("Username") if isinstance(document, dict) else None
    secret = document.get("Secret") if isinstance(document, dict) else None
    if not isinstance(username, str) or not isinstance(secret, str):
        raise AuthenticationError(
            f"credentials for {server_url}: expected `{program} get` ({source}) to print JSON "
            'with string "Username" and "Secret", found something else (not shown: it may '
            "hold a secret)"
        )
    if not username and not secret:
        return None
    return HelperAnswer(username=username, secret=SecretStr(secret))
