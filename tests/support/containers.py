"""An isolated buildah/skopeo/podman environment, so tests never touch the machine's images.

Everything (image storage, podman state, registries.conf, auth file, temp files) lives
in one temporary directory that ``cleanup()`` removes. Tools pick it up through the
environment returned by ``env()``; ``run()`` passes it for you.

Quirks of these VMs (see /work/shared/docs/container-tools.md): crun fails on the hybrid
cgroup setup (we select runc), podman's default ulimits are refused (we set explicit
ones), and skopeo 1.9 ignores ``CONTAINERS_REGISTRIES_CONF`` (``skopeo()`` passes
``--registries-conf``; helpers also pass ``--tls-verify=false`` for loopback registries).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .proc import DEFAULT_TIMEOUT, CommandError, ToolMissingError, require_tool, run, run_bytes

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
_CLEANUP_TIMEOUT = 60.0


def probe_overlay(work_dir: Path) -> bool:
    """Whether an overlay mount works here (it does not on some nested filesystems)."""
    dirs = {name: work_dir / name for name in ("lower", "upper", "work", "merged")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    opts = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
    try:
        run(["mount", "-t", "overlay", "overlay", "-o", opts, str(dirs["merged"])], timeout=20)
    except (CommandError, ToolMissingError) as exc:
        log.warning("overlay mounts do not work here, using vfs storage: %s", exc)
        return False
    run(["umount", str(dirs["merged"])], timeout=20, check=False)
    shutil.rmtree(work_dir, ignore_errors=True)
    return True


class ContainersEnv:
    """Config files and storage for one test session's buildah/skopeo/podman calls."""

    def __init__(self, root: Path, *, driver: str | None = None) -> None:
        """Write the config files under ``root`` (created if needed)."""
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.graphroot = root / "storage"
        self.runroot = root / "run"
        self.tmpdir = root / "tmp"
        self.storage_conf = root / "storage.conf"
        self.containers_conf = root / "containers.conf"
        self.registries_conf = root / "registries.conf"
        self.auth_file = root / "auth.json"
        for path in (self.graphroot, self.runroot, self.tmpdir, root / "libpod-tmp"):
            path.mkdir(parents=True, exist_ok=True)
        if driver is None:
            driver = "overlay" if probe_overlay(root / "overlay-probe") else "vfs"
        self.driver = driver
        self.image_stores: list[Path] = []
        self._write_storage_conf()
        self.containers_conf.write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{root / "libpod-tmp"}"\n'
            f'volume_path = "{root / "volumes"}"\n'
        )
        # "127.0.0.1" matches every port (a ":" may follow the prefix); no search
        # registries, so a short name never reaches out to the internet.
        self.registries_conf.write_text(
            "unqualified-search-registries = []\n"
            'short-name-mode = "permissive"\n'
            "\n[[registry]]\n"
            'location = "127.0.0.1"\n'
            "insecure = true\n"
            "\n[[registry]]\n"
            'location = "localhost"\n'
            "insecure = true\n"
        )
        self.auth_file.write_text('{"auths": {}}\n')

    def _write_storage_conf(self) -> None:
        stores = ", ".join(f'"{p}"' for p in self.image_stores)
        self.storage_conf.write_text(
            "[storage]\n"
            f'driver = "{self.driver}"\n'
            f'graphroot = "{self.graphroot}"\n'
            f'runroot = "{self.runroot}"\n'
            "[storage.options]\n"
            f"additionalimagestores = [{stores}]\n"
        )

    def add_image_store(self, store: Path) -> None:
        """Make a read-only image store (e.g. cached base images) visible to every tool."""
        if store not in self.image_stores:
            self.image_stores.append(store)
            self._write_storage_conf()

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for subprocesses: our configs, chroot isolation, no host credentials."""
        env = dict(os.environ)
        path = env.get("PATH", "/usr/bin:/bin")
        for extra_dir in ("/usr/local/sbin", "/usr/sbin", "/sbin"):
            if extra_dir not in path.split(":"):
                path = f"{path}:{extra_dir}"
        env.update(
            {
                "PATH": path,
                "CONTAINERS_CONF": str(self.containers_conf),
                "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
                "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
                "REGISTRY_AUTH_FILE": str(self.auth_file),
                "BUILDAH_ISOLATION": "chroot",
                "TMPDIR": str(self.tmpdir),
            }
        )
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        cmd: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a tool in this environment (``env`` adds variables on top)."""
        return run(cmd, env=self.env(env), timeout=timeout, check=check, cwd=cwd)

    def run_bytes(
        self,
        cmd: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Like ``run`` but stdout stays bytes (manifests must be hashed as served)."""
        return run_bytes(cmd, env=self.env(), timeout=timeout, check=check)

    def skopeo(self, *args: str) -> list[str]:
        """``skopeo`` argv that honours our registries.conf (skopeo 1.9 ignores the env var)."""
        return ["skopeo", "--registries-conf", str(self.registries_conf), *args]

    def _mounts_below_root(self) -> list[str]:
        try:
            lines = Path("/proc/self/mountinfo").read_text().splitlines()
        except OSError:
            return []
        prefix = str(self.root)
        mounts = [line.split()[4] for line in lines if len(line.split()) > 4]
        found = [m for m in mounts if m == prefix or m.startswith(prefix + "/")]
        # Deepest first, so nested mounts go before their parents.
        return sorted(set(found), key=len, reverse=True)

    def cleanup(self) -> None:
        """Remove containers, images and the whole directory; warn (never hang) on leftovers."""
        steps = [
            ["podman", "rm", "--all", "--force", "--time", "0"],
            ["buildah", "rm", "--all"],
            ["buildah", "rmi", "--all", "--force"],
        ]
        for cmd in steps:
            if shutil.which(cmd[0]) is None:
                continue
            try:
                self.run(cmd, timeout=_CLEANUP_TIMEOUT, check=False)
            except CommandError as exc:
                warnings.warn(f"cleanup step timed out: {exc}", stacklevel=2)
        for mount in self._mounts_below_root():
            with contextlib.suppress(CommandError, ToolMissingError):
                run(["umount", "-l", mount], timeout=20, check=False)
        errors: list[str] = []

        def onerror(_func: object, path: str, exc_info: object) -> None:
            errors.append(f"{path}: {exc_info}")

        shutil.rmtree(self.root, onerror=onerror)
        if errors:
            warnings.warn(
                f"could not remove all of {self.root} ({len(errors)} leftovers), "
                f"first: {errors[0]}",
                stacklevel=2,
            )


def create_containers_env(
    parent: Path | None = None, *, driver: str | None = None
) -> ContainersEnv:
    """Create an isolated environment in a fresh temp dir; checks buildah/skopeo/podman exist.

    ``driver`` forces a storage driver (default: overlay when it mounts here, else vfs;
    the METRICS_API_STORAGE_DRIVER environment variable overrides it too).
    """
    for tool in ("buildah", "skopeo", "podman", "runc"):
        require_tool(tool)
    driver = driver or os.environ.get("METRICS_API_STORAGE_DRIVER") or None
    root = Path(tempfile.mkdtemp(prefix="metrics-api-containers-", dir=parent))
    return ContainersEnv(root, driver=driver)


def _binfmt_entry() -> Path:
    return BINFMT_DIR / "qemu-aarch64"


def _binfmt_enabled() -> bool:
    try:
        return _binfmt_entry().read_text().splitlines()[0].strip() == "enabled"
    except (OSError, IndexError):
        return False


def enable_binfmt_arm64() -> None:
    """Let the kernel run arm64 binaries through qemu-user (RUN steps, ``podman run --arch``).

    Mounts binfmt_misc if needed and enables Debian's qemu-aarch64 entry; machine-wide
    and idempotent. Raises ToolMissingError naming qemu-user-static / binfmt-support.
    """
    if _binfmt_enabled():
        return
    require_tool("qemu-aarch64-static")
    require_tool("update-binfmts")
    if not os.path.ismount(BINFMT_DIR):
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)], timeout=20)
    if not _binfmt_entry().exists():
        # Entry not registered yet (binfmt-support not started): import Debian's definition.
        run(["update-binfmts", "--import", "qemu-aarch64"], timeout=30, check=False)
    run(["update-binfmts", "--enable", "qemu-aarch64"], timeout=30)
    if not _binfmt_enabled():
        raise RuntimeError(
            f"update-binfmts --enable qemu-aarch64 ran but {_binfmt_entry()} is not enabled; "
            "check the packages qemu-user-static and binfmt-support "
            "(apt-get install -y qemu-user-static binfmt-support)"
        )


__all__ = [
    "CommandError",
    "ContainersEnv",
    "ToolMissingError",
    "create_containers_env",
    "enable_binfmt_arm64",
    "probe_overlay",
    "run",
    "run_bytes",
]
