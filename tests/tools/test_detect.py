"""Person detectors (`tools.detect`): HOG, ONNX YOLOv8 / YOLOX models built here with onnx.helper,
`track detect`, and `track run --video FILE` without --detections."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.cli import main
from tools.detect import OnnxDetector, detect_sequence, nms, open_detector, write_detections
from tools.detect.detector import clip_boxes, parse_size
from tools.detect.hog import hog_available
from tools.io.errors import InputError
from tools.io.motformat import read_mot_file
from tools.io.sequence import Sequence

needs_hog = pytest.mark.skipif(not hog_available(),
                               reason=f"OpenCV {cv2.__version__} has no HOGDescriptor (OpenCV 5 without contrib)")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

FW, FH, N = 160, 120, 12       # the small test video: width, height, frames
MW, MH = 64, 64                # the test models' input
BOX = (40.0, 30.0, 20.0, 50.0)  # the person box every test model reports, in frame pixels


# -- models ---------------------------------------------------------------------------------------

def constant_model(path: Path, output: np.ndarray, size: tuple[int, int] | None = (MW, MH)) -> Path:
    """An ONNX model with one image input (1, 3, H, W) whose output is `output` whatever the image:
    output + 0 * mean(image), so the input is used. size None: a dynamic H, W."""
    h, w = (size[1], size[0]) if size else ("H", "W")
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))
    nodes = [
        helper.make_node("Constant", [], ["const"], value=helper.make_tensor(
            "c", TensorProto.FLOAT, output.shape, output.astype(np.float32).ravel().tolist())),
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["const", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(nodes, "constant-detector", [image], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _to_input(box, ratio: float, left: float, top: float) -> tuple[float, float, float, float]:
    """A frame box (x, y, w, h) as the model's (cx, cy, w, h) in input pixels."""
    x, y, w, h = box
    return ((x + w / 2) * ratio + left, (y + h / 2) * ratio + top, w * ratio, h * ratio)


def yolov8_output() -> np.ndarray:
    """(1, 4 + 2 classes, 8): the person box (0.9), a near copy of it (0.85, NMS drops it), a box
    whose best class is not person, one under the score cut, and zero rows."""
    # letterbox of a 160x120 frame into 64x64, centred: ratio 0.4, 64x48, 8 rows of padding on top
    cx, cy, w, h = _to_input(BOX, 0.4, 0, 8)
    rows = np.zeros((8, 6), np.float32)
    rows[0] = [cx, cy, w, h, 0.9, 0.05]
    rows[1] = [cx + 0.5, cy, w, h, 0.85, 0.05]
    rows[2] = [40, 30, 10, 10, 0.4, 0.8]     # class 1 wins: not a person
    rows[3] = [50, 20, 10, 10, 0.1, 0.0]     # person, under min_score 0.25
    return rows.T[None]


def yolox_decoded_output() -> np.ndarray:
    """(1, 8, 5 + 2 classes), boxes in input pixels: objectness 0.9 x person 0.8 = 0.72."""
    cx, cy, w, h = _to_input(BOX, 0.4, 0, 0)  # YOLOX letterboxes into the top-left corner
    rows = np.zeros((8, 7), np.float32)
    rows[0] = [cx, cy, w, h, 0.9, 0.8, 0.1]
    rows[1] = [30, 30, 10, 10, 0.9, 0.1, 0.7]  # class 1 wins
    return rows[None]


def yolox_raw_output() -> np.ndarray:
    """(1, 84, 7): YOLOX's undecoded output for a 64x64 input (8x8 + 4x4 + 2x2 anchors), the
    person in stride-8 cell (2, 2) as an offset and log sizes."""
    cx, cy, w, h = _to_input(BOX, 0.4, 0, 0)   # (20, 22, 8, 20)
    rows = np.zeros((84, 7), np.float32)
    rows[2 * 8 + 2] = [cx / 8 - 2, cy / 8 - 2, np.log(w / 8), np.log(h / 8), 0.9, 0.8, 0.1]
    return rows[None]


def frame() -> np.ndarray:
    return np.full((FH, FW, 3), 90, np.uint8)


