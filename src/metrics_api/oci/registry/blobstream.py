"""Read a blob from a registry answer as pieces, checked on the fly: never whole in memory.

Shared by the registry-to-registry copy (``blobcopy``) and the layout export (``layout``).
The last piece is held back until the digest and the size are proved, so whoever writes the
pieces somewhere never completes a wrong blob.
"""

import hashlib
from collections.abc import AsyncIterator
from typing import Final

import httpcore
import httpx

from metrics_api.oci.errors import DigestMismatchError
from metrics_api.oci.registry.responses import describe

PIECE_SIZE: Final = 1024 * 1024
_ERROR_BODY_LIMIT: Final = 4096
# httpcore reads an HTTP/1.1 connection 64 KiB at a time, and each read costs as much CPU
# as hashing it: a 512 MiB blob took 8192 reads. A read returns what the socket holds, up to
# this; larger reads cut the copy's CPU by a fifth (bench/copy_bench.py). Process-wide: a
# class attribute of httpcore's public connection class, for every connection of the job.
httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = max(
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES, PIECE_SIZE
)


async def describe_answer(response: httpx.Response) -> str:
    """``HTTP 404 (BLOB_UNKNOWN: ...)`` from an answer that was not read yet."""
    body = b""
    async for piece in response.aiter_raw():
        body += piece
        if len(body) >= _ERROR_BODY_LIMIT:
            break
    return describe(httpx.Response(response.status_code, content=body, request=response.request))


async def checked_pieces(
    response: httpx.Response, digest: str, size: int, what: str
) -> AsyncIterator[bytes]:
    """The body of ``response`` in pieces of ``PIECE_SIZE``, checked on the fly.

    The last piece is handed out only once the whole proved right. Pieces are gathered from
    what the connection delivers: one large write costs less than many.
    """
    hasher = hashlib.new(digest.split(":", 1)[0])
    seen = 0
    gathered = bytearray()
    held = b""
    async for received in response.aiter_raw():
        seen += len(received)
        if seen > size:
            raise DigestMismatchError(
                f"{what}: expected {size} bytes, the source sent more; the registry or "
                "something between us and it altered the content"
            )
        hasher.update(received)
        gathered += received
        if len(gathered) >= PIECE_SIZE:
            if held:
                yield held
            held, gathered = bytes(gathered), bytearray()
    found = f"{hasher.name}:{hasher.hexdigest()}"
    if seen != size or found != digest:
        raise DigestMismatchError(
            f"{what}: expected {size} bytes with digest {digest}, received {seen} bytes that "
            f"hash to {found}; the registry or something between us and it altered the "
            "content: the blob was not committed"
        )
    if held:
        yield held
    if gathered:
        yield bytes(gathered)
