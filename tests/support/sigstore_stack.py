"""A whole Sigstore on local addresses, for keyless signing that never leaves the machine.

``start_sigstore_stack()`` starts, in a temporary directory and on free ports of one
host (``127.0.0.1`` unless told otherwise):

- the tests' OIDC issuer (``support.oidc_issuer``, a thread of this process), which mints
  GitHub-Actions-like tokens;
- Fulcio v1.8.8 with a file CA (a self-signed ECDSA P-384 root made here, so its chain
  goes straight into the trusted root) and one OIDC issuer of type ``github-workflow``:
  the test issuer. Fulcio submits each precertificate to
- TesseraCT v0.1.1 (POSIX storage, its own ECDSA P-256 key, roots = Fulcio's root), the
  static-CT log whose SCT Fulcio embeds;
- Rekor v2 (rekor-tiles v2.3.0, POSIX storage, its own ECDSA P-256 key);
- timestamp-authority v2.1.3 (in-memory signer, NTP monitoring off), RFC 3161 timestamps.

Then cosign v3.1.3 writes ``trusted_root.json`` (``cosign trusted-root create``) and
``signing_config.json`` (``cosign signing-config create``: Fulcio v1 API, Rekor v2 API,
the TSA, the OIDC issuer), and ``trust_config.json`` joins both into the
``application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`` document that
``sigstore.models.ClientTrustConfig.from_json`` reads.

Identity semantics: a default token (``stack.issuer.issue_token()``) has GitHub's claims
for ``example-org/metrics-api``, workflow ``.github/workflows/release.yml`` on
``refs/heads/main``. Fulcio's ``github-workflow`` type makes the certificate's SAN (the
*certificate identity*) ``https://github.com/`` + ``job_workflow_ref``, i.e.
``https://github.com/example-org/metrics-api/.github/workflows/release.yml@refs/heads/main``,
and its OIDC issuer extensions (1.3.6.1.4.1.57264.1.1 and .1.8: the *certificate OIDC
issuer*) the token's ``iss``, the issuer's own URL ``http://127.0.0.1:PORT`` (not
``https://token.actions.githubusercontent.com``), plus the GitHub workflow extensions
(source repository, ref, digest, trigger, run URL...). ``repository="other/repo"`` or
``claims={...}`` on ``issue_token`` give another ("foreign") identity from the same issuer.

What to know about the pieces:

- Fulcio reads the issuer's discovery document at start-up (go-oidc: its ``issuer`` must
  equal the URL, http is accepted), so the issuer starts first. Its github-workflow type
  refuses tokens missing any of 16 GitHub claims (``repository_visibility`` and
  ``workflow_sha`` included). HTTP and gRPC get a port each: with one port for both
  ("duplex" mode) v1.8.8 panics at start (two Prometheus registrations of
  ``grpc_server_started_total``). Its legacy gRPC socket, an abstract Unix socket shared
  by every Fulcio on the machine unless told, is a file in the stack's directory; its
  metrics listen on a free port (on all addresses: Fulcio binds ``:PORT``).
- TesseraCT's origin is ``HOST:PORT`` (its submission prefix, no path prefix). The trusted
  root lists it *without* an origin: an SCT names its log by SHA-256 of the log's DER
  public key (RFC 6962), and that is what sigstore-python and sigstore-go look up.
- Rekor v2's checkpoint origin is its ``--hostname``, and it must be the *hostname* of the
  log's ``baseUrl`` in the trusted root, without port (``127.0.0.1``): sigstore-go (cosign)
  checks the checkpoint's signature with a note verifier named ``url.Hostname()`` of it,
  and fails with "note has no verifiable signatures" otherwise (sigstore-python matches
  only the key hash). The trusted root lists the log with that origin, so its log id is
  the signed-note key hash (for ECDSA keys the same SHA-256 of the DER key). rekor-tiles
  serves only ``POST /api/v2/log/entries`` and ``/healthz``: checkpoints and tiles are
  files in its storage directory for a static file server (none here; clients need none:
  each entry carries its inclusion proof and signed checkpoint).
- The TSA's in-memory signer makes a root, an intermediate (timestamping EKU) and a leaf
  at each start; ``GET /api/v1/timestamp/certchain`` gives that chain (leaf first).
  timestamp-server always serves Prometheus metrics on ``:2112`` (all addresses, not
  configurable) and exits when that port is taken: two stacks cannot run at once on one
  machine (``SigstoreStartError`` says so).
- Every process runs with a minimal environment (no proxy settings, its own ``HOME``);
  its log is ``<directory>/<name>.log``, and a failed start raises ``SigstoreStartError``
  with the tail of that log.

Start-up takes about half a second (measured on the development machine: 0.25-0.5 s from
nothing to the trust config written; TesseraCT, Rekor and the TSA start in parallel, then
Fulcio, then cosign runs twice). A keyless signature then takes 0.6-0.9 s (sigstore-python
or cosign: certificate, SCT, Rekor v2 entry with a 200 ms checkpoint interval, timestamp).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Self

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .go_tools import COSIGN_V3, FULCIO, REKOR, TESSERACT, TIMESTAMP_AUTHORITY, require_go_tool
from .oidc_issuer import OidcIssuer, start_oidc_issuer
from .proc import CommandError, ToolMissingError, run, stop_process
from .registry import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
COSIGN_TIMEOUT = 60.0
_START_ATTEMPTS = 3
_LOG_TAIL = 4000
TSA_METRICS_PORT = 2112  # hard-coded in timestamp-server (pkg/server/prometheus.go)
OPERATOR = "metrics-api-tests"
TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TSA_PATH = "/api/v1/timestamp"
# TesseraCT wants an origin that parses as a URL without scheme: "HOST:PORT" does not
# ("first path segment in URL cannot contain colon"), so the log is named, not addressed.
CTLOG_ORIGIN = "ctlog.sigstore.test"


class SigstoreStartError(RuntimeError):
    """A service of the stack did not start; the message carries the tail of its log."""


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return text if len(text) <= _LOG_TAIL else "..." + text[-_LOG_TAIL:]


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Service:
    """One server process of the stack, owned by PID, logging to ``<directory>/<name>.log``."""

    def __init__(  # noqa: PLR0913 - one service's whole description
        self,
        name: str,
        *,
        host: str,
        ports: int,
        argv: Callable[[list[int]], list[str]],
        ready_path: str,
        env: dict[str, str],
        directory: Path,
    ) -> None:
        self.name = name
        self.host = host
        self.port_count = ports
        self.argv = argv
        self.ready_path = ready_path
        self.env = env
        self.log_path = directory / f"{name}.log"
        self.ports: list[int] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of its first port."""
        return f"http://{_hostport(self.host, self.ports[0])}"

    def launch(self) -> None:
        self.ports = [free_port(self.host) for _ in range(self.port_count)]
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            log.write(f"--- starting on ports {self.ports}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(self.ports),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.log_path.parent,
                start_new_session=True,
            )

    def wait_ready(self, deadline: float) -> str | None:
        """None once ``GET ready_path`` answers 200; else why it failed (process stopped)."""
        last = "no answer yet"
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    code = None if self.proc is None else self.proc.returncode
                    self.proc = None
                    return f"{self.name} exited (code {code}) before answering {self.ready_path}"
                try:
                    resp = client.get(self.url + self.ready_path)
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if resp.status_code == httpx.codes.OK:
                        return None
                    last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                time.sleep(0.05)
        self.stop()
        return f"{self.name} did not answer GET {self.url}{self.ready_path} in time (last: {last})"

    def port_was_taken(self) -> bool:
        """Whether the last start failed because another process took one of our ports."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode(errors="replace")
        fixed = f":{TSA_METRICS_PORT}: bind"  # not ours to choose: retrying cannot help
        return "address already in use" in text and fixed not in text

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, STOP_TIMEOUT)


def _start_all(services: Sequence[_Service], timeout: float) -> None:
    """Launch in parallel, wait for each; relaunch one whose port was taken meanwhile."""
    for service in services:
        service.launch()
    deadline = time.monotonic() + timeout
    for service in services:
        for attempt in range(_START_ATTEMPTS):
            failure = service.wait_ready(deadline)
            if failure is None:
                break
            if attempt + 1 < _START_ATTEMPTS and service.port_was_taken():
                service.launch()
                continue
            hint = ""
            if service.name == "timestamp-authority" and f":{TSA_METRICS_PORT}" in _tail(
                service.log_path
            ):
                hint = (
                    f"\n(timestamp-server always binds :{TSA_METRICS_PORT} for its metrics: "
                    "is another Sigstore stack or Prometheus exporter running on this machine?)"
                )
            raise SigstoreStartError(
                f"{failure}; log {service.log_path}:\n{_tail(service.log_path)}{hint}"
            )


def _write_pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _make_fulcio_ca(directory: Path, not_before: dt.datetime) -> tuple[Path, Path]:
    """A self-signed root (P-384, as Sigstore's) Fulcio's file CA issues from: cert, key."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "metrics-api tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, "metrics-api tests Fulcio root"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA384())
    )
    cert_path = directory / "fulcio-root.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = _write_pem(
        directory / "fulcio-root.key",
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return cert_path, key_path


