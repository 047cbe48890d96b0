"""SymJAX's usual patterns that used to run without error and do something else in symgraph: each either works
as a SymJAX user expects or raises naming the symgraph way (optimizers and the update registry, frozen
variables, variable queries by name pattern, saving and loading)."""

import numpy as np
import pytest

import symgraph as sg
import symgraph.nn as nn
import symgraph.probabilities as P
import symgraph.tensor as T
from symgraph.errors import SaveLoadError, ShapeError, UpdateError
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


# -- trap 10: which value a moving-average node reads --------------------------------------------------------

@pytest.mark.parametrize("debias", [True, False])
def test_moving_average_before_and_after_this_call_update(debias):
    x = sg.Placeholder((), name="x")
    ema = ExponentialMovingAverage(0.5, debias=debias)
    before, after = ema(x), ema(x, after_update=True)
    step = sg.function(x, outputs=[before, after], updates=sg.get_updates())
    got = np.array([step(np.float32(value)) for value in (1.0, 2.0, 4.0)])
    shadows = [0.5, 1.25, 2.625]                              # s_t = 0.5 s_{t-1} + 0.5 x_t, s_0 = 0
    if debias:                                                 # s_t / (1 - 0.5**t): the weighted mean
        shadows = [s / (1 - 0.5 ** t) for t, s in enumerate(shadows, 1)]   # 1, 5/3, 3
    np.testing.assert_allclose(got[:, 1], shadows, rtol=1e-6)           # SymJAX's: after this call's update
    np.testing.assert_allclose(got[:, 0], [0.0, *shadows[:2]], rtol=1e-6)  # one update behind


# -- trap 7: SymJAX's deterministic= -----------------------------------------------------------------------

def test_dropout_and_batch_norm_accept_deterministic():
    x = sg.Placeholder((4, 3), name="x")
    data = np.arange(12, dtype="float32").reshape(4, 3) + 1.0
    drop = nn.Dropout(0.5)
    evaluated, trained = drop(x, deterministic=True), drop(x, deterministic=False)
    switch = sg.Placeholder((), "bool", name="deterministic")
    switched = drop(x, deterministic=switch)
    f = sg.function(x, switch, outputs=[evaluated, trained, switched], seed=0)
    out_eval, out_train, out_switch_eval = f(data, True)
    np.testing.assert_array_equal(out_eval, data)
    np.testing.assert_array_equal(out_switch_eval, data)
    assert set(np.unique(out_train / data)) <= {0.0, 2.0} and (out_train == 0).any()
    assert (f(data, False)[2] == 0).any()                    # deterministic=False drops
    bn = nn.BatchNorm(momentum=0.5)
    y_eval, y_train = bn(x, deterministic=True), bn(x, deterministic=False)
    assert set(bn.updates) == {bn.running_mean, bn.running_var}
    got_eval, got_train = sg.function(x, outputs=[y_eval, y_train])(data)
    np.testing.assert_allclose(got_eval, data / np.sqrt(1 + 1e-5), rtol=1e-6)   # running stats 0 and 1
    np.testing.assert_allclose(got_train, (data - data.mean(0)) / np.sqrt(data.var(0) + 1e-5), rtol=1e-5)
    for layer in (drop, bn):
        with pytest.raises(TypeError, match="exactly one of training= .* or SymJAX's deterministic=.*got both"):
            layer(x, True, deterministic=False)
        with pytest.raises(TypeError, match="got neither"):
            layer(x)
        with pytest.raises(TypeError, match="deterministic must be a Python bool"):
            layer(x, deterministic="yes")


# -- trap 11 (layers): Dense on rank > 2 inputs, Conv2D on NCHW inputs ------------------------------------

