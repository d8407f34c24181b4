"""Conformance snippets, part 4: a Module subclass as courses write one (forward, parameters, named_parameters,
children, state_dict, train/eval, dropout and batch-norm behaviour, hooks, apply), and the fine-tuning edits
(replace ``model.fc``, freeze, Sequential slicing/assignment/insert, ModuleList/ModuleDict), each run with torch
and with tinycnn (see tests/conformance_harness.py)."""

import numpy as np

from .conformance_harness import Snippets, seeded_state

snippets = Snippets()
X = np.linspace(-1, 1, 4 * 6).reshape(4, 6).astype(np.float32)


def _net(torch, nn, F):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(6, 5)
            self.bn = nn.BatchNorm1d(5)
            self.drop = nn.Dropout(0.5)
            self.fc2 = nn.Linear(5, 3)

        def forward(self, x):
            x = F.relu(self.bn(self.fc1(x)))
            return self.fc2(self.drop(x))

    net = Net()
    net.load_state_dict(seeded_state(net, torch))
    return net


@snippets.same
def module_subclass_introspection(torch, nn, F, optim):
    net = _net(torch, nn, F)
    names = [name for name, _ in net.named_parameters()]
    shapes = [tuple(p.shape) for p in net.parameters()]
    children = [type(c).__name__ for c in net.children()]
    modules = [name for name, _ in net.named_modules()]
    buffers = [name for name, _ in net.named_buffers()]
    n_params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return [names, shapes, children, modules, buffers, n_params, list(net.state_dict().keys()),
            net.training, net.fc1.in_features, net.fc2.out_features, net.drop.p]


@snippets.same
def train_and_eval_modes(torch, nn, F, optim):
    net = _net(torch, nn, F)
    x = torch.from_numpy(X)
    net.eval()
    out_eval = net(x)
    modes = [m.training for m in net.modules()]
    net.train()
    net.drop.p = 0.0  # no random mask: batch norm alone differs between the modes
    out_train = net(x)
    return [out_eval, out_train, modes, net.bn.running_mean, net.bn.running_var, net.bn.num_batches_tracked]


@snippets.same
def dropout_behaviour(torch, nn, F, optim):
    drop = nn.Dropout(p=0.5)
    x = torch.ones(200, 50)
    y = drop(x)
    kept = y[y != 0]
    drop.eval()
    return [bool(((y == 0) | (y == 2.0)).all()), kept.unique(), drop(x), F.dropout(x, 0.3, training=False),
            0.4 < (y == 0).float().mean().item() < 0.6, nn.Dropout(p=0.0)(x)]


@snippets.same
def batchnorm_running_statistics(torch, nn, F, optim):
    bn = nn.BatchNorm2d(3, momentum=0.2)
    x = torch.from_numpy(np.linspace(-2, 3, 2 * 3 * 2 * 2).reshape(2, 3, 2, 2).astype(np.float32))
    y_train = bn(x)
    y_train2 = bn(x * 2)
    bn.eval()
    y_eval = bn(x)
    return [y_train, y_train2, y_eval, bn.running_mean, bn.running_var, bn.num_batches_tracked, bn.weight,
            bn.bias, bn.eps, bn.momentum, bn.affine, bn.track_running_stats]


@snippets.same
def forward_hook_feature_maps(torch, nn, F, optim):
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    model.load_state_dict(seeded_state(model, torch))
    activation = {}

    def get_activation(name):
        def hook(model, input, output):
            activation[name] = output.detach()
        return hook

    handle = model[1].register_forward_hook(get_activation("relu"))
    pre = model[0].register_forward_pre_hook(lambda m, inp: (inp[0] * 2,))
    out = model(torch.from_numpy(X))
    handle.remove()
    pre.remove()
    out2 = model(torch.from_numpy(X))
    return [activation["relu"], out, out2, len(activation)]


@snippets.same
def backward_hook_gradients(torch, nn, F, optim):
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 1))
    model.load_state_dict(seeded_state(model, torch))
    grads = {}
    model[1].register_full_backward_hook(lambda m, gin, gout: grads.update(gin=gin[0], gout=gout[0]))
    x = torch.from_numpy(X).requires_grad_()
    model(x).sum().backward()
    return [grads["gin"], grads["gout"], x.grad]


@snippets.same
def apply_weight_init(torch, nn, F, optim):
    def init_weights(m):
        if isinstance(m, nn.Linear):
            torch.nn.init.constant_(m.weight, 0.01)
            nn.init.constant_(m.bias, 0.5)

    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    model.apply(init_weights)
    with torch.no_grad():
        model[2].weight.fill_(-1.0)
        model[0].bias.zero_()
    return [p.detach() for p in model.parameters()]


@snippets.unsupported(AttributeError, "'numpy.ndarray' object has no attribute 'normal_'")
def init_through_data_tensor_methods(torch, nn, F, optim):
    # DCGAN's weights_init: in tinycnn, .data is the NumPy array itself (see README), so Tensor methods on it fail;
    # write nn.init.normal_(m.weight, 0.0, 0.02), or m.weight.normal_(0.0, 0.02) under no_grad
    def weights_init(m):
        if isinstance(m, nn.Conv2d):
            m.weight.data.normal_(0.0, 0.02)
            m.bias.data.fill_(0)

    return nn.Sequential(nn.Conv2d(3, 4, 3)).apply(weights_init)


