"""The command line's checks of its input, and the reads it may send once they pass.

None of them needs network code, so the command line runs them while the rest of its
modules load: for input that passed, the job's first reads go out on the connections
opened for it (``registry.early``) and their answers wait for the job. Bad input still
exits with 2 before any request: reads are only sent for input that passed every check
the job gets before its first request.
"""

import argparse
import os
from functools import cache
from pathlib import Path

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.inputs import (
    parse_annotations,
    parse_pinned,
    parse_platform_as,
    parse_requests,
    parse_target,
)
from metrics_api.oci.registry.trust import trust_context
from metrics_api.oci.spec.reference import Reference


def password(args: argparse.Namespace) -> str | None:
    """The password for ``--username`` from its environment variable; None without one."""
    if not args.username:
        return None
    found = os.environ.get(args.password_env)
    if not found:
        raise InvalidInputError(
            f"--username was given, so expected the password in ${args.password_env}, "
            "found it unset or empty; export it (never pass a password as an argument)"
        )
    return found


@cache
def ca_certificates(path: str | None) -> str:
    """The PEM text of ``--ca-file``, checked before any request.

    Read and checked once: the command line checks it early, and again as the job starts.
    """
    if not path:
        return ""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(
            f"expected --ca-file to name a readable PEM file, found {path!r} ({error})"
        ) from None
    trust_context(text, where=f"--ca-file {path}")
    return text


def signs(args: argparse.Namespace) -> bool:
    """Whether an assemble signs: by key, keyless, or with keyless's options."""
    return bool(args.signing_key or args.keyless or args.identity_token_env or args.trust_config)


def first_reads(args: argparse.Namespace) -> list[tuple[str, Reference]]:
    """The manifest requests a parsed command sends first: none unless its input passed.

    ``resolve`` reads its reference; ``assemble`` looks at its tag and reads each variant.
    An assemble that signs gets none: its keys are read by modules too heavy to load here.
    The checks are the job's own (``cli``), so the job refuses no input these accepted.
    """
    try:
        if args.command == "resolve":
            parse_platform_as(args.platform, "--platform")
            reads = [("GET", parse_pinned(args.reference, "the variant"))]
        elif args.command == "assemble" and not signs(args):
            requests = parse_requests(args.variant, args.expect, ("--variant", "--expect"))
            parse_annotations(args.annotation, "--annotation")
            reads = [("HEAD", parse_target(args.target))]
            reads += [("GET", request.reference) for request in requests]
        else:
            return []
        password(args)
        ca_certificates(args.ca_file)
    except InvalidInputError:
        return []  # the job refuses it, worded, once its modules are loaded
    return reads