@pytest.mark.parametrize("make, layout, decoded, score", [
    (yolov8_output, "yolov8", True, 0.9),
    (yolox_decoded_output, "yolox", True, 0.72),
    (yolox_raw_output, "yolox", False, 0.72),
])
def test_onnx_layouts_map_boxes_back_through_the_letterbox(make, layout, decoded, score, tmp_path):
    det = OnnxDetector(constant_model(tmp_path / "m.onnx", make()))
    assert (det.layout, det.decoded, det.size) == (layout, decoded, (MW, MH))
    tlwh, scores = det.detect(frame())
    assert tlwh.shape == (1, 4) and scores.shape == (1,)
    np.testing.assert_allclose(tlwh[0], BOX, atol=1e-3)
    assert scores[0] == pytest.approx(score, abs=1e-6)
    assert layout in det.describe()


def test_onnx_dynamic_input_takes_the_size_and_a_fixed_one_refuses_another(tmp_path):
    # dynamic H, W: --detector-size gives the input; the constant boxes are for 64x64
    det = open_detector(str(constant_model(tmp_path / "dyn.onnx", yolov8_output(), size=None)), size=(64, 64))
    assert det.size == (64, 64)
    np.testing.assert_allclose(det.detect(frame())[0][0], BOX, atol=1e-3)
    assert OnnxDetector(tmp_path / "dyn.onnx").size == (640, 640)
    fixed = constant_model(tmp_path / "fixed.onnx", yolov8_output())
    with pytest.raises(InputError, match="fixed at 64x64"):
        OnnxDetector(fixed, size=(320, 320))


def test_onnx_boxes_are_clipped_to_the_frame_and_min_score_applies(tmp_path):
    out = yolov8_output()
    out[0, 0, 0] = 2.0     # centre x left of the image: the box hangs over the left edge
    det = open_detector(str(constant_model(tmp_path / "m.onnx", out)), min_score=0.95)
    assert len(det.detect(frame())[1]) == 0    # 0.9 < 0.95
    tlwh, _ = open_detector(str(tmp_path / "m.onnx")).detect(frame())
    assert tlwh[0, 0] == 0 and tlwh[0, 2] > 0 and (tlwh[:, 0] + tlwh[:, 2] <= FW).all()


def test_layout_can_be_forced_by_the_spec(tmp_path):
    path = constant_model(tmp_path / "m.onnx", yolox_decoded_output())
    assert open_detector(f"yolox:{path}").layout == "yolox"
    assert open_detector(f"onnx:{path}").layout == "yolox"


@pytest.mark.parametrize("case", ["corrupt", "missing", "wrong-output", "two-dims-output", "bad-spec", "bad-size"])
def test_bad_detector_is_an_input_error_naming_it(case, tmp_path):
    path = tmp_path / "model.onnx"
    expected = "model.onnx"
    if case == "corrupt":
        path.write_bytes(b"\x08\x07this is not a protobuf model" * 10)
    elif case == "wrong-output":
        constant_model(path, np.zeros((1, 3), np.float32))
    elif case == "two-dims-output":
        constant_model(path, np.zeros((1, 2, 2, 8), np.float32))
    spec = {"bad-spec": "yolo.pt", "bad-size": "hog"}.get(case, str(path))
    size = (64, 64) if case == "bad-size" else None
    if case == "bad-spec":
        expected = "unknown detector 'yolo.pt'"
    elif case == "bad-size":
        expected = "ONNX detectors only"
    with pytest.raises(InputError) as err:
        open_detector(spec, size=size)
    assert expected in str(err.value)


def test_parse_size_and_nms_and_clip():
    assert parse_size("640") == (640, 640) and parse_size("320x192") == (320, 192) and parse_size(None) is None
    for bad in ("0", "big", "10x10x10", "16"):
        with pytest.raises(InputError):
            parse_size(bad)
    boxes = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [20, 20, 5, 5]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.1]), 0.5).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    clipped, ok = clip_boxes(np.array([[-5, 5, 10, 10], [158, 0, 10, 10], [170, 0, 5, 5]], float), FW, FH)
    assert clipped[0].tolist() == [0, 5, 5, 10] and clipped[1].tolist() == [158, 0, 2, 10]
    assert ok.tolist() == [True, True, False]


# -- HOG ------------------------------------------------------------------------------------------

