"""Training and evaluation loops: ``fit``, ``evaluate``, ``predict``, learning-curve plots.

``fit(TrainConfig(...))`` trains a registered model on MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100 or a folder of
your own photos (``dataset="folder"``, optionally fine-tuning pretrained ``weights``: :mod:`tinycnn.rundata`) with
the recipe of :mod:`tinycnn.recipes` for every setting not given, and writes, under ``config.out``,
after every epoch: ``checkpoint.npz`` (weights, optimizer, scheduler, data order and history: see
:mod:`tinycnn.checkpoint`), ``metrics.json`` (config, per-epoch history, test accuracy, data source) and
``curves.png`` (loss and accuracy per epoch), each written atomically (a temporary file renamed over the old one).

Same seed, same numbers: every random draw of epoch ``e`` (the data order, augmentation, dropout masks) comes from
generators seeded by ``(seed, e)`` alone, so the numbers do not depend on a progress bar, on the number of tinycnn
threads, or on a restart. That is also how a resumed run (``resume=True`` / ``--resume``) gets exactly the
uninterrupted run's numbers: the checkpoint restores the weights, the optimizer's buffers, the scheduler and the
history, and the generators of the next epoch are re-derived rather than saved (CuPy's generator state cannot be
saved; a seed can).

SIGINT (Ctrl-C) and SIGTERM abandon the step in progress, keep the last good checkpoint, say where it is, and
raise :class:`TrainingInterrupted` (a KeyboardInterrupt with ``.signum``; the CLI exits with 128 + signum).
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import time
from pathlib import Path

import numpy as np

from . import backend
from . import functional as F
from ._fileio import atomic_write_bytes, remove_stale_temporaries
from ._signals import InterruptGuard, TrainingInterrupted
from .checkpoint import CheckpointError, build_model, load_checkpoint, read_checkpoint, save_checkpoint  # noqa: F401
from . import recipes
from .data import normalize
from .data.loader import MNIST_MEAN, MNIST_STD
from .optim import SGD, Adam
from .runconfig import (RUN_FILES, ConfigError, RunError, TrainConfig, check_data_dir, check_output_folder,
                        existing_run_files, validate_config)
from .runfolder import (CHECKPOINT, SETTINGS, RunLock, RunWriteError, describe_run, finished_run, resume_state,
                        restore_training, write_failure, write_settings)
from .rundata import RunData, new_model, pad_images, prepare
from .tensor import Tensor, no_grad

__all__ = ["TrainConfig", "ConfigError", "RunError", "RunWriteError", "fit", "pad_images", "evaluate", "save_checkpoint", "load_checkpoint",
           "CheckpointError", "TrainingInterrupted", "plot_history", "predict", "epoch_seed"]

AUX_LOSS_WEIGHT = 0.3  # GoogLeNet's auxiliary classifiers (Szegedy et al. 2015, Sec. 5)
TIMING_FIELDS = ("seconds", "images_per_second")  # the only history fields that differ between equal runs


def _outputs_and_loss(outputs, target):
    """Main loss, plus AUX_LOSS_WEIGHT times each auxiliary head's loss when the model returns several logits."""
    if isinstance(outputs, (tuple, list)):
        main, aux = outputs[0], outputs[1:]
        loss = F.cross_entropy(main, target)
        for a in aux:
            loss = loss + AUX_LOSS_WEIGHT * F.cross_entropy(a, target)
        return main, loss
    return outputs, F.cross_entropy(outputs, target)


def predict(model, images, batch_size: int = 512, device: str = "cpu", mean=MNIST_MEAN, std=MNIST_STD):
    """Logits (N, num_classes) as a NumPy array for uint8 images (N, H, W) or (N, C, H, W), in eval mode; ``mean``
    and ``std`` as :func:`tinycnn.data.normalize` takes them (scalars, per channel, or a mean image)."""
    model.eval()
    chunks = []
    with no_grad():
        for start in range(0, len(images), batch_size):
            x = normalize(images[start:start + batch_size], mean, std)
            chunks.append(backend.to_device(model(Tensor(backend.to_device(x, device))).data, "cpu"))
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)


def evaluate(model, images, labels, batch_size: int = 512, device: str = "cpu", mean=MNIST_MEAN, std=MNIST_STD):
    """(mean cross-entropy loss, accuracy in [0, 1]) of ``model`` on uint8 images and int labels, in eval mode."""
    logits = predict(model, images, batch_size, device, mean, std)
    loss = F.cross_entropy(Tensor(logits), np.asarray(labels)).item()
    return loss, float((logits.argmax(axis=1) == labels).mean())


