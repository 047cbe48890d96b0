"""SymJAX's usual patterns that used to run without error and do something else in symgraph: each either works
as a SymJAX user expects or raises naming the symgraph way (optimizers and the update registry, frozen
variables, variable queries by name pattern, saving and loading)."""

import numpy as np
import pytest

import symgraph as sg
import symgraph.nn as nn
import symgraph.tensor as T
from symgraph.errors import SaveLoadError, UpdateError
from symgraph.nn.ema import ExponentialMovingAverage
from symgraph.nn.optimizers import SGD, Adam


def _regression():
    """A least-squares problem ``mean((x @ w + b - y)^2)`` with its data."""
    rng = np.random.default_rng(0)
    x = sg.Placeholder((None, 3), name="x")
    y = sg.Placeholder((None,), name="y")
    w = sg.Variable(np.ones(3, "float32"), name="w")
    b = sg.Variable(np.float32(0.0), name="b")
    loss = T.mean((x @ w + b - y) ** 2)
    data = rng.normal(size=(16, 3)).astype("float32")
    target = (data @ np.array([2.0, -1.0, 0.5]) + 3.0).astype("float32")
    return x, y, w, b, loss, data, target


# -- trap 1: optimizers register their updates --------------------------------------------------------------

def test_adam_then_function_with_get_updates_trains():
    x, y, w, b, loss, data, target = _regression()
    opt = Adam(loss, 0.1)
    assert sg.get_updates() == opt.updates                  # the same nodes, registered with the graph
    train = sg.function(x, y, outputs=loss, updates=sg.get_updates())
    w0 = w.value.copy()
    first = train(data, target)
    # Adam's first step moves every parameter by lr * g / (|g| + eps), i.e. lr against the gradient's sign
    grad = 2 * data.T @ (data @ w0 - target) / len(data)
    np.testing.assert_allclose(w.value, w0 - 0.1 * np.sign(grad), rtol=1e-5)
    losses = [float(train(data, target)) for _ in range(50)]
    assert losses[-1] < 0.5 * float(first) and opt.step.value == 51


def test_opt_updates_and_get_updates_together_apply_once():
    x, y, w, b, loss, data, target = _regression()
    opt = SGD(loss, 0.01)
    both = sg.function(x, y, outputs=loss, updates=[opt.updates, sg.get_updates()])
    both(data, target)
    assert opt.step.value == 1
    once = w.value.copy()
    w.reset(), b.reset(), opt.reset()
    sg.function(x, y, outputs=loss, updates=opt.updates)(data, target)
    np.testing.assert_array_equal(w.value, once)


def test_two_optimizers_over_one_parameter_conflict_clearly():
    x, y, w, b, loss, data, target = _regression()
    first, second = SGD(loss, 0.01, name="first"), Adam(loss, 0.01, name="second")
    with pytest.raises(UpdateError, match=r"'w' has 2 different registered updates.*updates=opt.updates"):
        sg.get_updates()
    assert set(sg.get_updates(scope="first")) == {first.step}
    with pytest.raises(UpdateError, match="'w' is updated twice, to different values"):
        sg.function(x, y, outputs=loss, updates=[first.updates, second.updates])


def test_batch_norm_and_optimizer_updates_both_registered():
    x = sg.Placeholder((None, 2), name="x")
    bn = nn.BatchNorm(momentum=0.5)
    loss = T.mean(nn.Dense(1, name="out")(bn(x, training=True)) ** 2)
    opt = SGD(loss, 0.1)
    assert sg.get_updates() == {**bn.updates, **opt.updates}
    sg.function(x, outputs=loss, updates=sg.get_updates())(np.array([[1.0, 2.0], [3.0, 6.0]], "float32"))
    np.testing.assert_allclose(bn.running_mean.value, [1.0, 2.0])      # 0.5 * 0 + 0.5 * (2, 4)
    assert opt.step.value == 1


def test_moving_average_registers_its_updates():
    v = sg.Variable(np.float32(2.0), name="v")
    ema = ExponentialMovingAverage(0.5, debias=False)
    shadow = ema.track(v * 1.0)
    assert sg.get_updates() == ema.updates
    sg.function(outputs=[], updates=sg.get_updates())()
    assert shadow.value == pytest.approx(1.0) and ema.step.value == 1


