"""Local stand-ins for the base images the app Dockerfiles name, built without any registry.

No registry on the internet is reachable, so ``FROM docker.io/library/golang:...`` etc.
must resolve to local images. They are built from Debian packages (mmdebstrap, no
emulation) plus this machine's Go toolchain, committed into a read-only image store in
a cache directory keyed by a hash of the recipe, and added to each session's
containers environment as an additional image store: warm runs import nothing.

The golang stand-in also carries a Go build cache with the standard packages the Go builds
import, compiled here exactly as the Dockerfiles' ``go build`` compiles them: a build that
finds them reuses them (the binary is the same either way) instead of spending ~20 s per
build compiling the standard library. Anything not in it is compiled in the image as usual.

Also here: ``build_app_image()`` (``buildah bud --pull=never``) and ``run_container()``
(``podman run`` pulling by platform from a test registry, port published on loopback).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx

from .containers import ContainersEnv, enable_binfmt_arm64
from .go_tools import go_binary
from .proc import CommandError, require_tool, run
from .registry import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

log = logging.getLogger(__name__)

GO_IMAGE = "docker.io/library/golang:1.26-bookworm"
RUNTIME_IMAGE = "gcr.io/distroless/static-debian12:nonroot"
PYTHON_IMAGE = "docker.io/library/python:3.12-slim"
BASE_IMAGE_NAMES = (GO_IMAGE, RUNTIME_IMAGE, PYTHON_IMAGE)

# Bump when the recipe below changes in a way the hash cannot see (code, not data).
RECIPE_VERSION = 5
DEFAULT_CACHE_DIR = Path("/var/cache/metrics-api-e2e")
CACHE_ENV = "METRICS_API_E2E_CACHE"
SUITE = "bookworm"
MMDEBSTRAP_TIMEOUT = 900.0
BUILD_TIMEOUT = 1200.0
LOCK_TIMEOUT = 1800.0

STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GO_PATH_ENV = f"/usr/local/go/bin:{STD_PATH}"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
)
# "extract" runs no dpkg, so it leaves dpkg's status empty: write it from the packages it
# extracted, as the real images have it (an SBOM scanner lists a Debian image's packages there).
DPKG_STATUS_HOOK = (
    'for deb in "$1"/var/cache/apt/archives/*.deb; do dpkg-deb --field "$deb" '
    '| sed "/^Package:/a Status: install ok installed"; echo; done > "$1"/var/lib/dpkg/status'
)
# "extract" runs no maintainer scripts: no /etc/passwd, no CA bundle (we add both),
# but dash gives RUN steps their /bin/sh and coreutils the usual mkdir/cp.
GO_PACKAGES = ("ca-certificates", "dash", "coreutils")
PYTHON_PACKAGES = ("python3", "dash")  # python3, not -minimal: json and http.server
GOROOT_EXCLUDES = ("./test", "./doc", "./api", "./misc", "testdata")
# The standard packages app-amd64 and the smoke test's server import (with their
# dependencies), built the way app-amd64/Dockerfile builds: static, linux/amd64.
GO_CACHE_PACKAGES = (
    "context",
    "encoding/json",
    "errors",
    "fmt",
    "net/http",
    "net/url",
    "os/signal",
    "sort",
    "strconv",
    "strings",
    "sync",
    "time",
    "unicode/utf8",
)
GO_CACHE_ENV = ("CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=", "GOTOOLCHAIN=local")
GO_CACHE_DIR = "/root/.cache/go-build"  # the default GOCACHE of root in golang images

# distroless static-debian12 ships exactly these accounts.
DISTROLESS_USERS = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
DISTROLESS_GROUPS = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
# distroless records its Debian packages one file each in dpkg's status.d (no dpkg itself),
# with its os-release: what an SBOM scanner reads there.
DISTROLESS_OS_RELEASE = (
    'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\n'
    'VERSION="Debian GNU/Linux 12 (bookworm)"\nHOME_URL="https://github.com/GoogleContainerTools/distroless"\n'
)
DISTROLESS_PACKAGES = {
    "base-files": ("12.4+deb12u13", "amd64", "Debian base system miscellaneous files"),
    "netbase": ("6.4", "all", "Basic TCP/IP networking system"),
    "tzdata": ("2025b-0+deb12u2", "all", "time zone and daylight-saving time data"),
}
GOLANG_USERS = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
GOLANG_GROUPS = "root:x:0:\nnogroup:x:65534:\n"


class BaseImageError(RuntimeError):
    """Building or finding the stand-in base images failed."""


@dataclass(frozen=True)
class BaseImages:
    """Where the stand-ins live and what making them available cost this session."""

    names: tuple[str, ...]
    store: Path
    key: str
    built: bool
    seconds: float
    build_timings: Mapping[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------- recipe


def go_root() -> Path:
    """The machine's GOROOT, copied into the golang stand-in."""
    out = run([go_binary(), "env", "GOROOT"], timeout=30).stdout.strip()
    if not out:
        raise BaseImageError("`go env GOROOT` printed nothing")
    return Path(out)