@snippets.same
def init_functions_shapes_and_bounds(torch, nn, F, optim):
    w = torch.empty(64, 32)
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    bound = (6 / 32) ** 0.5
    v = torch.empty(20, 10)
    nn.init.xavier_uniform_(v)
    nn.init.zeros_(torch.empty(3))
    return [bool((w.abs() <= bound).all()), bool((v.abs() <= (6 / 30) ** 0.5).all()), w.requires_grad,
            nn.init.calculate_gain("relu"), nn.init.ones_(torch.empty(2))]


@snippets.same
def replace_head_and_freeze(torch, nn, F, optim):
    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            return self.fc(self.features(x))

    model = Backbone()
    for param in model.parameters():
        param.requires_grad = False
    num_ftrs = model.fc.in_features
    model.fc = nn.Linear(num_ftrs, 2)
    model.load_state_dict(seeded_state(model, torch))
    model.features.requires_grad_(False)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    optimizer = optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1, momentum=0.9)
    loss = F.cross_entropy(model(torch.from_numpy(X)), torch.tensor([0, 1, 1, 0]))
    loss.backward()
    optimizer.step()
    return [trainable, list(model.state_dict()), model.fc.weight.detach(), model.features[0].weight.grad,
            model.fc.weight.grad, [type(m).__name__ for m in model.children()]]


@snippets.same
def sequential_editing(torch, nn, F, optim):
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    model.load_state_dict(seeded_state(model, torch))
    head = model[-1]
    trunk = model[:-1]
    x = torch.from_numpy(X)
    features = trunk(x)
    model[1] = nn.Tanh()
    model.insert(2, nn.Dropout(0.0))
    model.append(nn.Softmax(dim=1))
    del model[4]
    names = [type(m).__name__ for m in model]
    keys = list(model.state_dict().keys())
    return [features, head(features), names, keys, len(model), len(trunk), model(x), str(model[0])]


@snippets.same
def ordered_dict_sequential(torch, nn, F, optim):
    from collections import OrderedDict

    model = nn.Sequential(OrderedDict([("conv1", nn.Linear(6, 3)), ("relu1", nn.ReLU()), ("out", nn.Linear(3, 1))]))
    model.load_state_dict(seeded_state(model, torch))
    model.relu1 = nn.Sigmoid()  # replaced in place: stays second
    return [list(model.state_dict()), [n for n, _ in model.named_children()], model(torch.from_numpy(X)),
            type(model.relu1).__name__, type(model[1]).__name__]


@snippets.same
def module_list_and_dict(torch, nn, F, optim):
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(6, 6) for _ in range(3)])
            self.heads = nn.ModuleDict({"cls": nn.Linear(6, 2), "reg": nn.Linear(6, 1)})
            self.layers.append(nn.Linear(6, 6))

        def forward(self, x, head="cls"):
            for i, layer in enumerate(self.layers):
                x = layer(x) if i % 2 == 0 else torch.relu(layer(x))
            return self.heads[head](x)

    m = Heads()
    m.load_state_dict(seeded_state(m, torch, seed=2))
    x = torch.from_numpy(X)
    return [m(x), m(x, head="reg"), list(m.state_dict()), len(m.layers), list(m.heads.keys()), "reg" in m.heads]


@snippets.same
def shared_module_used_twice(torch, nn, F, optim):
    shared = nn.Linear(6, 6)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    model.load_state_dict(seeded_state(model, torch))
    return [list(model.state_dict()), [n for n, _ in model.named_parameters()], len(list(model.parameters())),
            [n for n, _ in model.named_modules()], model(torch.from_numpy(X))]


@snippets.same
def parameter_and_buffer_registration(torch, nn, F, optim):
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(6) * 2)
            self.register_buffer("offset", torch.full((6,), 0.5))
            self.register_buffer("scratch", torch.zeros(6), persistent=False)
            self.plain = torch.zeros(1)  # a plain attribute: not in the state dict

        def forward(self, x):
            return x * self.scale + self.offset

    m = Scale()
    y = m(torch.from_numpy(X))
    y.sum().backward()
    return [y, m.scale.grad, list(m.state_dict()), [n for n, _ in m.named_buffers()], isinstance(m.scale, torch.Tensor),
            m.scale.requires_grad, repr(m)]


@snippets.same
def zero_grad_set_to_none(torch, nn, F, optim):
    model = nn.Linear(6, 2)
    model.load_state_dict(seeded_state(model, torch))
    model(torch.from_numpy(X)).sum().backward()
    model.zero_grad(set_to_none=False)
    zeros = model.weight.grad
    model(torch.from_numpy(X)).sum().backward()
    model.zero_grad()
    return [zeros, model.weight.grad, model.bias.grad]


@snippets.same
def module_repr(torch, nn, F, optim):
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                          nn.Linear(6 * 14 * 14, 10), nn.Dropout(0.25), nn.BatchNorm2d(6), nn.LeakyReLU(0.1))
    return [repr(model), repr(nn.Conv2d(3, 8, kernel_size=3, stride=2, bias=False)), str(nn.Linear(2, 3, bias=False))]


test_same_as_torch, test_tinycnn_raises, test_torch_side = snippets.tests()
