"""Engine-free core: assemble per-platform variants into one verified OCI index.

Resolve each variant, assemble an index by digest, publish it safely and verify it
against the digest ledger. Never imports ``dagger``, so it runs and is tested anywhere.

The names below load with the module that defines them, on first use: importing a
submodule (``python -m metrics_api.oci`` imports this package first) costs only what
that submodule needs.
"""

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    "jobs": (
        "Settings",
        "VariantRequest",
        "assemble",
        "open_client",
        "parse_expectation",
        "parse_variant",
        "resolve",
        "verify",
    ),
    "platform": ("parse_platform",),
    "reference": ("parse_reference",),
    "reports": ("AssembleReport", "Check", "EntryReport", "VariantReport", "VerificationReport"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


class _Package(ModuleType):
    """The package's module type: ``assemble``, ``resolve`` and ``verify`` are the jobs."""

    def __setattr__(self, name: str, value: object) -> None:
        """Set an attribute, except a submodule over an exported name of the same spelling.

        Importing a submodule sets it on its package, and three submodules (``assemble``,
        ``resolve``, ``verify``) are named as the jobs that use them.
        """
        if name in _HOME and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
