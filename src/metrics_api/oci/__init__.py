"""Engine-free core: assemble per-platform variants into one verified OCI index.

Resolve each variant, assemble an index by digest, publish it safely and verify it
against the digest ledger. Never imports ``dagger``, so it runs and is tested anywhere.

The names below load with the module that defines them, on first use: importing a
submodule (``python -m metrics_api.oci`` imports this package first) costs only what
that submodule needs.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metrics_api.oci.checks import Check, EntryReport
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
    from metrics_api.oci.inputs import VariantRequest, parse_expectation, parse_variant
    from metrics_api.oci.jobs import assemble, resolve, verify
    from metrics_api.oci.registry.session import Settings, open_client
    from metrics_api.oci.release.reports import (
        AssembleReport,
        VariantReport,
        VerificationReport,
    )
    from metrics_api.oci.spec.platform import parse_platform
    from metrics_api.oci.spec.reference import parse_reference

_MODULES = {
    "errors": (
        "AssemblyError",
        "AuthenticationError",
        "DigestMismatchError",
        "InvalidInputError",
        "OciError",
        "RegistryError",
        "ResolutionError",
        "TagConflictError",
        "VerificationError",
    ),
    "registry.session": ("Settings", "open_client"),
    "inputs": ("VariantRequest", "parse_expectation", "parse_variant"),
    "jobs": ("assemble", "resolve", "verify"),
    "spec.platform": ("parse_platform",),
    "spec.reference": ("parse_reference",),
    "checks": ("Check", "EntryReport"),
    "release.reports": ("AssembleReport", "VariantReport", "VerificationReport"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - module attribute hook
    """Load an exported name from its module on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
