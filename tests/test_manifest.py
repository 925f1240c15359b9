import json

import numpy as np
import pytest
from PIL import Image

from data.manifest import LineRecord, ManifestError, read_manifest, write_manifest


def _image(path):
    Image.fromarray(np.full((8, 20, 3), 200, np.uint8)).save(path)
    return path


def test_round_trip_keeps_text_paths_and_extra_keys(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    records = [
        LineRecord(_image(images / "a.png"), "Nguyễn Thị Ánh", {"source": "synth-ink", "book": "khai_sinh",
                                                                 "field": "nksHoTen", "writer": "id_0003"}),
        LineRecord(_image(images / "b.png"), "Ngày hai mươi bảy tháng tám", {"custom": [1, 2]}),
    ]
    path = tmp_path / "sub" / "manifest.jsonl"
    assert write_manifest(records, path) == 2
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert raw[0]["image"] == "../imgs/a.png"  # relative to the manifest file
    assert raw[0]["text"] == "Nguyễn Thị Ánh"  # UTF-8, not escaped
    back = read_manifest(path, check_images=True)
    assert [r.text for r in back] == [r.text for r in records]
    assert [r.image for r in back] == [r.image.resolve() for r in records]
    assert back[0].extra == records[0].extra and back[1].extra == {"custom": [1, 2]}
    # Writing what was read gives the same file byte for byte.
    again = tmp_path / "sub" / "again.jsonl"
    write_manifest(back, again)
    assert again.read_bytes() == path.read_bytes()


def test_decomposed_text_is_normalised_to_nfc(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"image": "x.png", "text": "Nguye\u0302\u0303n"}) + "\n", encoding="utf-8")
    assert read_manifest(path)[0].text == "Nguyễn"


@pytest.mark.parametrize("line, message", [
    ("not json", "not JSON"),
    ('["a"]', "expected an object"),
    ('{"image": "a.png"}', "'text'"),
    ('{"text": "x", "image": 3}', "'image'"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"image": "a.png", "text": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=rf"bad.jsonl:2: .*{message}"):
        read_manifest(path)


def test_missing_image_is_reported_when_checked(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"image": "gone.png", "text": "x"}\n', encoding="utf-8")
    assert len(read_manifest(path)) == 1
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(path, check_images=True)