def _optimizer(config, model):
    params = [p for p in model.parameters() if p.requires_grad]  # a frozen backbone is not the optimizer's
    if config.optimizer == "adam":
        return Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
               nesterov=False)


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm  # noqa: PLC0415 - only needed with a bar

    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of tinycnn's generators (dropout masks) during ``epoch`` of a run seeded ``seed``: a 63-bit int
    drawn from ``np.random.SeedSequence([seed, epoch, 1])`` (the loader uses [seed, epoch] for the data order)."""
    return int(np.random.SeedSequence([seed, epoch, 1]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _lr(optimizer) -> float:
    """The current learning rate: PyTorch's ``param_groups[0]["lr"]``."""
    return float(optimizer.param_groups[0]["lr"])


def _recorded(config: TrainConfig) -> dict:
    """The config as recorded in metrics.json and the checkpoint: without the run-control flags, paths as str."""
    return {k: os.fspath(v) if isinstance(v, os.PathLike) else v
            for k, v in dataclasses.asdict(config).items() if k not in ("resume", "overwrite")}


def _result(config, source, history, out, parameters) -> dict:
    return {"config": config if isinstance(config, dict) else _recorded(config), "data_source": source,
            "history": history, "epochs_done": len(history),
            "finished": len(history) == (config["epochs"] if isinstance(config, dict) else config.epochs),
            "test_accuracy": history[-1]["test_accuracy"] if history else None,
            "checkpoint": str(out / CHECKPOINT), "parameters": parameters,
            "train_seconds": sum(h["seconds"] for h in history)}


def _write_history(result, out: Path, config) -> None:
    """metrics.json and curves.png, each atomically."""
    atomic_write_bytes(out / "metrics.json", json.dumps(result, indent=2).encode())
    plot_history(result["history"], out / "curves.png", title=f"{config.model} on {config.dataset}")


def _final_line(config, result, out: Path, verb: str = "wrote") -> str:
    held_out = "validation" if config.dataset == "folder" else "test"
    return (f"{held_out} accuracy {100 * result['test_accuracy']:.2f}% after {config.epochs} epochs "
            f"({result['train_seconds']:.0f} s of training); {verb} {out}/{CHECKPOINT}, metrics.json, curves.png")


class _Progress:
    """What the run has saved so far: the epoch of the checkpoint in the folder that belongs to this run (the
    resumed one, or the last written), the earlier run an --overwrite run has not replaced yet, whether the run's
    settings file waits for the first checkpoint."""

    def __init__(self, epoch, earlier):
        self.epoch, self.earlier, self.settings = epoch, earlier, False


def fit(config: TrainConfig, log=print) -> dict:
    """Train ``config.model`` on ``config.dataset`` and return the metrics (also written to metrics.json).

    Returns a dict with "history" (one dict per epoch: train_loss, train_accuracy, test_loss, test_accuracy,
    seconds, images_per_second, lr), "test_accuracy", "epochs_done", "finished", "checkpoint", "data_source",
    "parameters", "train_seconds" and "config".

    Before any data is loaded: every config field is validated, a named data folder must exist, a resumed run that
    has already finished is reported (its metrics, nothing written: a read-only folder is fine), the output folder
    is created, proven writable and locked (:class:`tinycnn.runfolder.RunLock`: a second run into the same folder
    is refused), and a folder holding an earlier run is refused unless ``config.resume`` (continue it: its
    checkpoint's settings must match) or ``config.overwrite`` (replace it: its files stay until this run's first
    checkpoint is written, so an --overwrite run stopped before that leaves the earlier run intact).

    Raises:
        ConfigError (a ValueError) naming the bad field and value; RunError for a folder in use or holding a run;
        CheckpointError for an unusable checkpoint to resume; whatever the data loader raises; RunWriteError (an
        OSError) naming the file that could not be written (a full disk) and the last good checkpoint.
        TrainingInterrupted (a KeyboardInterrupt) on SIGINT or SIGTERM, after logging the last good checkpoint.
        A signal that comes once the final epoch's files are all written interrupts nothing: the run has finished.
    """
    validate_config(config)
    if backend.parse_device(config.device) != "cpu":
        backend.cupy_or_raise()
    from . import manual_seed  # noqa: PLC0415

    out = Path(config.out)
    check_data_dir(config.data_dir)
    config = recipes.resolve(config)  # every setting not given: the recipe's (recorded resolved)
    if config.resume:
        done = finished_run(config, out, log, lambda c: _rebuilt_result(config, c, out))
        if done is not None:
            log(f"the run in {out} has already finished its {config.epochs} epochs: nothing to do; pass "
                "--overwrite (overwrite=True) for a new run")
            log(_final_line(config, done, out, verb="results in"))
            return done
    check_output_folder(out)
    with InterruptGuard() as guard:
        lock = RunLock(out).acquire(log)
        try:
            return _locked_fit(config, out, guard, log, manual_seed)
        finally:
            lock.release()


