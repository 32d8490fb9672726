"""``python -m metrics_api.oci``: the core's jobs for CI systems without Dagger.

Exit 0 only when everything held. Otherwise one clear line on stderr and a non-zero
code: 2 for bad input, 1 for anything else. ``--json`` prints one JSON object on stdout.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence

import anyio
from pydantic import SecretStr

from metrics_api.oci import jobs
from metrics_api.oci.attestations import MODES, keep_attestations
from metrics_api.oci.auth import Credentials
from metrics_api.oci.errors import InvalidInputError, OciError, Remedy, render
from metrics_api.oci.reference import parse_reference
from metrics_api.oci.reports import AssembleReport, VariantReport, VerificationReport

# What each remedy of the core means on this command line.
HINTS = {
    Remedy.PLAIN_HTTP: "if {host} serves plain HTTP, pass --insecure-registry {host}",
    Remedy.CREDENTIALS: (
        "pass --username with the password in $REGISTRY_PASSWORD (or the variable named by "
        "--password-env), or run `docker login {host}`"
    ),
    Remedy.FORCE: "pass --force to move the release tag, or release under a new version",
    Remedy.DEADLINE: "check the registry, or raise --deadline",
    Remedy.LEDGER: "pass --expect PLATFORM=DIGEST for each platform",
    Remedy.VARIANTS: "pass --variant PLATFORM=REF for each platform",
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    common.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="talk plain HTTP to HOST[:PORT] (loopback registries always are)",
    )
    common.add_argument(
        "--username",
        help="username for the target's registry (other registries: the Docker config file)",
    )
    common.add_argument(
        "--password-env",
        default="REGISTRY_PASSWORD",
        metavar="VAR",
        help="environment variable holding the password (default: REGISTRY_PASSWORD)",
    )
    common.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole job")
    common.add_argument(
        "--request-timeout", type=float, default=30.0, help="seconds for one HTTP request"
    )
    parser = argparse.ArgumentParser(
        prog="python -m metrics_api.oci",
        description="Assemble, publish and verify multi-platform OCI indexes by digest.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    resolve = commands.add_parser(
        "resolve", parents=[common], help="show the image manifest a variant provides"
    )
    resolve.add_argument("reference")
    resolve.add_argument("--platform", required=True, help="os/architecture[/variant]")
    assemble = commands.add_parser(
        "assemble", parents=[common], help="assemble, push by digest, verify, then tag"
    )
    assemble.add_argument("target", help="REGISTRY/REPOSITORY:TAG to release")
    assemble.add_argument(
        "--variant", action="append", required=True, metavar="PLATFORM=REF", help="repeatable"
    )
    assemble.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="PLATFORM=DIGEST",
        help="the image digest recorded when that variant was pushed",
    )
    assemble.add_argument("--annotation", action="append", default=[], metavar="KEY=VALUE")
    assemble.add_argument("--force", action="store_true", help="move a tag that points elsewhere")
    assemble.add_argument(
        "--attestations",
        choices=MODES,
        default="drop",
        help="keep: carry each variant's provenance/SBOM attestation manifests into the index, "
        "right after its image; drop (default): the platform images only",
    )
    assemble.add_argument("--dry-run", action="store_true", help="print the index, push nothing")
    verify = commands.add_parser(
        "verify", parents=[common], help="check a published index against a digest ledger"
    )
    verify.add_argument("target", help="REGISTRY/REPOSITORY:TAG (or @DIGEST) to check")
    verify.add_argument("--expect", action="append", required=True, metavar="PLATFORM=DIGEST")
    return parser


def _settings(args: argparse.Namespace, reference: str) -> jobs.Settings:
    """Settings with ``--username`` credentials for the registry of ``reference`` only."""
    credentials: dict[str, Credentials] = {}
    if args.username:
        password = os.environ.get(args.password_env)
        if not password:
            raise InvalidInputError(
                f"--username was given, so expected the password in ${args.password_env}, "
                "found it unset or empty; export it (never pass a password as an argument)"
            )
        host = parse_reference(reference).host
        credentials[host] = Credentials(username=args.username, password=SecretStr(password))
    return jobs.Settings(
        insecure_registries=frozenset(args.insecure_registry),
        credentials=credentials,
        request_timeout=args.request_timeout,
        deadline=args.deadline,
    )


async def _run(args: argparse.Namespace) -> VariantReport | AssembleReport | VerificationReport:
    if args.command == "resolve":
        async with jobs.open_client(_settings(args, args.reference)) as client:
            return await jobs.resolve(client, args.reference, args.platform)
    if args.command == "verify":
        ledger = [jobs.parse_expectation(text) for text in args.expect]
        async with jobs.open_client(_settings(args, args.target)) as client:
            return await jobs.verify(client, args.target, ledger)
    requests = jobs.parse_requests(args.variant, args.expect)
    annotations = dict(jobs.parse_annotation(text) for text in args.annotation)
    async with jobs.open_client(_settings(args, args.target)) as client:
        return await jobs.assemble(
            client,
            args.target,
            requests,
            annotations=annotations,
            source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"),
            force=args.force,
            dry_run=args.dry_run,
            keep_attestations=keep_attestations(args.attestations),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        report = anyio.run(_run, args)
    except OciError as error:
        message = render(error, HINTS)
        if args.json:
            print(json.dumps({"ok": False, "error": message, "digest": None, "entries": []}))
        print(f"error: {message}", file=sys.stderr)
        return 2 if isinstance(error, InvalidInputError) else 1
    print(json.dumps(report.model_dump(mode="json"), indent=2) if args.json else report.text())
    if isinstance(report, VerificationReport) and not report.ok:
        failed = ", ".join(check.name for check in report.failures())
        print(f"error: verification failed: {failed}", file=sys.stderr)
        return 1
    return 0
