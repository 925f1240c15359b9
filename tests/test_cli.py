"""The `hotich` command line, run as a real subprocess."""
import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from data.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]


def hotich(*args, shared=None, cwd=ROOT):
    env = dict(os.environ)
    if shared is not None:
        env["HOTICH_SHARED"] = str(shared)
    return subprocess.run([sys.executable, "-m", "hotich", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_font_path_works_without_shared_data(tmp_path):
    missing = tmp_path / "no-shared-here"
    sheet = tmp_path / "sheet.png"
    result = hotich("data", "preview", "--source", "font", "--n", "4", "--out", str(sheet), shared=missing)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["lines"] == 4
    assert Image.open(sheet).size[0] > 600

    out = tmp_path / "font-lines"
    result = hotich("data", "export-manifest", "--source", "font", "--n", "6", "--book", "khai_tu",
                    "--seed", "7", "--out", str(out), shared=missing)
    assert result.returncode == 0, result.stderr
    records = read_manifest(out / "manifest.jsonl", check_images=True)
    assert len(records) == 6
    assert {r.extra["book"] for r in records} == {"khai_tu"}
    assert {r.extra["source"] for r in records} == {"synth-font"}
    stats = hotich("data", "stats", str(out / "manifest.jsonl"), shared=missing)
    assert stats.returncode == 0, stats.stderr
    summary = json.loads(stats.stdout)[0]
    assert summary["lines"] == 6 and summary["out_of_charset"] == [] and summary["missing_images"] == 0


def test_commands_needing_shared_data_say_so(tmp_path):
    missing = tmp_path / "absent"
    for args in (["data", "preview", "--source", "cinnamon", "--out", str(tmp_path / "x.png")],
                 ["data", "export-manifest", "--source", "vnondb", "--n", "3", "--out", str(tmp_path / "v")]):
        result = hotich(*args, shared=missing)
        assert result.returncode == 2
        assert "HOTICH_SHARED" in result.stderr and str(missing) in result.stderr
        assert "Traceback" not in result.stderr


def test_export_is_deterministic(tmp_path):
    for name in ("a", "b"):
        assert hotich("data", "export-manifest", "--source", "font", "--n", "3", "--seed", "42",
                      "--out", str(tmp_path / name)).returncode == 0
    a = read_manifest(tmp_path / "a" / "manifest.jsonl")
    b = read_manifest(tmp_path / "b" / "manifest.jsonl")
    assert [r.text for r in a] == [r.text for r in b]
    assert all(x.image.read_bytes() == y.image.read_bytes() for x, y in zip(a, b))


def test_bad_arguments_are_clear(tmp_path):
    result = hotich("data", "export-manifest", "--source", "font", "--out", str(tmp_path))
    assert result.returncode == 2 and "--n" in result.stderr
    result = hotich("data", "stats", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2 and "manifest not found" in result.stderr
