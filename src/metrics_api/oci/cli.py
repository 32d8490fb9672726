"""``metrics-oci`` (also ``python -m metrics_api.oci``): the core's jobs for CI without Dagger.

Exit 0 only when everything held. Otherwise one clear line on stderr and a non-zero
code: 2 for bad input (caught before any request), 1 for anything else, 128 + the signal
when interrupted (130 for Ctrl-C, 143 for a CI system's SIGTERM). ``--json`` prints one
JSON object on stdout, on failure too.
"""

import argparse
import asyncio
import atexit
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, NoReturn, TypeAlias

import anyio
from pydantic import SecretStr

from metrics_api.oci import cli_checks, inputs, jobs
from metrics_api.oci.cli_parser import PROG, UsageError, build_parser
from metrics_api.oci.concurrency import DaemonThreads, first_leaf
from metrics_api.oci.errors import Hints, InvalidInputError, OciError, Remedy
from metrics_api.oci.interrupts import INTERRUPTS
from metrics_api.oci.registry.auth import Credentials
from metrics_api.oci.registry.early import EarlyConnections
from metrics_api.oci.registry.proxies import Proxies
from metrics_api.oci.registry.session import Settings, run_in_client
from metrics_api.oci.registry.transport import ClientStats
from metrics_api.oci.release.attestations import keep_attestations
from metrics_api.oci.release.reports import VerificationReport
from metrics_api.oci.spec.reference import parse_reference

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from metrics_api.oci.registry.client import RegistryClient
    from metrics_api.oci.release.rebuild import RebuildReport
    from metrics_api.oci.release.reports import AssembleReport, VariantReport
    from metrics_api.oci.signing.bundle_check import KeylessVerification
    from metrics_api.oci.signing.keyless_store import KeylessSigning
    from metrics_api.oci.signing.keys import PublicKey, SigningKey

EXIT_USAGE = 2

Report: TypeAlias = "VariantReport | AssembleReport | VerificationReport | RebuildReport"

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
            "pass --expect PLATFORM=DIGEST for each platform, or --public-key (or "
            "--certificate-identity with --certificate-oidc-issuer) to verify by the "
            "publisher's signature alone"
        ),
        Remedy.VARIANTS: "pass --variant PLATFORM=REF for each platform",
        Remedy.IDENTITY: (
            "pass --certificate-identity (or --certificate-identity-regexp) and "
            "--certificate-oidc-issuer"
        ),
    },
    # --username only reaches the registry of the command's reference.
    other_credentials=(
        "run `docker login {host}`, or add {host} to the config.json in $DOCKER_CONFIG"
    ),
)


def _settings(args: argparse.Namespace, reference: str, early: EarlyConnections | None) -> Settings:
    """Settings with ``--username`` credentials for the registry of ``reference`` only."""
    credentials: dict[str, Credentials] = {}
    password = cli_checks.password(args)
    if password is not None:
        host = parse_reference(reference).host
        credentials[host] = Credentials(username=args.username, password=SecretStr(password))
    return Settings(
        insecure_registries=frozenset(args.insecure_registry),
        credentials=credentials,
        request_timeout=args.request_timeout,
        deadline=args.deadline,
        ca_certificates=cli_checks.ca_certificates(args.ca_file),
        proxies=Proxies.from_environment(),
        early_connections=early,
    )


def _login_host(args: argparse.Namespace) -> str:
    """The registry ``--username`` goes to: the one of the command's reference."""
    try:
        return parse_reference(args.reference if args.command == "resolve" else args.target).host
    except InvalidInputError:
        return ""


def _signing(args: argparse.Namespace) -> tuple["SigningKey | None", "KeylessSigning | None"]:
    """The assemble's signers, read only when asked for (their modules are the heaviest)."""
    if not cli_checks.signs(args):
        return None, None
    from metrics_api.oci.cli_signing import keyless_signing, signing_key  # noqa: PLC0415

    return signing_key(args), keyless_signing(args)


def _verifying(
    args: argparse.Namespace,
) -> tuple[list["PublicKey"], "KeylessVerification | None"]:
    """The keys and the identity a verification wants, read only when given."""
    wanted = (
        args.public_key,
        args.certificate_identity,
        args.certificate_identity_regexp,
        args.certificate_oidc_issuer,
        args.trust_config,
    )
    if not any(wanted):
        return [], None
    from metrics_api.oci.cli_signing import keyless_verification, public_keys  # noqa: PLC0415

    return public_keys(args.public_key), keyless_verification(args)


