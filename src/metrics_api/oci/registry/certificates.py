"""Who issued a certificate the client refused, so the error can name the CA to trust.

The verification error of ``ssl`` says why a certificate is not trusted but not who issued
it, and ``ssl`` decodes no certificate it did not verify. So, once verification failed,
one more handshake without verification fetches the certificate, and its issuer is read
from the DER bytes (RFC 5280: Certificate, TBSCertificate, issuer Name).
"""

import ssl
from typing import Final

import anyio
from anyio.streams.tls import TLSAttribute

# RFC 4519 attribute types worth showing, by their DER-encoded object identifiers.
_ATTRIBUTES: Final = {
    bytes.fromhex("550403"): "CN",
    bytes.fromhex("55040a"): "O",
    bytes.fromhex("55040b"): "OU",
}
_EXPLICIT_VERSION: Final = 0xA0


def _element(der: bytes, position: int) -> tuple[int, int, int]:
    """The DER element at ``position``: its tag, and where its content starts and ends."""
    tag, length = der[position], der[position + 1]
    start = position + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    if start + length > len(der):
        raise ValueError("truncated DER")
    return tag, start, start + length


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    result = []
    while start < end:
        element = _element(der, start)
        result.append(element)
        start = element[2]
    return result


def issuer_of(der: bytes) -> str:
    """The issuer of a DER certificate as ``CN=..., O=...``; empty when it cannot be read."""
    try:
        _, start, end = _element(der, 0)
        _, start, end = _children(der, start, end)[0]  # tbsCertificate
        fields = _children(der, start, end)
        if fields[0][0] == _EXPLICIT_VERSION:
            fields = fields[1:]
        _, start, end = fields[2]  # serialNumber, signature, issuer
        names = []
        for _, set_start, set_end in _children(der, start, end):
            for _, pair_start, pair_end in _children(der, set_start, set_end):
                (_, oid_start, oid_end), (_, value_start, value_end) = _children(
                    der, pair_start, pair_end
                )[:2]
                name = _ATTRIBUTES.get(der[oid_start:oid_end])
                if name:
                    names.append(f"{name}={der[value_start:value_end].decode(errors='replace')}")
    except (IndexError, ValueError):
        return ""
    return ", ".join(reversed(names))  # most specific first, as RFC 4514 writes names


async def peer_issuer(host: str, port: int) -> str:
    """The issuer of the certificate ``host:port`` presents; empty if it cannot be fetched.

    The caller bounds the time it may take.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read who issued it; nothing is sent
    try:
        stream = await anyio.connect_tcp(
            host, port, ssl_context=context, tls_hostname=host, tls_standard_compatible=False
        )
    except OSError:
        return ""
    async with stream:
        der = stream.extra(TLSAttribute.peer_certificate_binary, None)  # noqa: S610 - anyio's, not Django's
    return issuer_of(der) if der else ""
