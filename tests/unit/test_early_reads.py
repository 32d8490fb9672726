"""Reads sent early: each answer as the registry sent it, or the failure httpx would raise.

Each case writes a registry's answer, byte for byte, on one end of a socket pair, and the
read runs on the other; the transport's side (``ConnectionPools``) makes its response.
"""

import argparse
import gzip
import socket
import threading
from collections.abc import Iterator

import anyio
import httpx
import pytest

from metrics_api.oci.cli_checks import first_reads
from metrics_api.oci.cli_parser import PROG, build_parser
from metrics_api.oci.registry.early import EarlyConnections
from metrics_api.oci.registry.early_reads import BrokenAnswerError, EarlyRead
from metrics_api.oci.registry.pools import ConnectionPools
from metrics_api.oci.registry.proxies import Proxies
from metrics_api.oci.registry.trust import trust_context
from metrics_api.oci.spec.media_types import MANIFEST_ACCEPT
from metrics_api.oci.spec.reference import parse_reference

pytestmark = pytest.mark.unit

URL = "http://127.0.0.1:5000/v2/team/app/manifests/v1"
LIMIT = 64


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, registry = socket.socketpair()
    ours.settimeout(5)
    with ours, registry:
        yield ours, registry


def exchange(
    pair: tuple[socket.socket, socket.socket], answer: bytes, *, close: bool = False
) -> tuple[EarlyRead, bool, bytes]:
    """The read of ``answer`` (then the registry closes, if ``close``), and what was sent."""
    ours, registry = pair
    read = EarlyRead("GET", URL, MANIFEST_ACCEPT, LIMIT)
    registry.sendall(answer)
    if close:
        registry.shutdown(socket.SHUT_WR)
    reusable = read.exchange(ours)
    return read, reusable, registry.recv(4096)


def response_to(read: EarlyRead, method: str = "GET") -> httpx.Response:
    """What the transport gets for the same request: the early answer, read as it reads."""
    early = EarlyConnections()
    early._reads[method, read.url] = read  # noqa: SLF001 - as ``send`` files it
    pools = ConnectionPools(trust_context, Proxies(), early)

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=pools) as client:
            request = client.build_request(method, URL, headers={"Accept": MANIFEST_ACCEPT})
            response = await client.send(request)
            await response.aread()
            return response

    return anyio.run(send)


def test_the_request_is_the_transport_s_own_without_credentials(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    read, reusable, sent = exchange(pair, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    assert sent.startswith(b"GET /v2/team/app/manifests/v1 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n")
    assert f"Accept: {MANIFEST_ACCEPT}\r\n".encode() in sent
    assert b"User-Agent: metrics-api\r\n" in sent
    assert b"authorization" not in sent.lower()
    assert reusable, "a whole answer over HTTP/1.1 leaves the connection for the job"
    assert read.answer is not None
    assert (read.answer.status, read.answer.body) == (200, b"{}")


def test_a_chunked_and_gzipped_answer_reaches_the_transport_decoded(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    coded = gzip.compress(b'{"schemaVersion":2}')
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (coded[:5], coded[5:]))
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    read, reusable, _ = exchange(pair, answer)

    assert reusable
    assert response_to(read).content == b'{"schemaVersion":2}'


def test_a_401_with_its_challenge_is_an_answer_like_any_other(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    challenge = 'Bearer realm="https://auth.example/token",service="registry"'
    read, _, _ = exchange(
        pair,
        f"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\n"
        "Content-Length: 0\r\n\r\n".encode(),
    )

    response = response_to(read)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge


def test_a_tls_server_s_bare_http_1_0_answer_keeps_its_version(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    # What Go's TLS server says to plain HTTP: the transport then speaks TLS to it.
    read, reusable, _ = exchange(
        pair,
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
        close=True,
    )

    assert not reusable
    response = response_to(read)
    assert (response.http_version, response.status_code) == ("HTTP/1.0", 400)
    assert response.content == b"Client sent an HTTP request to an HTTPS server.\n"


@pytest.mark.parametrize(
    ("answer", "announced", "held"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n", "65", 0),  # refused unread
        (b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 200, None, LIMIT + 1),  # until closed: cut
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"40\r\n" + b"x" * 64 + b"\r\n") * 3,
            None,
            LIMIT + 1,
        ),
    ],
)
def test_a_body_over_the_limit_is_read_no_further_and_left_to_the_transport(
    pair: tuple[socket.socket, socket.socket], answer: bytes, announced: str | None, held: int
) -> None:
    read, reusable, _ = exchange(pair, answer, close=True)

    assert not reusable, "the rest of the body is still on the connection"
    response = response_to(read)
    assert response.headers.get("Content-Length") == announced
    assert len(response.content) == held, "just over the limit: the transport refuses it"


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", httpx.RemoteProtocolError),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", httpx.RemoteProtocolError),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            httpx.RemoteProtocolError,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Le", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", httpx.RemoteProtocolError),
    ],
)
def test_a_broken_or_cut_answer_fails_as_httpx_fails_it(
    pair: tuple[socket.socket, socket.socket], answer: bytes, raised: type[Exception]
) -> None:
    read, reusable, _ = exchange(pair, answer, close=True)

    assert not reusable
    assert read.sent
    assert isinstance(read.failure, BrokenAnswerError)
    with pytest.raises(raised):
        response_to(read)


