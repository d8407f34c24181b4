"""``torch.utils``'s counterpart: :mod:`tinycnn.utils.data` (``Dataset``, ``TensorDataset``, ``DataLoader``...)."""
from . import data

__all__ = ["data"]
