"""Go programs the tests run, pinned, installed by ``go install`` into a cache outside the repo.

Debian packages neither distribution v3 nor go-containerregistry's registry, so they come
from the Go module proxy at a pinned version. Each version has its own directory
(``/var/cache/metrics-api-tools/crane@v0.22.1/crane``): "there" means "there at the pinned
version", with no need to ask Go. An install goes to a temporary directory that is renamed
into place, so a half-finished one is never found. ``scripts/test.sh`` installs them
(``python -m support.go_tools``); a test that finds one missing fails and says how.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .proc import ToolMissingError, require_tool, run

CACHE = Path(os.environ.get("METRICS_API_TOOLS_CACHE") or "/var/cache/metrics-api-tools")
INSTALL_TIMEOUT = 1800.0  # a first install downloads and compiles every dependency (syft: ~7 min)


@dataclass(frozen=True)
class GoTool:
    """A Go program at a pinned release: the binary ``go install`` makes, and from what."""

    name: str
    package: str
    version: str
    ldflags: str = ""  # what its release builds stamp in (a version it reports)
    built: str = ""  # the name `go install` gives it, when not ``name`` (`.../posix`)

    @property
    def path(self) -> Path:
        """Where the pinned binary lives once installed."""
        return CACHE / f"{self.name}@{self.version}" / self.name

    @property
    def install_arguments(self) -> list[str]:
        """``go install``'s arguments."""
        flags = [f"-ldflags={self.ldflags}"] if self.ldflags else []
        return ["install", *flags, f"{self.package}@{self.version}"]

    @property
    def install_command(self) -> str:
        """The command that installs it by hand."""
        flags = f"-ldflags='{self.ldflags}' " if self.ldflags else ""
        where = self.path.parent
        command = f"GOBIN={where} go install {flags}{self.package}@{self.version}"
        return f"{command} && mv {where}/{self.built} {self.path}" if self.built else command


@dataclass(frozen=True)
class LocalGoTool:
    """A Go program of this repository (its own module, dependencies pinned in go.sum)."""

    name: str
    directory: Path

    @property
    def version(self) -> str:
        """The hash of its sources: a change to them is a new version, built anew."""
        digest = hashlib.sha256()
        modules = [self.directory / "go.mod", self.directory / "go.sum"]
        for source in [*sorted(self.directory.glob("*.go")), *modules]:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        return digest.hexdigest()[:12]

    @property
    def path(self) -> Path:
        """Where the binary of these sources lives once built."""
        return CACHE / f"{self.name}@{self.version}" / self.name

    @property
    def install_command(self) -> str:
        """The command that builds it by hand."""
        return f"cd {self.directory} && go build -o {self.path} ."


# The registry of the `registry:3` image (Dagger's embedded registry); the latest v3 release.
DISTRIBUTION_V3 = GoTool(
    "registry", "github.com/distribution/distribution/v3/cmd/registry", "v3.1.2"
)
# The version bench/assemble_bench.py compares against.
CRANE = GoTool("crane", "github.com/google/go-containerregistry/cmd/crane", "v0.22.1")
# go-containerregistry's registry with the OCI 1.1 referrers API on (in this repository).
REFERRERS_REGISTRY = LocalGoTool("referrers-registry", Path(__file__).parent / "referrers_registry")
# `docker buildx imagetools inspect` reads a release's provenance as Docker's tools do.
BUILDX = GoTool("buildx", "github.com/docker/buildx/cmd/buildx", "v0.38.2")
# The two cosign generations a consumer verifies a signed release with: v2 reads the
# `sha256-<hex>.sig` / `.att` tags, v3 writes Sigstore bundles and reads both.
COSIGN_V2 = GoTool("cosign", "github.com/sigstore/cosign/v2/cmd/cosign", "v2.6.5")
COSIGN_V3 = GoTool("cosign", "github.com/sigstore/cosign/v3/cmd/cosign", "v3.1.3")
# The SBOM scanner a release runs, built as its releases are (CGO off, its version stamped,
# so its documents name "Tool: syft-1.57.2"): the tests run it as the pipeline does, from
# a stand-in of its image.
SYFT = GoTool(
    "syft", "github.com/anchore/syft/cmd/syft", "v1.57.2", ldflags="-X main.version=1.57.2"
)
# A Sigstore of the tests' own, on loopback, for keyless signing: Fulcio issues certificates
# for the test OIDC issuer's tokens and logs them in TesseraCT (its CT log), Rekor v2 logs
# each signature, the timestamp authority countersigns it (RFC 3161).
FULCIO = GoTool("fulcio", "github.com/sigstore/fulcio", "v1.8.8")
TESSERACT = GoTool(
    "tesseract",
    "github.com/transparency-dev/tesseract/cmd/tesseract/posix",
    "v0.1.1",
    built="posix",
)
REKOR = GoTool(
    "rekor-server",
    "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix",
    "v2.3.0",
    built="posix",
)
TIMESTAMP_AUTHORITY = GoTool(
    "timestamp-server", "github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server", "v2.1.3"
)
TOOLS: tuple[GoTool | LocalGoTool, ...] = (
    DISTRIBUTION_V3,
    CRANE,
    REFERRERS_REGISTRY,
    BUILDX,
    COSIGN_V2,
    COSIGN_V3,
    SYFT,
    FULCIO,
    TESSERACT,
    REKOR,
    TIMESTAMP_AUTHORITY,
)


def require_go_tool(tool: GoTool | LocalGoTool) -> str:
    """The pinned binary's path, or ToolMissingError saying how to install it."""
    if tool.path.is_file():
        return str(tool.path)
    raise ToolMissingError(
        f"{tool.name} {tool.version}",
        hint=f"run `bash scripts/test.sh` (it installs it) or `{tool.install_command}`",
    )


def go_binary() -> str:
    """``go`` from PATH, else the toolchain in /usr/local/go."""
    try:
        return require_tool("go")
    except ToolMissingError:
        fallback = Path("/usr/local/go/bin/go")
        if fallback.is_file():
            return str(fallback)
        raise ToolMissingError("go", "golang-go (or Go 1.24+ in /usr/local/go)") from None


def install(tool: GoTool | LocalGoTool) -> Path:
    """Install (or build) ``tool`` unless it is there already; its path."""
    if tool.path.is_file():
        return tool.path
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{tool.name}@{tool.version}-", dir=CACHE))
    try:
        if isinstance(tool, LocalGoTool):
            run(
                [go_binary(), "build", "-o", str(staging / tool.name), "."],
                cwd=tool.directory,
                timeout=INSTALL_TIMEOUT,
            )
        else:
            run(
                [go_binary(), *tool.install_arguments],
                env={**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0"},
                timeout=INSTALL_TIMEOUT,
            )
            if tool.built:
                (staging / tool.built).rename(staging / tool.name)
        staging.chmod(0o755)
        staging.rename(tool.path.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tool.path


def main() -> None:
    """Install every pinned tool that is missing; say which."""
    for tool in TOOLS:
        if not tool.path.is_file():
            what = tool.package if isinstance(tool, GoTool) else tool.directory.name
            print(f"installing {what}@{tool.version} into {tool.path.parent}")  # noqa: T201
            install(tool)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