def test_dense_on_an_image_batch_asks_for_flatten_and_flatten_true_is_symjax():
    images = sg.Placeholder((None, 2, 3, 4), name="images")
    with pytest.raises(ShapeError, match=r"rank <= 3.*SymJAX's Dense flattened.*flatten=True.*flatten=False"):
        nn.Dense(5)(images)
    flat = nn.Dense(5, flatten=True, name="flat")
    per_position = nn.Dense(5, flatten=False, name="per_position")
    y_flat, y_position = flat(images), per_position(images)
    assert y_flat.shape == (None, 5) and flat.W.shape == (24, 5)
    assert y_position.shape == (None, 2, 3, 5) and per_position.W.shape == (4, 5)
    data = np.random.default_rng(0).normal(size=(2, 2, 3, 4)).astype("float32")
    got = sg.function(images, outputs=y_flat)(data)
    np.testing.assert_allclose(got, data.reshape(2, 24) @ flat.W.value + flat.b.value, rtol=1e-5, atol=1e-6)
    sequence = sg.Placeholder((None, 7, 4), name="sequence")
    assert nn.Dense(5)(sequence).shape == (None, 7, 5)       # rank 3 stays per position (sequences)
    with pytest.raises(TypeError, match="flatten must be None, True or False"):
        nn.Dense(5, flatten="yes")


def test_conv2d_refuses_an_nchw_looking_input_and_supports_data_format():
    nchw = sg.Placeholder((None, 3, 8, 8), name="nchw")
    with pytest.raises(ShapeError, match=r"looks channels first.*T.transpose\(x, \(0, 2, 3, 1\)\).*"
                                         r"data_format='NCHW'"):
        nn.Conv2D(4, 3)(nchw)
    first = nn.Conv2D(4, 3, padding="VALID", data_format="NCHW", name="first")
    y_first = first(nchw)
    assert y_first.shape == (None, 4, 6, 6) and first.W.shape == (3, 3, 3, 4)
    last = nn.Conv2D(4, 3, padding="VALID", data_format="NHWC", name="last")
    y_last = last(T.transpose(nchw, (0, 2, 3, 1)))
    data = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype("float32")
    last.W.update(first.W.value), last.b.update(np.arange(4.0))
    first.b.update(np.arange(4.0))
    got_first, got_last = sg.function(nchw, outputs=[y_first, y_last])(data)
    np.testing.assert_allclose(got_first, got_last.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
    assert nn.Conv2D(4, 3, data_format="NHWC", name="trusted")(nchw).shape == (None, 3, 8, 4)
    with pytest.raises(ValueError, match="data_format must be None"):
        nn.Conv2D(4, 3, data_format="CHWN")


# -- trap 5: the Normal actor's (mean, covariance) contract -------------------------------------------------

def test_normal_actor_reads_its_second_output_as_the_covariance():
    from scipy import stats

    from symgraph import rl

    class Constant(rl.Actor):                                # the case: mean 0, covariance 0.25
        def create_network(self, states):
            mean = 0.0 * nn.dense(states, 1)
            return mean, mean + 0.25

    states = sg.Placeholder((None, 3), name="states")
    actor = Constant(states, P.Normal)
    assert actor.scale_output == "covariance"
    zeros = np.zeros((2, 3), "float32")
    got = actor.log_prob(np.zeros((2, 1), "float32")).get({states: zeros})
    np.testing.assert_allclose(got, stats.norm.logpdf(0.0, 0.0, 0.5), rtol=1e-6)    # -0.2258, not -1.169
    assert got[0] == pytest.approx(-0.2258, abs=1e-4)

    class Diagonal(rl.Actor):
        def create_network(self, states):
            return nn.dense(states, 2, name="mean"), T.softplus(nn.dense(states, 2, name="var")) + 0.1

    actor = Diagonal(states, "normal")
    rng = np.random.default_rng(0)
    x, a = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 2)).astype("float32")
    given = sg.Placeholder((None, 2), name="given")
    log_prob, entropy, mean, var = sg.function(states, given, outputs=[
        actor.log_prob(given), actor.entropy, actor.mode, actor._head[1]])(x, a)
    variances = np.log1p(np.exp(x @ sg.get_variables("*var/W")[0].value)) + 0.1
    expected = [stats.multivariate_normal(mean[i], np.diag(variances[i])).logpdf(a[i]) for i in range(4)]
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4)
    np.testing.assert_allclose(entropy, [stats.multivariate_normal(mean[i], np.diag(variances[i])).entropy()
                                         for i in range(4)], rtol=1e-4)
    np.testing.assert_allclose(np.exp(2 * var), variances, rtol=1e-4)