@needs_hog
def test_hog_returns_well_formed_boxes_inside_the_frame(synth_seq):
    image = next(iter(synth_seq.frames()))[1]
    h, w = image.shape[:2]
    tlwh, scores = open_detector("hog", min_score=0.5).detect(image)
    assert len(scores) >= 1                                 # the synthetic people are found
    assert tlwh.dtype == np.float64 and scores.dtype == np.float64
    assert tlwh.shape == (len(scores), 4)
    assert ((scores >= 0.5) & (scores <= 1)).all()
    assert (tlwh[:, :2] >= 0).all() and (tlwh[:, 2:] >= 1).all()
    assert (tlwh[:, 0] + tlwh[:, 2] <= w + 1e-9).all() and (tlwh[:, 1] + tlwh[:, 3] <= h + 1e-9).all()
    assert open_detector("hog").detect(np.zeros((60, 40, 3), np.uint8))[0].shape == (0, 4)  # under one window


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter)


@pytest.fixture(scope="module")
def synth_seq(tmp_path_factory) -> Sequence:
    from tools.data.synth import SynthConfig, make_sequence

    return Sequence.open(make_sequence(tmp_path_factory.mktemp("synth"), "SYNTH-01", SynthConfig(frames=3, seed=1)))


@needs_hog
def test_hog_finds_the_synthetic_people(synth_seq):
    run = detect_sequence(synth_seq, open_detector("hog"), progress=False)
    assert run.frames == 3 and run.detector_seconds > 0 and run.fps > 0
    assert set(run.rows[:, 0].astype(int)) <= {1, 2, 3} and (run.rows[:, 1] == -1).all()
    gt = synth_seq.ground_truth().data
    found = []
    for f in (1, 2, 3):
        dets, people = run.rows[run.rows[:, 0] == f, 2:6], gt[gt[:, 0] == f, 2:6]
        found.append(int((_iou(dets, people).max(axis=0) >= 0.5).sum()) if len(dets) else 0)
    # measured (OpenCV 4.14 and contrib 5.1, default min score 0.8): 4, 2 and 3 of the 8 people,
    # 70-111 px tall, at IoU >= 0.5, and no other box
    assert min(found) >= 1 and sum(found) >= 6, found


# -- commands -------------------------------------------------------------------------------------

def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    fourcc = "mp4v" if path.suffix == ".mp4" else "MJPG"
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for image in frames:
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_video(tmp_path / "walk.mp4", [frame() for _ in range(N)])


@pytest.fixture
def model(tmp_path) -> Path:
    return constant_model(tmp_path / "person.onnx", yolov8_output())


