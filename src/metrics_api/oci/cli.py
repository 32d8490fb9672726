"""``metrics-oci`` (also ``python -m metrics_api.oci``): the core's jobs for CI without Dagger.

Exit 0 only when everything held. Otherwise one clear line on stderr and a non-zero
code: 2 for bad input (caught before any request), 1 for anything else, 128 + the signal
when interrupted (130 for Ctrl-C, 143 for a CI system's SIGTERM). ``--json`` prints one
JSON object on stdout, on failure too.
"""

import argparse
import asyncio
import gc
import json
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import NoReturn

import anyio
from pydantic import SecretStr

from metrics_api.oci import jobs
from metrics_api.oci.concurrency import DaemonThreads, first_leaf
from metrics_api.oci.errors import Hints, InvalidInputError, OciError, Remedy
from metrics_api.oci.interrupts import INTERRUPTS
from metrics_api.oci.registry.auth import Credentials
from metrics_api.oci.registry.session import Settings, open_client
from metrics_api.oci.registry.transport import ClientStats
from metrics_api.oci.registry.trust import trust_context
from metrics_api.oci.release.attestations import MODES, keep_attestations
from metrics_api.oci.release.reports import AssembleReport, VariantReport, VerificationReport
from metrics_api.oci.signing.keys import PublicKey, SigningKey, load_public_keys, load_signing_key
from metrics_api.oci.spec.reference import parse_reference

PROG = "metrics-oci"
MODULE_PROG = "python -m metrics_api.oci"
HELP_WIDTH = 96  # fixed, so that `--help` reads the same everywhere (README shows it)
EXIT_USAGE = 2

# What each remedy of the core means on this command line.
HINTS = Hints(
    remedies={
        Remedy.PLAIN_HTTP: "if {host} serves plain HTTP, pass --insecure-registry {host}",
        Remedy.TRUST: (
            "pass --ca-file with the PEM certificate of that authority, or add it to this "
            "machine's trust store (update-ca-certificates)"
        ),
        Remedy.CREDENTIALS: (
            "pass --username with the password in $REGISTRY_PASSWORD (or the variable named "
            "by --password-env), or run `docker login {host}`"
        ),
        Remedy.FORCE: "pass --force to move the tags named, or release under a new version",
        Remedy.DEADLINE: "check the registry, or raise --deadline",
        Remedy.LEDGER: (
            "pass --expect PLATFORM=DIGEST for each platform, or --public-key to verify "
            "by the publisher's key alone"
        ),
        Remedy.VARIANTS: "pass --variant PLATFORM=REF for each platform",
    },
    # --username only reaches the registry of the command's reference.
    other_credentials=(
        "run `docker login {host}`, or add {host} to the config.json in $DOCKER_CONFIG"
    ),
)

DESCRIPTION = f"""\
Assemble per-platform images into one multi-platform OCI index by digest, publish it
safely (pushed by digest, verified, only then tagged), and verify published indexes.
The same program runs as `{PROG}` and as `{MODULE_PROG}`."""

EPILOG = """\
exit codes:
  0    everything held
  1    a registry failed or refused, verification failed, or the tag points elsewhere
  2    bad input (an option, reference, platform, digest or annotation), before any request
  130  interrupted (Ctrl-C); the release tag is the last thing written
  143  stopped by SIGTERM (a CI system cancelling the job); as for 130

environment:
  REGISTRY_PASSWORD  the password for --username (or the variable --password-env names)
  DOCKER_CONFIG      directory of the config.json whose credHelpers, credsStore or auths
                     serve registries without --username (default: ~/.docker)
  SOURCE_DATE_EPOCH  seconds since 1970: the index's org.opencontainers.image.created
  SSL_CERT_FILE      CA bundle trusted for HTTPS registries instead of the system's store
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
                     proxies to reach registries through

`%(prog)s COMMAND --help` shows the options of a command and an example."""

RESOLVE_EXAMPLE = """\
example:
  %(prog)s registry.example.com/metrics-api:v2.0.0-arm64 \\
      --platform linux/arm64"""

ASSEMBLE_EXAMPLE = """\
example (the digests are those the pushes of the variants printed):
  %(prog)s registry.example.com/metrics-api:v2.0.0 \\
      --variant linux/amd64=registry.example.com/metrics-api:v2.0.0-amd64 \\
      --variant linux/arm64=registry.example.com/metrics-api:v2.0.0-arm64 \\
      --expect linux/amd64=sha256:4570... --expect linux/arm64=sha256:e948... \\
      --username ci        # the password in $REGISTRY_PASSWORD"""

