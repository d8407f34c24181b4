"""Shared by the model tests: a small learnable batch and a loss measured in eval mode."""
import numpy as np

import tinycnn as tc
import tinycnn.functional as F


def blob_batch(rng, size=28, pad=2):
    """16 images of 10 classes: noise plus a bright square whose place depends on the class (something to learn);
    zero-padded by ``pad`` on each side (2 turns MNIST's 28x28 into the 32x32 some networks take)."""
    labels = np.arange(16) % 10
    images = rng.standard_normal((16, 1, size, size)) * 0.3
    for n, c in enumerate(labels):
        r, q = divmod(int(c), 5)
        images[n, 0, 4 + 12 * r:12 + 12 * r, 1 + 5 * q:6 + 5 * q] += 2.0
    images = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return tc.Tensor(images.astype(np.float32)), tc.Tensor(labels)


def eval_loss(model, x, y):
    """Cross-entropy of ``model`` on (x, y) in eval mode (dropout off), leaving the model in training mode."""
    model.eval()
    with tc.no_grad():
        loss = F.cross_entropy(model(x), y).item()
    model.train()
    return loss