def _make_log_key(directory: Path, name: str) -> tuple[Path, Path]:
    """A P-256 key in SEC 1 PEM (what TesseraCT parses; rekor-tiles reads it too): key, pub."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_path = _write_pem(
        directory / f"{name}.key",
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )
    pub_path = directory / f"{name}.pub"
    pub_path.write_bytes(_public_pem(key))
    return key_path, pub_path


@dataclass
class SigstoreStack:
    """A running stack; ``stop()`` ends its processes and the issuer, ``close()`` also rm -rf.

    ``certificate_identity`` / ``certificate_oidc_issuer`` are what a default token of
    ``issuer`` yields (``cosign verify --certificate-identity/--certificate-oidc-issuer``,
    ``sigstore.verify.policy.Identity(identity=..., issuer=...)``).
    """

    directory: Path
    host: str
    issuer: OidcIssuer
    fulcio_url: str
    ctlog_url: str
    rekor_url: str
    tsa_url: str
    trust_config_path: Path
    trusted_root_path: Path
    signing_config_path: Path
    certificate_identity: str
    certificate_oidc_issuer: str
    startup_seconds: float
    _services: list[_Service] = field(default_factory=list, repr=False)

    @property
    def issuer_url(self) -> str:
        """The OIDC issuer's URL (the ``iss`` of its tokens)."""
        return self.issuer.url

    def stop(self) -> None:
        """Stop every server process (by its PID) and the issuer; files stay."""
        for service in reversed(self._services):
            service.stop()
        self.issuer.stop()

    def close(self) -> None:
        """Stop, then delete its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        """``with start_sigstore_stack() as stack:``."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop and clean up."""
        self.close()


