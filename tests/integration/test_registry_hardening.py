"""Misbehaving registries and token services: credentials stay home, errors stay one line.

Each server here is a tiny ``http.server`` of the test's own, answering as a real one
misconfigured or hostile would: an upload Location on another host, a redirect to a
pre-signed URL, an error body that echoes the credentials, a malformed token, a redirect
loop. The client must send the registry's credentials to the registry alone, print no
secret, and fail with one ``OciError`` (never a traceback, never five retries of what
cannot heal).
"""

import base64
import gzip
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

import anyio
import pytest
from pydantic import SecretStr
from support.background import BackgroundServer
from support.oci_cli import run_cli

from metrics_api.oci.errors import AuthenticationError, OciError, RegistryError
from metrics_api.oci.registry.auth import Credentials, CredentialStore
from metrics_api.oci.registry.blobcopy import copy_blob
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.retry import RetryPolicy
from metrics_api.oci.release.layout import write_layout
from metrics_api.oci.spec import media_types
from metrics_api.oci.spec.reference import Reference, parse_reference

pytestmark = pytest.mark.integration

PASSWORD: Final = "PW_SECRET_123"  # noqa: S105 - the secret no message may show
BASIC: Final = "Basic " + base64.b64encode(f"u:{PASSWORD}".encode()).decode()
TOKEN: Final = "TOKSECRET_789"  # noqa: S105 - same
BLOB: Final = b"layer-bytes"
BLOB_DIGEST: Final = "sha256:" + hashlib.sha256(BLOB).hexdigest()

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Seen:
    """One request a fake server received."""

    method: str
    path: str  # with its query
    authorization: str | None


Route = Callable[[Seen], Answer]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """Quiet: the server's log is its ``seen``."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        fake = self.server.fake
        received = Seen(self.command, self.path, self.headers.get("Authorization"))
        fake.seen.append(received)
        status, headers, body = fake.route(received)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: "FakeServer"


class FakeServer(BackgroundServer):
    """A server on a free loopback port answering each request with ``route``."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.seen: list[Seen] = []
        self.host = ""  # 127.0.0.1:PORT once started; kept after it stops, for assertions

    def _make_server(self) -> ThreadingHTTPServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self.host = f"127.0.0.1:{server.server_address[1]}"
        return server

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def errors_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def asks_basic(request: Seen) -> Answer | None:
    """A 401 Basic challenge unless the request carries the test's credentials."""
    if request.authorization == BASIC:
        return None
    return 401, {"WWW-Authenticate": 'Basic realm="test"'}, errors_body("UNAUTHORIZED", "login")


def storage(request: Seen) -> Answer:
    """A storage backend: takes an upload's PUT and says which digest it stored."""
    if request.method == "PUT" and "digest=" in request.path:
        digest = request.path.split("digest=", 1)[1].split("&", maxsplit=1)[0].replace("%3A", ":")
        return 201, {"Docker-Content-Digest": digest}, b""
    return 404, {}, b""


def client_for(*hosts: str) -> RegistryClient:
    """A client with the test's credentials for ``hosts``, no pause between attempts."""
    login = Credentials(username="u", password=SecretStr(PASSWORD))
    return RegistryClient(
        credentials=CredentialStore(by_host=dict.fromkeys(hosts, login)),
        retry=RetryPolicy(base_delay=0.0),
    )


def failure(
    call: Callable[[RegistryClient], Awaitable[object]], client: RegistryClient
) -> OciError:
    """The ``OciError`` ``call`` raised (anything else fails the test with its traceback)."""

    async def run() -> None:
        async with client:
            await call(client)

    with pytest.raises(OciError) as raised:
        anyio.run(run)
    return raised.value


def ref_on(server: FakeServer, repository: str = "app", tag: str = "v1") -> Reference:
    return parse_reference(f"{server.host}/{repository}:{tag}")


def assert_no_secret(text: str) -> None:
    for secret in (PASSWORD, BASIC.split()[1], TOKEN, "REDIR_PW", "SIG_SECRET"):
        assert secret not in text


# -- 1. credentials go to the registry alone ----------------------------------------------


