"""The command line's grammar: commands, options, help texts and examples.

Parsing only: what an option means is the jobs', checked by ``cli``. A malformed command
line is one ``error:`` line (``UsageError``), like any other bad input.
"""

import argparse
import math
from collections.abc import Sequence
from typing import Any, NoReturn

from metrics_api.oci.defaults import ATTESTATION_MODES, DEADLINE, REQUEST_TIMEOUT

PROG = "metrics-oci"
MODULE_PROG = "python -m metrics_api.oci"
HELP_WIDTH = 96  # fixed, so that `--help` reads the same everywhere (README shows it)

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
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY
                     proxies to reach registries through, read as Go tools read them
                     (HTTPS through a CONNECT tunnel; loopback registries directly)

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
examples (with the publisher's ledger; as a consumer, by the publisher's key or CI identity):
  %(prog)s registry.example.com/metrics-api:v2.0.0 \\
      --expect linux/amd64=sha256:4570... --expect linux/arm64=sha256:e948...
  %(prog)s registry.example.com/metrics-api:v2.0.0 --public-key cosign.pub
  %(prog)s registry.example.com/metrics-api:v2.0.0 \\
      --certificate-identity-regexp '^https://github.com/acme/metrics-api/' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com"""


COMPARE_EXAMPLE = """\
example (images rebuilt elsewhere and pushed to a scratch repository):
  %(prog)s registry.example.com/metrics-api:v2.0.0 \\
      --rebuilt linux/amd64=localhost:5000/rebuilt@sha256:4570... \\
      --rebuilt linux/arm64=localhost:5000/rebuilt@sha256:e948..."""


class UsageError(Exception):
    """The command line itself is malformed (what argparse complains about)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a malformed command line is one ``error:`` line, like any bad input.

    Options are never abbreviated: ``--password SECRET`` must not be read as
    ``--password-env SECRET`` and the secret then quoted as a variable's name.
    """

    def __init__(self, **kwargs: Any) -> None:  # noqa: ANN401 - argparse's own keywords
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting."""
        raise UsageError(f"{message}; see `{self.prog} --help`")

    def parse(self, args: Sequence[str]) -> argparse.Namespace:
        """As ``parse_args``, but unknown arguments are named without their values (secrets?)."""
        parsed, unknown = self.parse_known_args(args)
        if not unknown:
            return parsed
        options = [text.split("=", 1)[0] for text in unknown if text.startswith("-")]
        found = f"unknown option {', '.join(options)}" if options else "an argument too many"
        values = len(unknown) - len(options)
        if options and values:
            found += f" (and {values} value{'s' if values > 1 else ''}, not shown)"
        command = str(getattr(parsed, "command", None) or "")
        prog = f"{self.prog} {command}" if command else self.prog
        if command in args and set(options) & set(args[: list(args).index(command)]):
            found += ": a command's options go after the command"
        raise UsageError(
            f"expected only the options `{prog} --help` lists, found {found}; see `{prog} --help`"
        )


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples keep their lines; a fixed width, so help reads the same on any terminal."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=HELP_WIDTH)


