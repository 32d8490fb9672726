"""Print the source folder digest a release's provenance records for a folder of a checkout.

A file's digest is the engine's, by content alone: the SHA-256 of the file's SHA-256 (what
Dagger v0.21's ``File.digest(excludeMetadata: true)`` returns). The folder's is the SHA-256
of one ``DIGEST  PATH`` line per file, sorted by path; ``__pycache__`` is left out, as the
module's source leaves it out. Usage: ``python3 scripts/source-digest.py app-arm64``.
"""

import hashlib
import sys
from pathlib import Path


def folder_digest(folder: Path) -> str:
    """The digest of every file under ``folder``, as the release records it."""
    files = {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.relative_to(folder).parts
    }
    lines = ""
    for name in sorted(files):
        content = hashlib.sha256(files[name].read_bytes()).digest()
        lines += f"{hashlib.sha256(content).hexdigest()}  {name}\n"
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():  # noqa: PLR2004 - one argument
        sys.exit("usage: python3 scripts/source-digest.py FOLDER")
    print(folder_digest(Path(sys.argv[1])))  # noqa: T201 - its output
