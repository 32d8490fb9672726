"""A real Docker credential helper: ``docker-credential-pass`` over a throwaway store.

Debian's ``golang-docker-credential-helpers`` ships it; it keeps each secret in ``pass``,
encrypted with gpg. The key (no passphrase), the gpg agent and the store all live in one
temporary directory, found through ``env()``; ``close()`` stops that agent and removes it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .proc import require_tool, run

HELPER = "pass"  # the name a Docker config uses for docker-credential-pass
_TIMEOUT = 120.0


class PassStore:
    """A gpg home, a key and a password store that ``docker-credential-pass`` uses."""

    def __init__(self, root: Path) -> None:
        """Lay out the directories; ``create_pass_store()`` also makes the key."""
        self.root = root
        self.home = root / "home"
        self.gnupg_home = root / "gnupg"
        self.store_dir = root / "password-store"
        self.home.mkdir()
        self.gnupg_home.mkdir(mode=0o700)

    def env(self) -> dict[str, str]:
        """Variables that point gpg, pass and the helper at this store only."""
        return {
            "HOME": str(self.home),
            "GNUPGHOME": str(self.gnupg_home),
            "PASSWORD_STORE_DIR": str(self.store_dir),
        }

    def run(self, cmd: list[str], input_text: str | None = None) -> str:
        """Run a tool against this store; return its stdout."""
        env = {**os.environ, **self.env()}
        return run(cmd, env=env, input_text=input_text, timeout=_TIMEOUT).stdout

    def store(self, server_url: str, username: str, secret: str) -> None:
        """What ``docker login`` does with a credential helper configured."""
        document = {"ServerURL": server_url, "Username": username, "Secret": secret}
        self.run(["docker-credential-pass", "store"], input_text=json.dumps(document))

    def close(self) -> None:
        """Stop the gpg agent of this home (it outlives gpg) and delete everything."""
        self.run(["gpgconf", "--kill", "gpg-agent"])
        shutil.rmtree(self.root, ignore_errors=True)


def create_pass_store() -> PassStore:
    """A ready store: a fresh key without passphrase, and ``pass init`` with it.

    Raises ToolMissingError naming the Debian package when gpg, pass or the helper is
    missing.
    """
    require_tool("docker-credential-pass")
    require_tool("pass")
    require_tool("gpg")
    require_tool("gpgconf")
    store = PassStore(Path(tempfile.mkdtemp(prefix="metrics-api-pass-")))
    try:
        store.run(
            [
                "gpg",
                "--batch",
                "--quiet",
                "--passphrase",
                "",
                "--quick-gen-key",
                "metrics-api tests <tests@example.invalid>",
                "future-default",  # ed25519 and cv25519: made at once, no entropy wait
                "default",
                "never",
            ]
        )
        listing = store.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"])
        fingerprint = next(
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
        )
        store.run(["pass", "init", fingerprint])
    except BaseException:
        store.close()
        raise
    return store
