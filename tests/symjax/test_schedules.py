"""SymJAX's stateful schedules: ``PiecewiseConstant(init, {step: value})`` (as a node advanced by its
registered update, and as a learning-rate schedule) and ``SimpleMovingAverage`` against a numpy window mean,
with ``reset()``."""

import numpy as np
import pytest

import symgraph as sg
from symgraph.nn import schedules
from symgraph.nn.optimizers import SGD


def test_piecewise_constant_node_advances_per_call_and_resets():
    lr = schedules.PiecewiseConstant(1.0, {4: 0.01, 2: 0.1})
    f = sg.function(outputs=lr.value, updates=sg.get_updates())
    np.testing.assert_allclose([float(f()) for _ in range(6)], [1.0, 1.0, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)
    lr.reset()
    assert float(f()) == 1.0
    # as a pure schedule of a step count, the same values
    np.testing.assert_allclose([float(lr(t)) for t in range(6)], [1.0, 1.0, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)


def test_piecewise_constant_as_a_learning_rate():
    w = sg.Variable(np.float32(0.0), name="w")
    opt = SGD(w, lr=schedules.PiecewiseConstant(1.0, {2: 0.5}))
    f = sg.function(outputs=w, updates=opt.updates)
    f(), f(), f()
    # loss = w: gradient 1, steps of lr 1, 1, 0.5
    np.testing.assert_allclose(w.value, -2.5)


@pytest.mark.parametrize("args, error, match", [
    ((0.1, [(100, 0.01)]), TypeError, "must be a dict"),
    ((0.1, {0: 0.01}), ValueError, "int >= 1"),
    ((0.1, {10: "a"}), TypeError, "value of step 10"),
])
def test_piecewise_constant_checks_its_arguments(args, error, match):
    with pytest.raises(error, match=match):
        schedules.PiecewiseConstant(*args)


def test_simple_moving_average_is_the_mean_of_the_last_window_values():
    x = sg.Placeholder((2,), "float32")
    sma = schedules.SimpleMovingAverage(x, 3)
    f = sg.function(x, outputs=sma.value, updates=sg.get_updates())
    xs = np.arange(14, dtype="float32").reshape(7, 2) ** 2
    for i, xi in enumerate(xs):
        np.testing.assert_allclose(f(xi), xs[max(0, i - 2):i + 1].mean(0), rtol=1e-6)
    sma.reset()
    np.testing.assert_allclose(f(xs[5]), xs[5])
    assert sma.count.value == 1


def test_simple_moving_average_checks_its_arguments():
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        schedules.SimpleMovingAverage(sg.Placeholder((), "float32"), 0)
    with pytest.raises(sg.DTypeError, match="float node"):
        schedules.SimpleMovingAverage(sg.Placeholder((), "int32"), 2)
