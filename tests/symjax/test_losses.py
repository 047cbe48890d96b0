"""``symgraph.nn.losses`` against numpy oracles written from the formulas, for every reduction, and the
argument checks (shapes that would broadcast, float labels for a sparse loss, an unknown reduction)."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.errors import DTypeError, ShapeError
from symgraph.nn import losses

RNG = np.random.default_rng(0)
B, C = 6, 4
LOGITS = RNG.normal(size=(B, C)).astype("float32") * 3
LABELS = RNG.integers(0, C, size=B).astype("int32")
ONE_HOT = np.eye(C, dtype="float32")[LABELS]
SOFT = RNG.dirichlet(np.ones(C), size=B).astype("float32")
BINARY = RNG.integers(0, 2, size=(B, 3)).astype("float32")
Z = RNG.normal(size=(B, 3)).astype("float32") * 4
PROBS = 1.0 / (1.0 + np.exp(-Z))
TARGETS = RNG.normal(size=(B, 3)).astype("float32")
PREDICTIONS = TARGETS + RNG.normal(size=(B, 3)).astype("float32") * 2
SIGNS = np.where(BINARY > 0, 1.0, -1.0).astype("float32")


def _log_softmax(x):
    x = x.astype("float64")
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _huber(t, p, delta):
    e = np.abs(t - p)
    return np.where(e <= delta, 0.5 * e ** 2, delta * (e - 0.5 * delta))


def _multiclass_hinge(labels, scores, delta):
    out = []
    for y, s in zip(labels, scores, strict=True):
        other = max(s[c] for c in range(len(s)) if c != y)
        out.append(max(0.0, delta + other - s[y]))
    return np.array(out)


def _kl(p, q):
    return np.sum(np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - np.log(q)), 0.0), -1)


# (name, function, args, kwargs, per-sample numpy oracle)
CASES = [
    ("sparse_ce", losses.sparse_softmax_crossentropy_logits, (LABELS, LOGITS), {},
     -_log_softmax(LOGITS)[np.arange(B), LABELS]),
    ("one_hot_ce", losses.softmax_crossentropy_logits, (ONE_HOT, LOGITS), {},
     -(ONE_HOT * _log_softmax(LOGITS)).sum(-1)),
    ("soft_ce", losses.softmax_crossentropy_logits, (SOFT, LOGITS), {}, -(SOFT * _log_softmax(LOGITS)).sum(-1)),
    ("sigmoid_ce", losses.sigmoid_crossentropy_logits, (BINARY, Z), {},
     -(BINARY * np.log(PROBS) + (1 - BINARY) * np.log(1 - PROBS))),
    ("binary_ce", losses.binary_crossentropy, (BINARY, PROBS), {},
     -(BINARY * np.log(PROBS) + (1 - BINARY) * np.log(1 - PROBS))),
    ("mse", losses.squared_differences, (TARGETS, PREDICTIONS), {}, (TARGETS - PREDICTIONS) ** 2),
    ("huber", losses.huber, (TARGETS, PREDICTIONS), {}, _huber(TARGETS, PREDICTIONS, 1.0)),
    ("huber_delta", losses.huber, (TARGETS, PREDICTIONS), {"delta": 0.5}, _huber(TARGETS, PREDICTIONS, 0.5)),
    ("hinge", losses.hinge_loss, (SIGNS, Z), {}, np.maximum(0, 1 - SIGNS * Z)),
    ("hinge_delta", losses.hinge_loss, (SIGNS, Z), {"delta": 2.0}, np.maximum(0, 2 - SIGNS * Z)),
    ("multiclass_hinge", losses.multiclass_hinge_loss, (LABELS, LOGITS), {},
     _multiclass_hinge(LABELS, LOGITS, 1.0)),
    ("kl", losses.kl_divergence, (ONE_HOT, SOFT), {}, _kl(ONE_HOT, SOFT)),
    ("kl_soft", losses.kl_divergence, (SOFT, SOFT[::-1]), {}, _kl(SOFT, SOFT[::-1])),
    ("accuracy_scores", losses.accuracy, (LABELS, LOGITS), {},
     (LOGITS.argmax(-1) == LABELS).astype("float64")),
    ("accuracy_labels", losses.accuracy, (LABELS, LOGITS.argmax(-1).astype("int32")), {},
     (LOGITS.argmax(-1) == LABELS).astype("float64")),
]
REDUCE = {"none": lambda v: v, "mean": np.mean, "sum": np.sum}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, fn, args, kwargs, oracle", CASES, ids=[c[0] for c in CASES])
def test_loss_matches_numpy(name, fn, args, kwargs, oracle, reduction):
    """Built over placeholders, each loss gives the oracle's values once compiled."""
    inputs = [sg.Placeholder(a.shape, a.dtype.name) for a in args]
    out = fn(*inputs, **kwargs, reduction=reduction)
    value = sg.function(*inputs, outputs=out)(*args)
    expected = REDUCE[reduction](oracle)
    assert np.shape(value) == np.shape(expected)
    np.testing.assert_allclose(value, expected, rtol=2e-5, atol=2e-5)


def test_default_reduction_is_mean_and_arrays_work():
    """The default reduction is the mean; plain arrays are operands too."""
    out = losses.sparse_softmax_crossentropy_logits(LABELS, LOGITS)
    assert out.shape == ()
    value = sg.function(outputs=out)()
    np.testing.assert_allclose(value, np.mean(-_log_softmax(LOGITS)[np.arange(B), LABELS]), rtol=2e-5)


def test_sigmoid_crossentropy_is_finite_for_large_logits():
    z = np.array([-200.0, 200.0], "float32")
    y = np.array([1.0, 0.0], "float32")
    value = sg.function(outputs=losses.sigmoid_crossentropy_logits(y, z, reduction="none"))()
    np.testing.assert_allclose(value, [200.0, 200.0], rtol=1e-6)


def test_gradient_of_crossentropy_is_softmax_minus_one_hot():
    logits = sg.Placeholder((B, C), "float32")
    loss = losses.sparse_softmax_crossentropy_logits(LABELS, logits, reduction="sum")
    grad = sg.function(logits, outputs=sg.gradients(loss, [logits])[0])(LOGITS)
    np.testing.assert_allclose(grad, np.exp(_log_softmax(LOGITS)) - ONE_HOT, atol=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: losses.squared_differences(np.zeros(3, "float32"), np.zeros((3, 1), "float32")), ShapeError,
     "same shape"),
    (lambda: losses.sparse_softmax_crossentropy_logits(ONE_HOT, LOGITS), DTypeError, "softmax_crossentropy"),
    (lambda: losses.sparse_softmax_crossentropy_logits(LABELS[:3], LOGITS), ShapeError, "without its last"),
    (lambda: losses.huber(TARGETS, PREDICTIONS, reduction="avg"), ValueError, "reduction must be one of"),
    (lambda: losses.huber(TARGETS, PREDICTIONS, delta=0), ValueError, "delta must be > 0"),
    (lambda: losses.accuracy(LABELS, LOGITS.T), ShapeError, "class axis"),
    (lambda: losses.multiclass_hinge_loss(LABELS, LOGITS[:, :1]), ShapeError, "at least 2 classes"),
])
def test_wrong_arguments_raise_naming_the_fix(call, error, match):
    with pytest.raises(error, match=match):
        call()
