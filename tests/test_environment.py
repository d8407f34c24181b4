"""tinycnn's environment variables (reviewer R1's findings 14 and 15): a bad TINYCNN_NUM_THREADS or TINYCNN_REFERENCE
is an error naming the variable and the value, never silently ignored, and ends the command line (or any program
that does not catch it) with one line, not a traceback."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinycnn import backend

REPO_ROOT = Path(__file__).resolve().parents[1]


def run(code_or_argv, **env):
    argv = [sys.executable, "-c", code_or_argv] if isinstance(code_or_argv, str) else code_or_argv
    full = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "2 threads"])
def test_a_bad_thread_count_is_an_error_naming_variable_and_value(value, monkeypatch):
    saved = backend._num_threads
    backend._num_threads = None
    try:
        monkeypatch.setenv("TINYCNN_NUM_THREADS", value)
        with pytest.raises(ValueError) as err:
            backend.get_num_threads()
        assert str(err.value) == (f"TINYCNN_NUM_THREADS must be an integer >= 1 (unset or empty: one thread per "
                                  f"CPU), got {value!r}")
    finally:
        backend._num_threads = saved


@pytest.mark.parametrize("value, expected", [("3", 3), (" 2 ", 2), ("", None)])
def test_good_thread_counts(value, expected, monkeypatch):
    saved = backend._num_threads
    backend._num_threads = None
    try:
        monkeypatch.setenv("TINYCNN_NUM_THREADS", value)
        assert backend.get_num_threads() == (expected or len(os.sched_getaffinity(0)))
    finally:
        backend._num_threads = saved


@pytest.mark.parametrize("variable, value, expected", [
    ("TINYCNN_NUM_THREADS", "abc", "TINYCNN_NUM_THREADS must be an integer >= 1"),
    ("TINYCNN_NUM_THREADS", "0", "TINYCNN_NUM_THREADS must be an integer >= 1"),
    ("TINYCNN_REFERENCE", "maybe", "TINYCNN_REFERENCE must be one of 1, true, yes, on"),
])
def test_import_refuses_a_bad_setting_in_one_line(variable, value, expected):
    proc = run("import tinycnn", **{variable: value})
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [proc.stderr.strip()], proc.stderr  # one line
    assert proc.stderr.startswith(f"tinycnn: error: {expected}") and f"got {value!r}" in proc.stderr


def test_the_error_can_be_caught_as_a_value_error():
    proc = run("try:\n    import tinycnn\nexcept ValueError as e:\n    print('caught', e)\n",
               TINYCNN_REFERENCE="maybe")
    assert proc.returncode == 0 and proc.stdout.startswith("caught TINYCNN_REFERENCE must be"), proc.stderr


@pytest.mark.parametrize("variable, value", [("TINYCNN_REFERENCE", "maybe"), ("TINYCNN_NUM_THREADS", "1.5")])
def test_the_command_line_prints_one_line_no_traceback(variable, value):
    """R1 #15: `TINYCNN_REFERENCE=maybe tinycnn summary lenet5` printed a traceback at import."""
    commands = [[sys.executable, "-m", "tinycnn", "summary", "lenet5"]]
    script = shutil.which("tinycnn", path=os.path.dirname(sys.executable))
    if script:  # the console script that `pip install` makes
        commands.append([script, "summary", "lenet5"])
    for argv in commands:
        proc = run(argv, **{variable: value})
        assert proc.returncode == 1 and proc.stdout == ""
        assert "Traceback" not in proc.stderr
        assert proc.stderr.splitlines() == [f"tinycnn: error: {proc.stderr.strip()[len('tinycnn: error: '):]}"]
        assert variable in proc.stderr and repr(value) in proc.stderr


def test_other_uncaught_errors_keep_their_traceback():
    """The one-line report is for tinycnn's setting errors only: a program that caught one and then fails otherwise
    gets Python's usual traceback."""
    proc = run("try:\n    import tinycnn\nexcept ValueError:\n    pass\nraise KeyError('mine')",
               TINYCNN_REFERENCE="maybe")
    assert "Traceback" in proc.stderr and "KeyError: 'mine'" in proc.stderr