def _rebuilt_result(config, checkpoint, out: Path):
    """(result, write) of a finished run's checkpoint whose metrics.json is missing or behind it."""
    meta = checkpoint["meta"]
    result = _result(meta["config"], meta.get("data_source"), list(checkpoint["training"]["history"]), out,
                     build_model(checkpoint, out / CHECKPOINT).num_parameters())
    return result, lambda r: _write_history(r, out, config)


def _locked_fit(config, out, guard, log, manual_seed) -> dict:
    if not config.resume and not config.overwrite and existing_run_files(out):
        raise RunError(f"{out} already holds a run ({describe_run(out)}): pass --resume (resume=True) to "
                       "continue it, --overwrite (overwrite=True) to replace it, or another --out")
    for stale in remove_stale_temporaries(out, RUN_FILES + (SETTINGS,)):
        log(f"removed {stale}, left by an earlier run that was killed while writing")
    checkpoint = resume_state(config, out, log) if config.resume else None
    if checkpoint is None and config.weights is not None and not Path(config.weights).is_file():
        raise ConfigError("weights", "must be an existing weight file", config.weights)
    earlier = describe_run(out) if config.overwrite and existing_run_files(out) else None
    if earlier:
        log(f"--overwrite: the earlier run in {out} ({earlier}) stays until this run's first checkpoint replaces it")
    progress = _Progress(checkpoint["meta"]["epoch"] if checkpoint is not None else None, earlier)
    if checkpoint is None and not earlier:  # a --resume before the first checkpoint starts it again with these
        try:
            write_settings(out, _recorded(config))
        except OSError as e:
            raise write_failure(out / SETTINGS, e, out, None, None) from None
        progress.settings = True
    try:
        return _train(config, out, checkpoint, guard, log, manual_seed, progress)
    except KeyboardInterrupt as e:
        name = e.name if isinstance(e, TrainingInterrupted) else "SIGINT"
        if progress.epoch is not None:
            log(f"interrupted by {name}; the last good checkpoint is {out / CHECKPOINT} (epoch {progress.epoch}); "
                "continue with --resume (resume=True)")
        elif progress.earlier:
            log(f"interrupted by {name} before the first epoch ended: nothing of this run saved; the earlier run "
                f"in {out} ({progress.earlier}) is left as it was")
        elif progress.settings:
            log(f"interrupted by {name} before the first epoch ended: nothing saved but the run's settings; "
                "--resume (resume=True) starts it again with them")
        else:
            log(f"interrupted by {name} before the first epoch ended: nothing saved")
        raise


