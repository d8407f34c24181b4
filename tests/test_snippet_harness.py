"""The conformance harness can fail: ``assert_same`` catches every kind of difference it claims to compare, and an
unsupported snippet that stops raising fails its test."""

import numpy as np
import pytest

import tinycnn as tc

from .conformance_harness import Snippets, assert_same, counts, seeded_state

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.peer


@pytest.mark.parametrize("got, expected, message", [
    (tc.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]), "Mismatched"),
    (tc.tensor([1.0, 2.0]), torch.tensor([[1.0, 2.0]]), "shape"),
    (tc.tensor([1.0, 2.0], dtype=tc.float64), torch.tensor([1.0, 2.0]), "dtype"),
    (tc.tensor([1, 2]), torch.tensor([1.0, 2.0]), "dtype"),
    (tc.tensor([1.0], requires_grad=True), torch.tensor([1.0]), "requires_grad"),
    (np.array([1.0, 2.0], dtype=np.float32), torch.tensor([1.0, 2.0]), "expected a Tensor"),
    ([1, 2], (1, 2), "list vs tuple"), ([1], [1, 2], "length"), ({"a": 1}, {"b": 1}, "keys"),
    (1.0, 1, "is not an int"), (1, 1.0, "is not a float"), (True, 1, "is not an int"), (1, True, "!="),
    (1.0001, 1.0, "!="), ("cpu", "cuda", "!="), (None, 0, "is not an int"),
    (tc.float32, torch.float64, "dtype"), (tc.device("cpu"), torch.device("cuda"), "result"),
    ("cpu", torch.device("cpu"), "expected a device"),
])
def test_assert_same_catches_each_difference(got, expected, message):
    with pytest.raises(AssertionError, match=message):
        assert_same(got, expected)


def test_assert_same_accepts_equal_results():
    assert_same([tc.tensor([1.0, 2.0]), tc.int64, 3, 2.5, "x", None, {"k": (True,)}, tc.device("cpu")],
                [torch.tensor([1.0, 2.0 + 1e-7]), torch.int64, 3, 2.5, "x", None, {"k": (True,)}, torch.device("cpu")])


def test_an_unsupported_snippet_that_stops_raising_fails():
    snippets = Snippets()

    @snippets.unsupported(NotImplementedError, "not supported")
    def works_now(torch, nn, F, optim):
        return torch.zeros(1)

    _, tinycnn_raises, _ = snippets.tests()
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        tinycnn_raises(snippets.cases[0])


def test_seeded_state_is_the_same_for_both_engines():
    theirs = seeded_state(torch.nn.BatchNorm1d(3), torch)
    ours = seeded_state(tc.nn.BatchNorm1d(3), tc)
    assert list(ours) == list(theirs)
    for k in ours:
        np.testing.assert_array_equal(ours[k].numpy(), theirs[k].numpy())
    assert (ours["running_var"].numpy() > 0).all()


def test_counts_cover_every_file():
    result = counts()
    assert len(result["same"]) + len(result["raises"]) + len(result["unsupported"]) >= 60
    files = {name.split("::")[0] for names in result.values() for name in names}
    assert len(files) >= 7


def test_readme_states_the_counts():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    result = counts()
    total = sum(len(v) for v in result.values())
    found = re.search(r"checks the rule on (\d+) snippets.*?\*\*(\d+) give the same results\*\*.*?(\d+) raises? in "
                      r"both.*?\*\*(\d+) raise a clear error\*\*", readme, re.S)
    assert found, "README: the conformance counts sentence is missing"
    assert [int(g) for g in found.groups()] == [total, len(result["same"]), len(result["raises"]),
                                                len(result["unsupported"])]
    waiting = re.search(r"(\d+) waits? for", readme)  # snippets marked xfail (another part not there yet)
    assert (int(waiting.group(1)) if waiting else 0) == len(result["xfail"])