def test_the_log_std_form_has_its_own_name_and_the_ready_made_networks_use_it():
    from symgraph import rl

    class LogStd(rl.Actor):
        def create_network(self, states):
            mean = 0.0 * nn.dense(states, 1)
            return mean, mean + 0.25

    states = sg.Placeholder((None, 3), name="states")
    actor = LogStd(states, "normal_log_std")
    assert actor.kind == "normal" and actor.scale_output == "log_std"
    got = actor.log_prob(np.zeros((1, 1), "float32")).get({states: np.zeros((1, 3), "float32")})
    assert got[0] == pytest.approx(-0.25 - 0.5 * np.log(2 * np.pi), abs=1e-5)
    ready = rl.MLPActor(states, 2, "normal", hidden=(4,), state_dependent_std=True)
    assert ready.scale_output == "log_std" and ready.kind == "normal"
    assert rl.MLPActor(states, 2, "tanh_normal", hidden=(4,)).scale_output == "log_std"


def test_a_full_covariance_is_refused_by_the_actor_and_by_normal():
    from symgraph import rl

    class Full(rl.Actor):
        def create_network(self, states):
            mean = nn.dense(states, 2)
            return mean, T.eye(2) + 0.0 * mean[:, :, None]

    states = sg.Placeholder((None, 3), name="states")
    with pytest.raises(ShapeError, match=r"full covariance.*return the variances.*T.diagonal"):
        Full(states, P.Normal)
    with pytest.raises(ShapeError, match=r"looks like a full covariance matrix.*MultivariateNormal"):
        P.Normal(np.zeros(3), np.eye(3))
    with pytest.raises(ShapeError, match=r"var of shape \(3, 3\).*full covariance"):
        P.Normal(np.zeros(3), var=np.eye(3) + 1)
    with pytest.raises(ValueError, match="exactly one of std= or log_std= or var="):
        P.Normal(0.0, 1.0, var=1.0)
    x = np.array([0.3, -1.2], "float32")
    got = P.Normal(np.zeros(2, "float32"), var=np.array([0.25, 4.0], "float32")).log_prob(x).get()
    from scipy import stats
    np.testing.assert_allclose(got, stats.norm.logpdf(x, 0.0, [0.5, 2.0]), rtol=1e-6)
    assert P.Normal(np.zeros((3, 1)), np.ones((3, 3))).batch_shape == (3, 3)    # ordinary broadcasting


def test_pooling_follows_the_data_format_and_refuses_an_nchw_looking_input():
    nchw = sg.Placeholder((None, 3, 8, 8), name="nchw")
    with pytest.raises(ShapeError, match=r"looks channels first.*data_format='NCHW'"):
        nn.MaxPool2D(2)(nchw)
    data = np.random.default_rng(2).normal(size=(2, 3, 8, 8)).astype("float32")
    nhwc = T.transpose(nchw, (0, 2, 3, 1))
    for layer in (nn.MaxPool2D, nn.AvgPool2D):
        first = layer(2, padding="SAME", data_format="NCHW")(nchw)
        last = layer(2, padding="SAME", data_format="NHWC")(nhwc)
        assert first.shape == (None, 3, 4, 4)
        got_first, got_last = sg.function(nchw, outputs=[first, last])(data)
        np.testing.assert_allclose(got_first, got_last.transpose(0, 3, 1, 2), rtol=1e-6)
    ncw = sg.Placeholder((None, 3, 8), name="ncw")
    assert nn.MaxPool1D(2, data_format="NCW")(ncw).shape == (None, 3, 4)
