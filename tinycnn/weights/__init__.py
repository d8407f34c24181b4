"""Pretrained weights: reading and writing weight files, loading them into models, torchvision's published files.

    import tinycnn.weights as W
    state = W.load_file("resnet18-f37072fd.pth")          # OrderedDict name -> NumPy array (.pth needs PyTorch)
    W.save_file(state, "resnet18.safetensors")             # or .npz (always), .pth (through torch.save)
    model = tinycnn.models.resnet18(weights="resnet18-f37072fd.pth")   # = W.load_weights(resnet18(), path)
    W.default_weights("resnet50").url                      # torchvision's DEFAULT file for resnet50 (V2)
    W.download(url)                                        # only when asked: SHA-256-checked, atomic

Files: ``files.py`` (formats, hash check), ``loading.py`` (into a model, with errors naming keys and shapes),
``torchvision.py`` (URLs, preprocessing sizes, accuracy; which network a state dict is), ``download.py``.
"""
from .download import download, weights_dir
from .files import FORMATS, WeightsFileError, detect_format, hash_prefix, load_file, save_file, sha256_of, verify_hash
from .loading import WeightsMismatchError, load_weights
from .torchvision import (IMAGENET_MEAN, IMAGENET_STD, TORCHVISION_WEIGHTS, TorchvisionWeights, default_weights,
                          guess_architecture, lookup)

__all__ = ["load_file", "save_file", "load_weights", "detect_format", "hash_prefix", "sha256_of", "verify_hash",
           "download", "weights_dir", "WeightsFileError", "WeightsMismatchError", "FORMATS", "TORCHVISION_WEIGHTS",
           "TorchvisionWeights", "IMAGENET_MEAN", "IMAGENET_STD", "default_weights", "lookup", "guess_architecture"]
