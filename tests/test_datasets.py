import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from data.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]


def test_synthetic_dataset_has_features_and_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTICH_CACHE", str(tmp_path / "cache"))
    from data.datasets import FEATURES, export_manifest, synthetic_dataset

    ds = synthetic_dataset(4, seed=3, source="font", book="ket_hon")
    assert isinstance(ds, datasets.Dataset) and len(ds) == 4
    assert ds.features == FEATURES
    assert set(ds["book"]) == {"ket_hon"} and all(ds["field"])
    assert ds[0]["image"].mode == "RGB" and ds[0]["image"].height == 64
    path = export_manifest(ds, tmp_path / "out", total=len(ds))
    records = read_manifest(path, check_images=True)
    assert [r.text for r in records] == ds["text"]


@pytest.mark.shared
def test_cinnamon_split_is_fixed_and_disjoint():
    from data.datasets import cinnamon_dataset, cinnamon_records, cinnamon_split

    train, val = cinnamon_records("train"), cinnamon_records("val")
    assert (len(train), len(val)) == (1623, 200)
    assert not {r.image for r in train} & {r.image for r in val}
    assert sorted(r.image.name for r in val) == cinnamon_split()["val"]
    ds = cinnamon_dataset("val")
    assert len(ds) == 200 and ds[0]["text"]


def test_data_build_writes_manifests(tmp_path):
    env = {**os.environ, "HOTICH_SHARED": str(tmp_path / "absent"), "HOTICH_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "hotich", "data", "build", "--out", str(tmp_path / "d"),
                             "--only", "synth", "--synthetic-n", "3", "--synthetic-val-n", "2"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["synth-train"]["lines"] == 3 and summary["synth-val"]["lines"] == 2
    train = {r.text for r in read_manifest(tmp_path / "d" / "synth-train" / "manifest.jsonl")}
    val = read_manifest(tmp_path / "d" / "synth-val" / "manifest.jsonl", check_images=True)
    assert len(val) == 2 and all(r.extra["source"].startswith("synth-") for r in val)
    assert train  # seeds of the two splits are far apart; texts may coincide, images never share a seed
