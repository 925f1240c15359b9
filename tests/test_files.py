"""atomic_write: a reader sees the old file or the new one, never half of one, and no temporary is left."""
import os

import pytest

from data import files
from data.files import atomic_write


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "page.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["page.json"]


def test_failed_rename_keeps_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "page.json"
    atomic_write(target, b"old")
    written = []

    def failing_replace(src, dst):
        written.append(open(src, "rb").read())  # the new bytes were complete in the temporary
        raise OSError("disk vanished")

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk vanished"):
        atomic_write(target, b"new")
    assert written == [b"new"]
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["page.json"]
