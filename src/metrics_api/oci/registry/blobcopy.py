"""Copy a blob from one registry to another as a stream: never whole in memory.

The source's bytes go straight into the target's upload, hashed and counted as they pass
(``blobstream``): the target never receives the whole of a wrong blob; and the final PUT
carries ``?digest=``, so the registry checks it too. Nothing here holds more than two pieces
of a blob (``blobstream.PIECE_SIZE``) at a time.

Upload (distribution spec v1.1.1, "pushing blobs"): one PUT of the streamed body where the
registry takes it; where it refuses a body that large (a proxy's 413, ...), chunked PATCHes
of ``CHUNK_SIZE`` bytes, each streamed too, then a PUT without body. A refusal is remembered
per registry for the rest of the job. Any failure on the way (a dropped connection, a 5xx,
a lost upload session) restarts the blob from its first byte in a new upload session, a
bounded number of times. At most ``CONCURRENT_BLOBS`` blobs are copied at once.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final
from weakref import WeakKeyDictionary

import anyio
import httpx

from metrics_api.oci.errors import DigestMismatchError, RegistryError
from metrics_api.oci.registry.blobstream import checked_pieces, describe_answer
from metrics_api.oci.registry.client import RegistryClient
from metrics_api.oci.registry.retry import RETRY_STATUSES
from metrics_api.oci.spec.digest import validate_digest
from metrics_api.oci.spec.reference import Reference

CHUNK_SIZE: Final = 16 * 1024 * 1024
CONCURRENT_BLOBS: Final = 4
# Also a lost upload session (404), a token that expired on the way (401), a timeout (408).
_RESTART_STATUSES: Final = RETRY_STATUSES | {401, 404, 408}
# Answers to the content itself: restarting would send the same bytes again.
_CONTENT_CODES: Final = frozenset({"DIGEST_INVALID", "SIZE_INVALID"})


@dataclass
class _CopyState:
    """Per client: the bound on concurrent copies, and the registries that refuse a PUT body."""

    limiter: anyio.CapacityLimiter
    chunked_hosts: set[str] = field(default_factory=set)


_STATES: "WeakKeyDictionary[RegistryClient, _CopyState]" = WeakKeyDictionary()


def _state(client: RegistryClient) -> _CopyState:
    if client not in _STATES:
        _STATES[client] = _CopyState(anyio.CapacityLimiter(CONCURRENT_BLOBS))
    return _STATES[client]


class _Restart(Exception):  # noqa: N818 - a signal, not an error anyone sees
    """The attempt failed in a way a new attempt may not; ``cause`` says how."""

    def __init__(self, cause: str, *, refused_body: bool = False) -> None:
        super().__init__(cause)
        self.refused_body = refused_body


class _Pieces:
    """Hands out a stream in consecutive slices of exact sizes (one PATCH each)."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._left = b""

    async def take(self, count: int) -> AsyncIterator[bytes]:
        """The next ``count`` bytes of the stream, as they arrive."""
        while count > 0:
            piece = self._left or await anext(self._stream, b"")
            if not piece:
                return  # the stream ended early: the size check has said why already
            self._left, piece = piece[count:], piece[:count]
            count -= len(piece)
            yield piece

    async def finish(self) -> None:
        """Drain the stream's end, which is where its digest is checked."""
        async for _ in self._stream:
            pass