def _job(args: argparse.Namespace) -> tuple[str, "Callable[[RegistryClient], Awaitable[Report]]"]:
    """The command's job, its input checked, and the reference whose registry it logs in to."""
    if args.command == "resolve":
        platform = inputs.parse_platform_as(args.platform, "--platform")
        return args.reference, partial(jobs.resolve, reference=args.reference, platform=platform)
    if args.command == "compare":
        rebuilt = inputs.parse_rebuilt(args.rebuilt, "--rebuilt")
        return args.target, partial(jobs.compare, target=args.target, rebuilt=rebuilt)
    if args.command == "verify":
        ledger = inputs.parse_ledger(args.expect, "--expect")
        keys, identity = _verifying(args)
        return args.target, partial(
            jobs.verify,
            target=args.target,
            ledger=ledger,
            require_provenance=args.require_provenance,
            require_sbom=args.require_sbom,
            public_keys=keys,
            keyless=identity,
        )
    requests = inputs.parse_requests(args.variant, args.expect, ("--variant", "--expect"))
    annotations = inputs.parse_annotations(args.annotation, "--annotation")
    signer, keyless = _signing(args)
    return args.target, partial(
        jobs.assemble,
        target=args.target,
        requests=requests,
        annotations=annotations,
        source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"),
        force=args.force,
        dry_run=args.dry_run,
        keep_attestations=keep_attestations(args.attestations),
        signer=signer,
        keyless=keyless,
    )


async def _run(
    args: argparse.Namespace, stats: ClientStats, early: EarlyConnections | None
) -> Report:
    reference, job = _job(args)
    return await run_in_client(_settings(args, reference, early), stats, job)


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
    args: argparse.Namespace, stats: ClientStats, early: EarlyConnections | None
) -> Report:
    """The job; cancelled at its next await by SIGINT or SIGTERM, even one that came first.

    Name lookups run in daemon threads (``DaemonThreads``), so a lookup the cancelled job
    was waiting for does not hold the process.
    """
    asyncio.get_running_loop().set_default_executor(DaemonThreads())
    if INTERRUPTS.received is not None:  # before the loop ran: send nothing
        raise _Interrupted(INTERRUPTS.received)
    reports: list[Report] = []

    async def job(scope: anyio.CancelScope) -> None:
        reports.append(await _run(args, stats, early))
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


def _to_stdout(text: str) -> None:
    """``text`` on stdout; when its reader is gone (``| head``), a warning on stderr instead.

    How the job ended is still the exit code: a release that held does not fail because
    nothing read the rest of its report.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the rest goes nowhere
        print(
            "warning: stdout was closed before the report was written (broken pipe); the "
            "exit code still says how the job ended",
            file=sys.stderr,
        )


def _fail(
    message: str, code: int, *, as_json: bool, stats: ClientStats | None, elapsed: float
) -> int:
    if as_json:
        failure = {"ok": False, "error": message, "digest": None, "entries": []}
        if stats is not None:
            failure |= {"requests": stats.requests, "retries": stats.retries}
        _to_stdout(json.dumps({**failure, "elapsed": round(elapsed, 3)}))
    print(f"error: {message}", file=sys.stderr)
    return code


def main(
    argv: Sequence[str] | None = None,
    prog: str = PROG,
    *,
    parsed: argparse.Namespace | None = None,
    early: EarlyConnections | None = None,
) -> int:
    """Run one command; return the process exit code.

    ``parsed``: ``argv`` already parsed; ``early``: connections opened for it meanwhile.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    try:
        args = parsed if parsed is not None else build_parser(prog).parse(arguments)
    except UsageError as error:
        elapsed = time.monotonic() - started
        return _fail(
            str(error), EXIT_USAGE, as_json="--json" in arguments, stats=None, elapsed=elapsed
        )
    _warn_unused_password(args)
    stats = ClientStats()
    try:
        with INTERRUPTS.caught():
            report = anyio.run(_run_until_interrupted, args, stats, early)
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
        dumped = {**report.model_dump(mode="json"), "elapsed": round(elapsed, 3)}
        _to_stdout(json.dumps(dumped, indent=2))
    else:
        _to_stdout(report.text())
    if isinstance(report, VerificationReport) and not report.ok:
        # Each failure's detail is in the report; one that stopped all else is told here too.
        failed = ", ".join(
            f"{check.name} ({check.detail})" if check.name == "fetch" else check.name
            for check in report.failures()
        )
        print(f"error: verification failed: {failed}", file=sys.stderr)
        return 1
    if args.command == "compare":
        from metrics_api.oci.release.rebuild import RebuildReport  # noqa: PLC0415 - the job's own

        if isinstance(report, RebuildReport) and not report.ok:
            differ = ", ".join(p.platform for p in report.platforms if not p.same)
            print(f"error: not reproduced: {differ}", file=sys.stderr)
            return 1
    return 0


def run(
    prog: str = PROG,
    parsed: argparse.Namespace | None = None,
    early: EarlyConnections | None = None,
) -> NoReturn:
    """The process: ``main``, then exit without tearing down what the job loaded.

    The interpreter's shutdown frees every module's objects one by one: about 7 ms at the
    end of an assemble, for a process that is ending anyway. The exit does what it must
    itself: the ``atexit`` functions, then the output flushed. Output it cannot flush (a
    pipe already closed) is left to the interpreter's shutdown, which reports it as it
    always has.

    SIGINT and SIGTERM are handled from here to the exit (``python -m`` installs the
    handler earlier still), so one that comes before the job is heard as well.
    """
    INTERRUPTS.install()
    try:
        code = main(prog=prog, parsed=parsed, early=early)
    finally:
        if early is not None:
            early.close()  # those the job never took: it stopped before its requests
    atexit._run_exitfuncs()  # noqa: SLF001 - what the shutdown runs first, run here
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)
