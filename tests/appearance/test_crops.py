"""The crop dataset and `track crops`: content, filters, identities, the cache and its failures."""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from appearance.crops.cache import CropSet, extract_crops
from appearance.crops.patches import PAD_VALUE, crop_batch
from tests.conftest import write_sequence
from tools import cli
from tools.io.errors import InputError
from tools.io.sequence import Sequence
from tools.data.synth import SynthConfig, make_dataset


def open_seq(path: Path) -> Sequence:
    return Sequence.open(path)


@pytest.fixture
def seq(tmp_path: Path) -> Sequence:
    """Six 320x240 frames; det: one walker per frame (0.9) and a second box (0.8) except in
    frame 3; gt: id 1 on the walker, id 2 on the second box."""
    return open_seq(write_sequence(tmp_path / "data"))


@pytest.fixture
def frame_calls(monkeypatch) -> list[str]:
    """Record each Sequence.frames() call, to tell a decoded cache from a reused one."""
    calls: list[str] = []
    original = Sequence.frames

    def counting(self):
        calls.append(self.name)
        return original(self)

    monkeypatch.setattr(Sequence, "frames", counting)
    return calls


def test_det_crops_shapes_dtypes_and_confidence_filter(tmp_path: Path) -> None:
    det = ["1,-1,10,10,40,80,0.9,-1,-1,-1", "1,-1,100,20,30,60,0.3,-1,-1,-1",
           "2,-1,50,30,20,40,0.5,-1,-1,-1", "2,-1,60,30,20,40,0.49,-1,-1,-1"]
    s = open_seq(write_sequence(tmp_path / "data", length=2, det_rows=det))
    crops = extract_crops([s], tmp_path / "cache", size=32, progress=False)
    assert crops.crops.shape == (2, 32, 32, 3) and crops.crops.dtype == np.uint8
    assert isinstance(crops.crops, np.memmap)
    assert crops.frame.dtype == np.int32 and crops.frame.tolist() == [1, 2]
    assert crops.tlwh.dtype == np.float32 and crops.tlwh.tolist() == [[10, 10, 40, 80], [50, 30, 20, 40]]
    assert crops.confidence.dtype == np.float32
    np.testing.assert_allclose(crops.confidence, [0.9, 0.5], rtol=1e-6)
    assert crops.gt_id.dtype == np.int64 and crops.seq.tolist() == ["TINY-01", "TINY-01"]
    info = json.loads((tmp_path / "cache" / "info.json").read_text())
    assert info["count"] == 2 and info["size"] == 32 and info["source"] == "det"
    assert info["parameters"]["min_confidence"] == 0.5
    assert info["sequences"][0]["det"]["size"] == (s.det_path).stat().st_size


def test_crop_is_rgb_resized_box_content(tmp_path: Path) -> None:
    s = open_seq(write_sequence(tmp_path / "data", length=1, det_rows=["1,-1,100,50,40,80,0.9,-1,-1,-1"]))
    image = np.zeros((240, 320, 3), np.uint8)
    image[50:130, 100:140] = (255, 0, 0)  # pure blue in OpenCV's BGR order
    image[50:90, 100:140, 1] = 255        # top half cyan (blue + green)
    cv2.imwrite(str(s.image_dir / "000001.png"), image)
    os.replace(s.image_dir / "000001.png", s.image_dir / "000001.jpg")  # lossless, same name
    crop = extract_crops([s], tmp_path / "cache", size=16, progress=False).crops[0]
    bottom = crop[12:].reshape(-1, 3).mean(axis=0)
    top = crop[:4].reshape(-1, 3).mean(axis=0)
    assert bottom[2] > 250 and bottom[0] < 5 and bottom[1] < 5   # RGB: blue in the last channel
    assert top[1] > 250 and top[2] > 250 and top[0] < 5