def _go_version(goroot: Path) -> str:
    """``1.26.8`` from GOROOT/VERSION (first line ``go1.26.8``), as golang images set it."""
    version_file = goroot / "VERSION"
    if version_file.is_file():
        first = version_file.read_text(errors="replace").splitlines()[0].strip()
    else:
        first = run([go_binary(), "env", "GOVERSION"], timeout=30).stdout.strip()
    return first.removeprefix("go")


def go_version() -> str:
    """The Go of the golang stand-in (``1.26.8``): what its builds are built with."""
    return _go_version(go_root())


def _ca_bundle() -> bytes:
    return CA_BUNDLE.read_bytes() if CA_BUNDLE.is_file() else b""


def recipe() -> dict[str, object]:
    """Everything that decides the base images' content; its hash keys the cache."""
    goroot = go_root()
    return {
        "version": RECIPE_VERSION,
        "suite": SUITE,
        "go_packages": GO_PACKAGES,
        "python_packages": PYTHON_PACKAGES,
        "dpkg_excludes": DPKG_EXCLUDES,
        "goroot": str(goroot),
        "go_version": _go_version(goroot),
        "goroot_excludes": GOROOT_EXCLUDES,
        "go_cache": [GO_CACHE_PACKAGES, GO_CACHE_ENV, GO_CACHE_DIR],
        "go_env": GO_PATH_ENV,
        "distroless": [DISTROLESS_USERS, DISTROLESS_GROUPS],
        "golang_accounts": [GOLANG_USERS, GOLANG_GROUPS],
        "ca_bundle": hashlib.sha256(_ca_bundle()).hexdigest(),
    }


def recipe_key(driver: str) -> str:
    """Short hash of the recipe plus the storage driver (stores are driver-specific)."""
    data = json.dumps({"recipe": recipe(), "driver": driver}, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:16]


# ---------------------------------------------------------------------------- helpers


def _tar_of(entries: Sequence[tuple[str, bytes | None, int, int, int]]) -> bytes:
    """Tar with explicit owner/mode: (path, content or None for a dir, mode, uid, gid)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content, mode, uid, gid in entries:
            info = tarfile.TarInfo(path)
            info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 0
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _ca_entries() -> list[tuple[str, bytes | None, int, int, int]]:
    """The machine's CA bundle where Debian keeps it, if the machine has one."""
    bundle = _ca_bundle()
    if not bundle:
        return []
    return [
        ("etc/ssl", None, 0o755, 0, 0),
        ("etc/ssl/certs", None, 0o755, 0, 0),
        ("etc/ssl/certs/ca-certificates.crt", bundle, 0o644, 0, 0),
    ]


def _distroless_tar() -> bytes:
    entries: list[tuple[str, bytes | None, int, int, int]] = [
        ("etc", None, 0o755, 0, 0),
        ("etc/passwd", DISTROLESS_USERS.encode(), 0o644, 0, 0),
        ("etc/group", DISTROLESS_GROUPS.encode(), 0o644, 0, 0),
        ("home", None, 0o755, 0, 0),
        ("home/nonroot", None, 0o700, 65532, 65532),
        ("root", None, 0o700, 0, 0),
        ("tmp", None, 0o1777, 0, 0),
        ("etc/os-release", DISTROLESS_OS_RELEASE.encode(), 0o644, 0, 0),
        ("var", None, 0o755, 0, 0),
        ("var/lib", None, 0o755, 0, 0),
        ("var/lib/dpkg", None, 0o755, 0, 0),
        ("var/lib/dpkg/status.d", None, 0o755, 0, 0),
    ]
    for name, (version, arch, description) in DISTROLESS_PACKAGES.items():
        record = (
            f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
            f"Maintainer: Debian <debian@lists.debian.org>\nDescription: {description}\n"
        )
        entries.append((f"var/lib/dpkg/status.d/{name}", record.encode(), 0o644, 0, 0))
    return _tar_of(entries + _ca_entries())