@dataclass(frozen=True)
class _Copy:
    client: RegistryClient
    source: Reference
    target: Reference
    digest: str

    @property
    def what(self) -> str:
        return (
            f"copying blob {self.digest} from {self.source.repository_name} "
            f"to {self.target.repository_name}"
        )

    async def _fail_or_restart(self, response: httpx.Response, step: str) -> None:
        description = await describe_answer(response)
        cause = f"{step}: {response.request.method} {response.request.url.path} {description}"
        if response.status_code in _RESTART_STATUSES:
            raise _Restart(cause)
        if response.status_code == httpx.codes.FORBIDDEN:
            raise RegistryError(
                f"{self.what}: {cause}; the credentials lack permission for this repository"
            )
        if step == "PUT with body" and not any(code in description for code in _CONTENT_CODES):
            raise _Restart(cause, refused_body=True)
        raise RegistryError(f"{self.what}: {cause}; check the registry's logs")

    async def start_upload(self) -> str:
        async with self.client.stream(
            "POST", self.target, "blobs/uploads/", what=self.what, push=True
        ) as started:
            if started.status_code != httpx.codes.ACCEPTED:
                await self._fail_or_restart(started, "starting the upload")
            location = str(started.headers.get("Location", ""))
        if not location:
            raise RegistryError(f"{self.what}: the registry answered 202 without a Location")
        return location

    async def once(self, *, chunked: bool) -> None:
        """One attempt: a new upload session, the source read from its first byte."""
        location = await self.start_upload()
        async with self.client.stream(
            "GET", self.source, f"blobs/{self.digest}", what=self.what
        ) as fetched:
            if fetched.status_code != httpx.codes.OK:
                if fetched.status_code == httpx.codes.NOT_FOUND:
                    raise RegistryError(
                        f"{self.what}: the source answered {await describe_answer(fetched)}; "
                        f"check that the blob exists in {self.source.repository_name}"
                    )
                await self._fail_or_restart(fetched, "reading the source")
            size = await self._size(fetched)
            body = checked_pieces(fetched, self.digest, size, self.what)
            if chunked:
                location = await self._patch_all(location, body, size)
                await self._finish(location, None, 0)
            else:
                await self._finish(location, body, size)

    async def _size(self, fetched: httpx.Response) -> int:
        length = fetched.headers.get("Content-Length")
        if length is not None and length.isdigit():
            return int(length)
        size = await self.client.blob_size(self.source, self.digest)
        if size is None or size < 0:
            raise RegistryError(
                f"{self.what}: the source announced no size for the blob, neither on GET "
                "nor on HEAD; a blob's size is needed to upload it"
            )
        return size

    async def _patch_all(self, location: str, body: AsyncIterator[bytes], size: int) -> str:
        pieces = _Pieces(body)
        offset = 0
        while offset < size:
            count = min(CHUNK_SIZE, size - offset)
            async with self.client.stream(
                "PATCH",
                self.target,
                location,
                what=self.what,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(count),
                    "Content-Range": f"{offset}-{offset + count - 1}",
                },
                content=pieces.take(count),
                push=True,
            ) as patched:
                if patched.status_code != httpx.codes.ACCEPTED:
                    await self._fail_or_restart(patched, "PATCH of a chunk")
                location = patched.headers.get("Location") or location
            offset += count
        await pieces.finish()
        return location

    async def _finish(self, location: str, body: AsyncIterator[bytes] | None, size: int) -> None:
        async with self.client.stream(
            "PUT",
            self.target,
            location,
            what=self.what,
            params={"digest": self.digest},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            content=body,
            push=True,
        ) as finished:
            if finished.status_code != httpx.codes.CREATED:
                step = "PUT with body" if body is not None else "closing the upload"
                await self._fail_or_restart(finished, step)
            stored = finished.headers.get("Docker-Content-Digest")
        if stored and stored != self.digest:
            raise DigestMismatchError(
                f"{self.what}: the target says it stored {stored}, expected {self.digest}"
            )


async def copy_blob(
    client: RegistryClient, source: Reference, target: Reference, digest: str
) -> None:
    """Stream blob ``digest`` from ``source``'s repository into ``target``'s, checked."""
    copy = _Copy(client, source, target, validate_digest(digest))
    state = _state(client)
    chunked = target.host in state.chunked_hosts
    attempts = client.attempts()
    async with state.limiter:
        async for _ in attempts:
            try:
                await copy.once(chunked=chunked or target.host in state.chunked_hosts)
            except _Restart as restart:
                attempts.cause = str(restart)
                if restart.refused_body:  # not a fault: upload again, in chunks
                    state.chunked_hosts.add(target.host)
            except httpx.TransportError as error:
                await attempts.failed(error, copy.what)
                # The target hung up while a whole blob was being sent to it: in chunks next.
                chunked = chunked or isinstance(error, httpx.WriteError)
            else:
                return
    raise RegistryError(
        f"{copy.what}: still failing after {attempts.made} attempts, each from the first "
        f"byte, last cause: {attempts.cause}; check that both registries are up and reachable"
    )
