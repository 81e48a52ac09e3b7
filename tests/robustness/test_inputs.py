"""Bad input ends in one line naming the file (and line) and exit status 2; writes are atomic."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_sequence
from tools.io.atomic import atomic_open
from tools.cli import main
from tools.io.errors import InputError
from tools.io.motformat import read_mot_file, read_npy_detections, read_seqinfo, write_npy_detections, write_results
from tools.io.sequence import Sequence, find_sequence


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("line, message", [
    ("1,-1,10,20,30", "at least 7 columns"),
    ("1,-1,10,abc,30,40,0.9", "not a number: 'abc'"),
    ("1,-1,10,nan,30,40,0.9", "NaN"),
    ("1,-1,10,20,0,40,0.9", "zero or negative size"),
    ("0,-1,10,20,30,40,0.9", "frame must be a positive integer"),
    ("1.5,-1,10,20,30,40,0.9", "frame must be a positive integer"),
    ("1,-1,10,20,30,40,nan", "confidence"),
])
def test_malformed_det_lines_name_file_and_line(tmp_path, line, message):
    p = tmp_path / "det.txt"
    p.write_text("1,-1,10,20,30,40,0.9,-1,-1,-1\n\n" + line + "\n")
    with pytest.raises(InputError) as err:
        read_mot_file(p, "det")
    assert str(err.value).startswith(f"{p}:3: ")
    assert message in str(err.value)


def test_gt_needs_six_columns_but_no_confidence(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("1,3,10,20,30,40\n2,3,11,20,30,40,1,1,0.5\n")
    rows = read_mot_file(p, "gt")
    assert rows.data.shape == (2, 10) and rows.line.tolist() == [1, 2]
    p.write_text("1,3,10,20,30\n")
    with pytest.raises(InputError, match=r"gt.txt:1: expected at least 6"):
        read_mot_file(p, "gt")


def test_missing_seqinfo_key_and_bad_values(tmp_path):
    p = tmp_path / "seqinfo.ini"
    p.write_text("[Sequence]\nname=X\nframeRate=10\nimWidth=10\nimHeight=10\n")
    with pytest.raises(InputError, match="missing key 'seqLength'"):
        read_seqinfo(p)
    p.write_text("[Sequence]\nname=X\nframeRate=10\nseqLength=ten\nimWidth=10\nimHeight=10\n")
    with pytest.raises(InputError, match="'seqLength' is not a int"):
        read_seqinfo(p)
    p.write_text("no section here\n")
    with pytest.raises(InputError, match=str(p)):
        read_seqinfo(p)


def test_box_outside_image_and_frame_beyond_length(tmp_path):
    seq = write_sequence(tmp_path, images=False, det_rows=["1,-1,10,10,20,40,0.9", "2,-1,400,10,20,40,0.9"])
    with pytest.raises(InputError, match=r"det.txt:2: .*outside the 320x240 image"):
        Sequence.open(seq).detections()
    seq = write_sequence(tmp_path, "LATE-01", length=3, images=False, det_rows=["4,-1,10,10,20,40,0.9"])
    with pytest.raises(InputError, match=r"det.txt:1: frame 4 is beyond the sequence length 3"):
        Sequence.open(seq).detections()
    # partly outside is normal in MOT data and accepted
    seq = write_sequence(tmp_path, "EDGE-01", images=False, det_rows=["1,-1,-10,-5,20,40,0.9"])
    assert len(Sequence.open(seq).detections()) == 1


def test_npy_detections_round_trip_and_bad_files(tmp_path):
    rows = np.array([[1, -1, 10, 20, 30, 40, 0.9, -1, -1, -1], [2, -1, 12, 20, 30, 40, 0.8, -1, -1, -1]])
    feats = np.arange(6, dtype=np.float32).reshape(2, 3)
    p = tmp_path / "d.npy"
    write_npy_detections(p, rows, feats)
    back = read_npy_detections(p)
    np.testing.assert_allclose(back.data, rows, rtol=1e-6)
    np.testing.assert_array_equal(back.feature, feats)
    np.save(tmp_path / "bad.npy", np.zeros((3, 4)))
    with pytest.raises(InputError, match="at least 10 columns"):
        read_npy_detections(tmp_path / "bad.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="junk.npy"):
        read_npy_detections(tmp_path / "junk.npy")


def test_unknown_sequence_lists_known_ones(tiny_root):
    with pytest.raises(InputError, match=r"no sequence named 'MOT16-02'.*known: TINY-01"):
        find_sequence("MOT16-02", tiny_root)
    assert find_sequence("TINY-01", tiny_root).name == "TINY-01"


def _seq_names(root, names):
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nimDir=img1\nframeRate=10\n"
                                                 "seqLength=5\nimWidth=320\nimHeight=240\nimExt=.jpg\n")


def test_a_missing_sequence_points_to_track_data_fetch(tiny_root, tmp_path):
    with pytest.raises(InputError) as err:
        find_sequence("MOT16-02", tiny_root)
    assert "`track data fetch MOT16 --data-root" in err.value.message and "data/README.md" in err.value.message
    with pytest.raises(InputError) as err:
        find_sequence("MOT17-04-FRCNN", tmp_path / "nothing")
    assert "data root does not exist" in err.value.message and "track data fetch MOT17" in err.value.message
    readme = Path(__file__).resolve().parents[2] / "data" / "README.md"
    assert "track data fetch MOT16" in readme.read_text()


def test_a_mistyped_sequence_gets_did_you_mean_and_the_match_is_listed_first(tmp_path):
    names = [f"AAA-{i:02d}" for i in range(20)] + ["TUD-Campus", "TUD-Stadtmitte"]
    _seq_names(tmp_path / "MOT15" / "train", names)
    for typed in ("tud-campus", "TUD-Campas", "TUD-campus"):
        with pytest.raises(InputError) as err:
            find_sequence(typed, tmp_path)
        message = err.value.message
        assert "(did you mean 'TUD-Campus'" in message, message
        assert "; 22 known: TUD-Campus, " in message and message.endswith(" ...")
        assert "track data fetch" not in message  # a typo, not missing data
    assert find_sequence("TUD-Campus", tmp_path).name == "TUD-Campus"


def test_the_data_root_may_be_the_sequence_folder_itself(tiny_root, tmp_path, capsys):
    seq = tiny_root / "train" / "TINY-01"
    assert find_sequence("TINY-01", seq).root == seq
    with pytest.raises(InputError, match="itself the sequence folder 'TINY-01'.*pass its parent"):
        find_sequence("OTHER-01", seq)
    code, out, err = run_cli(["run", "--all", "--data-root", str(seq), "--tracker", "sort", "--quiet",
                              "--no-eval", "--results-root", str(tmp_path / "r")], capsys)
    assert code == 0 and (tmp_path / "r" / "sort" / "data" / "TINY-01.txt").is_file()


def test_missing_frame_and_unreadable_video_are_named(tmp_path):
    seq = write_sequence(tmp_path)
    os.remove(seq / "img1" / "000004.jpg")
    frames = Sequence.open(seq).frames()
    with pytest.raises(InputError, match=r"000004.jpg: frame 4 is missing"):
        list(frames)
    seq = write_sequence(tmp_path, "VID-01", images=False)
    (seq / "VID-01.avi").write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"VID-01.avi: cannot open video"):
        list(Sequence.open(seq).frames())


def test_cli_bad_input_is_one_line_and_exit_2(tiny_root, tmp_path, capsys):
    code, out, err = run_cli(["run", "--seq", "NOPE", "--data-root", str(tiny_root), "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("track: error: ")
    det = tiny_root / "train" / "TINY-01" / "det" / "det.txt"
    det.write_text(det.read_text() + "7,-1,1,2\n")
    code, out, err = run_cli(["run", "--seq", "TINY-01", "--data-root", str(tiny_root), "--quiet"], capsys)
    assert code == 2 and f"{det}:" in err and "Traceback" not in err and err.count("\n") == 1


def test_results_are_written_atomically(tmp_path):
    target = tmp_path / "out" / "SEQ.txt"
    write_results(target, np.array([[1, 1, 10, 20, 30, 40]]))
    before = target.read_text()
    assert before == "1,1,10.00,20.00,30.00,40.00,1,-1,-1,-1\n"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half a line")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == before
    assert [p.name for p in target.parent.iterdir()] == ["SEQ.txt"]


def test_atomic_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_results(tmp_path / "r.txt", np.zeros((0, 6)))
    finally:
        os.umask(old)
    assert (tmp_path / "r.txt").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("command", ["run-results-root", "run-experiment", "demo", "demo-work", "train", "synth",
                                     "crops"])
def test_an_output_path_that_is_a_file_is_one_line_and_exit_2(tiny_root, tmp_path, capsys, command):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    seq = ["--seq", "TINY-01", "--data-root", str(tiny_root), "--quiet"]
    argv = {"run-results-root": ["run", *seq, "--results-root", str(afile)],
            "run-experiment": ["run", *seq, "--results-root", str(tmp_path), "--experiment", "afile"],
            "demo": ["demo", "--out", str(afile), "--quiet"],
            "demo-work": ["demo", "--out", str(tmp_path / "demo"), "--work", str(afile / "w"), "--quiet"],
            "train": ["train", "--model", "fmvae", "--crops", str(tmp_path / "crops"), "--out", str(afile / "run")],
            "synth": ["synth", "--out", str(afile / "x")],
            "crops": ["crops", *seq, "--out", str(afile)]}[command]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"track: error: {afile}: "), err
    assert "Traceback" not in err and afile.read_text() == "not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "data"]