def _cosign(args: list[str], env: dict[str, str], cwd: Path) -> None:
    try:
        run([require_go_tool(COSIGN_V3), *args], env=env, timeout=COSIGN_TIMEOUT, cwd=cwd)
    except CommandError as exc:
        raise SigstoreStartError(f"cosign could not write the trust material: {exc}") from exc


def _build_trust(  # noqa: PLR0913 - every URL and file of the stack
    directory: Path,
    env: dict[str, str],
    *,
    start: str,
    fulcio: _Service,
    ctlog: _Service,
    rekor: _Service,
    rekor_origin: str,
    tsa: _Service,
    issuer: OidcIssuer,
) -> tuple[Path, Path, Path]:
    """trusted_root.json and signing_config.json by cosign v3, and the client trust config."""
    tsa_chain = directory / "tsa-chain.pem"
    try:
        with httpx.Client(trust_env=False, timeout=10.0) as client:
            resp = client.get(tsa.url + TSA_PATH + "/certchain")
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise SigstoreStartError(
            f"no certificate chain from the TSA ({exc}); log {tsa.log_path}:\n{_tail(tsa.log_path)}"
        ) from exc
    tsa_chain.write_text(resp.text)
    trusted_root = directory / "trusted_root.json"
    fulcio_chain = directory / "fulcio-root.pem"
    rekor_spec = f"url={rekor.url},public-key={directory / 'rekor.pub'},start-time={start}"
    _cosign(
        [
            "trusted-root",
            "create",
            f"--fulcio=url={fulcio.url},certificate-chain={fulcio_chain},start-time={start}",
            f"--ctfe=url={ctlog.url},public-key={directory / 'ctlog.pub'},start-time={start}",
            f"--rekor={rekor_spec},origin={rekor_origin}",
            f"--tsa=url={tsa.url}{TSA_PATH},certificate-chain={tsa_chain},start-time={start}",
            f"--out={trusted_root}",
        ],
        env,
        directory,
    )
    signing_config = directory / "signing_config.json"
    common = f"start-time={start},operator={OPERATOR}"
    _cosign(
        [
            "signing-config",
            "create",
            f"--fulcio=url={fulcio.url},api-version=1,{common}",
            f"--rekor=url={rekor.url},api-version=2,{common}",
            "--rekor-config=ANY",
            f"--tsa=url={tsa.url}{TSA_PATH},api-version=1,{common}",
            "--tsa-config=ANY",
            f"--oidc-provider=url={issuer.url},api-version=1,{common}",
            f"--out={signing_config}",
        ],
        env,
        directory,
    )
    trust_config = directory / "trust_config.json"
    trust_config.write_text(
        json.dumps(
            {
                "mediaType": TRUST_CONFIG_MEDIA_TYPE,
                "trustedRoot": json.loads(trusted_root.read_text()),
                "signingConfig": json.loads(signing_config.read_text()),
            },
            indent=2,
        )
    )
    return trust_config, trusted_root, signing_config


