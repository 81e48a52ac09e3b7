"""`track data import|fetch|list`: import round trip, safe unpacking, resumable downloads, CLI errors.

Everything is built in tmp_path: a few-frame MJPG video, tiny det/gt files, small archives in the
MOT16 layout, and a local HTTP server for the Range requests.
"""
from __future__ import annotations

import http.server
import io
import re
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.cli import entry as cli
from tools.data.importing import import_video
from tools.io.errors import InputError
from tools.data.fetch import download, fetch, safe_unpack
from tools.io.motformat import read_mot_file, read_npy_detections, read_seqinfo, write_npy_detections
from tools.io.sequence import Sequence, find_sequence

W, H, N_FRAMES, FPS = 64, 48, 5, 10.0
DET = "1,-1,10,5,12,30,0.9,-1,-1,-1\n2,-1,11,5,12,30,0.8,-1,-1,-1\n5,-1,40.5,10.25,20,30,0.55,-1,-1,-1\n"
GT = "1,1,10,5,12,30,1,1,1\n2,1,11,5,12,30,1,1,1\n3,1,12,5,12,30,1,1,1\n"


def frame_value(i: int) -> int:
    return 30 + 40 * i  # frame i (from 0) is a flat grey of this value: easy to recognise after JPEG


def make_video(path: Path, n: int = N_FRAMES) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((H, W, 3), frame_value(i), np.uint8))
    writer.release()
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "det.txt").write_text(DET)
    (src / "gt.txt").write_text(GT)
    return {"video": make_video(src / "clip.avi"), "det": src / "det.txt", "gt": src / "gt.txt",
            "out": tmp_path / "data"}