def test_an_upload_location_on_another_host_gets_no_credentials() -> None:
    with FakeServer(storage).start() as elsewhere:

        def registry_route(request: Seen) -> Answer:
            if refused := asks_basic(request):
                return refused
            if request.method == "POST" and request.path == "/v2/app/blobs/uploads/":
                return 202, {"Location": f"{elsewhere.url}/upload/1?state=abc"}, b""
            return 404, {}, b""

        with FakeServer(registry_route).start() as registry:
            client = client_for(registry.host)

            async def push() -> str:
                async with client:
                    return await client.put_blob(ref_on(registry), BLOB, look_first=False)

            assert anyio.run(push) == BLOB_DIGEST

    assert [s.authorization for s in registry.seen] == [None, BASIC]  # challenged, then sent
    assert elsewhere.seen == [
        Seen("PUT", f"/upload/1?state=abc&digest={BLOB_DIGEST.replace(':', '%3A')}", None)
    ]


def test_a_streamed_copy_to_an_upload_location_elsewhere_sends_no_credentials() -> None:
    with FakeServer(storage).start() as elsewhere:

        def registry_route(request: Seen) -> Answer:
            if refused := asks_basic(request):
                return refused
            if request.method == "GET" and request.path == f"/v2/source/blobs/{BLOB_DIGEST}":
                return 200, {}, BLOB
            if request.method == "POST" and request.path == "/v2/target/blobs/uploads/":
                return 202, {"Location": f"{elsewhere.url}/upload/2"}, b""
            return 404, {}, b""

        with FakeServer(registry_route).start() as registry:
            client = client_for(registry.host)
            source, target = ref_on(registry, "source"), ref_on(registry, "target")

            async def copy() -> None:
                async with client:
                    await copy_blob(client, source, target, BLOB_DIGEST)

            anyio.run(copy)

    assert BASIC in {s.authorization for s in registry.seen}
    assert [(s.method, s.authorization) for s in elsewhere.seen] == [("PUT", None)]


def test_another_host_that_asks_for_credentials_gets_none_and_one_clear_error() -> None:
    def trap(_: Seen) -> Answer:
        challenge = 'Bearer realm="http://127.0.0.1:1/token",service="trap"'
        return 401, {"WWW-Authenticate": challenge}, errors_body("UNAUTHORIZED", "who?")

    with FakeServer(trap).start() as elsewhere:

        def registry_route(request: Seen) -> Answer:
            if refused := asks_basic(request):
                return refused
            if request.method == "POST":
                return 202, {"Location": f"{elsewhere.url}/upload/3"}, b""
            return 404, {}, b""

        with FakeServer(registry_route).start() as registry:
            error = failure(
                lambda c: c.put_blob(ref_on(registry), BLOB, look_first=False),
                client_for(registry.host),
            )

    assert isinstance(error, AuthenticationError)
    assert f"it is not the registry {registry.host}" in str(error)
    assert f"PUT {elsewhere.url}/upload/3 to need no credentials" in str(error)
    assert [s.authorization for s in elsewhere.seen] == [None]


# -- 2. URLs in messages: no userinfo, no query -------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((403, {}, errors_body("DENIED", "storage says no")), "answered HTTP 403"),
        ((200, {"Content-Length": str(5 * 1024 * 1024)}, b""), "announced a body of"),
    ],
)
def test_a_redirect_to_a_signed_url_is_shown_without_its_signature(
    answer: Answer, expected: str
) -> None:
    with FakeServer(lambda _: answer).start() as elsewhere:
        signed = (
            f"http://user:REDIR_PW@{elsewhere.host}/m/1?X-Amz-Signature=SIG_SECRET&X-Amz-Date=1"
        )

        def registry_route(_: Seen) -> Answer:
            return 307, {"Location": signed}, b""

        with FakeServer(registry_route).start() as registry:
            error = failure(lambda c: c.get_manifest(ref_on(registry)), client_for())

    message = str(error)
    assert f"GET {elsewhere.url}/m/1 {expected}" in message
    assert_no_secret(message)
    assert "X-Amz" not in message
    assert "user" not in message


