"""End to end: LeNet-5 learns real MNIST through ``fit`` (default recipe: SGD momentum 0.9, lr 0.05 with cosine
decay, weight decay 5e-4, batch 128, seed 0), and the saved checkpoint gives the same accuracy.

Budget: the first 20,000 training images for 2 epochs (314 SGD steps), tested on the first 2,000 test images.
Measured on CPU: 95.50% (seed 0) and 95.35% (seed 1), about 20-40 s of training. The bar is 93%.

Why not 5,000 images for 2 epochs (80 steps): measured 60.25% (seed 0; seeds 1-3: 82%, 89%, 85%). With lr 0.05 and
momentum 0.9 the loss spikes near step 20 and 80 steps are not enough to recover. This is the recipe, not the
engine: in float64 with the same initial weights and batches, tinycnn's losses match torch.optim.SGD's to 1e-15
step by step through the spike. 5,000 images for 8 epochs reaches 94.0% / 95.95%, too close to the bar.
"""

import pytest

from tinycnn.data import load_mnist
from tinycnn.train import TrainConfig, evaluate, fit, load_checkpoint

TRAIN_IMAGES = 20_000
TEST_IMAGES = 2_000
BAR = 0.93


@pytest.mark.network
@pytest.mark.slow
def test_lenet5_learns_mnist(tmp_path):
    config = TrainConfig(model="lenet5", epochs=2, train_limit=TRAIN_IMAGES, test_limit=TEST_IMAGES,
                         progress=False, out=str(tmp_path))
    lines = []
    result = fit(config, log=lines.append)
    history = result["history"]
    assert len(history) == 2
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert result["test_accuracy"] >= BAR, "\n".join(lines)

    # the checkpoint, evaluated on the same held-out images, gives the accuracy fit reported
    model, meta = load_checkpoint(tmp_path / "checkpoint.npz")
    images, labels = load_mnist("test")
    _, accuracy = evaluate(model, images[:TEST_IMAGES], labels[:TEST_IMAGES], mean=meta["mean"], std=meta["std"])
    assert accuracy == pytest.approx(result["test_accuracy"])
    assert accuracy >= BAR