def _given(text: str) -> str:
    """A value that is there: an empty one is most often an unset variable in a CI line."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "expected a value, found an empty one (an unset variable?); give it, or drop the option"
        )
    return text


def _host(text: str) -> str:
    """HOST[:PORT], as a reference names its registry (no scheme, no path)."""
    _given(text)
    if "://" in text or "/" in text:
        raise argparse.ArgumentTypeError(
            f"expected HOST[:PORT], found {text!r}; give the registry as a reference names it, "
            "without a scheme or a path"
        )
    return text


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


class _Version(argparse.Action):
    """``--version``: the installed version, looked up only when asked for.

    ``importlib.metadata`` reads every installed distribution's metadata (tens of
    milliseconds): not a cost every command should pay for a flag it rarely gets.
    """

    def __init__(self, option_strings: list[str], dest: str, **_: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        from importlib import metadata  # noqa: PLC0415 - only for --version

        try:
            version = metadata.version("metrics-api")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            version = "unknown (not installed)"
        print(f"{parser.prog} {version}", flush=True)  # noqa: T201 - what --version is for
        parser.exit()


def _common() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout, on failure too"
    )
    common.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        type=_host,
        metavar="HOST",
        help="talk plain HTTP to HOST[:PORT] (loopback registries always are); repeatable",
    )
    common.add_argument(
        "--ca-file",
        type=_given,
        metavar="PATH",
        help="PEM certificates of authorities to trust for HTTPS registries, besides the "
        "system's trust store (a private registry's CA)",
    )
    common.add_argument(
        "--username",
        type=_given,
        metavar="USER",
        help="username for the registry of the reference, with the password from "
        "--password-env; other registries: the Docker config file",
    )
    common.add_argument(
        "--password-env",
        default="REGISTRY_PASSWORD",
        type=_given,
        metavar="VAR",
        help="environment variable holding the password (default: %(default)s)",
    )
    common.add_argument(
        "--deadline",
        type=_seconds,
        default=DEADLINE,
        metavar="SECONDS",
        help="time for the whole job, retries included (default: %(default)g)",
    )
    common.add_argument(
        "--request-timeout",
        type=_seconds,
        default=REQUEST_TIMEOUT,
        metavar="SECONDS",
        help="time one request may wait for an answer; a request that gets none is tried "
        "twice (default: %(default)g)",
    )
    return common


def _trust_config(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--trust-config",
        type=_given,
        metavar="PATH",
        help=f"{what} (default: the public-good Sigstore, sigstore.dev)",
    )


def build_parser(prog: str = PROG) -> _Parser:
    """The whole command line: its commands, their options, help and examples."""
    common = _common()
    parser = _Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter)
    parser.add_argument("--version", action=_Version)
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
        choices=ATTESTATION_MODES,
        default="drop",
        help="keep: carry each variant's provenance/SBOM attestation manifests into the index, "
        "right after its image; drop (default): the platform images only",
    )
    assemble.add_argument(
        "--dry-run", action="store_true", help="resolve and print the index, push nothing"
    )
    assemble.add_argument(
        "--signing-key",
        type=_given,
        metavar="PATH",
        help="sign the index, each image and each attestation by digest with this key: "
        "cosign.key from `cosign generate-key-pair`, or a PEM EC P-256 private key",
    )
    assemble.add_argument(
        "--signing-password-env",
        default="COSIGN_PASSWORD",
        type=_given,
        metavar="NAME",
        help="the environment variable that holds the signing key's password "
        "(default: COSIGN_PASSWORD, as cosign reads it)",
    )
    assemble.add_argument(
        "--keyless",
        action="store_true",
        help="sign them keyless too (Sigstore): a Fulcio certificate for the CI job's OIDC "
        "identity, each signature logged in Rekor and timestamped, stored as Sigstore bundles "
        "referring to what they sign (as cosign v3 does)",
    )
    assemble.add_argument(
        "--identity-token-env",
        type=_given,
        metavar="NAME",
        help="with --keyless: the environment variable holding the OIDC token (audience "
        "sigstore), read right before signing; without it: GitHub Actions' token endpoint "
        "when $ACTIONS_ID_TOKEN_REQUEST_URL is set, else $SIGSTORE_ID_TOKEN",
    )
    _trust_config(assemble, "with --keyless: the ClientTrustConfig of the Sigstore to sign with")

    verify = commands.add_parser(
        "verify",
        parents=[common],
        help="check a published index against a digest ledger",
        description="Check a published index against the digests recorded when its variants\n"
        "were pushed (or, given only --public-key or --certificate-identity, against its own\n"
        "signed entries): each platform's entry, what a pulling client gets, no other entry,\n"
        "and every child.",
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
        "--public-key or --certificate-identity verifies by the signature alone",
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
        type=_given,
        metavar="PATH",
        help="require a signature by this key (cosign.pub) on the index and each image, and a "
        "signed provenance (and SBOM) attestation on each image that has one; repeatable: any "
        "of the keys will do",
    )
    verify.add_argument(
        "--certificate-identity",
        type=_given,
        metavar="IDENTITY",
        help="require keyless bundles signed by this identity (the certificate's SAN, e.g. "
        "https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main) on "
        "what --public-key would need signed; with --certificate-oidc-issuer",
    )
    verify.add_argument(
        "--certificate-identity-regexp",
        type=_given,
        metavar="REGEXP",
        help="as --certificate-identity, any identity this regular expression finds (searched, "
        "as cosign does: anchor it with ^...$)",
    )
    verify.add_argument(
        "--certificate-oidc-issuer",
        type=_given,
        metavar="URL",
        help="the issuer of the signer's token (GitHub Actions: "
        "https://token.actions.githubusercontent.com)",
    )
    _trust_config(
        verify, "the ClientTrustConfig or trusted root of the Sigstore the bundles are from"
    )
    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="compare a published release with images rebuilt from its source",
        description="Compare each platform image of a published release with an image rebuilt\n"
        "from the inputs its provenance records (folder, Dockerfile, build arguments, base\n"
        "images by digest, SOURCE_DATE_EPOCH): the same digest, or which config fields,\n"
        "layers and files differ. Exit 1 unless every platform is the same.",
        epilog=COMPARE_EXAMPLE,
        formatter_class=_Formatter,
    )
    compare.add_argument("target", help="REGISTRY/REPOSITORY:TAG (or @DIGEST) of the release")
    compare.add_argument(
        "--rebuilt",
        action="append",
        required=True,
        metavar="PLATFORM=REF",
        help="the image rebuilt for that platform (already made reproducible); repeatable",
    )
    return parser


def references(args: argparse.Namespace) -> list[str]:
    """Every image reference a parsed command names: whose registries it will talk to."""
    if args.command == "resolve":
        return [args.reference]
    pairs: list[str] = []
    if args.command == "assemble":
        pairs = args.variant or []
    elif args.command == "compare":
        pairs = args.rebuilt or []
    return [args.target, *(pair.split("=", 1)[1] for pair in pairs if "=" in pair)]
