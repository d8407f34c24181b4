"""Transfer learning on a folder of photos, from Python: the split of a folder, a pretrained network with a new head,
frozen backbone and batch norms (frozen weights bit-identical after training, the head changed), checkpoints that
rebuild the replaced head, resume, evaluate; and the torchvision-style manual loop (model.fc = nn.Linear,
model.classifier[6] = ...) a student writes."""
import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import nn, optim, train
from tinycnn.data import DataLoader, ImageFolder, imagenet_train_transform
from tinycnn.data.folder_split import folder_arrays, split_image_folder
from tinycnn.models import get_model, resnet18
from tinycnn.models.transfer import freeze_backbone, head_name, pretrained, rebuild, replace_head
from tinycnn.nn.utils import freeze_batch_norm
from tinycnn.rundata import evaluation_data, folder_sizes
from tinycnn.train import ConfigError, TrainConfig, evaluate, fit, load_checkpoint
from tinycnn.weights import load_file, save_file

Image = pytest.importorskip("PIL.Image")
COLOURS = {"ant": (200, 60, 40), "bee": (230, 210, 40), "wasp": (40, 60, 200)}


def make_folder(root, per_class=5, seed=0, classes=COLOURS):
    """One sub-folder per class of small photos of odd sizes, each class its own colour (learnable)."""
    rng = np.random.default_rng(seed)
    for name, colour in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            h, w = (int(v) for v in rng.integers(30, 60, 2))
            pixels = np.clip(rng.normal(colour, 35, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.{'jpg' if i % 2 else 'png'}")
    return root


def save_pretrained(path):
    """A 'pretrained' resnet18 (random weights, batch-norm statistics other than 0 and 1) saved at ``path``."""
    tc.manual_seed(3)
    model = resnet18()
    rng = np.random.default_rng(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.data[...] = rng.uniform(-0.2, 0.2, m.num_features)
            m.running_var.data[...] = rng.uniform(0.5, 1.5, m.num_features)
            m.num_batches_tracked.data[...] = 9
    save_file(model, path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_pretrained(tmp_path_factory.mktemp("weights") / "resnet18.npz")


@pytest.fixture
def photos(tmp_path):
    return make_folder(tmp_path / "photos")


def quiet(*_, **__):
    pass


RUN = dict(model="resnet18", dataset="folder", image_size=32, epochs=2, batch_size=4, progress=False)


# ----- the folder's split --------------------------------------------------------------------------------------

def test_held_out_split_is_stratified_and_repeatable(tmp_path):
    root = make_folder(tmp_path / "p", classes={"a": (0, 0, 0), "b": (9, 9, 9), "c": (5, 5, 5)}, per_class=5)
    (root / "d").mkdir()  # a class of one image: nothing of it can be held out
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(root / "d" / "x.png")
    split = split_image_folder(root, 0.3, seed=4)
    val_classes = [t for _, t in (split.val.dataset.samples[i] for i in split.val.indices)]
    assert sorted(val_classes) == [0, 0, 1, 1, 2, 2]  # round(5 * 0.3) = 2 per class, none of d
    assert len(split.train) == 16 - 6 and split.classes == ["a", "b", "c", "d"]
    assert split_image_folder(root, 0.3, seed=4).val.indices == split.val.indices
    assert split_image_folder(root, 0.3, seed=5).val.indices != split.val.indices
    assert not set(split.val.indices) & set(split.train.indices)
    assert split_image_folder(root, 0.01, seed=4).val.indices.__len__() == 3  # at least one per class of >= 2


def test_train_and_val_folders(tmp_path):
    make_folder(tmp_path / "p" / "train")
    make_folder(tmp_path / "p" / "val", per_class=2, seed=1)
    split = split_image_folder(tmp_path / "p")
    assert (len(split.train), len(split.val), split.val_fraction) == (15, 6, None)
    with pytest.raises(ValueError, match="has its own train/ and val/ folders"):
        split_image_folder(tmp_path / "p", 0.2)
    (tmp_path / "p" / "val" / "ant").rename(tmp_path / "p" / "val" / "moth")
    with pytest.raises(ValueError, match=r"only in train/: \['ant'\], only in val/: \['moth'\]"):
        split_image_folder(tmp_path / "p")


def test_split_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        split_image_folder(tmp_path / "nothing")
    root = make_folder(tmp_path / "p", per_class=1)
    with pytest.raises(ValueError, match="no class has two images"):
        split_image_folder(root)
    for bad in (0, 1, 1.5, -0.1, "0.2"):
        with pytest.raises(ValueError, match="between 0 and 1"):
            split_image_folder(root, bad)


def test_validation_arrays_normalize_to_the_imagenet_transform(photos):
    """The uint8 validation arrays, normalized as evaluate does, are exactly ToTensor + Normalize of the
    transform's crop: fit's evaluation sees what imagenet_transform gives."""
    from tinycnn.data import imagenet_transform, normalize
    from tinycnn.data.imagenet import IMAGENET_MEAN, IMAGENET_STD

    ds = ImageFolder(photos)
    images, labels = folder_arrays(ds, 37, 32)
    assert images.shape == (15, 3, 32, 32) and images.dtype == np.uint8 and labels.tolist() == ds.targets
    expected = np.stack([imagenet_transform(37, 32)(ds[i][0]).numpy() for i in range(len(ds))])
    np.testing.assert_array_equal(normalize(images, IMAGENET_MEAN, IMAGENET_STD), expected)


def test_sizes_follow_the_weight_file():
    assert folder_sizes("resnet50", "resnet50-11ad3fa6.pth", None) == (232, 224)
    assert folder_sizes("resnet18", "resnet18-f37072fd.pth", None) == (256, 224)
    assert folder_sizes("resnet18", None, 64) == (73, 64)
    assert folder_sizes("resnet50", "resnet50-11ad3fa6.pth", 128) == (146, 128)


# ----- heads, freezing, rebuilding ------------------------------------------------------------------------------

def test_heads_of_the_networks():
    assert head_name(resnet18()) == "fc"
    assert head_name(get_model("alexnet_torchvision")) == "classifier.6"
    assert head_name(get_model("lenet5")) == "11"
    for name, what in (("googlenet", "auxiliary classifiers"), ("lenet5_paper", "no classifier head")):
        with pytest.raises(ValueError, match=what):
            head_name(get_model(name), name)


def test_pretrained_replaces_the_head_and_rebuild_makes_the_same_network(weights):
    file = load_file(weights)
    model, record = pretrained("resnet18", weights, 3, freeze=True, freeze_bn=True)
    assert record == {"pretrained_args": {}, "head": "fc", "num_classes": 3, "freeze_backbone": True,
                      "freeze_batch_norm": True}
    assert model.fc.out_features == 3 and model.num_parameters() == 512 * 3 + 3
    assert type(model.layer1[0].bn1) is nn.FrozenBatchNorm2d
    state = model.state_dict()
    for key, value in state.items():
        if not key.startswith("fc."):
            np.testing.assert_array_equal(value.numpy(), file[key], err_msg=key)
    again = rebuild("resnet18", record)
    again.load_state_dict(state)  # strict: the same keys and shapes
    assert repr(again) == repr(model) and again.num_parameters() == model.num_parameters()
    # a file fine-tuned before (3 classes) becomes a 5-class network: the file's classes are read from its head
    save_file(model, weights.parent / "three.npz")
    five, record5 = pretrained("resnet18", weights.parent / "three.npz", 5)
    assert record5["pretrained_args"] == {"num_classes": 3} and five.fc.out_features == 5


def test_manual_transfer_loop_as_in_pytorchs_tutorial(photos, weights):
    """The student's version: load, freeze, replace the head by assignment, freeze the batch norms, train on an
    ImageFolder with torchvision's augmentation. Frozen weights and statistics stay bit-identical; the head moves."""
    model = resnet18(weights=weights)
    model.requires_grad_(False)
    freeze_batch_norm(model)
    model.fc = nn.Linear(model.fc.in_features, 3)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    loader = DataLoader(ImageFolder(photos, transform=imagenet_train_transform(32)), batch_size=5, shuffle=True,
                        seed=0)
    model.train()
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(tc.Tensor(x)), y).backward()
        opt.step()
    after = model.state_dict()
    for key in before:
        same = np.array_equal(before[key], after[key].numpy())
        assert same != key.startswith("fc."), key


def test_vgg_style_head_assignment():
    head = ["classifier.6.weight", "classifier.6.bias"]
    model = get_model("alexnet_torchvision")
    model.requires_grad_(False)
    model.classifier[6] = nn.Linear(4096, 2)  # a new layer's parameters require grad: the head trains
    assert [n for n, p in model.named_parameters() if p.requires_grad] == head
    model = replace_head(freeze_backbone(get_model("alexnet_torchvision")), 2)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == head
    out = model.eval()(tc.Tensor(np.zeros((1, 3, 64, 64), np.float32)))
    assert out.shape == (1, 2)


# ----- fit on a folder -----------------------------------------------------------------------------------------

def head_at_start(weights, seed=0):
    """The new head a run seeded ``seed`` starts from (fit seeds tinycnn before building the network)."""
    tc.manual_seed(seed)
    model, _ = pretrained("resnet18", weights, 3, freeze=True, freeze_bn=True, model_args={"in_channels": 3})
    return model.fc.weight.numpy().copy()


def test_fine_tune_with_a_frozen_backbone_and_batch_norms(tmp_path, photos, weights, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)
    out = tmp_path / "run"
    lines = []
    result = fit(TrainConfig(data_dir=str(photos), weights=str(weights), freeze_backbone=True,
                             freeze_batch_norm=True, out=str(out), **RUN), log=lines.append)
    assert any("head fc replaced by 3 outputs; backbone frozen (1,539 trainable parameters); batch norms frozen"
               in line for line in lines)
    assert any("12 train / 3 validation images" in line for line in lines)
    model, meta = load_checkpoint(out / "checkpoint.npz")
    assert meta["transfer"]["head"] == "fc" and meta["transfer"]["weights_sha256"]
    assert meta["classes"] == ["ant", "bee", "wasp"] and meta["input_size"] == 32 and meta["resize_size"] == 36
    file = load_file(weights)
    state = model.state_dict()
    assert "layer1.0.bn1.num_batches_tracked" not in state  # frozen batch norms have no counter
    for key, value in state.items():
        if not key.startswith("fc."):
            np.testing.assert_array_equal(value.numpy(), file[key], err_msg=key)  # bit-identical
    assert not np.array_equal(state["fc.weight"].numpy(), head_at_start(weights))
    # the checkpoint rebuilt the frozen network: resumable as it was trained
    assert model.num_parameters() == 1539 and type(model.bn1) is nn.FrozenBatchNorm2d
    # evaluate gives the run's last validation numbers
    images, labels = evaluation_data(meta)
    loss, acc = evaluate(model, images, labels, mean=meta["mean"], std=meta["std"])
    assert (len(labels), acc) == (3, result["test_accuracy"])
    assert loss == pytest.approx(result["history"][-1]["test_loss"], rel=1e-6)


def test_frozen_backbone_with_batch_norms_updating(tmp_path, photos, weights, monkeypatch):
    """Without freeze_batch_norm (PyTorch's plain requires_grad_(False)), the weights stay but the batch norms'
    running statistics follow the new images, as in PyTorch."""
    monkeypatch.setattr(train, "plot_history", quiet)
    out = tmp_path / "run"
    fit(TrainConfig(data_dir=str(photos), weights=str(weights), freeze_backbone=True, out=str(out),
                    **{**RUN, "epochs": 1}), log=quiet)
    state, file = load_checkpoint(out / "checkpoint.npz")[0].state_dict(), load_file(weights)
    np.testing.assert_array_equal(state["conv1.weight"].numpy(), file["conv1.weight"])
    np.testing.assert_array_equal(state["bn1.weight"].numpy(), file["bn1.weight"])
    assert not np.array_equal(state["bn1.running_mean"].numpy(), file["bn1.running_mean"])
    assert state["bn1.num_batches_tracked"].item() == 9 + 3  # three batches of 4 from the file's 9


def test_resume_of_a_fine_tuning_run_gives_the_uninterrupted_numbers(tmp_path, photos, weights, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)
    config = dict(RUN, data_dir=str(photos), weights=str(weights), freeze_batch_norm=True, epochs=2)

    def numbers(out):
        model, meta = load_checkpoint(out / "checkpoint.npz")
        history = [{k: v for k, v in h.items() if k not in train.TIMING_FIELDS} for h in meta_history(out)]
        return history, {k: v.numpy() for k, v in model.state_dict().items()}

    fit(TrainConfig(out=str(tmp_path / "a"), **config), log=quiet)
    real_evaluate, calls = train.evaluate, []

    def interrupt_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(out=str(tmp_path / "b"), **config), log=quiet)
    monkeypatch.setattr(train, "evaluate", real_evaluate)
    lines = []
    fit(TrainConfig(out=str(tmp_path / "b"), resume=True, **config), log=lines.append)
    assert any("after epoch 1 of 2" in line for line in lines)
    a, b = numbers(tmp_path / "a"), numbers(tmp_path / "b")
    assert a[0] == b[0] and list(a[1]) == list(b[1])
    for key in a[1]:
        np.testing.assert_array_equal(a[1][key], b[1][key], err_msg=key)
    assert not np.array_equal(a[1]["conv1.weight"], load_file(weights)["conv1.weight"])  # not frozen: trained


def meta_history(out):
    import json

    return json.loads((out / "metrics.json").read_text())["history"]


def test_from_scratch_on_a_folder(tmp_path, photos, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)
    result = fit(TrainConfig(data_dir=str(photos), out=str(tmp_path / "run"), **{**RUN, "epochs": 1,
                                                                                 "augment": "none"}), log=quiet)
    assert result["config"]["lr"] == 0.05 and result["config"]["batch_size"] == 4  # given; lr: the model's
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    assert "transfer" not in meta and meta["model_args"] == {"num_classes": 3, "in_channels": 3}


@pytest.mark.parametrize("changes, field, words", [
    ({"freeze_backbone": True}, "freeze_backbone", "needs weights"),
    ({"freeze_batch_norm": True}, "freeze_batch_norm", "needs weights"),
    ({"data_dir": None}, "data_dir", "must name the folder"),
    ({"augment": "crop-flip"}, "augment", "'resized-crop-flip' or 'none'"),
    ({"dataset": "mnist", "weights": "w.npz"}, "weights", "for dataset 'folder' only"),
    ({"dataset": "mnist", "image_size": 64}, "image_size", "for dataset 'folder' only"),
    ({"dataset": "cifar10", "image_size": None, "augment": "resized-crop-flip"}, "augment",
     "is for dataset 'folder'"),
    ({"val_fraction": 1.0}, "val_fraction", "between 0 and 1"),
    ({"image_size": 4}, "image_size", ">= 8"),
    ({"weights": "no_such_file.npz"}, "weights", "must be an existing weight file"),
])
def test_bad_settings_are_refused_before_anything_is_read(tmp_path, photos, changes, field, words, monkeypatch):
    from tinycnn import rundata

    monkeypatch.setattr(rundata, "prepare", lambda *a: pytest.fail("data read before the checks"))
    config = TrainConfig(**{**RUN, "data_dir": str(photos), "out": str(tmp_path / "run"), **changes})
    with pytest.raises(ConfigError) as info:
        fit(config, log=quiet)
    assert info.value.field == field and words in str(info.value)


def test_evaluate_refuses_a_folder_with_other_classes(tmp_path, photos, weights, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)
    fit(TrainConfig(data_dir=str(photos), out=str(tmp_path / "run"), **{**RUN, "epochs": 1}), log=quiet)
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    other = make_folder(tmp_path / "other", classes={"cat": (1, 2, 3), "dog": (3, 2, 1)})
    with pytest.raises(ValueError, match=r"holds the classes \['cat', 'dog'\], the checkpoint was trained on"):
        evaluation_data(meta, other)
