"""`track run --video FILE --detections FILE`: a plain video in, an annotated video and MOT rows out."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.cli import main
from tools.io.motformat import read_mot_file, write_npy_detections
from tools.io.video import open_video

W, H, N = 160, 120, 20
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _boxes(f: int) -> list[tuple[int, int, int, int, int]]:
    """Two people walking towards each other: (id, x, y, w, h) in frame f (from 1)."""
    return [(1, 10 + 4 * f, 30, 20, 50), (2, 130 - 4 * f, 40, 20, 50)]


def write_video(path: Path, n: int = N) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (W, H))
    assert writer.isOpened()
    for f in range(1, n + 1):
        img = np.full((H, W, 3), 90, np.uint8)
        for pid, x, y, w, h in _boxes(f):
            cv2.rectangle(img, (x, y), (x + w, y + h), (40, 40, 200) if pid == 1 else (200, 160, 40), -1)
        writer.write(img)
    writer.release()


def det_rows(n: int = N) -> np.ndarray:
    rows = [[f, -1, x, y, w, h, 0.9, -1, -1, -1] for f in range(1, n + 1) for _, x, y, w, h in _boxes(f)]
    return np.array(rows, dtype=np.float64)


def read_all(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


@pytest.fixture
def clip(tmp_path: Path) -> tuple[Path, Path]:
    video, det = tmp_path / "walk.avi", tmp_path / "walk_det.txt"
    write_video(video)
    np.savetxt(det, det_rows(), fmt="%g", delimiter=",")
    return video, det


def test_open_video_reads_size_rate_and_count(clip):
    seq = open_video(clip[0])
    assert (seq.name, seq.info.width, seq.info.height, seq.info.length) == ("walk", W, H, N)
    assert seq.info.frame_rate == pytest.approx(10.0)
    assert seq.has_frames and not seq.has_gt
    assert [f for f, _ in seq.frames()] == list(range(1, N + 1))


def test_video_run_writes_annotated_video_and_rows(clip, tmp_path, capsys):
    video, det = clip
    res = tmp_path / "results"
    assert main(["run", "--video", str(video), "--detections", str(det), "--tracker", "sort",
                 "--results-root", str(res), "--quiet"]) == 0
    rows = read_mot_file(res / "sort" / "data" / "walk.txt", "results").data
    # SORT reports from frame 1 (frame_count <= min_hits) and keeps both identities apart
    assert set(rows[:, 1].astype(int)) == {1, 2} and len(rows) == 2 * N
    out = read_all(res / "sort" / "video" / "walk.mp4")
    assert len(out) == N and out[0].shape == (H, W, 3)
    original = read_all(video)
    # the drawn box outline of track 1 (frame 10): pixels there changed, far from any box they did not
    x, y = 10 + 4 * 10, 30
    assert np.abs(out[9][y - 1:y + 2, x + 5:x + 15].astype(int) - original[9][y - 1:y + 2, x + 5:x + 15]).max() > 60
    assert np.abs(out[9][100:118, 60:100].astype(int) - original[9][100:118, 60:100]).mean() < 10
    assert not list((res / "sort" / "video").glob(".*"))  # no temporary file left
    assert "IDF1" not in capsys.readouterr().out  # no ground truth, no evaluation


def test_video_with_npy_detections_and_deepsort(clip, tmp_path):
    video, _ = clip
    rows = det_rows()
    feats = np.where(rows[:, 1:2] < 0, [[1.0, 0.0]], [[0.0, 1.0]]).astype(np.float32)
    npy = tmp_path / "walk.npy"
    write_npy_detections(npy, rows, feats)
    res = tmp_path / "results"
    assert main(["run", "--video", str(video), "--detections", str(npy), "--n-init", "2",
                 "--results-root", str(res), "--experiment", "ds", "--quiet"]) == 0
    got = read_mot_file(res / "ds" / "data" / "walk.txt", "results").data
    assert len(set(got[:, 1].astype(int))) == 2 and got[:, 0].min() == 2  # confirmed after 2 hits
    assert len(read_all(res / "ds" / "video" / "walk.mp4")) == N


@pytest.mark.parametrize("case", ["with-seq", "not-a-video", "missing", "late-frames"])
def test_video_bad_input_is_one_line_and_exit_2(case, clip, tmp_path, capsys):
    video, det = clip
    args = ["run", "--video", str(video), "--detections", str(det), "--results-root", str(tmp_path / "r"), "--quiet"]
    if case == "with-seq":
        args += ["--seq", "X"]
    elif case == "not-a-video":
        bogus = tmp_path / "notes.avi"
        bogus.write_text("not a video\n")
        args[2] = str(bogus)
    elif case == "missing":
        args[2] = str(tmp_path / "gone.mp4")
    elif case == "late-frames":
        rows = det_rows(N + 3)
        np.savetxt(det, rows, fmt="%g", delimiter=",")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("track: error:")
    expected = {"with-seq": "one of --seq",
                "not-a-video": "notes.avi", "missing": "video not found",
                "late-frames": f"beyond the sequence length {N}"}[case]
    assert expected in err[0]


@pytest.mark.slow
@pytest.mark.shared_data
def test_pets09_video_is_annotated_frame_for_frame(tmp_path):
    seq = SHARED / "MOT15" / "train" / "PETS09-S2L1"
    if not (seq / "PETS09-S2L1.avi").is_file():
        pytest.skip("MOT15 PETS09-S2L1 not present")
    res = tmp_path / "results"
    t0 = time.perf_counter()
    assert main(["run", "--video", str(seq / "PETS09-S2L1.avi"), "--detections", str(seq / "det" / "det.txt"),
                 "--results-root", str(res), "--experiment", "pets", "--quiet"]) == 0
    seconds = time.perf_counter() - t0
    frames = read_all(res / "pets" / "video" / "PETS09-S2L1.mp4")
    assert len(frames) == 795 and frames[0].shape == (576, 768, 3)
    rows = read_mot_file(res / "pets" / "data" / "PETS09-S2L1.txt", "results").data
    assert rows[:, 0].max() <= 795 and len(set(rows[:, 1])) > 10
    print(f"PETS09-S2L1 video: 795 frames read back, {seconds:.1f} s")


def test_video_is_h264_where_opencv_can_and_says_so_otherwise(clip, tmp_path, capsys):
    from tools.io import video_writer
    from tools.io.video_writer import H264, MPEG4, probe_codec, video_codec

    assert probe_codec(("XXXX", MPEG4)) == MPEG4          # an unknown codec is skipped
    video, det = clip
    res = tmp_path / "results"
    video_writer._noted = False
    assert main(["run", "--video", str(video), "--detections", str(det), "--tracker", "sort",
                 "--results-root", str(res), "--quiet"]) == 0
    out, err = capsys.readouterr()
    path = res / "sort" / "video" / "walk.mp4"
    assert f"walk: video {path}" in out                   # the user is told where the video is
    cap = cv2.VideoCapture(str(path))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace")
    cap.release()
    # the probed codec is the one written (OpenCV reads mp4v back as FMP4)
    assert (fourcc.lower() in ("avc1", "h264")) == (video_codec() == H264)
    notes = [line for line in err.splitlines() if "browsers" in line]
    assert len(notes) == (0 if video_codec() == H264 else 1)


def test_tentative_tracks_are_drawn_faintly_before_they_are_confirmed(clip, tmp_path):
    video, det = clip
    res = tmp_path / "results"
    assert main(["run", "--video", str(video), "--detections", str(det), "--appearance", "none",
                 "--n-init", "3", "--results-root", str(res), "--experiment", "ds", "--quiet"]) == 0
    rows = read_mot_file(res / "ds" / "data" / "walk.txt", "results").data
    assert rows[:, 0].min() == 3                          # the results keep confirmed tracks only
    first, original = read_all(res / "ds" / "video" / "walk.mp4")[0], read_all(video)[0]
    _, x, y, w, h = _boxes(1)[0]
    edge = np.abs(first[y - 1:y + 2, x + 4:x + w - 4].astype(int) - original[y - 1:y + 2, x + 4:x + w - 4])
    assert 15 < edge.max()                                # frame 1 shows the tentative box ...
    confirmed = read_all(res / "ds" / "video" / "walk.mp4")[4]
    x5 = _boxes(5)[0][1]
    strong = np.abs(confirmed[y - 1:y + 2, x5 + 4:x5 + w - 4].astype(int)
                    - read_all(video)[4][y - 1:y + 2, x5 + 4:x5 + w - 4])
    assert edge.max() < strong.max()                      # ... fainter than a confirmed one


def test_frame_label_reads_on_a_white_frame():
    from tools.io.drawing import TrackPainter

    img = TrackPainter().draw(np.full((60, 200, 3), 255, np.uint8), [], "walk 17")
    corner = img[4:30, 4:90]
    assert (corner.max(axis=2) < 60).mean() > 0.3         # a dark box behind the text ...
    assert (corner.min(axis=2) > 200).any()               # ... and light glyphs on it