def test_a_layout_export_redirected_to_a_signed_url_shows_it_without_its_signature(
    tmp_path: Path,
) -> None:
    config = b"{}"
    image = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    image_digest = "sha256:" + hashlib.sha256(image).hexdigest()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": media_types.OCI_MANIFEST,
                    "digest": image_digest,
                    "size": len(image),
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    ).encode()
    with FakeServer(
        lambda _: (403, {}, errors_body("DENIED", "storage says no"))
    ).start() as elsewhere:
        signed = f"http://user:REDIR_PW@{elsewhere.host}/b/1?X-Amz-Signature=SIG_SECRET"

        def registry_route(request: Seen) -> Answer:
            if "/blobs/" in request.path:
                return 307, {"Location": signed}, b""
            body, kind = (
                (image, media_types.OCI_MANIFEST)
                if image_digest in request.path
                else (
                    index,
                    media_types.OCI_INDEX,
                )
            )
            return 200, {"Content-Type": kind}, body

        with FakeServer(registry_route).start() as registry:
            error = failure(
                lambda c: write_layout(c, ref_on(registry), tmp_path / "layout", "v1"),
                client_for(),
            )

    message = str(error)
    assert f"GET {elsewhere.url}/b/1 answered HTTP 403" in message
    assert_no_secret(message)
    assert "X-Amz" not in message
    assert "user" not in message


# -- 3. error bodies that echo the credentials --------------------------------------------


class BearerRegistry(FakeServer):
    """A registry that is its own token service (``/token``), answering with ``token_answer``.

    ``echo``: a manifest GET with a token is refused, the token quoted.
    """

    def __init__(self, token_answer: Route, *, echo: bool) -> None:
        super().__init__(self._answer)
        self.token_answer = token_answer
        self.echo = echo

    def _answer(self, request: Seen) -> Answer:
        if request.path.startswith("/token"):
            return self.token_answer(request)
        sent = request.authorization or ""
        challenge = f'Bearer realm="http://{self.host}/token",service="test"'
        if sent == f"Bearer {TOKEN}" and not self.echo:
            return 404, {}, errors_body("MANIFEST_UNKNOWN", "no such manifest")
        message = f"token rejected: {sent}" if sent else "login"
        return 401, {"WWW-Authenticate": challenge}, errors_body("UNAUTHORIZED", message)


def good_token(request: Seen) -> Answer:
    if request.authorization != BASIC:
        return 401, {}, errors_body("UNAUTHORIZED", "bad credentials")
    return 200, {"Content-Type": "application/json"}, json.dumps({"token": TOKEN}).encode()


def echoing_token(request: Seen) -> Answer:
    quoted = request.authorization
    return 401, {}, errors_body("UNAUTHORIZED", f"bad credentials {quoted} (u:{PASSWORD})")


@pytest.mark.parametrize(
    ("token_answer", "echo", "kind"),
    [(good_token, True, "registry"), (echoing_token, False, "token service")],
)
def test_credentials_a_server_echoes_are_hidden(
    token_answer: Route, *, echo: bool, kind: str
) -> None:
    with BearerRegistry(token_answer, echo=echo).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client_for(registry.host))

    message = str(error)
    assert isinstance(error, AuthenticationError), kind
    assert "***" in message
    assert_no_secret(message)


def test_a_basic_header_a_registry_quotes_in_a_403_is_hidden() -> None:
    def registry_route(request: Seen) -> Answer:
        if refused := asks_basic(request):
            return refused
        return 403, {}, errors_body("DENIED", f"denied for {request.authorization}")

    with FakeServer(registry_route).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client_for(registry.host))

    assert "(DENIED: denied for ***)" in str(error)
    assert_no_secret(str(error))


# -- 4. a malformed token -----------------------------------------------------------------


def test_a_token_with_a_newline_is_refused_once_without_quoting_it() -> None:
    def newline_token(_: Seen) -> Answer:
        return 200, {}, json.dumps({"token": f"{TOKEN}\nX-Injected: 1"}).encode()

    client = client_for()
    with BearerRegistry(newline_token, echo=False).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client)

    message = str(error)
    assert isinstance(error, AuthenticationError)
    assert "found a malformed one (control, space or non-ASCII characters)" in message
    assert f"token service {registry.url}/token of {registry.host}" in message
    assert_no_secret(message)
    assert [s.path.split("?")[0] for s in registry.seen] == ["/v2/app/manifests/v1", "/token"]
    assert client.stats.retries == 0