def _golang_extras_tar() -> bytes:
    entries: list[tuple[str, bytes | None, int, int, int]] = [
        ("etc", None, 0o755, 0, 0),
        ("etc/passwd", GOLANG_USERS.encode(), 0o644, 0, 0),
        ("etc/group", GOLANG_GROUPS.encode(), 0o644, 0, 0),
        ("root", None, 0o700, 0, 0),
        ("tmp", None, 0o1777, 0, 0),
        ("go", None, 0o1777, 0, 0),
        ("go/src", None, 0o1777, 0, 0),
        ("go/bin", None, 0o1777, 0, 0),
    ]
    return _tar_of(entries + _ca_entries())


def _mmdebstrap_cmd(arch: str, packages: Sequence[str], out: Path) -> list[str]:
    cmd = [
        "mmdebstrap",
        "--quiet",
        "--variant=extract",
        f"--architectures={arch}",
        f"--include={','.join(packages)}",
    ]
    cmd += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
    return [*cmd, f"--extract-hook={DPKG_STATUS_HOOK}", SUITE, str(out)]


def _run_parallel(jobs: Mapping[str, list[str]], work: Path, timeout: float) -> dict[str, float]:
    """Run commands at once (each mmdebstrap is ~10 s of mostly waiting); return durations."""
    require_tool("mmdebstrap")
    require_tool("tar")
    started = time.monotonic()
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    durations: dict[str, float] = {}
    try:
        for label, cmd in jobs.items():
            log_path = work / f"{label}.log"
            with log_path.open("wb") as out:
                procs[label] = (
                    subprocess.Popen(
                        [require_tool(cmd[0]), *cmd[1:]],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    ),
                    log_path,
                )
        pending = dict(procs)
        while pending:
            if time.monotonic() - started > timeout:
                label, (_, log_path) = next(iter(pending.items()))
                raise CommandError(
                    jobs[label], None, "", log_path.read_text(errors="replace"), timeout=timeout
                )
            for label, (proc, log_path) in list(pending.items()):
                code = proc.poll()
                if code is None:
                    continue
                del pending[label]
                durations[label] = time.monotonic() - started
                if code != 0:
                    hint = (
                        "\n(mmdebstrap needs Debian's mirror, deb.debian.org, to be reachable)"
                        if jobs[label][0] == "mmdebstrap"
                        else ""
                    )
                    raise CommandError(
                        jobs[label], code, "", log_path.read_text(errors="replace") + hint
                    )
            time.sleep(0.1)
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    return durations


