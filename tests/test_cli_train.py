"""`layerbridge client train`: bad folders refused by flag before connecting, and one real run
on the demo model that registers a usable LoRA without the CLI importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from layerbridge.daemon.protocol.training import TRAIN_LIMITS
from PIL import Image

from .test_cli import Daemon, client, daemon, data, lb  # noqa: F401  (fixtures)

NOWHERE = ["--url", "ws://127.0.0.1:9", "--token", "x"]  # reaching it would fail as not_running


def images(folder: Path, n: int = 3) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        image = Image.new("RGB", (64, 64), (200, 40, 30))
        image.paste((20, 20, 20), (0, 8 + 10 * i, 64, 14 + 10 * i))
        image.save(folder / f"shot-{i}.png")
    return folder


def refused(tmp_path: Path, folder: Path, *flags: str) -> str:
    proc = lb(tmp_path / "data", "client", *NOWHERE, "train", "--images", str(folder),
              "--name", "brand", "--trigger", "lbbrand", *flags, check=False)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerbridge: invalid_input: "), proc.stderr
    return lines[0]


def test_a_folder_without_images_is_refused_by_the_images_flag(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("a red square")
    assert "images=" in (line := refused(tmp_path, empty)) and "no images in it" in line


def test_a_corrupt_image_is_named(tmp_path: Path) -> None:
    folder = images(tmp_path / "set")
    whole = (folder / "shot-0.png").read_bytes()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(folder / "photo.jpg", quality=95)
    jpeg = (folder / "photo.jpg").read_bytes()
    (folder / "photo.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    assert "photo.jpg" in (line := refused(tmp_path, folder)) and "cannot read it as an image" in line
    (folder / "photo.jpg").unlink()
    (folder / "fake.webp").write_bytes(b"not an image at all" + whole[:10])
    assert "fake.webp" in refused(tmp_path, folder)


def test_a_caption_file_that_matches_no_image_is_named(tmp_path: Path) -> None:
    folder = images(tmp_path / "set")
    (folder / "shot-0.txt").write_text("{trigger} on a table")
    (folder / "shot-9.txt").write_text("left over")
    line = refused(tmp_path, folder)
    assert "caption-ext" in line and "shot-9.txt" in line and "matches no image" in line
    (folder / "shot-9.txt").unlink()
    (folder / "shot-1.caption").write_text("x")
    assert "shot-1.caption" not in refused(tmp_path, folder, "--steps", "0")  # other ext: not a caption


def test_the_same_image_twice_is_named_with_its_twin(tmp_path: Path) -> None:
    folder = images(tmp_path / "set")
    (folder / "copy.png").write_bytes((folder / "shot-1.png").read_bytes())
    assert "copy.png" in (line := refused(tmp_path, folder)) and "shot-1.png" in line


@pytest.mark.parametrize(("flags", "named"), [
    (["--steps", "0"], "--steps: steps=0"),
    (["--steps", str(TRAIN_LIMITS["max_steps"] + 1)], "--steps"),
    (["--rank", str(TRAIN_LIMITS["max_rank"] + 1)], "--rank"),
    (["--lr", "1"], "--lr"),
    (["--resolution", "100"], "multiple of 8"),
    (["--batch-size", "0"], "--batch-size"),
    (["--trigger", "red, blue"], "--trigger"),
    (["--name", "no spaces"], "--name"),
    (["--class-images", "2"], "--class-prompt: class_prompt=''"),
    (["--class-prompt", "a mug"], "--class-images: class_images=0"),
    (["--class-prompt", "a mug", "--class-images", "5000"], "--class-images"),
    (["--class-prompt", "a mug", "--class-images", "2", "--prior-loss-weight", "0"],
     "--prior-loss-weight"),
])
def test_out_of_bounds_settings_are_refused_by_their_flag(tmp_path: Path, flags: list[str], named: str) -> None:
    assert named in refused(tmp_path, images(tmp_path / "set"), *flags)


def test_more_images_than_a_train_job_takes_are_refused_before_reading_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from layerbridge.daemon.cli import main
    from layerbridge.daemon.protocol import training

    folder = images(tmp_path / "set", 3)
    monkeypatch.setitem(training.TRAIN_LIMITS, "max_images", 2)  # the real limit is 1000 files
    code = main(["--data-dir", str(tmp_path / "data"), "client", *NOWHERE, "train", "--images",
                 str(folder), "--name", "b", "--trigger", "lbb"])
    assert code == 1
    assert "3 images: at most 2" in capsys.readouterr().err


def test_a_caption_too_long_names_its_image(tmp_path: Path) -> None:
    folder = images(tmp_path / "set")
    (folder / "shot-2.txt").write_text("x" * 1001)
    assert "caption of shot-2.png" in refused(tmp_path, folder)


def test_train_registers_a_lora_that_generate_uses_without_importing_torch(
    daemon: Daemon, tmp_path: Path,  # noqa: F811
) -> None:
    token = lb(daemon.data, "pair", "--name", "trainer").stdout.split()[-1]
    folder = images(tmp_path / "set", 2)
    Image.new("RGB", (64, 64), (30, 160, 60)).save(folder / "green.webp")
    (folder / "green.txt").write_text("a green {trigger} tile")
    samples = tmp_path / "samples"
    argv = ["--data-dir", str(daemon.data), "client", "--url", daemon.url, "--token", token, "train",
            "--images", str(folder), "--name", "brand-red", "--trigger", "lbbrand", "--model", "demo",
            "--steps", "2", "--rank", "4", "--lr", "1e-3", "--resolution", "64", "--seed", "3",
            "--sample-every", "1", "--samples-out", str(samples),
            "--class-prompt", "a tile", "--class-images", "1"]
    probe = ("import sys; from layerbridge.daemon.cli import main; "
             f"rc = main({argv!r}); "
             "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
             "print('HEAVY', heavy); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["brand-red", "HEAVY []"]  # the LoRA id alone on stdout
    assert "3 images, 3 uploaded" in proc.stderr and "2/2 loss " in proc.stderr
    # the class image of prior preservation came first, as its own phase, then the samples
    assert sorted(p.name for p in samples.iterdir()) == ["brand-red-final.png", "class-00001.png",
                                                         "step-00001.png", "step-00002.png"]

    listed = client(daemon, token, "models").stdout
    assert any(line.split()[-3:] == ["brand-red", "lora", "sd15"] for line in listed.splitlines()), listed
    out = tmp_path / "styled.png"
    client(daemon, token, "generate", "--model", "demo", "--prompt", "lbbrand", "--steps", "2",
           "--size", "64x64", "--seed", "1", "--lora", "brand-red:0.8", "--out", str(out))
    assert out.stat().st_size > 0


def test_an_image_too_large_to_decode_safely_is_named_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from layerbridge.daemon.cli import main

    folder = images(tmp_path / "set", 1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64x64 is over twice that: a "bomb"
    code = main(["--data-dir", str(tmp_path / "data"), "client", *NOWHERE, "train", "--images",
                 str(folder), "--name", "b", "--trigger", "lbb"])
    assert code == 1
    assert "shot-0.png" in (err := capsys.readouterr().err) and "cannot read it as an image" in err
