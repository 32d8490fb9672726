"""Which certificate authorities the client trusts: the system's, plus any the user names.

``truststore`` verifies with the operating system's own trust store (the one
``update-ca-certificates`` and corporate device management fill), as pip does, instead of
the certificate bundle httpx ships. CA certificates given by the user (a private
registry's CA, PEM text) are trusted in addition.
"""

import ssl

from metrics_api.oci.errors import InvalidInputError


def trust_context(ca_certificates: str = "", where: str = "the CA certificates") -> ssl.SSLContext:
    """A TLS client context trusting the system store and ``ca_certificates`` (PEM)."""
    import truststore  # noqa: PLC0415 - only a job that speaks HTTPS pays for its import

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_certificates:
        try:
            context.load_verify_locations(cadata=ca_certificates)
        except (ssl.SSLError, ValueError) as error:
            raise InvalidInputError(
                f"expected {where} to hold PEM certificates (-----BEGIN CERTIFICATE-----), "
                f"found something else ({error}); give the CA's certificate file"
            ) from None
    return context