def _commit_image(  # noqa: PLR0913, PLR0917 - private, one call per image
    containers: ContainersEnv,
    env: Mapping[str, str],
    name: str,
    arch: str,
    adds: Sequence[tuple[Path, str]],
    config: Sequence[str],
) -> None:
    """``buildah from scratch`` + add tars + config + commit, all in the staging store."""

    def brun(cmd: list[str], timeout: float = 600) -> str:
        return containers.run(cmd, env=env, timeout=timeout).stdout

    ctr = brun(["buildah", "from", "--arch", arch, "--os", "linux", "scratch"]).strip()
    ctr = ctr.splitlines()[-1]
    try:
        for src, dest in adds:
            brun(["buildah", "add", "--quiet", ctr, str(src), dest])
        brun(["buildah", "config", "--arch", arch, "--os", "linux", *config, ctr])
        brun(["buildah", "commit", "--quiet", ctr, name])
    finally:
        containers.run(["buildah", "rm", ctr], env=env, check=False, timeout=120)


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """Exclusive lock across processes (two pytest sessions may build the same cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BaseImageError(
                        f"waited {timeout:g} s for {path}; is another run stuck building?"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_store(containers: ContainersEnv, staging: Path) -> dict[str, float]:
    """Build the three images into ``staging/store``; returns step timings."""
    timings: dict[str, float] = {}
    work = staging / "work"
    work.mkdir(parents=True)
    goroot = go_root()
    go_rootfs, py_rootfs, go_tar = work / "go-rootfs.tar", work / "py-rootfs.tar", work / "go.tar"
    tar_cmd = ["tar", "-C", str(goroot), "-cf", str(go_tar)]
    tar_cmd += [f"--exclude={pattern}" for pattern in GOROOT_EXCLUDES]
    go_cache = work / "go-build-cache"
    go_cache_cmd = ["env", f"GOCACHE={go_cache}", *GO_CACHE_ENV, go_binary(), "build"]
    go_cache_cmd += list(GO_CACHE_PACKAGES)
    start = time.monotonic()
    durations = _run_parallel(
        {
            "mmdebstrap-amd64": _mmdebstrap_cmd("amd64", GO_PACKAGES, go_rootfs),
            "mmdebstrap-arm64": _mmdebstrap_cmd("arm64", PYTHON_PACKAGES, py_rootfs),
            "goroot-tar": [*tar_cmd, "."],
            "go-build-cache": go_cache_cmd,
        },
        work,
        MMDEBSTRAP_TIMEOUT,
    )
    timings.update(durations)
    timings["rootfs"] = time.monotonic() - start

    (staging / "store").mkdir()
    (staging / "run").mkdir()
    storage_conf = staging / "storage.conf"
    storage_conf.write_text(
        "[storage]\n"
        f'driver = "{containers.driver}"\n'
        f'graphroot = "{staging / "store"}"\n'
        f'runroot = "{staging / "run"}"\n'
    )
    env = {"CONTAINERS_STORAGE_CONF": str(storage_conf)}
    golang_extras, distroless = work / "golang-extras.tar", work / "distroless.tar"
    golang_extras.write_bytes(_golang_extras_tar())
    distroless.write_bytes(_distroless_tar())

    start = time.monotonic()
    _commit_image(
        containers,
        env,
        GO_IMAGE,
        "amd64",
        [
            (go_rootfs, "/"),
            (golang_extras, "/"),
            (go_tar, "/usr/local/go"),
            (go_cache, GO_CACHE_DIR),
        ],
        [
            "--env",
            f"PATH={GO_PATH_ENV}",
            "--env",
            f"GOLANG_VERSION={_go_version(goroot)}",
            "--env",
            "GOTOOLCHAIN=local",
            "--env",
            "GOPATH=/go",
            "--workingdir",
            "/go",
            "--cmd",
            "sh",
        ],
    )
    timings["commit-golang"] = time.monotonic() - start
    start = time.monotonic()
    _commit_image(
        containers,
        env,
        RUNTIME_IMAGE,
        "amd64",
        [(distroless, "/")],
        [
            "--env",
            f"PATH={STD_PATH}",
            "--env",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            "--user",
            "65532",
            "--workingdir",
            "/home/nonroot",
        ],
    )
    timings["commit-distroless"] = time.monotonic() - start
    start = time.monotonic()
    _commit_image(
        containers,
        env,
        PYTHON_IMAGE,
        "arm64",
        [(py_rootfs, "/")],
        [
            "--variant",
            "v8",
            "--env",
            f"PATH={STD_PATH}",
            "--env",
            "LANG=C.UTF-8",
            "--cmd",
            "python3",
        ],
    )
    timings["commit-python"] = time.monotonic() - start
    shutil.rmtree(work)
    shutil.rmtree(staging / "run", ignore_errors=True)
    return timings


def ensure_base_images(containers: ContainersEnv, cache_dir: Path | None = None) -> BaseImages:
    """Make the three stand-in base images visible in ``containers`` (build once, cache).

    Cold: two mmdebstrap runs in parallel plus a copy of the Go toolchain, committed into
    ``<cache>/bases-<key>/store``. Warm: that store is just added as a read-only image
    store. The cache dir is ``$METRICS_API_E2E_CACHE`` or /var/cache/metrics-api-e2e.
    """
    started = time.monotonic()
    cache_root = cache_dir or Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)
    key = recipe_key(containers.driver)
    final = cache_root / f"bases-{key}"
    marker = final / "complete.json"
    built = False
    timings: dict[str, float] = {}
    with _locked(cache_root / f"bases-{key}.lock", LOCK_TIMEOUT):
        if not marker.is_file():
            log.warning("building stand-in base images into %s (cold cache)", final)
            shutil.rmtree(final, ignore_errors=True)
            staging = cache_root / f".staging-{key}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            try:
                timings = _build_store(containers, staging)
                staging.rename(final)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            marker.write_text(
                json.dumps({"recipe": recipe(), "timings": timings}, indent=2, default=str)
            )
            built = True
    store = final / "store"
    containers.add_image_store(store)
    _check_present(containers)
    seconds = time.monotonic() - started
    log.log(
        logging.WARNING if built else logging.INFO,
        "base images %s in %.1f s (store %s)%s",
        "built" if built else "reused",
        seconds,
        store,
        f", steps {timings}" if timings else "",
    )
    return BaseImages(BASE_IMAGE_NAMES, store, key, built, seconds, timings)


def _check_present(containers: ContainersEnv) -> None:
    expected = {GO_IMAGE: "amd64", RUNTIME_IMAGE: "amd64", PYTHON_IMAGE: "arm64"}
    for name, arch in expected.items():
        proc = containers.run(
            ["buildah", "inspect", "--type", "image", "--format", "{{.OCIv1.Architecture}}", name],
            check=False,
            timeout=60,
        )
        if proc.returncode != 0 or proc.stdout.strip() != arch:
            raise BaseImageError(
                f"stand-in base image {name} ({arch}) is not usable from {containers.storage_conf}"
                f": {proc.stdout.strip()} {proc.stderr.strip()[-500:]} (a damaged cache? "
                f"delete {containers.image_stores} and run again to rebuild it)"
            )


# ---------------------------------------------------------------------------- builds


def build_app_image(  # noqa: PLR0913 - signature agreed with the e2e tests
    containers: ContainersEnv,
    context_dir: Path,
    platform: str,
    tag: str,
    build_args: Mapping[str, str] | None = None,
    *,
    dockerfile: str = "Dockerfile",
    timeout: float = BUILD_TIMEOUT,
) -> str:
    """``buildah bud --pull=never`` for one platform (``linux/amd64``/``linux/arm64``).

    ``--pull=never`` makes any FROM that is not a local stand-in fail fast instead of
    trying the internet. Returns the built image ID.
    """
    if platform.split("/")[1:2] == ["arm64"]:
        enable_binfmt_arm64()  # only RUN steps need it; cheap when already on
    iid_file = containers.tmpdir / f"iid-{uuid.uuid4().hex}"
    cmd = [
        "buildah",
        "bud",
        "--pull=never",
        "--platform",
        platform,
        "--isolation",
        "chroot",
        "--iidfile",
        str(iid_file),
        "-f",
        str(context_dir / dockerfile),
        "-t",
        tag,
    ]
    for name, value in (build_args or {}).items():
        cmd += ["--build-arg", f"{name}={value}"]
    containers.run([*cmd, str(context_dir)], timeout=timeout)
    try:
        return iid_file.read_text().strip()
    finally:
        iid_file.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- running


@dataclass
class RunningContainer:
    """A detached ``podman run``; ``url`` reaches its published port on loopback.

    ``image_id`` is the config digest of the image that runs (``sha256:...``);
    ``image_digest`` is podman's digest for what ``image_ref`` named (the index, when it
    names one, in a fresh store); ``repo_digests`` holds every manifest digest podman
    recorded for it, including the per-platform manifest it resolved.
    """

    containers: ContainersEnv
    name: str
    image_ref: str
    arch: str
    host_port: int
    url: str
    image_id: str = ""
    image_digest: str = ""
    repo_digests: tuple[str, ...] = ()
    stopped: bool = False

    def load_image_info(self) -> None:
        """What podman actually runs: config digest, and the manifest digests it knows."""
        image_id = self.containers.run(
            ["podman", "inspect", "--format", "{{.Image}}", self.name], timeout=60
        ).stdout.strip()
        info = json.loads(
            self.containers.run(["podman", "image", "inspect", image_id], timeout=60).stdout
        )[0]
        self.image_id = f"sha256:{image_id}"
        self.image_digest = str(info.get("Digest", ""))
        digests = {str(ref).rsplit("@", 1)[-1] for ref in info.get("RepoDigests") or []}
        self.repo_digests = tuple(sorted(digests))

    def logs(self) -> str:
        """Container stdout+stderr (for failure messages)."""
        proc = self.containers.run(["podman", "logs", self.name], check=False, timeout=60)
        return proc.stdout + proc.stderr

    def state(self) -> str:
        """``running``, ``exited``, ... as podman reports it."""
        proc = self.containers.run(
            ["podman", "inspect", "--format", "{{.State.Status}}", self.name],
            check=False,
            timeout=60,
        )
        return proc.stdout.strip() or "unknown"

    def wait_ready(self, path: str = "/", timeout: float = 60.0) -> httpx.Response:
        """Poll ``url + path`` until any HTTP answer; fail with logs if it exits or times out."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while time.monotonic() < deadline:
                try:
                    return client.get(self.url + path)
                except httpx.TransportError as exc:
                    last = repr(exc)
                state = self.state()
                if state not in {"running", "created", "configured", "initialized"}:
                    raise RuntimeError(
                        f"container {self.name} ({self.image_ref}, {self.arch}) is {state}; "
                        f"logs:\n{self.logs()}"
                    )
                time.sleep(0.2)
        raise RuntimeError(
            f"{self.url}{path} did not answer within {timeout:g} s ({last}); container "
            f"{self.name} ({self.image_ref}, {self.arch}) is {self.state()}; logs:\n{self.logs()}"
        )

    def stop(self) -> None:
        """Stop and remove the container (it was started with --init, so SIGTERM works)."""
        if self.stopped:
            return
        self.stopped = True
        self.containers.run(
            ["podman", "rm", "--force", "--time", "5", self.name], check=False, timeout=60
        )


