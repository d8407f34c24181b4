"""``weights=PATH`` for every model constructor: build, then load strictly (``tinycnn.weights.load_weights``)."""
from __future__ import annotations

__all__ = ["apply_weights"]


def apply_weights(model, weights, name: str):
    """Load ``weights`` (None: nothing; a path or a state dict) into ``model`` strictly and return the model.

    The model stays in training mode, as PyTorch's constructors leave it: call ``model.eval()`` to predict.
    Raises what ``load_weights`` raises (WeightsMismatchError naming the keys and shapes, WeightsFileError,
    FileNotFoundError); the error names the network as ``name``."""
    if weights is None:
        return model
    from ..weights import load_weights  # noqa: PLC0415 - reading files is only needed when asked

    load_weights(model, weights, model_name=name)
    return model