def test_pad_keeps_the_aspect_and_fills_the_sides_with_grey(tmp_path: Path) -> None:
    # a 40x80 (1:2) blue box: stretched it fills the 16x16 square; padded it fills the middle 8
    # columns at full height, the rest grey, and the cache records how it was cut
    s = open_seq(write_sequence(tmp_path / "data", length=1, det_rows=["1,-1,100,50,40,80,0.9,-1,-1,-1"]))
    image = np.zeros((240, 320, 3), np.uint8)
    image[50:130, 100:140] = (255, 0, 0)
    cv2.imwrite(str(s.image_dir / "000001.png"), image)
    os.replace(s.image_dir / "000001.png", s.image_dir / "000001.jpg")
    stretched = extract_crops([s], tmp_path / "stretch", size=16, progress=False)
    padded = extract_crops([s], tmp_path / "pad", size=16, progress=False, fit="pad")
    assert stretched.fit == "stretch" and padded.fit == "pad"
    assert "fit" not in json.loads((tmp_path / "stretch" / "info.json").read_text())["parameters"]
    assert (stretched.crops[0, :, :, 2] > 250).all()
    crop = padded.crops[0]
    assert (crop[:, 4:12, 2] > 250).all() and (crop[:, 4:12, 0] < 5).all()      # the box, full height
    assert (crop[:, :4] == PAD_VALUE).all() and (crop[:, 12:] == PAD_VALUE).all()
    wide = crop_batch(image, np.array([[100.0, 50.0, 80.0, 40.0]]), 16, "pad")[0]   # 2:1: bands above and below
    assert (wide[:4] == PAD_VALUE).all() and (wide[12:] == PAD_VALUE).all() and not (wide[4:12] == PAD_VALUE).all()
    with pytest.raises(ValueError, match="fit"):
        crop_batch(image, np.array([[0.0, 0.0, 10.0, 10.0]]), 16, "squash")


def test_boxes_over_the_border_are_clipped(tmp_path: Path) -> None:
    s = open_seq(write_sequence(tmp_path / "data", length=1, det_rows=["1,-1,-30,200,60,100,0.9,-1,-1,-1"]))
    image = np.full((240, 320, 3), 255, np.uint8)
    cv2.imwrite(str(s.image_dir / "x.png"), image)
    os.replace(s.image_dir / "x.png", s.image_dir / "000001.jpg")
    crop = extract_crops([s], tmp_path / "cache", size=8, progress=False).crops[0]
    assert crop.min() == 255  # only image pixels, no black padding from outside the frame


def test_min_height_and_every(seq: Sequence, tmp_path: Path) -> None:
    every = extract_crops([seq], tmp_path / "every", every=2, progress=False)
    assert sorted(set(every.frame.tolist())) == [1, 3, 5]
    assert len(every) == 2 + 1 + 2  # the second box is missing in frame 3
    tall = write_sequence(tmp_path / "d2", det_rows=["1,-1,10,10,20,30,0.9", "1,-1,10,10,20,50,0.9"], length=1)
    kept = extract_crops([open_seq(tall)], tmp_path / "tall", min_height=40, progress=False)
    assert kept.tlwh[:, 3].tolist() == [50]


def test_gt_source_carries_ids_and_skips_consider_zero(tmp_path: Path) -> None:
    gt = ["1,1,10,10,30,60,1,1,1", "1,2,100,10,30,60,0,1,1", "2,2,100,10,30,60,1,1,0.2",
          "2,3,200,10,30,60,1,7,1", "3,1,12,10,30,60,1,1,0.9"]
    s = open_seq(write_sequence(tmp_path / "data", length=3, gt_rows=gt))
    crops = extract_crops([s], tmp_path / "gt", source="gt", progress=False)
    # consider flag 0 (frame 1 id 2) and class 7 (a static person) are skipped.
    assert list(zip(crops.frame.tolist(), crops.gt_id.tolist())) == [(1, 1), (2, 2), (3, 1)]
    assert (crops.confidence == 1).all()
    visible = extract_crops([s], tmp_path / "vis", source="gt", min_visibility=0.5, progress=False)
    assert visible.gt_id.tolist() == [1, 1]


def test_gt_source_mot15_style_keeps_unknown_class(tmp_path: Path) -> None:
    gt = ["1,4,10,10,30,60,1,-4.15,-7.35,0", "1,5,100,10,30,60,1,-11.3,-5.6,0",
          "2,4,12,10,30,60,0,-4.1,-7.3,0"]
    s = open_seq(write_sequence(tmp_path / "data", length=2, gt_rows=gt))
    crops = extract_crops([s], tmp_path / "gt", source="gt", progress=False)
    assert crops.gt_id.tolist() == [4, 5]  # world coordinates in column 8 are not a class
    with pytest.raises(InputError, match="no visibility column") as err:
        extract_crops([s], tmp_path / "gt2", source="gt", min_visibility=0.5, progress=False)
    assert err.value.path == str(s.gt_path)


