"""tinycnn._signals.InterruptGuard: SIGINT/SIGTERM stop training even when the raise is swallowed, and an
inherited SIG_IGN (``nohup cmd &``) is left alone, as Python itself does for SIGINT."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinycnn._signals import InterruptGuard, TrainingInterrupted

REPO_ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals"),
              # pytest reports the exception that the finalizers below swallow (that is the point): not a failure
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]


class _KillsInFinalizer:
    """An object whose finalizer sends SIGTERM to this process: the handler's raise happens inside __del__,
    where Python prints "Exception ignored in ..." and carries on (what tqdm's __del__ or a weakref callback do)."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_swallowed_by_a_finalizer_stops_at_the_next_check():
    steps = []
    with pytest.raises(TrainingInterrupted) as info:
        with InterruptGuard() as guard:
            for step in range(5):
                guard.check()  # the training loop's safe point, once per step
                steps.append(step)
                if step == 1:
                    b = _KillsInFinalizer()
                    b = None  # noqa: F841 - the finalizer runs here; its raise is swallowed
    assert info.value.signum == signal.SIGTERM
    assert steps == [0, 1]  # step 2 never started


def test_the_reviewers_repro_raises_when_the_guard_ends():
    """R1's repro: no check at all inside the block; the pending signal is still raised, on leaving the guard."""
    with pytest.raises(TrainingInterrupted):
        with InterruptGuard():
            b = _KillsInFinalizer()
            b = None  # noqa: F841
            after = True
    assert after


def test_a_signal_swallowed_inside_deferred_is_raised_when_the_block_ends():
    done = []
    with pytest.raises(TrainingInterrupted):
        with InterruptGuard() as guard:
            with guard.deferred():
                b = _KillsInFinalizer()
                b = None  # noqa: F841
                done.append("write")
    assert done == ["write"]


def test_one_signal_stops_the_run_even_if_its_exception_is_caught():
    with InterruptGuard() as guard:
        with pytest.raises(TrainingInterrupted):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs at the next bytecode boundary
                pass
        assert guard.pending == signal.SIGTERM
        with pytest.raises(TrainingInterrupted):
            guard.check()
        assert guard.pending is None
        guard.check()  # raised once by check: nothing left


def test_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with InterruptGuard():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_inherited_sig_ign_is_left_alone():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with InterruptGuard() as guard:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)  # ignored by the kernel: nothing happens
            guard.check()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


_SWALLOWED_IN_TRAINING = textwrap.dedent("""
    import os, signal, sys
    from tinycnn import train
    from tinycnn.cli import main

    original, count = train._outputs_and_loss, [0]

    class KillsInFinalizer:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)

    def step(outputs, target):  # once per training step
        count[0] += 1
        if count[0] == 3:
            b = KillsInFinalizer()
            b = None  # the handler's raise is swallowed here: "Exception ignored in ..."
        print("step", count[0], flush=True)
        return original(outputs, target)

    train._outputs_and_loss = step
    sys.exit(main(["train", *sys.argv[1:]]))
""")


@pytest.mark.network  # MNIST, from the cache or PyPI
def test_a_swallowed_sigterm_stops_a_real_training_run(tmp_path):
    """The whole CLI in a subprocess: the signal lands in a finalizer during step 3; the run stops before step 4
    with the usual exit status 128 + SIGTERM instead of training to the end and exiting 0."""
    script = tmp_path / "driver.py"
    script.write_text(_SWALLOWED_IN_TRAINING)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TINYCNN_NO_MIRRORS": "1", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "TINYCNN_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), "lenet5", "--epochs", "1", "--train-limit", "640",
                           "--test-limit", "64", "--batch-size", "64", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert "Exception ignored" in proc.stderr
    assert proc.returncode == 128 + signal.SIGTERM, proc.stdout + proc.stderr
    assert "step 3" in proc.stdout and "step 4" not in proc.stdout
    assert not (out / "checkpoint.npz").exists()


def test_a_nohup_style_ignored_sigint_does_not_stop_training(tmp_path):
    """A child started with SIGINT ignored (what ``nohup cmd &`` and shells do for background jobs) keeps it
    ignored inside the guard: kill -INT does nothing, as it would to a plain Python program."""
    code = textwrap.dedent("""
        import os, signal
        from tinycnn._signals import InterruptGuard
        with InterruptGuard() as guard:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                guard.check()
            print("still running", signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "still running True"