def test_track_detect_writes_a_det_file_track_run_reads(clip, model, tmp_path, capsys):
    det = tmp_path / "dets" / "walk.txt"
    assert main(["detect", "--video", str(clip), "--detector", str(model), "--out", str(det), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"-> {det}" in out and f"--detections {det}" in out
    rows = read_mot_file(det, "det").data
    assert len(rows) == N and rows[:, 0].tolist() == list(range(1, N + 1))
    np.testing.assert_allclose(rows[:, 2:6], np.tile(BOX, (N, 1)), atol=1e-3)
    assert (rows[:, 1] == -1).all() and rows[:, 6] == pytest.approx(0.9, abs=1e-6)
    assert not list(det.parent.glob(".*"))  # no temporary file left
    res = tmp_path / "results"
    assert main(["run", "--video", str(clip), "--detections", str(det), "--tracker", "sort",
                 "--results-root", str(res), "--quiet"]) == 0
    tracked = read_mot_file(res / "sort" / "data" / "walk.txt", "results").data
    assert len(tracked) == N and set(tracked[:, 1]) == {1}


def test_track_detect_on_sequences_defaults_to_a_folder_by_detector(synth_seq, model, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    root = str(synth_seq.root.parent)
    assert main(["detect", "--seq", "SYNTH-01", "--data-root", root, "--detector", str(model), "--quiet"]) == 0
    path = tmp_path / "data" / "detections" / "person" / "SYNTH-01.txt"
    assert len(read_mot_file(path, "det").data) == 3
    assert f"track run --seq SYNTH-01 --data-root {root} --detections data/detections/person/SYNTH-01.txt" \
        in capsys.readouterr().out


def test_run_video_with_an_onnx_detector_writes_detections_rows_and_video(clip, model, tmp_path, capsys):
    res = tmp_path / "results"
    assert main(["run", "--video", str(clip), "--detector", str(model), "--tracker", "sort",
                 "--results-root", str(res), "--quiet"]) == 0
    exp = res / "sort-person"   # named for the detector too
    dets = exp / "detections" / "walk.txt"
    assert f"detections written to {dets}" in capsys.readouterr().out
    assert len(read_mot_file(dets, "det").data) == N
    assert len(read_mot_file(exp / "data" / "walk.txt", "results").data) == N
    assert (exp / "video" / "walk.mp4").is_file()


@needs_hog
def test_run_video_without_detections_uses_hog(synth_seq, tmp_path, capsys):
    images = [image for _, image in synth_seq.frames()]
    video = write_video(tmp_path / "plaza.mp4", images + images[::-1])
    res = tmp_path / "results"
    assert main(["run", "--video", str(video), "--tracker", "sort", "--min-hits", "1", "--results-root", str(res),
                 "--save-video", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "detecting people with hog" in out
    dets = read_mot_file(res / "sort-hog" / "detections" / "plaza.txt", "det").data
    rows = read_mot_file(res / "sort-hog" / "data" / "plaza.txt", "results").data
    assert len(dets) >= 6 and len(rows) > 0 and rows[:, 0].max() <= 6
    cap = cv2.VideoCapture(str(res / "sort-hog" / "video" / "plaza.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    cap.release()


@pytest.mark.parametrize("case", ["corrupt-model", "detector-and-detections", "size-without-detecting",
                                  "unknown-detector", "bad-appearance"])
def test_detector_errors_are_one_line_and_exit_2(case, clip, model, tmp_path, capsys):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model at all")
    det = tmp_path / "det.txt"
    write_detections(det, np.array([[1, -1, 10, 10, 20, 40, 0.9, -1, -1, -1]], float))
    res = str(tmp_path / "r")
    args, expected = {
        "corrupt-model": (["detect", "--video", str(clip), "--detector", str(bad)], "broken.onnx: not a loadable"),
        "detector-and-detections": (["run", "--video", str(clip), "--detector", "hog", "--detections", str(det),
                                     "--results-root", res], "not both"),
        "size-without-detecting": (["run", "--video", str(clip), "--detections", str(det), "--detector-size", "64",
                                    "--results-root", res], "apply only when the run detects"),
        "unknown-detector": (["detect", "--video", str(clip), "--detector", "yolo"], "unknown detector"),
        # the descriptor is opened before any detection time is spent
        "bad-appearance": (["run", "--video", str(clip), "--detector", str(model), "--appearance", "nosuch",
                            "--results-root", res], "nosuch"),
    }[case]
    assert main(args + ["--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("track: error:") and expected in err[0], err
    assert not (tmp_path / "r").exists()  # nothing written


def test_run_all_with_a_detector_skips_frameless_sequences_and_evaluates(synth_seq, model, tmp_path, capsys):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(synth_seq.root, root / "SYNTH-01")
    bare = root / "BARE-01"          # seqinfo, det and gt but no frames
    bare.mkdir()
    for part in ("seqinfo.ini", "det", "gt"):
        src = synth_seq.root / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, bare / part)
    res = tmp_path / "results"
    assert main(["run", "--all", "--data-root", str(root), "--detector", str(model), "--tracker", "sort",
                 "--results-root", str(res), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "skipping 1 sequence(s) without frames to detect in: BARE-01" in captured.err
    assert "IDF1" in captured.out                              # SYNTH-01 has gt: evaluated
    assert (res / "sort-person" / "detections" / "SYNTH-01.txt").is_file()
    assert sorted(p.name for p in (res / "sort-person" / "data").iterdir()) == ["SYNTH-01.txt"]
    # without --all a frameless sequence is an error before any detection
    assert main(["run", "--seq", "BARE-01", "--data-root", str(root), "--detector", str(model),
                 "--results-root", str(res), "--quiet"]) == 2
    assert "no frames" in capsys.readouterr().err


def test_a_rerun_with_all_reuses_finished_detections_and_keeps_them_apart(synth_seq, model, tmp_path, capsys):
    synth_root = synth_seq.root.parent
    res = tmp_path / "results"
    args = ["run", "--all", "--data-root", str(synth_root), "--detector", str(model), "--tracker", "sort",
            "--results-root", str(res), "--quiet", "--no-eval"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    again = capsys.readouterr().out
    assert first.count(" detections") > again.count(" detections")   # no sequence detected twice
    # a run on the file's own detections goes to another folder
    assert main(["run", "--all", "--data-root", str(synth_root), "--tracker", "sort", "--results-root", str(res),
                 "--quiet", "--no-eval"]) == 0
    assert sorted(p.name for p in res.iterdir()) == ["sort", "sort-person"]