def test_a_header_httpx_refuses_is_not_quoted_nor_retried() -> None:
    registry = FakeServer(lambda _: (201, {}, b"")).start()
    client = client_for()
    with registry:
        error = failure(
            lambda c: c.put_manifest(ref_on(registry), b"{}", "application/json\r\nX-Evil: 1"),
            client,
        )

    message = str(error)
    assert isinstance(error, RegistryError)
    assert "could not be sent" in message
    assert "LocalProtocolError" in message
    assert "X-Evil" not in message
    assert registry.seen == []
    assert client.stats.retries == 0


# -- 5. what once was a traceback ---------------------------------------------------------


def test_a_token_realm_that_is_no_url_is_one_authentication_error() -> None:
    def registry_route(_: Seen) -> Answer:
        return 401, {"WWW-Authenticate": 'Bearer realm="::::garbage"'}, b""

    with FakeServer(registry_route).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client_for(registry.host))

    assert isinstance(error, AuthenticationError)
    assert "found '::::garbage', which is not a usable URL" in str(error)


def test_a_token_answer_that_is_not_json_is_worded_without_its_body() -> None:
    def html_token(request: Seen) -> Answer:
        body = f"<html>oops {request.authorization}</html>".encode()
        return 200, {"Content-Type": "text/html"}, body

    with BearerRegistry(html_token, echo=False).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client_for(registry.host))

    message = str(error)
    assert isinstance(error, AuthenticationError)
    assert f"expected a JSON token from {registry.url}/token, found Content-Type text/html" in (
        message
    )
    assert "oops" not in message
    assert_no_secret(message)


def test_a_redirect_loop_is_one_error_not_retried() -> None:
    def loop(request: Seen) -> Answer:
        return 307, {"Location": request.path}, b""

    client = client_for()
    with FakeServer(loop).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client)

    assert isinstance(error, RegistryError)
    assert "the server redirected too many times" in str(error)
    assert f"GET {registry.url}/v2/app/manifests/v1" in str(error)
    assert client.stats.retries == 0


def test_a_redirect_to_another_protocol_is_one_error_not_retried() -> None:
    def to_ftp(_: Seen) -> Answer:
        return 307, {"Location": "ftp://storage.example/m/1?sig=SIG_SECRET"}, b""

    client = client_for()
    with FakeServer(to_ftp).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client)

    assert isinstance(error, RegistryError)
    assert "expected an http or https URL, found GET ftp://storage.example/m/1" in str(error)
    assert_no_secret(str(error))
    assert client.stats.retries == 0


def test_an_upload_location_of_another_protocol_is_refused() -> None:
    def registry_route(request: Seen) -> Answer:
        if request.method == "POST":
            return 202, {"Location": "ftp://storage.example/upload/1"}, b""
        return 404, {}, b""

    with FakeServer(registry_route).start() as registry:
        error = failure(
            lambda c: c.put_blob(ref_on(registry), BLOB, look_first=False), client_for()
        )

    assert isinstance(error, RegistryError)
    assert "found a URL of scheme ftp" in str(error)
    assert [s.method for s in registry.seen] == ["POST"]


def test_a_body_that_does_not_decode_is_one_error_not_retried() -> None:
    def bad_gzip(_: Seen) -> Answer:
        return 200, {"Content-Encoding": "gzip"}, gzip.compress(b"{}")[:-6] + b"broken"

    client = client_for()
    with FakeServer(bad_gzip).start() as registry:
        error = failure(lambda c: c.get_manifest(ref_on(registry)), client)

    assert isinstance(error, RegistryError)
    assert "found one that does not decode" in str(error)
    assert client.stats.retries == 0


# -- 6. what a registry stores is its content, not the user's input -----------------------


def test_a_manifest_of_a_kind_no_index_can_hold_is_the_registry_s_answer_exit_1() -> None:
    schema1 = json.dumps({"schemaVersion": 1, "name": "app", "tag": "v1"}).encode()

    def route(request: Seen) -> Answer:
        if request.path == "/v2/app/manifests/v1":
            media_type = "application/vnd.docker.distribution.manifest.v1+prettyjws"
            return 200, {"Content-Type": media_type}, schema1
        return 404, {}, b""

    with FakeServer(route).start() as registry:
        result = run_cli("resolve", f"{registry.host}/app:v1", "--platform", "linux/amd64")
    lines = result.stderr.strip().splitlines()
    assert result.code == 1, result.stderr
    assert len(lines) == 1
    assert "expected an image manifest or index" in lines[0]
    assert f"check what {registry.host}/app:v1 holds" in lines[0]