def _train(config, out, checkpoint, guard, log, manual_seed, progress) -> dict:
    data: RunData = prepare(config)
    test_x, test_y, mean, std, source = data.test_x, data.test_y, data.mean, data.std, data.source

    extra = {}
    if checkpoint is None:
        manual_seed(config.seed)  # the initial weights (a new head's, when fine-tuning)
        model, extra = new_model(config, data)
        model = model.to(config.device)
    else:
        model = build_model(checkpoint, out / CHECKPOINT, config.device)
        extra = {k: checkpoint["meta"][k] for k in ("transfer",) if k in checkpoint["meta"]}
    optimizer = _optimizer(config, model)
    loader = data.loader
    scheduler, per_step = recipes.make_scheduler(config, optimizer, len(loader))
    history, first = [], 1
    if checkpoint is not None:  # as torch's recipe: build optimizer and scheduler, then load their states
        restore_training(checkpoint, out / CHECKPOINT, optimizer, scheduler, loader)
        history = list(checkpoint["training"]["history"])
        first = checkpoint["meta"]["epoch"] + 1
        log(f"resuming {out / CHECKPOINT} after epoch {first - 1} of {config.epochs}")
    held_out, short = ("validation", "val") if config.dataset == "folder" else ("test", "test")
    log(f"training {config.model} on {config.dataset} ({data.n_train} train / {len(test_x)} {held_out} images, "
        f"source: {source}) for {config.epochs} epochs on {config.device}; "
        f"{model.num_parameters():,} parameters; batch {config.batch_size}, lr {config.lr}, {config.schedule} "
        f"schedule, weight decay {config.weight_decay}, augmentation {config.augment}")
    if "transfer" in extra:
        log(_describe_transfer(extra["transfer"], model))

    meta = {"model": config.model, "model_args": data.model_args, "dataset": config.dataset, "mean": mean,
            "std": std, "input_size": data.input_size, "config": _recorded(config), "data_source": source,
            **data.meta, **extra}
    late = None
    for epoch in range(first, config.epochs + 1):
        manual_seed(epoch_seed(config.seed, epoch))  # dropout masks: a function of (seed, epoch) alone
        loader.set_epoch(epoch)
        model.train()
        start = time.perf_counter()
        seen = correct = 0
        loss_sum = 0.0
        bar = _progress(loader, len(loader), f"epoch {epoch}/{config.epochs}", config.progress)
        for step, (xb, yb) in enumerate(bar, 1):
            guard.check()  # a signal whose raise was swallowed (in a finalizer) stops the run here
            x = Tensor(backend.to_device(xb, config.device))
            y = backend.to_device(yb, config.device)
            logits, loss = _outputs_and_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            lr = _lr(optimizer)  # the rate of this step (an iteration-based schedule changes it below)
            optimizer.step()
            if per_step:
                scheduler.step()
            n = len(yb)
            seen += n
            loss_sum += loss.item() * n
            correct += int((logits.data.argmax(axis=1) == y).sum())
            if config.progress and step % 20 == 0:  # a postfix every step would cost more than it shows
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}")
        seconds = time.perf_counter() - start
        guard.check()
        test_loss, test_acc = evaluate(model, test_x, test_y, device=config.device, mean=mean, std=std)
        record = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                  "test_loss": test_loss, "test_accuracy": test_acc, "seconds": seconds,
                  "images_per_second": seen / seconds, "lr": lr}
        history.append(record)
        log(f"epoch {epoch:3d}  train loss {record['train_loss']:.4f}  train acc {100 * record['train_accuracy']:.2f}%"
            f"  {short} acc {100 * test_acc:.2f}%  {seconds:.1f} s  {record['images_per_second']:.0f} images/s")
        if scheduler is not None and not per_step:
            scheduler.step()
        training = {"optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "loader": loader.state_dict(), "history": history}
        result = _result(config, source, history, out, model.num_parameters())
        with guard.deferred():  # the three files always describe the same epoch
            _write_epoch(out, model, {**meta, "epoch": epoch, "test_accuracy": test_acc}, training, result, config,
                         progress, log)
            if epoch == config.epochs:  # every file holds the final epoch: the run is complete
                late = guard.complete()

    if late is not None:
        log(f"{signal.Signals(late).name} came while the final epoch's files were written: they were completed, "
            "so the run has finished")
    log(_final_line(config, result, out))
    return result


def _write_epoch(out, model, meta, training, result, config, progress, log) -> None:
    """The checkpoint, then metrics.json and curves.png; an OSError (a full disk) becomes a RunWriteError naming
    the file and the last good checkpoint."""
    path = out / CHECKPOINT
    try:
        save_checkpoint(path, model, meta, training)
        progress.epoch = meta["epoch"]
        if progress.settings:  # the checkpoint holds the settings now
            (out / SETTINGS).unlink(missing_ok=True)
            progress.settings = False
        if progress.earlier:
            log(f"replaced the earlier run in {out} ({progress.earlier}) by this run's epoch {meta['epoch']}")
            progress.earlier = None
        path = out / "metrics.json"
        atomic_write_bytes(path, json.dumps(result, indent=2).encode())
        path = out / "curves.png"
        plot_history(result["history"], path, title=f"{config.model} on {config.dataset}")
    except OSError as e:
        raise write_failure(path, e, out, progress.epoch, progress.earlier) from None


def _describe_transfer(record: dict, model) -> str:
    frozen = "backbone frozen" if record["freeze_backbone"] else "every layer trained"
    norms = ("batch norms frozen to their pretrained statistics" if record["freeze_batch_norm"] else
             "batch norms updating their running statistics")
    return (f"fine-tuning from {record['weights']}: head {record['head']} replaced by {record['num_classes']} "
            f"outputs; {frozen} ({model.num_parameters():,} trainable parameters); {norms}")


def plot_history(history, path, title: str = "training") -> None:
    """Plot loss and accuracy per epoch (train and test) into a PNG at ``path``.

    Uses a bare ``matplotlib.figure.Figure`` (no pyplot): it renders headless and leaves the caller's backend
    alone, so ``fit`` called from a notebook does not switch its inline plots off.
    """
    from matplotlib.figure import Figure  # noqa: PLC0415

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax_loss.plot(epochs, [h["test_loss"] for h in history], "s-", label="test")
    ax_loss.set(title=f"{title}: cross-entropy loss", xlabel="epoch", ylabel="loss (nats per image)")
    ax_acc.plot(epochs, [100 * h["train_accuracy"] for h in history], "o-", label="train")
    ax_acc.plot(epochs, [100 * h["test_accuracy"] for h in history], "s-", label="test")
    ax_acc.set(title=f"{title}: accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())

