"""Real cosign, both generations, offline and key-based, as a release's consumer runs it.

No transparency log and no public trust servers here: v2 verifies with an empty trusted
root (``cosign trusted-root create``) and ``--insecure-ignore-tlog``; v3 needs only the
latter. Each call runs with its own ``HOME`` so no cosign cache or login leaks between
tests, and with ``COSIGN_PASSWORD`` only where a key is made.
"""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from metrics_api.oci.signing.keys import SigningKey, load_signing_key

from .go_tools import COSIGN_V2, COSIGN_V3, GoTool, require_go_tool

COSIGN_TIMEOUT = 120.0
GENERATIONS = {"v2": COSIGN_V2, "v3": COSIGN_V3}


@dataclass(frozen=True)
class KeyPair:
    """A key pair as ``cosign generate-key-pair`` writes it, and the password of its key."""

    private: Path
    public: Path
    password: str


@dataclass(frozen=True)
class Cosign:
    """One cosign generation, with a home directory of its own."""

    tool: GoTool
    home: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run cosign; the caller asserts on the exit code and the output."""
        binary = require_go_tool(self.tool)  # missing: fails and says how to install it
        self.home.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [binary, *args],
            capture_output=True,
            text=True,
            timeout=COSIGN_TIMEOUT,
            cwd=self.home,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(self.home), **(env or {})},
            check=False,
        )

    def _offline(self) -> list[str]:
        flags = ["--insecure-ignore-tlog=true", "--allow-http-registry=true"]
        if self.tool is COSIGN_V2:  # v2 needs trust material, even empty
            root = self.home / "trusted_root.json"
            if not root.exists():
                made = self.run("trusted-root", "create", "--out", str(root))
                assert made.returncode == 0, made.stderr
            flags += ["--trusted-root", str(root)]
        return flags

    def generate_key_pair(self, name: str, password: str) -> KeyPair:
        """``cosign generate-key-pair``: ``name.key`` (encrypted) and ``name.pub``."""
        made = self.run(
            "generate-key-pair",
            "--output-key-prefix",
            name,
            env={"COSIGN_PASSWORD": password},
        )
        assert made.returncode == 0, made.stderr
        return KeyPair(self.home / f"{name}.key", self.home / f"{name}.pub", password)

    def verify(self, ref: str, public_key: Path) -> subprocess.CompletedProcess[str]:
        """``cosign verify --key``: a signature by that key on ``ref``'s digest."""
        return self.run("verify", "--key", str(public_key), *self._offline(), ref)

    def verify_attestation(
        self, ref: str, public_key: Path, kind: str = "slsaprovenance1"
    ) -> subprocess.CompletedProcess[str]:
        """``cosign verify-attestation --type KIND --key`` (``spdxjson`` for an SBOM)."""
        return self.run(
            "verify-attestation",
            "--type",
            kind,
            "--key",
            str(public_key),
            *self._offline(),
            ref,
        )


def cosign(generation: str, home: Path) -> Cosign:
    """cosign ``v2`` or ``v3`` (the pinned versions of support.go_tools)."""
    return Cosign(GENERATIONS[generation], home / generation)


@dataclass(frozen=True)
class Kit:
    """Both cosign generations, and two key pairs made by real ``cosign generate-key-pair``."""

    tools: dict[str, Cosign]
    key: KeyPair
    other: KeyPair

    def signer(self) -> SigningKey:
        """The release key as the release opens it."""
        return load_signing_key(
            self.key.private.read_bytes(),
            self.key.password,
            where="test key",
            given_in="the test",
        )


def make_kit(home: Path, password: str) -> Kit:
    """cosign v2 and v3 in ``home``; the release key (``password``) and another."""
    tools = {generation: cosign(generation, home) for generation in ("v2", "v3")}
    key = tools["v2"].generate_key_pair("release", password)
    other = tools["v3"].generate_key_pair("other", "another password")
    return Kit(tools, key, other)