def test_no_answer_in_time_is_a_read_timeout(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    ours.settimeout(0.05)
    read = EarlyRead("HEAD", URL, MANIFEST_ACCEPT, LIMIT)

    assert not read.exchange(ours)
    assert isinstance(read.failure, TimeoutError)
    with pytest.raises(httpx.ReadTimeout):
        response_to(read, "HEAD")


def test_a_request_with_credentials_is_sent_itself() -> None:
    url = closed_port_url()
    read = EarlyRead("GET", url, MANIFEST_ACCEPT, LIMIT)
    early = EarlyConnections()
    early._reads["GET", url] = read  # noqa: SLF001
    pools = ConnectionPools(trust_context, Proxies(), early)
    request = httpx.Request("GET", url, headers={"Accept": MANIFEST_ACCEPT, "Authorization": "x"})

    with pytest.raises(httpx.ConnectError):  # sent itself, where nothing listens
        anyio.run(pools.handle_async_request, request)
    assert early.take("GET", url, MANIFEST_ACCEPT) is read, "left for none but its own"


def test_a_read_never_sent_leaves_the_request_to_the_transport() -> None:
    read = EarlyRead("GET", URL, MANIFEST_ACCEPT, LIMIT)
    read.give_up()  # no connection came up

    with pytest.raises(httpx.ConnectError):  # the transport's own attempt, to a closed port
        response_to_closed_port(read)


def closed_port_url() -> str:
    """A manifest's URL on a loopback port where nothing listens."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    return f"http://127.0.0.1:{port}/v2/team/app/manifests/v1"


def response_to_closed_port(read: EarlyRead) -> httpx.Response:
    """As ``response_to``, for a URL where nothing listens."""
    url = read.url = closed_port_url()
    early = EarlyConnections()
    early._reads["GET", url] = read  # noqa: SLF001
    pools = ConnectionPools(trust_context, Proxies(), early)

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=pools) as client:
            return await client.get(url, headers={"Accept": MANIFEST_ACCEPT})

    return anyio.run(send)


def test_only_the_same_request_takes_an_answer_and_only_once() -> None:
    early = EarlyConnections()
    read = EarlyRead("GET", URL, MANIFEST_ACCEPT, LIMIT)
    early._reads["GET", URL] = read  # noqa: SLF001

    assert early.take("GET", URL, "application/json") is None
    assert early.take("HEAD", URL, MANIFEST_ACCEPT) is None
    assert early.take("GET", URL, MANIFEST_ACCEPT) is read
    assert early.take("GET", URL, MANIFEST_ACCEPT) is None, "an answer serves one request"


def test_the_answer_is_waited_for_when_the_job_asks_first(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, registry = pair
    read = EarlyRead("GET", URL, MANIFEST_ACCEPT, LIMIT)
    assert not read.finished.is_set()
    reader = threading.Thread(target=read.exchange, args=(ours,))
    reader.start()
    registry.recv(4096)
    late = threading.Timer(
        0.2, registry.sendall, [b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"]
    )
    late.start()
    try:
        assert response_to(read).status_code == 404
    finally:
        late.join()
        reader.join()


def parsed(*args: str) -> argparse.Namespace:
    return build_parser(PROG).parse(list(args))


def test_reads_go_early_only_for_input_that_passed_and_an_assemble_that_does_not_sign() -> None:
    assemble = (
        "assemble",
        "127.0.0.1:5000/app:v1",
        "--variant",
        "linux/amd64=127.0.0.1:5000/app:a",
    )

    assert [(method, str(ref)) for method, ref in first_reads(parsed(*assemble))] == [
        ("HEAD", "127.0.0.1:5000/app:v1"),
        ("GET", "127.0.0.1:5000/app:a"),
    ]
    assert first_reads(parsed(*assemble, "--signing-key", "cosign.key")) == []
    assert first_reads(parsed(*assemble, "--annotation", "NOEQUALS")) == []
    assert first_reads(parsed("resolve", "127.0.0.1:5000/app:a", "--platform", "linux")) == []


def test_no_read_goes_early_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    with socket.create_server(("127.0.0.1", 0)) as server:
        reference = f"127.0.0.1:{server.getsockname()[1]}/app:v1"
        early = EarlyConnections.open([reference])  # loopback: a connection all the same
        try:
            early.send([("GET", parse_reference(reference))], MANIFEST_ACCEPT, LIMIT)
            assert early._reads == {}  # noqa: SLF001
        finally:
            early.close()