def leftovers(folder: Path) -> list[str]:
    """Hidden staging folders an import or unpack might have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


# ---------------------------------------------------------------- import


def test_import_round_trip(inputs):
    seq = import_video(inputs["video"], inputs["det"], inputs["out"], gt=inputs["gt"], progress=False)
    root = inputs["out"] / "clip"
    assert seq.root == root
    info = read_seqinfo(root / "seqinfo.ini")
    assert (info.name, info.length, info.width, info.height, info.frame_rate) == ("clip", N_FRAMES, W, H, FPS)
    assert sorted(p.name for p in (root / "img1").iterdir()) == [f"{i:06d}.jpg" for i in range(1, N_FRAMES + 1)]
    frames = list(Sequence.open(root).frames())
    assert [f for f, _ in frames] == list(range(1, N_FRAMES + 1))
    for f, image in frames:
        assert image.shape == (H, W, 3)
        assert abs(float(image.mean()) - frame_value(f - 1)) < 4  # the right frame, in order
    assert (root / "det" / "det.txt").read_text() == DET
    np.testing.assert_array_equal(read_mot_file(root / "det" / "det.txt").data, read_mot_file(inputs["det"]).data)
    assert (root / "gt" / "gt.txt").read_text() == GT
    assert find_sequence("clip", inputs["out"]).root == root
    assert leftovers(inputs["out"]) == []


def test_import_name_frame_rate_and_no_gt(inputs):
    import_video(inputs["video"], inputs["det"], inputs["out"], name="walk", frame_rate=7.5, progress=False)
    info = read_seqinfo(inputs["out"] / "walk" / "seqinfo.ini")
    assert (info.name, info.frame_rate) == ("walk", 7.5)
    assert not (inputs["out"] / "walk" / "gt").exists()


def test_import_npy_detections(inputs, tmp_path):
    rows = read_mot_file(inputs["det"]).data
    feature = np.arange(len(rows) * 4, dtype=np.float32).reshape(len(rows), 4)
    npy = tmp_path / "src" / "clip.npy"
    write_npy_detections(npy, rows, feature)
    seq = import_video(inputs["video"], npy, inputs["out"], progress=False)
    assert (seq.root / "det" / "det.npy").read_bytes() == npy.read_bytes()
    got = read_npy_detections(seq.root / "det" / "det.npy")
    np.testing.assert_array_equal(got.feature, feature)
    # det.txt beside it carries the same boxes for motion-only runs
    np.testing.assert_allclose(seq.detections().data[:, :7], rows[:, :7], atol=1e-4)


def test_import_bad_det_line_names_the_line(inputs):
    inputs["det"].write_text("1,-1,10,5,12,30,0.9\n2,-1,11,5,12,30,0.8\n3,-1,11,5,abc,30,0.8\n")
    with pytest.raises(InputError) as err:
        import_video(inputs["video"], inputs["det"], inputs["out"], progress=False)
    assert err.value.path == str(inputs["det"]) and err.value.line == 3
    assert not (inputs["out"] / "clip").exists()


def test_import_det_beyond_the_video_fails_after_decoding_and_leaves_nothing(inputs):
    # Frame 9 is only found wrong once the 5 frames are decoded: the staged copy must go away.
    inputs["det"].write_text(DET + "9,-1,10,5,12,30,0.9,-1,-1,-1\n")
    with pytest.raises(InputError, match="beyond the sequence length 5") as err:
        import_video(inputs["video"], inputs["det"], inputs["out"], progress=False)
    assert err.value.line == 4
    assert not (inputs["out"] / "clip").exists()
    assert leftovers(inputs["out"]) == []


def test_import_gt_box_outside_image(inputs):
    inputs["gt"].write_text(GT + f"2,2,{W + 5},5,12,30,1,1,1\n")
    with pytest.raises(InputError, match="outside") as err:
        import_video(inputs["video"], inputs["det"], inputs["out"], gt=inputs["gt"], progress=False)
    assert err.value.path == str(inputs["gt"]) and err.value.line == 4


def test_import_interrupted_leaves_nothing(inputs, monkeypatch):
    real_imwrite, calls = cv2.imwrite, []

    def imwrite(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_imwrite(*args, **kwargs)

    monkeypatch.setattr(cv2, "imwrite", imwrite)
    with pytest.raises(KeyboardInterrupt):
        import_video(inputs["video"], inputs["det"], inputs["out"], progress=False)
    assert len(calls) == 3
    assert not (inputs["out"] / "clip").exists()
    assert leftovers(inputs["out"]) == []


@pytest.mark.parametrize("content", [b"this is not a video\n" * 50, b""])
def test_import_unreadable_video(inputs, content):
    inputs["video"].write_bytes(content)
    with pytest.raises(InputError) as err:
        import_video(inputs["video"], inputs["det"], inputs["out"], progress=False)
    assert err.value.path == str(inputs["video"])
    assert not (inputs["out"] / "clip").exists()


def test_import_missing_video(inputs):
    with pytest.raises(InputError, match="not found") as err:
        import_video(inputs["video"].with_name("nope.avi"), inputs["det"], inputs["out"], progress=False)
    assert err.value.path.endswith("nope.avi")


def test_import_refuses_to_overwrite_without_force(inputs):
    import_video(inputs["video"], inputs["det"], inputs["out"], progress=False)
    marker = inputs["out"] / "clip" / "mine.txt"
    marker.write_text("keep me")
    with pytest.raises(InputError, match="already exists"):
        import_video(inputs["video"], inputs["det"], inputs["out"], progress=False)
    assert marker.read_text() == "keep me"
    import_video(inputs["video"], inputs["det"], inputs["out"], gt=inputs["gt"], force=True, progress=False)
    assert not marker.exists() and (inputs["out"] / "clip" / "gt" / "gt.txt").is_file()
    assert leftovers(inputs["out"]) == []


@pytest.mark.parametrize("name", ["a/b", "..", ".hidden", ""])
def test_import_rejects_names_that_are_not_a_folder_name(inputs, name):
    with pytest.raises(InputError, match="plain folder name"):
        import_video(inputs["video"], inputs["det"], inputs["out"], name=name, progress=False)
    assert not inputs["out"].exists()


# ---------------------------------------------------------------- archives


def seqinfo_text(name: str, length: int = 1) -> str:
    return (f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={length}\n"
            f"imWidth={W}\nimHeight={H}\nimExt=.jpg\n")


def mot16_files(top: str = "MOT16/", length: int = 1) -> dict[str, bytes]:
    """A two-sequence MOT16 tree: a train sequence with gt and a test sequence without."""
    jpg = cv2.imencode(".jpg", np.full((H, W, 3), 99, np.uint8))[1].tobytes()
    files = {}
    for split, seq in (("train", "MOT16-02"), ("test", "MOT16-01")):
        base = f"{top}{split}/{seq}/"
        files[base + "seqinfo.ini"] = seqinfo_text(seq, length).encode()
        files[base + "img1/000001.jpg"] = jpg
        files[base + "det/det.txt"] = b"1,-1,10,5,12,30,0.9,-1,-1,-1\n"
        if split == "train":
            files[base + "gt/gt.txt"] = b"1,1,10,5,12,30,1,1,1\n"
    return files


def make_zip(path: Path, files: dict[str, bytes], extra: list[zipfile.ZipInfo | tuple] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for info, data in extra:
            zf.writestr(info, data)
    return path


def make_tar(path: Path, files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


@pytest.mark.parametrize("kind,top", [("zip", "MOT16/"), ("tar.gz", "MOT16/"), ("zip", "")])
def test_fetch_file_url_unpacks_and_sequences_open(tmp_path, kind, top):
    src = tmp_path / "server"
    src.mkdir()
    archive = src / f"MOT16.{kind}"
    (make_zip if kind == "zip" else make_tar)(archive, mot16_files(top))
    data_root = tmp_path / "data"
    got = fetch("MOT16", data_root, url=archive.as_uri(), progress=False, log=lambda s: None)
    assert got.folder == data_root / "MOT16"
    assert sorted(s.root.relative_to(got.folder).as_posix() for s in got.sequences) == \
        ["test/MOT16-01", "train/MOT16-02"]
    seq = find_sequence("MOT16-02", data_root)
    assert seq.root == data_root / "MOT16" / "train" / "MOT16-02" and seq.has_gt
    assert [f for f, _ in seq.frames()] == [1]
    assert len(seq.detections()) == 1
    assert got.archive.read_bytes() == archive.read_bytes()
    assert not got.archive.with_name(got.archive.name + ".part").exists()
    assert leftovers(data_root) == []


def test_fetch_refuses_existing_dataset_before_downloading(tmp_path):
    archive = make_zip(tmp_path / "MOT16.zip", mot16_files())
    data_root = tmp_path / "data"
    (data_root / "MOT16").mkdir(parents=True)
    with pytest.raises(InputError, match="--force"):
        fetch("MOT16", data_root, url=archive.as_uri(), progress=False)
    assert sorted(p.name for p in data_root.iterdir()) == ["MOT16"]  # nothing downloaded
    got = fetch("mot16", data_root, url=archive.as_uri(), force=True, progress=False, log=lambda s: None)
    assert got.folder == data_root / "MOT16" and len(got.sequences) == 2


def test_fetch_verification_failure_leaves_no_dataset(tmp_path):
    archive = make_zip(tmp_path / "MOT16.zip", mot16_files(length=2))  # seqinfo says 2, one jpg
    data_root = tmp_path / "data"
    with pytest.raises(InputError, match="holds 1 frames, seqinfo.ini says 2"):
        fetch("MOT16", data_root, url=archive.as_uri(), progress=False, log=lambda s: None)
    assert not (data_root / "MOT16").exists()
    assert leftovers(data_root) == []


def test_fetch_unknown_dataset_needs_url(tmp_path):
    with pytest.raises(InputError, match="unknown dataset 'MOT99'"):
        fetch("MOT99", tmp_path / "data", progress=False)


def test_unpack_rejects_a_file_that_is_no_archive(tmp_path):
    bogus = tmp_path / "MOT16.zip"
    bogus.write_bytes(b"<html>login required</html>")
    with pytest.raises(InputError, match="not a zip or tar archive") as err:
        safe_unpack(bogus, tmp_path / "data" / "MOT16")
    assert err.value.path == str(bogus)


def _zip_symlink() -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo("MOT16/train/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, b"/etc"


def _tar_link(kind: bytes, name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _tar_file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


UNSAFE = {
    "zip-dotdot": ("zip", [(zipfile.ZipInfo("MOT16/../../evil.txt"), b"x")], "'..'"),
    "zip-absolute": ("zip", [(zipfile.ZipInfo("/tmp/evil.txt"), b"x")], "absolute"),
    "zip-backslash-dotdot": ("zip", [(zipfile.ZipInfo("MOT16\\..\\..\\evil.txt"), b"x")], "'..'"),
    "zip-symlink": ("zip", [_zip_symlink()], "symbolic link"),
    "tar-dotdot": ("tar", [_tar_file("../evil.txt")], "'..'"),
    "tar-absolute": ("tar", [_tar_file("/tmp/evil.txt")], "absolute"),
    "tar-symlink": ("tar", [_tar_link(tarfile.SYMTYPE, "MOT16/train/evil", "/etc/passwd")], "symbolic link"),
    "tar-hardlink": ("tar", [_tar_link(tarfile.LNKTYPE, "MOT16/train/evil", "/etc/passwd")], "hard link"),
    "tar-device": ("tar", [_tar_link(tarfile.FIFOTYPE, "MOT16/train/evil", "")], "not a file or folder"),
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_unsafe_archive_members_are_refused_and_nothing_is_written(tmp_path, case):
    kind, extra, reason = UNSAFE[case]
    src = tmp_path / "server"
    src.mkdir()
    archive = src / ("MOT16.zip" if kind == "zip" else "MOT16.tar.gz")
    if kind == "zip":
        make_zip(archive, mot16_files(), extra)
    else:
        make_tar(archive, mot16_files(), extra)
    data_root = tmp_path / "nest" / "data"
    with pytest.raises(InputError, match=reason) as err:
        fetch("MOT16", data_root, url=archive.as_uri(), progress=False, log=lambda s: None)
    assert err.value.path.endswith(archive.name) and "refusing member" in err.value.message
    assert not (data_root / "MOT16").exists()
    assert sorted(p.name for p in data_root.iterdir()) == [archive.name]  # only the download itself
    assert not [p for p in tmp_path.rglob("*evil*")]


# ---------------------------------------------------------------- downloads


def test_resume_part_file_over_file_url(tmp_path):
    source = tmp_path / "MOT16.zip"
    payload = bytes(range(256)) * 4000 + b"tail"
    source.write_bytes(payload)
    dest = tmp_path / "data" / "MOT16.zip"
    dest.parent.mkdir()
    half = len(payload) // 2
    dest.with_name("MOT16.zip.part").write_bytes(payload[:half])
    got = download(source.as_uri(), dest, progress=False)
    assert got.resumed_from == half and got.size == len(payload)
    assert dest.read_bytes() == payload
    assert not dest.with_name("MOT16.zip.part").exists()


def test_resume_keeps_the_bytes_already_there(tmp_path):
    # A resumed download appends; it does not fetch the first part again.
    source = tmp_path / "a.bin"
    source.write_bytes(b"A" * 1000)
    dest = tmp_path / "b.bin"
    dest.with_name("b.bin.part").write_bytes(b"B" * 400)
    download(source.as_uri(), dest, progress=False)
    assert dest.read_bytes() == b"B" * 400 + b"A" * 600


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves one payload at /MOT16.zip, with or without honouring Range requests."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.ranges.append(self.headers.get("Range"))
        if self.path != "/MOT16.zip":
            self.send_error(404, "Not Found")
            return
        data, match = server.payload, re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and server.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.payload = bytes(range(251)) * 3000
    server.honour_range = True
    server.ranges = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/MOT16.zip"


@pytest.mark.parametrize("honour_range", [True, False])
def test_http_resume_with_range(tmp_path, http_server, honour_range):
    http_server.honour_range = honour_range
    payload = http_server.payload
    dest = tmp_path / "MOT16.zip"
    dest.with_name("MOT16.zip.part").write_bytes(payload[:1000])
    got = download(_url(http_server), dest, progress=False)
    assert dest.read_bytes() == payload
    assert http_server.ranges == ["bytes=1000-"]
    assert got.resumed_from == (1000 if honour_range else 0)  # a server ignoring Range: start over


def test_http_part_already_complete(tmp_path, http_server):
    dest = tmp_path / "MOT16.zip"
    dest.with_name("MOT16.zip.part").write_bytes(http_server.payload)
    download(_url(http_server), dest, progress=False)
    assert dest.read_bytes() == http_server.payload
    assert http_server.ranges == [f"bytes={len(http_server.payload)}-"]


def test_http_errors_are_one_line_naming_the_url(tmp_path, http_server):
    url = _url(http_server).replace("MOT16.zip", "missing.zip")
    with pytest.raises(InputError, match="HTTP 404") as err:
        download(url, tmp_path / "x.zip", progress=False)
    assert err.value.path == url and "\n" not in str(err.value)
    port = http_server.server_address[1]
    http_server.shutdown()
    http_server.server_close()
    refused = f"http://127.0.0.1:{port}/MOT16.zip"
    with pytest.raises(InputError, match="download failed") as err:
        download(refused, tmp_path / "y.zip", progress=False)
    assert err.value.path == refused and "\n" not in str(err.value)


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def track(monkeypatch):
    """The real `track` entry point with only this sub-command registered."""
    monkeypatch.setattr(cli, "COMMANDS", ("data",))
    return cli.main


def test_cli_import_bad_input_exits_2_with_one_line(track, inputs, capsys):
    inputs["det"].write_text("1,-1,10,5,12,30,0.9\n\n1,-1,10,5,-3,30,0.9\n")
    argv = ["data", "import", "--video", str(inputs["video"]), "--det", str(inputs["det"]),
            "--out", str(inputs["out"])]
    assert track(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("track: error: ")
    assert f"{inputs['det']}:3:" in err


def test_cli_unreadable_video_exits_2(track, inputs, capsys):
    inputs["video"].write_text("garbage")
    argv = ["data", "import", "--video", str(inputs["video"]), "--det", str(inputs["det"]),
            "--out", str(inputs["out"])]
    assert track(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(inputs["video"]) in err


def test_cli_fetch_network_failure_exits_2(track, tmp_path, capsys, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    url = "http://127.0.0.1:9/MOT16.zip"  # the discard port: nothing listens
    assert track(["data", "fetch", "MOT16", "--data-root", str(tmp_path / "data"), "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and url in err


def test_failed_fetch_leaves_no_folder_behind(track, tmp_path, capsys, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "new" / "data"
    assert track(["data", "fetch", "MOT16", "--data-root", str(root), "--url", "http://127.0.0.1:9/MOT16.zip"]) == 2
    assert not (tmp_path / "new").exists()
    missing = tmp_path / "MOT16.zip"  # a file:// URL that is not there fails the same way
    assert track(["data", "fetch", "MOT16", "--data-root", str(root), "--url", missing.as_uri()]) == 2
    assert list(tmp_path.iterdir()) == []


def test_cli_import_then_list_and_fetch(track, inputs, tmp_path, capsys):
    argv = ["data", "import", "--video", str(inputs["video"]), "--det", str(inputs["det"]),
            "--gt", str(inputs["gt"]), "--out", str(inputs["out"]), "--name", "MY-01"]
    assert track(argv) == 0
    assert "5 frames, 64x48, 10 fps" in capsys.readouterr().out
    archive = make_zip(tmp_path / "MOT16.zip", mot16_files())
    assert track(["data", "fetch", "MOT16", "--data-root", str(inputs["out"]), "--url", archive.as_uri()]) == 0
    assert "unpacked 2 sequences, 2 frames" in capsys.readouterr().out
    # A stale staging folder and a broken seqinfo.ini must not derail the listing.
    (inputs["out"] / ".MY-01.import-x.tmp").mkdir()
    (inputs["out"] / ".MY-01.import-x.tmp" / "seqinfo.ini").write_text(seqinfo_text("ghost"))
    (inputs["out"] / "broken").mkdir()
    (inputs["out"] / "broken" / "seqinfo.ini").write_text("[Sequence]\nname=broken\n")
    assert track(["data", "list", "--data-root", str(inputs["out"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert lines[0].split()[:8] == ["name", "split", "frames", "size", "fps", "images", "det", "gt"]
    assert rows["MY-01"][:8] == ["MY-01", "-", "5", "64x48", "10", "img1", "yes", "yes"]
    assert rows["MOT16-02"][:8] == ["MOT16-02", "train", "1", "64x48", "30", "img1", "yes", "yes"]
    assert rows["MOT16-01"][1] == "test" and rows["MOT16-01"][7] == "no"
    assert "broken:" in " ".join(rows["broken"]) and ".MY-01.import-x.tmp" not in rows


def test_cli_list_missing_root_exits_2(track, tmp_path, capsys):
    assert track(["data", "list", "--data-root", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