# -- trap 2: frozen variables -------------------------------------------------------------------------------

def test_a_frozen_variable_is_trained_only_when_asked_twice():
    frozen = sg.Variable(np.float32(1.0), name="frozen", trainable=False)
    loss = (frozen - 3.0) ** 2
    with pytest.raises(ValueError, match=r"trainable=False: \['frozen'\].*allow_frozen=True"):
        SGD(loss, 0.1, params=[frozen])
    with pytest.raises(ValueError, match="depends on no trainable float Variable"):
        Adam(loss, 0.1)
    opt = SGD(loss, 0.1, params=[frozen], allow_frozen=True)
    sg.function(outputs=loss, updates=opt.updates)()
    assert frozen.value == pytest.approx(1.4)                # 1 - 0.1 * 2 * (1 - 3)


# -- trap 3: queries by SymJAX's name pattern ---------------------------------------------------------------

def test_name_patterns_select_variables():
    with sg.Scope("actor"):
        w = sg.Variable(np.ones(2, "float32"), name="w")
        frozen = sg.Variable(np.zeros(2, "float32"), name="frozen", trainable=False)
    with sg.Scope("actor"):                                  # actor_1
        other = sg.Variable(np.ones(1, "float32"), name="w")
    top = sg.Variable(np.ones(1, "float32"), name="w")
    everything = [w, frozen, other, top]
    assert sg.get_variables("*") == everything == sg.get_variables(scope="/") == sg.get_variables()
    assert sg.get_variables("actor/*") == [w, frozen]
    assert sg.get_variables("actor") == sg.get_variables(scope="actor") == [w, frozen]   # a scope, as before
    assert sg.get_variables("*w") == [w, other, top]
    assert sg.get_variables("actor*", trainable=True) == [w, other]
    with pytest.raises(TypeError, match="trainable must be True, False or None.*'yes'"):
        sg.get_variables(trainable="yes")
    with pytest.raises(TypeError, match="name must be a string"):
        sg.get_variables(3)


def test_reset_and_save_accept_patterns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with sg.Scope("net"):
        w = sg.Variable(np.ones(2, "float32"), name="w")
    v = sg.Variable(np.ones(1, "float32"), name="v")
    w.update(np.full(2, 5.0)), v.update(np.full(1, 7.0))
    sg.reset_variables("net/*")
    assert w.value.tolist() == [1.0, 1.0] and v.value.tolist() == [7.0]
    path = tmp_path / "vars.npz"
    sg.save_variables("*", path)                             # SymJAX's order
    assert path.exists() and not (tmp_path / "*").exists()
    assert set(np.load(path)) == {"net/w", "v"}
    sg.save_variables(tmp_path / "net.npz", "net/*")
    assert set(np.load(tmp_path / "net.npz")) == {"net/w"}
    with pytest.raises(SaveLoadError, match=r"is a name pattern, not a file; pass the file too"):
        sg.save_variables("*")
    sg.reset_variables("*")
    assert v.value.tolist() == [1.0]
    sg.load_variables("*", path)
    assert v.value.tolist() == [7.0]


# -- trap 4: saving or loading nothing ---------------------------------------------------------------------

def test_saving_or_loading_nothing_raises_and_names_the_learner_graph(tmp_path):
    with sg.Graph("learner") as learner_graph:               # learners build in their own graph
        weights = sg.Variable(np.arange(3, dtype="float32"), name="weights")
    path = tmp_path / "vars.npz"
    with pytest.raises(SaveLoadError, match=r"no variable of graph 'test' matches.*graph=learner.graph"):
        sg.save_variables(path)
    assert not path.exists()
    sg.save_variables(path, graph=learner_graph)
    assert set(np.load(path)) == {"weights"}
    with pytest.raises(SaveLoadError, match="no variable of graph 'test' matches"):
        sg.load_variables(path)
    with pytest.raises(SaveLoadError, match=r"matches name='nothing/\*'"):
        sg.save_variables(path, "nothing/*", graph=learner_graph)
    with pytest.raises(SaveLoadError, match="reset_variables: no variable"):
        sg.reset_variables("nothing/*", graph=learner_graph)
    weights.update(np.zeros(3))
    sg.load_variables(path, graph=learner_graph)
    assert weights.value.tolist() == [0.0, 1.0, 2.0]
