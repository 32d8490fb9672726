"""Expected failures of the Dagger functions: one message, in these functions' flags."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import dagger
from dagger._exceptions import QueryErrorValue
from dagger.mod._exceptions import FunctionError
from gql import GraphQLRequest

from metrics_api.oci.errors import Hints, InvalidInputError, OciError, Remedy
from metrics_api.oci.spec.reference import parse_reference


class PipelineError(FunctionError, dagger.QueryError):
    """A build, a push or the core failed; the message says which and what to do.

    The SDK shows a ``FunctionError`` without a traceback, which is right for an expected
    failure (any other exception is logged with its stack: dagger/mod/_module.py,
    ``Module.call``). It names the error's class before the message, except for an API
    error (a ``QueryError``), whose message it passes on as it is
    (dagger/mod/_exceptions.py, ``record_exception``): being both, the user reads the
    message alone, as from the command line.
    """

    def __new__(cls, message: str) -> Self:  # noqa: ARG004 - QueryError.__new__ reads errors
        """Skip ``QueryError.__new__``, which picks a subclass from the errors' extensions."""
        return Exception.__new__(cls)

    def __init__(self, message: str) -> None:
        """One error value holding the message, and no ``extra`` values for the SDK."""
        dagger.QueryError.__init__(self, [QueryErrorValue(message)], _NO_QUERY)
        self.extra = None


# A QueryError records the request that failed; these errors come from no request.
_NO_QUERY = GraphQLRequest("{ __typename }")

# What each remedy of the core means for these functions' arguments.
HINTS = Hints(
    remedies={
        Remedy.PLAIN_HTTP: "if {host} serves plain HTTP, pass --insecure-registries {host}",
        Remedy.TRUST: (
            "pass --ca-file with the PEM certificate of that authority (the module's "
            "container trusts only public ones)"
        ),
        Remedy.CREDENTIALS: (
            "pass --username and --password (e.g. env:REGISTRY_PASSWORD) for {host}, or a "
            "--docker-config whose auths hold {host}"
        ),
        Remedy.FORCE: "pass --force to move the tags named, or release under a new version",
        Remedy.DEADLINE: "check the registry, or raise --deadline",
        Remedy.LEDGER: (
            "pass --expect PLATFORM=DIGEST for each platform, or --public-key (or "
            "--certificate-identity with --certificate-oidc-issuer) to verify by the "
            "publisher's signature alone"
        ),
        Remedy.VARIANTS: "pass --variants PLATFORM=REF for each platform",
        Remedy.IDENTITY: (
            "pass --certificate-identity (or --certificate-identity-regexp) and "
            "--certificate-oidc-issuer"
        ),
    },
    # --username/--password only ever reach the registry of the call's own target.
    other_credentials="pass a --docker-config whose auths hold {host}",
)


@contextmanager
def core_errors(target: str = "") -> Iterator[None]:
    """The core's errors, raised as this interface words them.

    ``target``: what the call releases to or reads, whose registry --username reaches.
    """
    try:
        yield
    except OciError as error:
        raise PipelineError(HINTS.render(error, _host(target))) from error


def _host(reference: str) -> str:
    """The registry of a reference the user typed, or none while it does not parse."""
    try:
        return parse_reference(reference).host
    except InvalidInputError:
        return ""