def test_det_crops_get_gt_ids_by_iou(tmp_path: Path) -> None:
    det = ["1,-1,20,40,30,60,0.9", "1,-1,24,40,30,60,0.8",   # both overlap id 1; the better wins
           "1,-1,200,50,30,60,0.9",                          # on id 2, IoU 1
           "1,-1,140,50,30,60,0.9",                          # nothing there
           "2,-1,215,50,30,60,0.9"]                          # id 2 moved by half a width: IoU 1/3
    gt = ["1,1,20,40,30,60,1,1,1", "1,2,200,50,30,60,1,1,1", "2,2,200,50,30,60,1,1,1"]
    s = open_seq(write_sequence(tmp_path / "data", length=2, det_rows=det, gt_rows=gt))
    crops = extract_crops([s], tmp_path / "cache", progress=False)
    assert crops.gt_id.tolist() == [1, -1, 2, -1, -1]
    s.gt_path.unlink()
    no_gt = extract_crops([s], tmp_path / "nogt", progress=False)
    assert len(no_gt) == 5 and (no_gt.gt_id == -1).all()


def test_cache_is_reused_and_rebuilt_when_det_changes(seq: Sequence, tmp_path: Path, frame_calls, capsys) -> None:
    out = tmp_path / "cache"
    first = extract_crops([seq], out, progress=False)
    assert frame_calls == ["TINY-01"] and not first.reused
    capsys.readouterr()
    again = extract_crops([seq], out, progress=False)
    assert frame_calls == ["TINY-01"] and again.reused  # not decoded a second time
    assert "reusing" in capsys.readouterr().out
    np.testing.assert_array_equal(again.crops, first.crops)
    other = extract_crops([seq], out, min_confidence=0.85, progress=False)  # new parameters
    assert len(frame_calls) == 2 and len(other) == 6
    with seq.det_path.open("a") as fh:
        fh.write("2,-1,100,100,20,40,0.95,-1,-1,-1\n")
    grown = extract_crops([seq], out, min_confidence=0.85, progress=False)
    assert len(frame_calls) == 3 and len(grown) == 7 and not grown.reused


def test_force_rebuilds(seq: Sequence, tmp_path: Path, frame_calls) -> None:
    extract_crops([seq], tmp_path / "cache", progress=False)
    rebuilt = extract_crops([seq], tmp_path / "cache", progress=False, force=True)
    assert len(frame_calls) == 2 and not rebuilt.reused and len(rebuilt) == 11


def test_corrupt_or_missing_cache_is_an_input_error(seq: Sequence, tmp_path: Path, frame_calls) -> None:
    out = tmp_path / "cache"
    with pytest.raises(InputError, match="no crop cache"):
        CropSet.load(out)
    extract_crops([seq], out, progress=False)
    data = (out / "crops.npy").read_bytes()
    (out / "crops.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="damaged") as err:
        CropSet.load(out)
    assert err.value.path == str(out / "crops.npy")
    (out / "crops.npy").write_bytes(data)
    (out / "meta.npz").write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="damaged") as err:
        CropSet.load(out)
    assert err.value.path == str(out / "meta.npz")
    (out / "info.json").unlink()
    with pytest.raises(InputError, match="incomplete"):
        CropSet.load(out)
    # extract_crops replaces a broken cache instead of trusting it.
    fresh = extract_crops([seq], out, progress=False)
    assert len(frame_calls) == 2 and len(fresh) == 11


def test_missing_frame_leaves_no_partial_cache(seq: Sequence, tmp_path: Path) -> None:
    out = tmp_path / "crops" / "cache"
    (seq.image_dir / "000004.jpg").unlink()
    with pytest.raises(InputError, match="frame 4 is missing") as err:
        extract_crops([seq], out, progress=False)
    assert err.value.path == str(seq.image_dir / "000004.jpg")
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_failed_rebuild_keeps_the_old_cache(seq: Sequence, tmp_path: Path) -> None:
    out = tmp_path / "cache"
    old = extract_crops([seq], out, progress=False)
    (seq.image_dir / "000006.jpg").unlink()
    with pytest.raises(InputError):
        extract_crops([seq], out, progress=False, force=True)
    assert len(CropSet.load(out)) == len(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "data"]


