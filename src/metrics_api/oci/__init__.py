"""Engine-free core: assemble per-platform variants into one verified OCI index.

Resolve each variant, assemble an index by digest, publish it safely and verify it
against the digest ledger. Never imports ``dagger``, so it runs and is tested anywhere.
"""

from metrics_api.oci.errors import (
    AssemblyError,
    AuthenticationError,
    DigestMismatchError,
    InvalidInputError,
    OciError,
    RegistryError,
    ResolutionError,
    TagConflictError,
    VerificationError,
)
from metrics_api.oci.jobs import (
    Settings,
    VariantRequest,
    assemble,
    open_client,
    parse_expectation,
    parse_variant,
    resolve,
    verify,
)
from metrics_api.oci.platform import parse_platform
from metrics_api.oci.reference import parse_reference
from metrics_api.oci.reports import (
    AssembleReport,
    Check,
    EntryReport,
    VariantReport,
    VerificationReport,
)

__all__ = [
    "AssembleReport",
    "AssemblyError",
    "AuthenticationError",
    "Check",
    "DigestMismatchError",
    "EntryReport",
    "InvalidInputError",
    "OciError",
    "RegistryError",
    "ResolutionError",
    "Settings",
    "TagConflictError",
    "VariantReport",
    "VariantRequest",
    "VerificationError",
    "VerificationReport",
    "assemble",
    "open_client",
    "parse_expectation",
    "parse_platform",
    "parse_reference",
    "parse_variant",
    "resolve",
    "verify",
]
