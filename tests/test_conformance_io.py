"""Conformance snippets, part 7: saving and loading (state dicts, optimizer state, strict=False reports), the
device idiom of courses (``torch.device("cuda" if torch.cuda.is_available() else "cpu")``, ``.to(device)``), and
the dtype idioms (``.float()``, ``.double()``, ``.long()``, ``model.double()`` for a gradient check), each run with
torch and with tinycnn (see tests/conformance_harness.py)."""

import os
import tempfile

import numpy as np

from .conformance_harness import Snippets, seeded_state

snippets = Snippets()
X = np.linspace(-2, 2, 3 * 4).reshape(3, 4).astype(np.float32)


def _mlp(torch, nn, seed=0):
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    model.load_state_dict(seeded_state(model, torch, seed=seed))
    return model


@snippets.same
def save_and_load_state_dict(torch, nn, F, optim):
    model = _mlp(torch, nn)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pth")
        torch.save(model.state_dict(), path)
        model2 = _mlp(torch, nn, seed=1)
        before = model2(torch.from_numpy(X)).detach()
        result = model2.load_state_dict(torch.load(path))
        model2.eval()
        model.eval()
        return [before, model2(torch.from_numpy(X)), model(torch.from_numpy(X)), list(result.missing_keys),
                list(result.unexpected_keys), str(result), list(torch.load(path).keys())]


@snippets.same
def checkpoint_with_optimizer_round_trip(torch, nn, F, optim):
    model = _mlp(torch, nn)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.from_numpy(X), torch.tensor([0, 1, 1])

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    step()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        torch.save({"epoch": 1, "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict(), "loss": 0.5}, path)
        expected = [step(), step()]
        checkpoint = torch.load(path)
        model.load_state_dict(checkpoint["model_state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        epoch, loss = checkpoint["epoch"], checkpoint["loss"]
        model.train()
        resumed = [step(), step()]
    return [expected, resumed, epoch, loss, model[0].weight]


@snippets.same
def load_state_dict_strict_false(torch, nn, F, optim):
    model = _mlp(torch, nn)
    sd = model.state_dict()
    partial = {k: v for k, v in sd.items() if not k.startswith("3.")}
    partial["extra.weight"] = torch.zeros(1)
    result = _mlp(torch, nn, seed=2).load_state_dict(partial, strict=False)
    missing, unexpected = result
    try:
        _mlp(torch, nn).load_state_dict(partial)
        message = ""
    except RuntimeError as e:
        message = str(e).splitlines()[0]
    return [missing, unexpected, result.missing_keys, message.startswith("Error(s) in loading state_dict for "
                                                                         "Sequential")]


@snippets.same
def state_dict_shares_memory_and_copies(torch, nn, F, optim):
    import copy

    model = _mlp(torch, nn)
    sd = model.state_dict()
    snapshot = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        model[0].weight.add_(1.0)
    best = {k: v.clone() for k, v in model.state_dict().items()}
    return [sd["0.weight"], snapshot["0.weight"], best["1.num_batches_tracked"], sd["0.weight"].requires_grad,
            list(sd.keys())]


@snippets.same
def load_into_size_mismatch_and_fix_head(torch, nn, F, optim):
    pretrained = _mlp(torch, nn)
    sd = pretrained.state_dict()
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 5))
    try:
        model.load_state_dict(sd)
        error = ""
    except RuntimeError as e:
        error = "size mismatch for 3.weight" in str(e)
    sd = {k: v for k, v in sd.items() if not k.startswith("3.")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    return [error, missing, unexpected, model[0].weight]


@snippets.same
def device_idiom(torch, nn, F, optim):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = _mlp(torch, nn).to(device)
    x = torch.from_numpy(X).to(device)
    y = torch.tensor([1, 0, 1], device=device)
    loss = F.cross_entropy(model(x), y)
    return [str(device), device.type, loss.item(), x.device.type, next(model.parameters()).device.type,
            x.to("cpu").device.type, x.cpu().device.type, torch.zeros(2, device="cpu").device.type,
            torch.cuda.device_count() >= 0, loss.cpu().detach().numpy().shape]


@snippets.same
def device_objects(torch, nn, F, optim):
    cpu = torch.device("cpu")
    cuda0 = torch.device("cuda:0")
    cuda = torch.device("cuda", 1)
    x = torch.zeros(2)
    return [cpu, cuda0, cuda, str(cuda0), repr(cpu), cpu.type, cpu.index, cuda0.index, cuda.index,
            cpu == torch.device("cpu"), cuda0 == torch.device("cuda"), cpu == "cpu", x.device == cpu,
            x.device, str(x.device), x.is_cuda, x.device.type == "cpu", f"{x.device}",
            {torch.device("cpu"): 1}[cpu]]


@snippets.same
def dtype_idioms(torch, nn, F, optim):
    images = torch.from_numpy(np.array([[0, 127, 255]], dtype=np.uint8))
    labels = torch.from_numpy(np.array([1, 0, 2], dtype=np.int32))
    x = images.float() / 255.0
    return [x, labels.long(), labels.long().dtype, x.double().dtype, x.half().dtype, x.to(torch.float16).float(),
            x.type(torch.float64).dtype,
            torch.get_default_dtype(), x.dtype == torch.float32, x.is_floating_point(),
            torch.tensor([1, 2]).dtype == torch.long, x.to(dtype=torch.float64, copy=True).dtype]


@snippets.same
def model_double_gradcheck(torch, nn, F, optim):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 1))
    model.load_state_dict(seeded_state(model, torch))
    model.double()
    model.eval()
    x = torch.from_numpy(X.astype(np.float64)).requires_grad_()
    ok = torch.autograd.gradcheck(model, (x,), eps=1e-6, atol=1e-5)
    dtypes = [p.dtype for p in model.parameters()] + [b.dtype for b in model.buffers()]
    model.float()
    return [ok, dtypes, next(model.parameters()).dtype, model[1].running_mean.dtype,
            model[1].num_batches_tracked.dtype, model(x.float()).dtype]


@snippets.same
def module_to_dtype_and_parameter_identity(torch, nn, F, optim):
    model = _mlp(torch, nn)
    weight = model[0].weight
    model.to(torch.float64)
    same_object = model[0].weight is weight
    model.to(device="cpu", dtype=torch.float32)
    return [same_object, weight.dtype, model[0].weight.dtype, model[1].running_var.dtype,
            model(torch.from_numpy(X)).dtype]


test_same_as_torch, test_tinycnn_raises, test_torch_side = snippets.tests()