def test_refuses_to_replace_a_folder_that_is_not_a_cache(seq: Sequence, tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a crop cache"):
        extract_crops([seq], out, progress=False)
    assert (out / "notes.txt").read_text() == "keep me"


def test_sequence_without_frames_is_named(tmp_path: Path) -> None:
    s = open_seq(write_sequence(tmp_path / "data", images=False))
    with pytest.raises(InputError, match="TINY-01 has no frames"):
        extract_crops([s], tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists()


def test_channel_stats_match_numpy(seq: Sequence, tmp_path: Path) -> None:
    crops = extract_crops([seq], tmp_path / "cache", size=16, progress=False)
    mean, std = crops.channel_stats(chunk=3)  # several chunks and a short last one
    x = np.asarray(crops.crops, dtype=np.float64) / 255.0
    np.testing.assert_allclose(mean, x.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(std, x.std(axis=(0, 1, 2)), rtol=1e-9)
    assert mean.shape == (3,) and (std > 0).all()


def test_subset(tmp_path: Path) -> None:
    paths = make_dataset(tmp_path / "synth", 2, SynthConfig(frames=3, width=160, height=96, people=3))
    crops = extract_crops([open_seq(p) for p in paths], tmp_path / "cache", source="gt", progress=False)
    second = crops.subset(crops.seq == "SYNTH-02")
    assert len(second) == crops.counts()["SYNTH-02"] > 0
    assert isinstance(second.crops, np.memmap)  # contiguous: still a view of the file
    picked = crops.subset(np.array([len(crops) - 1, 0]))
    np.testing.assert_array_equal(picked.crops[1], crops.crops[0])
    assert picked.gt_id.tolist() == [crops.gt_id[-1], crops.gt_id[0]]
    last = crops.subset(np.array([-1]))
    assert len(last) == 1 and last.frame[0] == crops.frame[-1]
    with pytest.raises(ValueError):
        crops.subset(np.ones(3, dtype=bool))


def test_synthetic_detections_mostly_match_gt(tmp_path: Path) -> None:
    paths = make_dataset(tmp_path / "synth", 1, SynthConfig(frames=4, width=320, height=180, people=4))
    s = open_seq(paths[0])
    det = extract_crops([s], tmp_path / "det", progress=False)
    gt = extract_crops([s], tmp_path / "gt", source="gt", progress=False)
    matched = det.gt_id[det.gt_id >= 0]
    assert len(matched) >= 0.5 * len(det)
    assert set(matched.tolist()) <= set(gt.gt_id.tolist())


def test_cli_writes_default_folder_and_reports(seq: Sequence, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["crops", "--seq", "TINY-01", "--data-root", "data", "--size", "24", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "11 det crops, 24x24" in out and "TINY-01" in out and "11 with a gt id" in out
    assert out.rstrip().endswith(str(Path("data/crops/det-TINY-01")))
    assert CropSet.load(tmp_path / "data" / "crops" / "det-TINY-01").crops.shape == (11, 24, 24, 3)
    rc = cli.main(["crops", "--seq", "TINY-01", "--data-root", "data", "--size", "24", "--quiet"])
    assert rc == 0 and "reusing" in capsys.readouterr().out


def test_cli_sequence_without_frames_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    write_sequence(tmp_path / "data", images=False)
    rc = cli.main(["crops", "--seq", "TINY-01", "--data-root", str(tmp_path / "data"),
                   "--out", str(tmp_path / "cache"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("track: error:") and "TINY-01" in err and "no frames" in err
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("argv, message", [
    (["--all", "--seq", "TINY-01"], "either --seq"),
    (["--seq", "TINY-01", "--split", "train"], "--split applies only with --all"),
    (["--seq", "TINY-01", "--every", "0"], "--every must be at least 1"),
    (["--seq", "TINY-01", "--min-visibility", "0.5"], "only to --source gt"),
])
def test_cli_rejects_bad_flags(tiny_root: Path, argv: list[str], message: str, capsys) -> None:
    rc = cli.main(["crops", *argv, "--data-root", str(tiny_root), "--quiet"])
    assert rc == 2 and message in capsys.readouterr().err


def test_the_crop_bar_is_drawn_on_a_terminal_only(seq: Sequence, tmp_path: Path, capsys) -> None:
    extract_crops([seq], tmp_path / "cache", progress=True)   # stderr is captured here: no terminal
    err = capsys.readouterr().err
    assert "crops" not in err and "\r" not in err
