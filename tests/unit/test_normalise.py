"""Clamping an image's times to SOURCE_DATE_EPOCH: only later times move, nothing else."""

import gzip
import io
import json
import tarfile

import pytest

from metrics_api.oci.errors import InvalidInputError
from metrics_api.oci.release.normalise import (
    clamp_config,
    clamp_tar,
    deterministic_gzip,
    parse_epoch,
)

pytestmark = pytest.mark.unit

EPOCH = 1_700_000_000
OLD = EPOCH - 86_400
NEW = EPOCH + 3_600


def layer(new_mtime: float = NEW) -> bytes:
    """A layer as builders write them: dirs, files, a symlink, a hardlink, xattrs, PAX times."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, mtime, data in [
            ("app", tarfile.DIRTYPE, new_mtime, b""),
            ("app/old.txt", tarfile.REGTYPE, OLD, b"from the base\n"),
            ("app/new.bin", tarfile.REGTYPE, new_mtime, b"\x7fELF built\n"),
            ("app/link", tarfile.SYMTYPE, new_mtime, b""),
            ("app/hard", tarfile.LNKTYPE, new_mtime, b""),
        ]:
            member = tarfile.TarInfo(name)
            member.type, member.mtime, member.size = kind, mtime, len(data)
            member.mode, member.uid, member.gid = 0o4755 if "bin" in name else 0o644, 65532, 65532
            member.uname, member.gname = "nonroot", "nonroot"
            if kind == tarfile.SYMTYPE:
                member.linkname = "new.bin"
            if kind == tarfile.LNKTYPE:
                member.linkname = "app/old.txt"
            if name == "app/new.bin":
                member.pax_headers = {
                    "SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
                    "atime": f"{new_mtime}.5",
                    "ctime": f"{new_mtime}.25",
                }
            tar.addfile(member, io.BytesIO(data) if data else None)
    return out.getvalue()


def members(data: bytes) -> list[tuple[str, int, float, int, int, str, str, dict[str, str]]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        found = []
        for m in tar:
            content = tar.extractfile(m).read().decode("latin-1") if m.isreg() else m.linkname  # type: ignore[union-attr]
            found.append(
                (m.name, m.mode, m.mtime, m.uid, m.gid, m.uname, content, dict(m.pax_headers))
            )
        return found


def test_only_times_later_than_the_epoch_move_and_nothing_else_changes() -> None:
    before = members(layer())
    after = members(clamp_tar(layer(), EPOCH) or b"")

    assert [m[0] for m in after] == [m[0] for m in before], "same entries, same order"
    for old, new in zip(before, after, strict=True):
        name, mode, mtime, uid, gid, uname, content, pax = old
        assert new[:2] == (name, mode)
        assert new[2] == min(mtime, EPOCH), name
        assert new[3:7] == (uid, gid, uname, content)
        assert new[7].get("SCHILY.xattr.security.capability") == pax.get(
            "SCHILY.xattr.security.capability"
        )
        for key in ("atime", "ctime"):
            if key in pax:
                assert float(new[7][key]) == EPOCH
    assert after[1][2] == OLD, "an earlier time is kept"


def test_a_layer_with_nothing_later_is_left_alone_so_normalising_twice_changes_nothing() -> None:
    once = clamp_tar(layer(), EPOCH)
    assert once is not None
    assert clamp_tar(once, EPOCH) is None
    assert clamp_tar(layer(new_mtime=OLD), EPOCH) is None


def test_the_same_files_written_an_hour_apart_clamp_to_the_same_bytes() -> None:
    first = clamp_tar(layer(new_mtime=NEW), EPOCH)
    later = clamp_tar(layer(new_mtime=NEW + 3_600), EPOCH)
    assert first == later
    assert deterministic_gzip(first or b"") == deterministic_gzip(later or b"")
    zipped = deterministic_gzip(first or b"")
    assert zipped[4:8] == b"\0\0\0\0", "no time in the gzip header"
    assert gzip.decompress(zipped) == first


def test_the_config_and_its_history_are_clamped_fractions_and_offsets_read() -> None:
    config = {
        "created": "2023-11-14T23:13:20.123456789Z",
        "architecture": "amd64",
        "history": [
            {"created": "2023-11-13T00:00:00Z", "created_by": "base"},
            {"created": "2023-11-15T01:00:00+01:00", "created_by": "COPY"},
        ],
    }
    clamped = json.loads(clamp_config(json.dumps(config).encode(), EPOCH) or b"{}")
    assert clamped["created"] == "2023-11-14T22:13:20Z"
    assert clamped["history"][0]["created"] == "2023-11-13T00:00:00Z"
    assert clamped["history"][1]["created"] == "2023-11-14T22:13:20Z"
    assert clamp_config(json.dumps(clamped).encode(), EPOCH) is None


@pytest.mark.parametrize(
    ("text", "found"),
    [("-1", "'-1'"), ("1.5", "'1.5'"), ("yesterday", "'yesterday'"), ("", "''")],
)
def test_an_epoch_that_is_not_a_whole_number_is_one_line(text: str, found: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_epoch(text, now=EPOCH)
    assert str(raised.value) == (
        "expected SOURCE_DATE_EPOCH to be a whole, non-negative number of seconds since "
        f"1970-01-01 (the commit time git log prints with %ct), found {found}"
    )


def test_an_epoch_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"found 1700003600 \(2023-11-14T23:13:20Z\)"):
        parse_epoch(str(NEW), now=EPOCH)
    assert parse_epoch(f" {EPOCH} ", now=EPOCH) == EPOCH