def run_container(  # noqa: PLR0913 - keyword options of podman run
    containers: ContainersEnv,
    image_ref: str,
    arch: str,
    env: Mapping[str, str] | None = None,
    *,
    variant: str | None = None,
    container_port: int = 8080,
    network: Literal["publish", "host"] = "publish",
    ready_path: str | None = "/",
    ready_timeout: float = 60.0,
) -> RunningContainer:
    """Pull ``image_ref`` by platform (``--arch``, resolving an index like a client) and run it.

    ``network="publish"`` (default) maps ``127.0.0.1:<free port>`` to ``container_port``
    through podman's bridge; ``"host"`` shares the host network and passes ``PORT``.
    Waits until ``ready_path`` answers (None: don't wait). Call ``.stop()`` when done.
    """
    if arch == "arm64":
        enable_binfmt_arm64()
    host_port = free_port()
    name = f"metrics-api-test-{uuid.uuid4().hex[:10]}"
    cmd = [
        "podman",
        "run",
        "--detach",
        "--init",
        "--name",
        name,
        "--pull=always",
        "--tls-verify=false",
        "--os",
        "linux",
        "--arch",
        arch,
    ]
    if variant:
        cmd += ["--variant", variant]
    run_env = dict(env or {})
    if network == "host":
        cmd += ["--network", "host"]
        run_env.setdefault("PORT", str(host_port))
    else:
        cmd += ["--publish", f"127.0.0.1:{host_port}:{container_port}"]
    for key, value in run_env.items():
        cmd += ["--env", f"{key}={value}"]
    containers.run([*cmd, image_ref], timeout=600)
    running = RunningContainer(
        containers, name, image_ref, arch, host_port, f"http://127.0.0.1:{host_port}"
    )
    try:
        running.load_image_info()
        if ready_path is not None:
            running.wait_ready(ready_path, ready_timeout)
    except BaseException:
        running.stop()
        raise
    return running


__all__ = [
    "BASE_IMAGE_NAMES",
    "GO_IMAGE",
    "PYTHON_IMAGE",
    "RUNTIME_IMAGE",
    "BaseImageError",
    "BaseImages",
    "RunningContainer",
    "build_app_image",
    "ensure_base_images",
    "go_version",
    "recipe",
    "recipe_key",
    "run_container",
]