VERIFY_EXAMPLE = """\
examples (with the publisher's ledger; as a consumer, by the publisher's key alone):
  %(prog)s registry.example.com/metrics-api:v2.0.0 \\
      --expect linux/amd64=sha256:4570... --expect linux/arm64=sha256:e948...
  %(prog)s registry.example.com/metrics-api:v2.0.0 --public-key cosign.pub"""


class UsageError(Exception):
    """The command line itself is malformed (what argparse complains about)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a malformed command line is one ``error:`` line, like any bad input."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting."""
        raise UsageError(f"{message}; see `{self.prog} --help`")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples keep their lines; a fixed width, so help reads the same on any terminal."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=HELP_WIDTH)


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (``nan``, ``inf``, 0 and -1 are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        message = f"expected a number of seconds greater than 0, found {text!r}"
        raise argparse.ArgumentTypeError(message)
    return value


def _version() -> str:
    try:
        return metadata.version("metrics-api")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _common() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout, on failure too"
    )
    common.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="talk plain HTTP to HOST[:PORT] (loopback registries always are); repeatable",
    )
    common.add_argument(
        "--ca-file",
        metavar="PATH",
        help="PEM certificates of authorities to trust for HTTPS registries, besides the "
        "system's trust store (a private registry's CA)",
    )
    common.add_argument(
        "--username",
        metavar="USER",
        help="username for the registry of the reference, with the password from "
        "--password-env; other registries: the Docker config file",
    )
    common.add_argument(
        "--password-env",
        default="REGISTRY_PASSWORD",
        metavar="VAR",
        help="environment variable holding the password (default: %(default)s)",
    )
    common.add_argument(
        "--deadline",
        type=_seconds,
        default=Settings.deadline,
        metavar="SECONDS",
        help="time for the whole job, retries included (default: %(default)g)",
    )
    common.add_argument(
        "--request-timeout",
        type=_seconds,
        default=Settings.request_timeout,
        metavar="SECONDS",
        help="time one request may wait for an answer; a request that gets none is tried "
        "twice (default: %(default)g)",
    )
    return common


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    resolve = commands.add_parser(
        "resolve",
        parents=[common],
        help="show the image manifest a variant provides for a platform",
        description="Show the image manifest a variant provides for a platform: a Docker 29\n"
        "index is unwrapped, and the image's own configuration must agree.",
        epilog=RESOLVE_EXAMPLE,
        formatter_class=_Formatter,
    )
    resolve.add_argument("reference", help="the variant: REGISTRY/REPOSITORY:TAG or @DIGEST")
    resolve.add_argument(
        "--platform",
        required=True,
        metavar="OS/ARCH[/VARIANT]",
        help="the platform it was built for: os/architecture[/variant]",
    )

    assemble = commands.add_parser(
        "assemble",
        parents=[common],
        help="assemble an index of the variants, push it by digest, verify it, then tag it",
        description="Assemble one index of the variants' image manifests, pinned by digest;\n"
        "push it by digest, verify it against the ledger, and only then tag it.",
        epilog=ASSEMBLE_EXAMPLE,
        formatter_class=_Formatter,
    )
    assemble.add_argument("target", help="REGISTRY/REPOSITORY:TAG to release")
    assemble.add_argument(
        "--variant",
        action="append",
        required=True,
        metavar="PLATFORM=REF",
        help="a variant and the platform it was built for; one per platform, repeatable",
    )
    assemble.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="PLATFORM=DIGEST",
        help="the digest recorded when that variant was pushed: its image's, or the index "
        "`docker push` printed; repeatable (without it, the checks can only compare the "
        "index with what this job resolved)",
    )
    assemble.add_argument(
        "--annotation",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an annotation of the index; repeatable",
    )
    assemble.add_argument(
        "--force", action="store_true", help="move the tag if it points at another index"
    )
    assemble.add_argument(
        "--attestations",
        choices=MODES,
        default="drop",
        help="keep: carry each variant's provenance/SBOM attestation manifests into the index, "
        "right after its image; drop (default): the platform images only",
    )
    assemble.add_argument(
        "--dry-run", action="store_true", help="resolve and print the index, push nothing"
    )
    assemble.add_argument(
        "--signing-key",
        metavar="PATH",
        help="sign the index, each image and each attestation by digest with this key: "
        "cosign.key from `cosign generate-key-pair`, or a PEM EC P-256 private key",
    )
    assemble.add_argument(
        "--signing-password-env",
        default="COSIGN_PASSWORD",
        metavar="NAME",
        help="the environment variable that holds the signing key's password "
        "(default: COSIGN_PASSWORD, as cosign reads it)",
    )

    verify = commands.add_parser(
        "verify",
        parents=[common],
        help="check a published index against a digest ledger",
        description="Check a published index against the digests recorded when its variants\n"
        "were pushed (or, given only --public-key, against its own signed entries): each\n"
        "platform's entry, what a pulling client gets, no other entry, and every child.",
        epilog=VERIFY_EXAMPLE,
        formatter_class=_Formatter,
    )
    verify.add_argument("target", help="REGISTRY/REPOSITORY:TAG (or @DIGEST) to check")
    verify.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="PLATFORM=DIGEST",
        help="the digest recorded when that platform's variant was pushed (its image's, or "
        "the index `docker push` printed); one per platform, repeatable; without it, "
        "--public-key verifies by the key alone",
    )
    verify.add_argument(
        "--require-provenance",
        action="store_true",
        help="fail unless each platform has exactly one SLSA provenance attestation about "
        "its image (without it, provenance is reported when the index has attestations)",
    )
    verify.add_argument(
        "--require-sbom",
        action="store_true",
        help="fail unless each platform has exactly one SPDX SBOM attestation about its image "
        "that reads as SPDX 2.3 and lists packages (without it, an SBOM is reported when the "
        "index has attestations)",
    )
    verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="PATH",
        help="require a signature by this key (cosign.pub) on the index and each image, and a "
        "signed provenance (and SBOM) attestation on each image that has one; repeatable: any "
        "of the keys will do",
    )
    return parser


