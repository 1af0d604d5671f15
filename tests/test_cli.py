"""`ncut-widget demo` input handling: folders, unreadable files, usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ncut_widget import cli


def test_load_folder_reads_images_and_reports_unreadable(tmp_path: Path):
    Image.new("RGB", (30, 20), (255, 0, 0)).save(tmp_path / "b_red.png")
    Image.new("L", (10, 10), 128).save(tmp_path / "a_gray.jpg")
    (tmp_path / "c_broken.png").write_bytes(b"not an image at all")
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    images, skipped = cli.load_folder(tmp_path)
    assert [img.info["name"] for img in images] == ["a_gray", "b_red"]
    assert all(img.mode == "RGB" for img in images)
    assert len(skipped) == 1 and skipped[0].startswith("c_broken.png")


def test_empty_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SystemExit, match="holds no images"):
        cli.load_folder(tmp_path)


def test_missing_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SystemExit, match="is not a folder"):
        cli.load_folder(tmp_path / "nope")


def test_unknown_command_and_usage(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0
    assert "ncut-widget demo" in capsys.readouterr().out
