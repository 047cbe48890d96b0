"""Layers against jax.numpy / jax.lax oracles, variable sharing, error paths, and fit tests.

Every test runs in its own graph (the autouse fixture of tests/conftest.py). The fit tests train with plain
momentum SGD written as update expressions, compiled once and run inside ``jax.lax.scan`` via ``.pure``.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symgraph as sg
import symgraph.nn as nn
import symgraph.tensor as T
from symgraph.errors import DTypeError, ScopeError, ShapeError


def _set(variable, value):
    variable.update(np.asarray(value, variable.dtype))


def _rand(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# -- Dense, MLP, sharing
def test_dense_matches_matmul_and_is_lazy_or_eager(rng):
    x = sg.Placeholder((None, 3), name="x")
    x3 = sg.Placeholder((None, 4, 3), name="x3")
    lazy = nn.Dense(5, activation="relu")
    assert lazy.variables == [] and not lazy.built
    y, y3 = lazy(x), lazy(x3)                                     # leading axes are batch axes
    eager = nn.Dense(2, in_features=5, use_bias=False, init="orthogonal", name="head")
    assert [v.name for v in eager.variables] == ["head/W"]
    z = eager(y)
    _set(lazy.b, rng.normal(size=5))
    data, data3 = _rand(rng, 6, 3), _rand(rng, 2, 4, 3)
    got_y, got_y3, got_z = sg.function(x, x3, outputs=[y, y3, z])(data, data3)
    w, b = lazy.W.value, lazy.b.value
    np.testing.assert_allclose(got_y, np.maximum(data @ w + b, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_y3, np.maximum(data3 @ w + b, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_z, got_y @ eager.W.value, rtol=1e-5, atol=1e-6)
    assert y.shape == (None, 5) and y3.shape == (None, 4, 5) and z.shape == (None, 2)


def test_layer_applied_twice_shares_one_set_of_variables(rng):
    a = sg.Placeholder((None, 3), name="a")
    b = sg.Placeholder((None, 3), name="b")
    with sg.Scope("siamese"):
        net = nn.MLP(hidden=(8,), out=4, activation="tanh")
    ya, yb = net(a), net(b)
    names = [v.name for v in sg.get_variables()]
    assert names == ["siamese/mlp/hidden_0/W", "siamese/mlp/hidden_0/b", "siamese/mlp/out/W",
                     "siamese/mlp/out/b"]
    assert net.variables == sg.get_variables(scope=net.scope)
    other = nn.MLP(hidden=(8,), out=4)                             # a second network: fresh variables
    other(a)
    assert len(sg.get_variables()) == 8 and other.scope == "mlp"
    data = _rand(rng, 5, 3)
    got_a, got_b = sg.function(a, b, outputs=[ya, yb])(data, data)
    np.testing.assert_array_equal(got_a, got_b)
    grads = sg.gradients(T.sum(ya) + T.sum(yb), net.trainable_variables)   # both uses feed one gradient
    assert len(grads) == 4


def test_mlp_helper_matches_a_hand_written_forward_pass(rng):
    x = sg.Placeholder((None, 3), name="x")
    with sg.Scope("critic") as scope:
        y = nn.mlp(x, hidden=(6, 5), activation="relu", out=1, out_init=nn.initializers.orthogonal(0.01))
    w0, b0, w1, b1, w2, b2 = [v.value for v in sg.get_variables(scope=scope.path)]
    assert w2.shape == (5, 1) and np.abs(w2).max() < 0.02
    data = _rand(rng, 4, 3)
    h = np.maximum(np.maximum(data @ w0 + b0, 0) @ w1 + b1, 0)
    np.testing.assert_allclose(y.get({x: data}), h @ w2 + b2, rtol=1e-5, atol=1e-7)


def test_layer_builds_in_the_scope_it_was_constructed_in():
    x = sg.Placeholder((None, 2), name="x")
    with sg.Scope("actor"):
        layer = nn.Dense(3)
    with sg.Scope("elsewhere"):
        layer(x)
    assert [v.name for v in layer.variables] == ["actor/dense/W", "actor/dense/b"]


def test_initialisation_is_reproducible_from_the_graph_seed():
    values = []
    for _ in range(2):
        with sg.Graph(seed=4):
            layer = nn.LSTMCell(3, in_features=2)
            values.append([v.value for v in layer.variables])
    for first, second in zip(values[0], values[1], strict=True):
        np.testing.assert_array_equal(first, second)
    b = values[0][2]
    np.testing.assert_array_equal(b, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])   # forget bias 1


# -- convolutions and pooling
def test_conv2d_matches_lax_conv(rng):
    x = sg.Placeholder((None, 9, 8, 3), name="x")
    same = nn.Conv2D(4, (3, 2), strides=2, activation="tanh")
    valid = nn.Conv2D(2, 3, padding="valid", dilation=(2, 1), use_bias=False)
    y1, y2 = same(x), valid(x)
    assert y1.shape == (None, 5, 4, 4) and y2.shape == (None, 5, 6, 2)
    _set(same.b, rng.normal(size=4))
    data = _rand(rng, 2, 9, 8, 3)
    got1, got2 = sg.function(x, outputs=[y1, y2])(data)
    dims = ("NHWC", "HWIO", "NHWC")
    ref1 = jnp.tanh(jax.lax.conv_general_dilated(data, same.W.value, (2, 2), "SAME", dimension_numbers=dims)
                    + same.b.value)
    ref2 = jax.lax.conv_general_dilated(data, valid.W.value, (1, 1), "VALID", rhs_dilation=(2, 1),
                                        dimension_numbers=dims)
    np.testing.assert_allclose(got1, ref1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got2, ref2, rtol=1e-5, atol=1e-5)


def test_conv1d_matches_a_sliding_dot_product(rng):
    x = sg.Placeholder((None, 7, 2), name="x")
    conv = nn.Conv1D(3, 3, padding="VALID")
    y = conv(x)
    _set(conv.b, [0.1, -0.2, 0.3])
    data = _rand(rng, 2, 7, 2)
    w = conv.W.value                                                # (3, 2, 3) = (kw, in, out)
    ref = np.stack([np.einsum("bki,kio->bo", data[:, t:t + 3], w) for t in range(5)], axis=1) + conv.b.value
    np.testing.assert_allclose(y.get({x: data}), ref, rtol=1e-5, atol=1e-5)


def test_pools_match_numpy(rng):
    x = sg.Placeholder((None, 4, 6, 2), name="x")
    odd = sg.Placeholder((1, 3, 3, 1), name="odd")
    seq = sg.Placeholder((None, 6, 2), name="seq")
    outputs = [nn.MaxPool2D(2)(x), nn.AvgPool2D((2, 3))(x), nn.AvgPool2D(2, padding="SAME")(odd),
               nn.MaxPool2D(2, padding="SAME")(odd), nn.MaxPool1D(3)(seq), nn.AvgPool1D(2, strides=1)(seq),
               nn.Flatten()(x)]
    data, small, series = _rand(rng, 2, 4, 6, 2), _rand(rng, 1, 3, 3, 1), _rand(rng, 2, 6, 2)
    got = sg.function(x, odd, seq, outputs=outputs)(data, small, series)
    np.testing.assert_allclose(got[0], data.reshape(2, 2, 2, 3, 2, 2).max(axis=(2, 4)))
    np.testing.assert_allclose(got[1], data.reshape(2, 2, 2, 2, 3, 2).mean(axis=(2, 4)), rtol=1e-6)
    s = small[0, :, :, 0]                   # SAME pads at the end; means count only the real entries
    np.testing.assert_allclose(got[2][0, :, :, 0], [[s[:2, :2].mean(), s[:2, 2].mean()],
                                                    [s[2, :2].mean(), s[2, 2]]], rtol=1e-6)
    np.testing.assert_allclose(got[3][0, :, :, 0], [[s[:2, :2].max(), s[:2, 2].max()],
                                                    [s[2, :2].max(), s[2, 2]]])
    np.testing.assert_allclose(got[4], series.reshape(2, 2, 3, 2).max(axis=2))
    np.testing.assert_allclose(got[5], (series[:, 1:] + series[:, :-1]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(got[6], data.reshape(2, -1))


# -- embedding, normalisation, dropout
def test_embedding_is_a_row_lookup(rng):
    ids = sg.Placeholder((None, 3), "int32", name="ids")
    emb = nn.Embedding(10, 4)
    y = emb(ids)
    assert y.shape == (None, 3, 4)
    data = rng.integers(0, 10, size=(2, 3)).astype("int32")
    np.testing.assert_array_equal(y.get({ids: data}), emb.W.value[data])


def test_layer_norm_matches_its_formula(rng):
    x = sg.Placeholder((None, 2, 5), name="x")
    ln = nn.LayerNorm(eps=1e-3)
    y = ln(x)
    _set(ln.gamma, rng.normal(size=5))
    _set(ln.beta, rng.normal(size=5))
    data = _rand(rng, 3, 2, 5) * 4 + 1
    mu, var = data.mean(-1, keepdims=True), data.var(-1, keepdims=True)
    ref = ln.gamma.value * (data - mu) / np.sqrt(var + 1e-3) + ln.beta.value
    np.testing.assert_allclose(y.get({x: data}), ref, rtol=1e-4, atol=1e-5)


def test_batch_norm_train_eval_and_running_statistics(rng):
    x = sg.Placeholder((None, 3, 2), name="x")
    training = sg.Placeholder((), "bool", name="training")
    bn = nn.BatchNorm(momentum=0.9, eps=1e-3)
    y_switch = bn(x, training)
    assert set(bn.updates) == {bn.running_mean, bn.running_var}
    assert sg.get_updates() == bn.updates and bn.trainable_variables == [bn.gamma, bn.beta]
    y_eval = bn(x, False)
    _set(bn.gamma, [2.0, 0.5])
    _set(bn.beta, [0.1, -0.3])
    step = sg.function(x, training, outputs=[y_switch, y_eval], updates=bn.updates)
    data = _rand(rng, 4, 3, 2) * 3 + np.array([1.0, -2.0], "float32")
    gamma, beta = bn.gamma.value, bn.beta.value

    def norm(mean, var):
        return gamma * (data - mean) / np.sqrt(var + 1e-3) + beta

    out_train, out_eval = step(data, True)
    mean, var = data.mean(axis=(0, 1)), data.var(axis=(0, 1))
    np.testing.assert_allclose(out_train, norm(mean, var), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_eval, norm(0.0, 1.0), rtol=1e-4, atol=1e-5)   # stats before this call
    np.testing.assert_allclose(bn.running_mean.value, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.value, 0.9 + 0.1 * var, rtol=1e-5)
    running = bn.running_mean.value, bn.running_var.value
    out_switch, out_eval = step(data, False)                          # eval: no change, running stats used
    np.testing.assert_array_equal(bn.running_mean.value, running[0])
    np.testing.assert_array_equal(bn.running_var.value, running[1])
    np.testing.assert_allclose(out_switch, norm(*running), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_eval, out_switch, rtol=1e-6)


def test_dropout_is_identity_at_eval_and_keeps_the_expected_rate_in_training():
    x = sg.Placeholder((200, 100), name="x")
    training = sg.Placeholder((), "bool", name="training")
    drop = nn.Dropout(0.3)
    assert drop(x, False) is x
    y = drop(x, training)
    f = sg.function(x, training, outputs=y, seed=3)
    ones = np.ones((200, 100), "float32")
    np.testing.assert_array_equal(f(ones, False), ones)
    first, second = f(ones, True), f(ones, True)
    kept = first != 0
    assert abs(kept.mean() - 0.7) < 0.01                              # 20000 draws: 3 sigma is 0.01
    np.testing.assert_allclose(first[kept], 1 / 0.7, rtol=1e-6)       # kept entries rescaled
    assert (first != second).any()                                    # a fresh mask at every call
    again = sg.function(x, training, outputs=y, seed=3)                # same seed, same calls: same masks
    again(ones, False)
    np.testing.assert_array_equal(again(ones, True), first)


# -- recurrent cells
def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def gru_reference(x, h, w, u, b):
    n_units = h.shape[-1]
    gx = x @ w + b
    r = _sigmoid(gx[:, :n_units] + h @ u[:, :n_units])
    z = _sigmoid(gx[:, n_units:2 * n_units] + h @ u[:, n_units:2 * n_units])
    n = np.tanh(gx[:, 2 * n_units:] + (r * h) @ u[:, 2 * n_units:])
    return (1 - z) * n + z * h


def lstm_reference(x, h, c, w, u, b):
    i, f, g, o = np.split(x @ w + h @ u + b, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def test_gru_and_lstm_cells_match_hand_written_cells(rng):
    x = sg.Placeholder((None, 3), name="x")
    h0 = sg.Placeholder((None, 4), name="h0")
    c0 = sg.Placeholder((None, 4), name="c0")
    gru, lstm = nn.GRUCell(4), nn.LSTMCell(4)
    out_g, h_g = gru(x, h0)
    out_l, (h_l, c_l) = lstm(x, (h0, c0))
    assert out_g is h_g and out_l is h_l
    for cell in (gru, lstm):
        _set(cell.b, rng.normal(size=cell.b.shape))
    data, h, c = _rand(rng, 5, 3), _rand(rng, 5, 4), _rand(rng, 5, 4)
    got_g, got_h, got_c = sg.function(x, h0, c0, outputs=[h_g, h_l, c_l])(data, h, c)
    np.testing.assert_allclose(got_g, gru_reference(data, h, gru.W.value, gru.U.value, gru.b.value),
                               rtol=1e-5, atol=1e-6)
    ref_h, ref_c = lstm_reference(data, h, c, lstm.W.value, lstm.U.value, lstm.b.value)
    np.testing.assert_allclose(got_h, ref_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_c, ref_c, rtol=1e-5, atol=1e-6)


def test_sequence_layers_match_a_python_loop_over_the_cell(rng):
    x = sg.Placeholder((None, 5, 3), name="x")                        # batch-major
    xt = sg.Placeholder((5, None, 3), name="xt")                      # time-major
    h0 = sg.Placeholder((None, 4), name="h0")
    lstm = nn.LSTM(4)
    out_l, (h_l, c_l) = lstm(x, return_state=True)
    gru_tm = nn.GRU(4, time_major=True, reverse=True)
    out_g = gru_tm(xt, initial_state=h0)
    data, h_init = _rand(rng, 2, 5, 3), _rand(rng, 2, 4)
    got = sg.function(x, xt, h0, outputs=[out_l, h_l, c_l, out_g])(data, data.transpose(1, 0, 2), h_init)
    cell = lstm.cell
    h, c, outs = np.zeros((2, 4)), np.zeros((2, 4)), []
    for t in range(5):
        h, c = lstm_reference(data[:, t], h, c, cell.W.value, cell.U.value, cell.b.value)
        outs.append(h)
    np.testing.assert_allclose(got[0], np.stack(outs, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], c, rtol=1e-5, atol=1e-6)
    cell = gru_tm.cell
    h, outs = h_init, [None] * 5
    for t in reversed(range(5)):
        h = gru_reference(data[:, t], h, cell.W.value, cell.U.value, cell.b.value)
        outs[t] = h
    np.testing.assert_allclose(got[3], np.stack(outs), rtol=1e-5, atol=1e-6)
    assert [v.name for v in lstm.variables] == ["lstm/cell/W", "lstm/cell/U", "lstm/cell/b"]


# -- activations and errors
def test_activations_by_name(rng):
    x = sg.Placeholder((7,), name="x")
    names = ["relu", "tanh", "elu", "gelu", "silu", "leaky_relu", "sigmoid", "identity"]
    refs = [jax.nn.relu, jnp.tanh, jax.nn.elu, jax.nn.gelu, jax.nn.silu, jax.nn.leaky_relu, jax.nn.sigmoid,
            lambda v: v]
    data = _rand(rng, 7) * 3
    got = sg.function(x, outputs=[nn.activations.get(n)(x) for n in names[:-1]])(data)
    for name, ref, value in zip(names, refs, got, strict=False):
        np.testing.assert_allclose(value, ref(data), rtol=1e-5, atol=1e-6, err_msg=name)
    assert nn.activations.get("identity")(x) is x and nn.activations.get(None)(x) is x
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'; valid names: \[.*'leaky_relu'.*'relu'"):
        nn.activations.get("rleu")
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        nn.Dense(3, activation="swishy")
    with pytest.raises(TypeError, match="activation must be a name"):
        nn.activations.get(3)


def test_layers_reject_bad_inputs_with_clear_messages():
    vec = sg.Placeholder((None, 3), name="vec")
    img = sg.Placeholder((None, 4, 4, 3), name="img")
    unknown = sg.Placeholder((2, None), name="unknown")
    dense = nn.Dense(2)
    dense(vec)

    def raises(error, pattern, fn, *args, **kwargs):
        with pytest.raises(error, match=pattern):
            fn(*args, **kwargs)

    raises(ShapeError, re.escape("Dense 'dense': expects 3 features in the last dimension (the size it was "
                                 "built with), got 'wide' (shape (None, 4), float32)"), dense,
           sg.Placeholder((None, 4), name="wide"))
    raises(ShapeError, r"Dense 'dense_1': expects an input of rank >= 1 .*got 'scalar'", nn.Dense(2),
           sg.Placeholder((), name="scalar"))
    raises(ShapeError, r"expects a known number of features.*'unknown' \(shape \(2, None\)", nn.Dense(2),
           unknown)
    raises(ShapeError, re.escape("Conv2D 'conv2d': expects an input of rank 4 (batch, height, width, "
                                 "channels), got 'vec' (shape (None, 3), float32)"), nn.Conv2D(4, 3), vec)
    raises(ShapeError, r"Conv2D 'conv2d_1': expects spatial sizes of at least the \(dilated\) kernel \(5, 5",
           nn.Conv2D(4, 5, padding="VALID"), img)
    raises(ShapeError, r"MaxPool2D 'max_pool2d': expects spatial sizes of at least the window \(8, 8\)",
           nn.MaxPool2D(8), img)
    raises(ShapeError, r"Conv1D 'conv1d': expects an input of rank 3 \(batch, width, channels\)",
           nn.Conv1D(2, 2), img)
    raises(ShapeError, r"Flatten 'flatten': expects an input of rank >= 2", nn.Flatten(), vec[0])
    raises(ShapeError, r"BatchNorm 'batch_norm': expects an input of rank >= 2", nn.BatchNorm(), vec[0], True)
    raises(DTypeError, r"training must be a boolean tensor", nn.BatchNorm(), vec, vec[0, 0])
    raises(TypeError, r"Dropout 'dropout': training must be a Python bool", nn.Dropout(0.5), vec, "yes")
    raises(DTypeError, r"Embedding 'embedding': expects integer ids, got 'vec'", nn.Embedding(4, 2), vec)
    raises(ShapeError, r"RNN 'rnn': expects an input of rank 3 \(batch, time, features\)",
           nn.RNN(nn.GRUCell(2)), vec)
    raises(ShapeError, r"LSTMCell 'lstm_cell': the state must be a pair \(h, c\)", nn.LSTMCell(2), vec, vec)
    raises(ShapeError, re.escape("GRUCell 'gru_cell_1': expects a state h of shape (None, 5) for the input "
                                 "'vec' (shape (None, 3), float32), got 'vec'"), nn.GRUCell(5), vec, vec)
    raises(ValueError, r"Dense 'dense_\d': units must be a positive int, got 0", nn.Dense, 0)
    raises(ValueError, r"padding must be 'SAME' or 'VALID', got 'full'", nn.Conv2D, 2, 3, padding="full")
    raises(ValueError, r"kernel_size must be a positive int or a tuple of 2", nn.Conv2D, 2, (3, 3, 3))
    raises(ValueError, r"rate must be a number in \[0, 1\), got 1.0", nn.Dropout, 1.0)
    raises(ValueError, r"momentum must be a number in \[0, 1\]", nn.BatchNorm, 1.5)
    raises(ValueError, r"unknown initializer 'glorot' for Dense 'dense_\d' init", nn.Dense, 2, init="glorot")
    raises(ValueError, r"unknown initializer 'ortho' for LSTMCell 'lstm_cell_\d' recurrent_init",
           nn.LSTMCell, 2, recurrent_init="ortho")
    with sg.Graph("other"):
        foreign = sg.Placeholder((None, 3), name="foreign")
    raises(ScopeError, r"Dense 'dense' was built in graph 'test' but called on 'foreign'", dense, foreign)


# -- fit tests
def fit(loss, inputs, data, steps, lr, momentum=0.9):
    """Train every trainable variable with momentum SGD ``v <- m v - lr g; w <- w + v``, written as update
    expressions; the compiled step runs ``steps`` times inside one ``jax.lax.scan``. Returns the losses."""
    params = sg.get_variables(trainable=True)
    grads = sg.gradients(loss, params)
    updates = {}
    for param, grad in zip(params, grads, strict=True):
        velocity = sg.Variable(np.zeros(param.shape, param.dtype), name="velocity", trainable=False)
        updates[velocity] = momentum * velocity - lr * grad
        updates[param] = param + updates[velocity]
    step = sg.function(*inputs, outputs=loss, updates=updates)
    data = [jnp.asarray(d) for d in data]

    @jax.jit
    def train(state):
        def body(state, _):
            value, state = step.pure(state, *data)
            return state, value
        return jax.lax.scan(body, state, None, length=steps)

    state, losses = train(step.state)
    for variable in params + [v for v in updates if v not in params]:
        variable.update(state[variable.name])
    return np.asarray(losses)


def cross_entropy(logits, labels_one_hot):
    return -T.mean(T.sum(labels_one_hot * T.log_softmax(logits), axis=-1))


def test_fit_mlp_regression(rng):
    inputs = rng.uniform(-2, 2, size=(256, 2)).astype("float32")
    targets = (np.sin(inputs[:, :1]) * inputs[:, 1:] + 0.5 * inputs[:, :1] ** 2).astype("float32")
    x = sg.Placeholder((None, 2), name="x")
    y = sg.Placeholder((None, 1), name="y")
    prediction = nn.mlp(x, hidden=(32, 32), activation="tanh", out=1)
    loss = T.mean((prediction - y) ** 2)
    losses = fit(loss, [x, y], [inputs, targets], steps=800, lr=0.02)
    assert losses[0] > 0.5                           # the targets' variance is about 1.4
    assert losses[-1] < 0.01, losses[::100]


def test_fit_conv2d_overfits_a_tiny_image_batch(rng):
    images = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    labels = np.eye(4, dtype="float32")[rng.integers(0, 4, size=16)]      # random labels: pure memorisation
    x = sg.Placeholder((None, 8, 8, 1), name="images")
    y = sg.Placeholder((None, 4), name="labels")
    h = nn.Conv2D(8, 3, activation="relu")(x)
    h = nn.MaxPool2D(2)(h)
    h = nn.Conv2D(8, 3, strides=2, activation="relu")(h)
    logits = nn.Dense(4)(nn.Flatten()(h))
    losses = fit(cross_entropy(logits, y), [x, y], [images, labels], steps=120, lr=0.05)
    assert losses[0] > 1.0                           # about log(4) = 1.39 at the start
    assert losses[-1] < 0.01, losses[::20]


@pytest.mark.slow
def test_fit_lstm_learns_a_delayed_copy_task(rng):
    """Output at step t the symbol seen at step t - 2 (the first two steps are not scored)."""
    vocab, length, delay = 4, 8, 2
    x = sg.Placeholder((None, length, vocab), name="x")
    y = sg.Placeholder((None, length, vocab), name="y")
    logits = nn.Dense(vocab)(nn.LSTM(32)(x))
    loss = cross_entropy(logits[:, delay:], y[:, delay:])

    def batch(n):
        symbols = np.eye(vocab, dtype="float32")[rng.integers(0, vocab, size=(n, length))]
        shifted = np.zeros_like(symbols)
        shifted[:, delay:] = symbols[:, :-delay]
        return symbols, shifted

    losses = fit(loss, [x, y], batch(512), steps=200, lr=0.5)
    assert losses[0] > 1.2
    assert losses[-1] < 0.02, losses[::20]
    test_x, test_y = batch(256)                                             # unseen sequences
    predicted = sg.function(x, outputs=T.argmax(logits, axis=-1))(test_x)
    accuracy = (predicted[:, delay:] == test_y[:, delay:].argmax(-1)).mean()
    assert accuracy > 0.99
