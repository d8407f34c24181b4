"""`tinycnn summary` argument checks and `tinycnn.draw.render`'s writes (reviewer R1's finding 20): --dot never
creates folders, refuses a folder, writes atomically; absurd --input / --num-classes are refused up front."""
import os

import pytest

from tinycnn.cli import main
from tinycnn.draw import render
from tinycnn.models import lenet5


def usage_error(argv, capsys) -> str:
    """The one error line argparse prints for ``argv`` (it exits 2 after the usage)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_dot_in_a_missing_folder_is_refused_and_no_folder_is_created(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "x.dot"
    line = usage_error(["summary", "lenet5", "--dot", str(target)], capsys)
    assert line == (f"tinycnn summary: error: argument --dot: must be a file in an existing folder, got "
                    f"{str(target)!r} (the folder {tmp_path / 'no' / 'such'} does not exist)")
    assert not (tmp_path / "no").exists()


def test_dot_naming_a_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "r1"
    folder.mkdir()
    line = usage_error(["summary", "lenet5", "--dot", str(folder)], capsys)
    assert line == (f"tinycnn summary: error: argument --dot: must be a file in an existing folder, got "
                    f"{str(folder)!r} ({folder} is a folder)")
    assert os.listdir(tmp_path) == ["r1"] and not os.listdir(folder)


def test_dot_whose_file_name_is_a_folder_is_refused(tmp_path, capsys):
    (tmp_path / "g.dot").mkdir()
    line = usage_error(["summary", "lenet5", "--dot", str(tmp_path / "g.svg")], capsys)
    assert line.endswith(f"({tmp_path / 'g.dot'} is a folder)")


def test_dot_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    line = usage_error(["summary", "lenet5", "--dot", str(tmp_path / "f" / "x.dot")], capsys)
    assert line.endswith(f"({tmp_path / 'f'} is not a folder)")


@pytest.mark.parametrize("argv, message", [
    (["--input", "1,100000,100000"], "argument --input: C*H*W must be at most 3,145,728 (one 1024x1024 RGB image: "
                                     "summary runs one image through the model), got 1,100000,100000"),
    (["--input", "3,1025,1025"], "got 3,1025,1025"),
    (["--num-classes", "10000000000"], "argument --num-classes: must be an integer from 1 to 100,000 (the "
                                       "classifier's weights grow with it), got '10000000000'"),
    (["--num-classes", "0"], "argument --num-classes: must be an integer from 1 to 100,000"),
])
def test_absurd_sizes_are_refused_up_front(argv, message, capsys):
    line = usage_error(["summary", "lenet5", *argv], capsys)
    assert line.startswith("tinycnn summary: error: ") and message in line


def test_the_largest_sizes_allowed_still_work(capsys):
    assert main(["summary", "lenet5", "--input", "3,1024,1024"]) == 2  # runs, then the model says it does not fit
    assert "tinycnn summary: error" in capsys.readouterr().err
    assert main(["summary", "lenet5", "--num-classes", "100000"]) == 0
    assert "total parameters" in capsys.readouterr().out


# ----- render, the API behind --dot -----

def test_render_never_creates_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"render: the folder {tmp_path / 'pics'} does not exist"):
        render(lenet5(), tmp_path / "pics" / "toy.svg")
    assert not (tmp_path / "pics").exists()


def test_render_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"render: {tmp_path} is a folder"):
        render(lenet5(), tmp_path)


def test_render_writes_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no Graphviz: only the .dot
    path = tmp_path / "g.dot"
    path.write_text("the previous drawing")

    def boom(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        render(lenet5(), path)
    assert path.read_text() == "the previous drawing" and os.listdir(tmp_path) == ["g.dot"]


@pytest.mark.skipif(os.name != "posix", reason="a shell-script stand-in for dot")
def test_a_failing_dot_leaves_the_previous_picture(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "dot"
    exe.write_text('#!/bin/sh\necho half > "$4"\necho "syntax error" >&2\nexit 3\n')  # dot -Tsvg F.dot -o OUT
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ["PATH"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "g.svg").write_text("the previous picture")
    with pytest.raises(RuntimeError, match="syntax error"):
        render(lenet5(), out / "g.svg")
    assert (out / "g.svg").read_text() == "the previous picture"
    assert sorted(os.listdir(out)) == ["g.dot", "g.svg"]  # no temporary file left