def _settings(args: argparse.Namespace, reference: str) -> Settings:
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
    return Settings(
        insecure_registries=frozenset(args.insecure_registry),
        credentials=credentials,
        request_timeout=args.request_timeout,
        deadline=args.deadline,
        ca_certificates=_ca_certificates(args.ca_file),
    )


def _login_host(args: argparse.Namespace) -> str:
    """The registry ``--username`` goes to: the one of the command's reference."""
    try:
        return parse_reference(args.reference if args.command == "resolve" else args.target).host
    except InvalidInputError:
        return ""


def _ca_certificates(path: str | None) -> str:
    """The PEM text of ``--ca-file``, checked before any request."""
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


def _read(path: str, flag: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise InvalidInputError(
            f"expected {flag} to name a readable file with {what}, found {path!r} "
            f"({error.strerror or error}); check the path"
        ) from None


def _signing_key(args: argparse.Namespace) -> SigningKey | None:
    """The ``--signing-key``, opened with its password, checked before any request."""
    if not args.signing_key:
        return None
    data = _read(args.signing_key, "--signing-key", "a private key")
    password = os.environ.get(args.signing_password_env)
    return load_signing_key(
        data,
        password,
        where=f"--signing-key {args.signing_key}",
        given_in=f"${args.signing_password_env}",
    )


def _public_keys(paths: Sequence[str]) -> list[PublicKey]:
    """Every key of every ``--public-key`` file."""
    keys = []
    for path in paths:
        data = _read(path, "--public-key", "a PEM public key")
        keys.extend(load_public_keys(data, f"--public-key {path}"))
    return keys


async def _run(
    args: argparse.Namespace, stats: ClientStats
) -> VariantReport | AssembleReport | VerificationReport:
    if args.command == "resolve":
        async with open_client(_settings(args, args.reference), stats) as client:
            return await jobs.resolve(client, args.reference, args.platform)
    if args.command == "verify":
        ledger = jobs.parse_ledger(args.expect)
        public_keys = _public_keys(args.public_key)
        async with open_client(_settings(args, args.target), stats) as client:
            return await jobs.verify(
                client,
                args.target,
                ledger,
                require_provenance=args.require_provenance,
                require_sbom=args.require_sbom,
                public_keys=public_keys,
            )
    requests = jobs.parse_requests(args.variant, args.expect)
    annotations = jobs.parse_annotations(args.annotation)
    signer = _signing_key(args)
    async with open_client(_settings(args, args.target), stats) as client:
        return await jobs.assemble(
            client,
            args.target,
            requests,
            annotations=annotations,
            source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"),
            force=args.force,
            dry_run=args.dry_run,
            keep_attestations=keep_attestations(args.attestations),
            signer=signer,
        )


def _warn_unused_password(args: argparse.Namespace) -> None:
    """A password in the environment without ``--username`` is a mistake worth a line."""
    if not args.username and os.environ.get(args.password_env):
        print(
            f"warning: ${args.password_env} is set but --username is not, so the password is "
            "not used; pass --username to log in with it",
            file=sys.stderr,
        )


class _Interrupted(Exception):  # noqa: N818 - a signal received, not an error
    """SIGINT or SIGTERM: a person's Ctrl-C, or a CI system cancelling the job."""

    def __init__(self, received: signal.Signals) -> None:
        super().__init__(received.name)
        self.received = received


async def _run_until_interrupted(
    args: argparse.Namespace, stats: ClientStats
) -> VariantReport | AssembleReport | VerificationReport:
    """The job; cancelled at its next await by SIGINT or SIGTERM, even one that came first.

    Name lookups run in daemon threads (``DaemonThreads``), so a lookup the cancelled job
    was waiting for does not hold the process.
    """
    asyncio.get_running_loop().set_default_executor(DaemonThreads())
    if INTERRUPTS.received is not None:  # before the loop ran: send nothing
        raise _Interrupted(INTERRUPTS.received)
    reports: list[VariantReport | AssembleReport | VerificationReport] = []

    async def job(scope: anyio.CancelScope) -> None:
        reports.append(await _run(args, stats))
        scope.cancel()  # the watcher's

    async def watch() -> None:
        raise _Interrupted(await INTERRUPTS.wait())

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(watch)
            group.start_soon(job, group.cancel_scope)
    except BaseExceptionGroup as failures:
        raise first_leaf(failures) from None
    return reports[0]


def _interrupted(command: str, signal_name: str) -> str:
    if command == "assemble":
        return (
            f"interrupted ({signal_name}) before the job finished; the release tag is the last "
            "thing written, so it is as it was unless tagging had begun: run the command again"
        )
    return f"interrupted ({signal_name}) before the job finished; nothing was written"


def _fail(
    message: str, code: int, *, as_json: bool, stats: ClientStats | None, elapsed: float
) -> int:
    if as_json:
        failure = {"ok": False, "error": message, "digest": None, "entries": []}
        if stats is not None:
            failure |= {"requests": stats.requests, "retries": stats.retries}
        print(json.dumps({**failure, "elapsed": round(elapsed, 3)}))
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run one command; return the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    try:
        args = _parser(prog).parse_args(arguments)
    except UsageError as error:
        elapsed = time.monotonic() - started
        return _fail(
            str(error), EXIT_USAGE, as_json="--json" in arguments, stats=None, elapsed=elapsed
        )
    _warn_unused_password(args)
    stats = ClientStats()
    try:
        with INTERRUPTS.caught():
            report = anyio.run(_run_until_interrupted, args, stats)
    except OciError as error:
        code = EXIT_USAGE if isinstance(error, InvalidInputError) else 1
        elapsed = time.monotonic() - started
        message = HINTS.render(error, _login_host(args))
        return _fail(message, code, as_json=args.json, stats=stats, elapsed=elapsed)
    except (KeyboardInterrupt, _Interrupted) as interrupt:
        elapsed = time.monotonic() - started
        received = interrupt.received if isinstance(interrupt, _Interrupted) else signal.SIGINT
        message = _interrupted(args.command, received.name)
        return _fail(message, 128 + received, as_json=args.json, stats=stats, elapsed=elapsed)
    elapsed = time.monotonic() - started
    if args.json:
        print(
            json.dumps({**report.model_dump(mode="json"), "elapsed": round(elapsed, 3)}, indent=2)
        )
    else:
        print(report.text())
    if isinstance(report, VerificationReport) and not report.ok:
        failed = ", ".join(check.name for check in report.failures())
        print(f"error: verification failed: {failed}", file=sys.stderr)
        return 1
    return 0


def run(prog: str = PROG) -> NoReturn:
    """The process: ``main``, then exit without the shutdown's garbage collections.

    The interpreter's shutdown collects every object still alive, the modules a job loaded
    included: about 50 ms of CPU for a process that is ending anyway. Frozen objects are
    exempt; everything that must happen at exit has happened by then.

    SIGINT and SIGTERM are handled from here to the exit (``python -m`` installs the
    handler earlier still), so one that comes before the job is heard as well.
    """
    INTERRUPTS.install()
    code = main(prog=prog)
    gc.freeze()
    sys.exit(code)