def _binaries() -> dict[str, str]:
    """Every binary the stack runs; ToolMissingError (how to install it) when one is missing."""
    return {
        tool.name: require_go_tool(tool)
        for tool in (FULCIO, TESSERACT, REKOR, TIMESTAMP_AUTHORITY, COSIGN_V3)
    }


def start_sigstore_stack(host: str = "127.0.0.1") -> SigstoreStack:
    """Start the whole stack on free ports of ``host``; the caller ``close()``s it.

    Raises ToolMissingError when a binary is missing (never skips) and SigstoreStartError
    (with the failing process's log) when a service does not come up.
    """
    began = time.monotonic()
    binaries = _binaries()
    base = Path(tempfile.mkdtemp(prefix="metrics-api-sigstore-"))
    home = base / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        # TesseraCT exports OpenTelemetry metrics to localhost:4318: keep it quiet.
        "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
        "OTEL_SDK_DISABLED": "true",
    }
    issuer = start_oidc_issuer(host)
    services: list[_Service] = []
    try:
        not_before = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
        start = _rfc3339(not_before)
        ca_cert, ca_key = _make_fulcio_ca(base, not_before)
        ctlog_key, ctlog_pub = _make_log_key(base, "ctlog")
        rekor_key, _ = _make_log_key(base, "rekor")
        fulcio_config = base / "fulcio-config.json"
        fulcio_config.write_text(
            json.dumps(
                {
                    "OIDCIssuers": {
                        issuer.url: {
                            "IssuerURL": issuer.url,
                            "ClientID": "sigstore",
                            "Type": "github-workflow",
                        }
                    }
                },
                indent=2,
            )
        )
        for sub in ("ctlog", "rekor"):
            (base / sub).mkdir(exist_ok=True)

        ctlog = _Service(
            "tesseract",
            host=host,
            ports=1,
            argv=lambda ports: [
                binaries[TESSERACT.name],
                f"--http_endpoint={_hostport(host, ports[0])}",
                f"--origin={CTLOG_ORIGIN}",
                f"--private_key={ctlog_key}",
                f"--storage_dir={base / 'ctlog'}",
                f"--roots_pem_file={ca_cert}",
                "--checkpoint_interval=200ms",
                "--batch_max_age=50ms",
                "--logtostderr",
            ],
            ready_path="/ct/v1/get-roots",
            env=env,
            directory=base,
        )
        rekor = _Service(
            "rekor",
            host=host,
            ports=3,
            argv=lambda ports: [
                binaries[REKOR.name],
                "serve",
                f"--http-address={host}",
                f"--http-port={ports[0]}",
                f"--grpc-address={host}",
                f"--grpc-port={ports[1]}",
                f"--http-metrics-port={ports[2]}",
                f"--hostname={host}",
                f"--signer-filepath={rekor_key}",
                f"--storage-dir={base / 'rekor'}",
                "--checkpoint-interval=200ms",
                "--batch-max-age=50ms",
            ],
            ready_path="/healthz",
            env=env,
            directory=base,
        )
        tsa = _Service(
            "timestamp-authority",
            host=host,
            ports=1,
            argv=lambda ports: [
                binaries[TIMESTAMP_AUTHORITY.name],
                "serve",
                f"--host={host}",
                f"--port={ports[0]}",
                "--scheme=http",
                "--timestamp-signer=memory",
                "--disable-ntp-monitoring",
                "--log-type=dev",
            ],
            ready_path="/ping",
            env=env,
            directory=base,
        )
        services.extend([ctlog, rekor, tsa])
        _start_all([ctlog, rekor, tsa], READY_TIMEOUT)

        fulcio = _Service(
            "fulcio",
            host=host,
            ports=3,
            argv=lambda ports: [
                binaries[FULCIO.name],
                "serve",
                "--ca=fileca",
                f"--fileca-cert={ca_cert}",
                f"--fileca-key={ca_key}",
                "--fileca-key-passwd=",
                "--fileca-watch=false",
                f"--config-path={fulcio_config}",
                f"--ct-log-url={ctlog.url}",
                f"--ct-log-public-key-path={ctlog_pub}",
                f"--host={host}",
                f"--port={ports[0]}",
                # Its HTTP gateway dials gRPC on 127.0.0.1 whatever --host says.
                "--grpc-host=127.0.0.1",
                f"--grpc-port={ports[1]}",
                f"--metrics-port={ports[2]}",
                f"--legacy-unix-domain-socket={base / 'fulcio-legacy.sock'}",
                "--log_type=dev",
            ],
            ready_path="/api/v2/configuration",
            env=env,
            directory=base,
        )
        services.append(fulcio)
        _start_all([fulcio], READY_TIMEOUT)

        trust_config, trusted_root, signing_config = _build_trust(
            base,
            env,
            start=start,
            fulcio=fulcio,
            ctlog=ctlog,
            rekor=rekor,
            rekor_origin=host,
            tsa=tsa,
            issuer=issuer,
        )
    except BaseException:
        for service in reversed(services):
            service.stop()
        issuer.stop()
        shutil.rmtree(base, ignore_errors=True)
        raise
    return SigstoreStack(
        directory=base,
        host=host,
        issuer=issuer,
        fulcio_url=fulcio.url,
        ctlog_url=ctlog.url,
        rekor_url=rekor.url,
        tsa_url=tsa.url + TSA_PATH,
        trust_config_path=trust_config,
        trusted_root_path=trusted_root,
        signing_config_path=signing_config,
        certificate_identity=issuer.certificate_identity(),
        certificate_oidc_issuer=issuer.url,
        startup_seconds=time.monotonic() - began,
        _services=services,
    )


def main() -> None:
    """Start a stack (``--host``), write where it is (``--info FILE``), run until stopped.

    For trying cosign by hand, and for the lab's engine, which reaches the host only
    through its HOST_IP: ``--info`` holds the trust config's path, the identity and issuer
    a default token yields, and the GitHub-style token endpoint with its request token.
    """
    import argparse  # noqa: PLC0415 - the command line only
    import signal  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m support.sigstore_stack")
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on")
    parser.add_argument("--info", type=Path, help="write the stack's facts here (JSON)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with start_sigstore_stack(args.host) as stack:
        facts = {
            "trust_config": str(stack.trust_config_path),
            "trusted_root": str(stack.trusted_root_path),
            "signing_config": str(stack.signing_config_path),
            "certificate_identity": stack.certificate_identity,
            "certificate_oidc_issuer": stack.certificate_oidc_issuer,
            "request_url": stack.issuer.request_url,
            "request_token": stack.issuer.request_token,
        }
        if args.info:
            args.info.write_text(json.dumps(facts, indent=2))
        print(  # noqa: T201 - a command-line helper
            f"started in {stack.startup_seconds:.2f} s in {stack.directory}\n"
            f"issuer {stack.issuer_url}\nidentity {stack.certificate_identity}\n"
            f"trust config {stack.trust_config_path}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()


__all__ = [
    "SigstoreStack",
    "SigstoreStartError",
    "ToolMissingError",
    "free_port",
    "start_sigstore_stack",
]
