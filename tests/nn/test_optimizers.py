"""Optimizers against optax applied by hand, their state Variables, reset, clipping; moving averages."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.nn import schedules
from symgraph.nn.ema import ExponentialMovingAverage, polyak_update
from symgraph.nn.optimizers import SGD, Adam, AdamW, Optimizer, RMSProp

STEPS = 10
DATA_RNG = np.random.default_rng(0)
X = DATA_RNG.normal(size=(16, 3)).astype(np.float32)
Y = DATA_RNG.normal(size=(16, 1)).astype(np.float32)
INIT = {
    "w1": (0.5 * DATA_RNG.normal(size=(3, 8))).astype(np.float32),
    "b1": (0.1 * DATA_RNG.normal(size=8)).astype(np.float32),
    "w2": (0.5 * DATA_RNG.normal(size=(8, 1))).astype(np.float32),
    "b2": np.zeros(1, np.float32),
}


def mlp_loss(p, x, y):
    """The reference loss in plain JAX: a 3-8-1 tanh MLP with a squared error."""
    return jnp.mean((jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"] - y) ** 2)


def mlp_graph():
    """The same loss as a graph; returns (x, y, params dict name -> Variable, loss)."""
    x = sg.Placeholder((None, 3), name="x")
    y = sg.Placeholder((None, 1), name="y")
    params = {name: sg.Variable(value, name=name) for name, value in INIT.items()}
    loss = T.mean((T.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"] - y) ** 2)
    return x, y, params, loss


def optax_by_hand(transform, steps=STEPS, init=None, names=None):
    """Parameters after each of ``steps`` updates of ``transform`` (init/update/apply_updates in plain JAX).

    ``names`` restricts the optimized parameters (the others are held fixed, as with params=[...]).
    """
    params = {k: jnp.asarray(v) for k, v in (init or INIT).items()}
    names = names or list(params)
    trained = {k: params[k] for k in names}
    state = transform.init(trained)
    history = []
    for _ in range(steps):
        grads = jax.grad(lambda t, fixed=params: mlp_loss({**fixed, **t}, X, Y))(trained)
        updates, state = transform.update(grads, state, trained)
        trained = optax.apply_updates(trained, updates)
        params = {**params, **trained}
        history.append({k: np.asarray(v) for k, v in params.items()})
    return history


def run_graph(train, params, steps=STEPS):
    history = []
    for _ in range(steps):
        train(X, Y)
        history.append({k: v.value for k, v in params.items()})
    return history


def assert_histories_match(got, expected, atol=1e-6):
    for step, (g, e) in enumerate(zip(got, expected, strict=True)):
        for name in e:
            np.testing.assert_allclose(g[name], e[name], rtol=0, atol=atol,
                                       err_msg=f"{name} at step {step + 1}")
    moved = max(np.max(np.abs(got[-1][k] - INIT[k])) for k in INIT)
    assert moved > 1e-3, "the parameters barely moved: the comparison would be vacuous"


def global_norm(tree):
    return float(np.sqrt(sum(np.sum(np.square(leaf)) for leaf in jax.tree_util.tree_leaves(tree))))


def mask_weights(p):
    return {k: k.startswith("w") for k in p}


CASES = {
    "adam": (lambda loss: Adam(loss, lr=1e-2), optax.adam(1e-2)),
    "adam_custom": (lambda loss: Adam(loss, lr=3e-2, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-10),
                    optax.adam(3e-2, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-10)),
    "sgd": (lambda loss: SGD(loss, lr=0.1), optax.sgd(0.1)),
    "sgd_momentum": (lambda loss: SGD(loss, lr=0.05, momentum=0.9), optax.sgd(0.05, momentum=0.9)),
    "sgd_nesterov": (lambda loss: SGD(loss, lr=0.05, momentum=0.9, nesterov=True),
                     optax.sgd(0.05, momentum=0.9, nesterov=True)),
    "adamw": (lambda loss: AdamW(loss, lr=1e-2, weight_decay=0.1, mask=mask_weights),
              optax.adamw(1e-2, weight_decay=0.1, mask=mask_weights)),
    "rmsprop": (lambda loss: RMSProp(loss, lr=1e-2), optax.rmsprop(1e-2)),
    "rmsprop_centered_momentum": (lambda loss: RMSProp(loss, lr=1e-2, decay=0.95, eps=1e-6, centered=True,
                                                       momentum=0.5),
                                  optax.rmsprop(1e-2, decay=0.95, eps=1e-6, centered=True, momentum=0.5)),
    "generic_lion": (lambda loss: Optimizer(optax.lion(1e-3), loss), optax.lion(1e-3)),
    "adam_cosine_schedule": (lambda loss: Adam(loss, lr=schedules.cosine(3e-2, steps=8, final=1e-3)),
                             optax.adam(optax.cosine_decay_schedule(3e-2, 8, alpha=1e-3 / 3e-2))),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_updates_match_optax_applied_by_hand(case):
    make, reference = CASES[case]
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        opt = make(loss)
        assert set(opt.params) == set(params.values())
        train = sg.function(x, y, outputs=loss, updates=opt.updates)
        assert_histories_match(run_graph(train, params), optax_by_hand(reference))


def test_gradients_list_and_explicit_params_match_optax():
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        chosen = [params["w2"], params["b2"]]
        opt = Optimizer(optax.adam(1e-2), sg.gradients(loss, chosen), params=chosen)
        assert opt.loss is None
        train = sg.function(x, y, updates=opt.updates)
        got = run_graph(train, params)
        np.testing.assert_array_equal(got[-1]["w1"], INIT["w1"])  # not in params: untouched
        assert_histories_match(got, optax_by_hand(optax.adam(1e-2), names=["w2", "b2"]))


def test_default_params_are_the_trainable_float_variables_the_loss_reads():
    with sg.Graph():
        w = sg.Variable(np.ones(3, np.float32), name="w")
        frozen = sg.Variable(np.ones(3, np.float32), name="frozen", trainable=False)
        sg.Variable(np.ones(3, np.float32), name="unused")
        opt = SGD(T.sum(w * frozen), lr=0.1)
        assert opt.params == [w]


def test_step_counter_and_optax_count_advance_and_lr_node_follows_the_schedule():
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        opt = Adam(loss, lr=schedules.linear(1e-2, 0.0, steps=4))
        train = sg.function(x, y, outputs=[opt.lr, opt.step], updates=opt.updates)
        seen = [train(X, Y) for _ in range(6)]
        np.testing.assert_allclose([lr for lr, _ in seen], [1e-2, 7.5e-3, 5e-3, 2.5e-3, 0.0, 0.0], atol=1e-9)
        assert [int(s) for _, s in seen] == [0, 1, 2, 3, 4, 5]  # outputs read pre-call values
        assert opt.step.value == 6
        counts = {v.name: int(v.value) for v in opt.state_variables if v.name.endswith("count")}
        assert counts and set(counts.values()) == {6}, counts


def test_state_lives_in_non_trainable_variables_in_the_optimizer_scope(tmp_path):
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        opt = Adam(loss, lr=1e-2, name="opt")
        assert opt.scope == "opt"
        assert sg.get_variables(scope="opt") == opt.variables
        assert all(not v.trainable for v in opt.variables)
        assert set(sg.get_variables(trainable=True)) == set(params.values())
        assert {"opt/0/mu/w1", "opt/0/nu/b2", "opt/0/count", "opt/step"} <= {v.name for v in opt.variables}
        train = sg.function(x, y, outputs=loss, updates=opt.updates)
        for _ in range(3):
            train(X, Y)
        sg.save_variables(tmp_path / "checkpoint.npz")
        direct = [train(X, Y) for _ in range(3)]
        sg.reset_variables()
        assert opt.step.value == 0 and all(not v.value.any() for v in opt.state_variables)
        sg.load_variables(tmp_path / "checkpoint.npz")
        assert opt.step.value == 3
        np.testing.assert_array_equal([train(X, Y) for _ in range(3)], direct)


def test_reset_makes_the_next_step_equal_a_fresh_optimizers():
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        used = Adam(loss, lr=1e-2, name="used")
        fresh = Adam(loss, lr=1e-2, name="fresh")
        train_used = sg.function(x, y, updates=used.updates)
        train_fresh = sg.function(x, y, updates=fresh.updates)
        for _ in range(5):
            train_used(X, Y)
        assert used.step.value == 5 and any(v.value.any() for v in used.state_variables)
        used.reset()
        assert used.step.value == 0
        for a, b in zip(used.state_variables, fresh.state_variables, strict=True):
            np.testing.assert_array_equal(a.value, b.value)
        start = {k: v.value for k, v in params.items()}
        train_used(X, Y)
        after_used = {k: v.value for k, v in params.items()}
        for k, v in params.items():
            v.update(start[k])
        train_fresh(X, Y)
        for k, v in params.items():
            np.testing.assert_array_equal(after_used[k], v.value)


def test_reset_differs_from_continuing():
    """Guard for the reset test: without reset, the next step differs from a fresh optimizer's."""
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        opt = Adam(loss, lr=1e-2)
        train = sg.function(x, y, updates=opt.updates)
        for _ in range(5):
            train(X, Y)
        start = {k: v.value for k, v in params.items()}
        train(X, Y)
        continued = {k: v.value for k, v in params.items()}
        for k, v in params.items():
            v.update(start[k])
        opt.reset()
        train(X, Y)
        assert any(not np.allclose(continued[k], v.value, atol=1e-6) for k, v in params.items())


@pytest.mark.parametrize("max_norm", [0.05, 100.0])
def test_global_norm_clipping_matches_optax(max_norm):
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        opt = Adam(loss, lr=1e-2, max_grad_norm=max_norm)
        train = sg.function(x, y, outputs=opt.grad_norm, updates=opt.updates)
        norms, got = [], []
        for _ in range(STEPS):
            before = {k: jnp.asarray(v.value) for k, v in params.items()}
            norms.append((float(train(X, Y)), global_norm(jax.grad(mlp_loss)(before, X, Y))))
            got.append({k: v.value for k, v in params.items()})
        expected = optax_by_hand(optax.chain(optax.clip_by_global_norm(max_norm), optax.adam(1e-2)))
        assert_histories_match(got, expected)
        np.testing.assert_allclose([n for n, _ in norms], [n for _, n in norms], rtol=1e-5)
        clipped = [n > max_norm for n, _ in norms]
        assert all(clipped) if max_norm < 1 else not any(clipped)


def test_clipping_changes_the_step():
    """Guard for the clipping test: the clipped and unclipped trajectories really differ."""
    clipped = optax_by_hand(optax.chain(optax.clip_by_global_norm(0.05), optax.sgd(0.1)), steps=1)
    plain = optax_by_hand(optax.sgd(0.1), steps=1)
    assert not np.allclose(clipped[0]["w1"], plain[0]["w1"], atol=1e-4)


def test_pure_view_scans_the_training_step():
    with sg.Graph():
        x, y, params, loss = mlp_graph()
        opt = Adam(loss, lr=1e-2)
        train = sg.function(x, y, outputs=[loss, opt.grad_norm], updates=opt.updates)
        state = train.state

        def body(state, _):
            (value, _norm), state = train.pure(state, X, Y)
            return state, value

        final, losses = jax.jit(lambda s: jax.lax.scan(body, s, None, length=STEPS))(state)
        expected = optax_by_hand(optax.adam(1e-2))[-1]
        for name in INIT:
            np.testing.assert_allclose(final[name], expected[name], atol=1e-6)
        assert int(final[opt.step.name]) == STEPS
        assert losses[-1] < losses[0]


# ---- bad input -------------------------------------------------------------------------------------------

def test_non_scalar_loss_is_rejected():
    with sg.Graph():
        w = sg.Variable(np.ones((3, 2), np.float32), name="w")
        message = r"Adam: loss_or_grads must be a scalar loss .*shape \(2,\).*T\.mean"
        with pytest.raises(sg.ShapeError, match=message):
            Adam(T.sum(w, axis=0))


def test_non_float_loss_is_rejected():
    with sg.Graph():
        w = sg.Variable(np.ones(3, np.int32), name="w")
        message = r"SGD: loss_or_grads must be a float loss, got .*int32.*T\.cast"
        with pytest.raises(sg.DTypeError, match=message):
            SGD(T.sum(w), lr=0.1)


def test_loss_with_no_trainable_variable_is_rejected():
    with sg.Graph():
        x = sg.Placeholder((3,), name="x")
        frozen = sg.Variable(np.ones(3, np.float32), name="frozen", trainable=False)
        message = r"depends on no trainable float Variable.*\['frozen'\].*trainable=True"
        with pytest.raises(ValueError, match=message):
            Adam(T.sum(x * frozen))


def test_not_a_loss_is_rejected():
    with sg.Graph(), pytest.raises(TypeError, match=r"loss_or_grads must be a scalar loss node or a list"):
        Adam(1.0)


@pytest.mark.parametrize("lr, error, message", [
    (-0.1, ValueError, r"Adam: lr must lie in \[0.0, inf\), got -0.1; pass a number >= 0"),
    (float("nan"), ValueError, r"Adam: lr must lie in \[0.0, inf\), got nan"),
    ("fast", TypeError, r"Adam: unknown lr 'fast' \(str\): expected a number or a schedule"),
    (None, TypeError, r"Adam: unknown lr None"),
    (schedules.linear(1e-3, -1e-3, steps=10), ValueError, r"takes the value -0.001; a learning rate must"),
    (lambda step: -1.0, ValueError, r"takes the value -1.0"),
])
def test_invalid_learning_rates_are_rejected(lr, error, message):
    with sg.Graph():
        w = sg.Variable(np.ones(3, np.float32), name="w")
        with pytest.raises(error, match=message):
            Adam(T.sum(w ** 2), lr=lr)


def test_symbolic_learning_rate_is_rejected():
    with sg.Graph():
        w = sg.Variable(np.ones(3, np.float32), name="w")
        with pytest.raises(TypeError, match=r"SGD: lr must be a number or a schedule, got the graph node"):
            SGD(T.sum(w ** 2), lr=sg.Placeholder((), name="lr"))


def test_gradient_lists_must_match_params():
    with sg.Graph():
        w = sg.Variable(np.ones(3, np.float32), name="w")
        b = sg.Variable(np.ones(2, np.float32), name="b")
        loss = T.sum(w ** 2) + T.sum(b ** 2)
        gw, gb = sg.gradients(loss, [w, b])
        with pytest.raises(ValueError, match=r"params is required when loss_or_grads is a list of gradients"):
            Adam([gw, gb])
        with pytest.raises(ValueError, match=r"holds 1 gradients but params holds 2 Variables \['w', 'b'\]"):
            Adam([gw], params=[w, b])
        message = (r"loss_or_grads\[0\] .* has shape \(2,\) but params\[0\] \('w'\) has shape \(3,\); "
                   r"the gradients must be listed in the order")
        with pytest.raises(sg.ShapeError, match=message):
            Adam([gb, gw], params=[w, b])
        with pytest.raises(TypeError, match=r"loss_or_grads\[1\] must be a gradient node"):
            Adam([gw, np.ones(2)], params=[w, b])
        with pytest.raises(TypeError, match=r"params\[1\] must be a Variable, got .*'add"):
            Adam(loss, params=[w, w + 1])
        with pytest.raises(ValueError, match=r"params lists a Variable twice"):
            Adam(loss, params=[w, w])


@pytest.mark.parametrize("make, error, message", [
    (lambda loss: Adam(loss, b1=1.0), ValueError, r"Adam: b1 must lie in \[0.0, 1.0\), got 1.0"),
    (lambda loss: Adam(loss, eps=-1e-8), ValueError, r"Adam: eps must lie in \[0.0, inf\)"),
    (lambda loss: AdamW(loss, weight_decay=-1), ValueError, r"AdamW: weight_decay must lie in \[0.0, inf\)"),
    (lambda loss: SGD(loss, lr=0.1, nesterov=True), ValueError, r"SGD: nesterov=True needs momentum > 0"),
    (lambda loss: SGD(loss, lr=0.1, momentum="high"), TypeError, r"SGD: momentum must be a real number"),
    (lambda loss: RMSProp(loss, lr=0.1, decay=1.5), ValueError, r"RMSProp: decay must lie in \[0.0, 1.0\)"),
    (lambda loss: Adam(loss, max_grad_norm=0), ValueError, r"max_grad_norm must lie in \(0.0, inf\), got 0"),
    (lambda loss: Optimizer("adam", loss), TypeError, r"transform must be an optax.GradientTransformation"),
])
def test_invalid_hyperparameters_are_rejected(make, error, message):
    with sg.Graph():
        w = sg.Variable(np.ones(3, np.float32), name="w")
        with pytest.raises(error, match=message):
            make(T.sum(w ** 2))


# ---- exponential moving average --------------------------------------------------------------------------

@pytest.mark.parametrize("debias", [True, False])
def test_moving_average_of_an_input_matches_a_hand_loop(debias):
    decay = 0.8
    values = np.random.default_rng(1).normal(size=(12, 3)).astype(np.float32)
    with sg.Graph():
        x = sg.Placeholder((3,), name="x")
        ema = ExponentialMovingAverage(decay, debias=debias)
        average = ema(x)
        step = sg.function(x, updates=ema.updates)
        read = sg.function(outputs=average)
        np.testing.assert_array_equal(read(), np.zeros(3))
        shadow = np.zeros(3)
        for t, value in enumerate(values, start=1):
            step(value)
            shadow = decay * shadow + (1 - decay) * value
            expected = shadow / (1 - decay ** t) if debias else shadow
            np.testing.assert_allclose(read(), expected, rtol=1e-5, atol=1e-6)
        assert ema.step.value == len(values)


def test_debiasing_removes_the_zero_start_bias():
    with sg.Graph():
        x = sg.Placeholder((), name="x")
        debiased, biased = ExponentialMovingAverage(0.9), ExponentialMovingAverage(0.9, debias=False)
        outputs = [debiased(x), biased(x)]
        step = sg.function(x, updates={**debiased.updates, **biased.updates})
        read = sg.function(outputs=outputs)
        for _ in range(3):
            step(5.0)
        unbiased_value, biased_value = read()
        np.testing.assert_allclose(unbiased_value, 5.0, rtol=1e-6)
        np.testing.assert_allclose(biased_value, 5.0 * (1 - 0.9 ** 3), rtol=1e-6)


def test_target_network_updates_match_polyak_averaging_by_hand():
    tau = 0.1
    with sg.Graph():
        online = sg.Variable(np.zeros(2, np.float32), name="online")
        target = sg.Variable(np.ones(2, np.float32), name="target")
        target_2 = sg.Variable(np.ones(2, np.float32), name="target_2")
        ema = ExponentialMovingAverage(1 - tau, debias=False)
        assert ema.track([online], targets=[target]) == [target]
        delta = sg.Placeholder((2,), name="delta")
        step = sg.function(delta, updates={online: online + delta, **ema.updates,
                                           **polyak_update(target_2, online, tau)})
        hand_online, hand_target = np.zeros(2), np.ones(2)
        for d in np.random.default_rng(2).normal(size=(8, 2)).astype(np.float32):
            step(d)
            hand_target = tau * hand_online + (1 - tau) * hand_target  # pre-call online value
            hand_online = hand_online + d
            np.testing.assert_allclose(target.value, hand_target, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(target_2.value, hand_target, rtol=1e-5, atol=1e-6)
        ema.reset()
        assert ema.step.value == 0 and target.value.any()  # a given target is not the average's to reset


def test_moving_average_of_a_variable_and_reset():
    with sg.Graph():
        w = sg.Variable(np.full(2, 3.0, np.float32), name="w")
        ema = ExponentialMovingAverage(0.5, debias=False)
        shadow = ema.track(w)
        assert shadow.name == "ema/shadow/w" and not shadow.trainable
        np.testing.assert_array_equal(shadow.value, [3.0, 3.0])  # without debiasing: starts at w's value
        step = sg.function(updates={w: w + 1.0, **ema.updates})
        step()
        step()
        np.testing.assert_allclose(shadow.value, [3.5, 3.5])  # 0.5 * 3 + 0.5 * 3, then 0.5 * 3 + 0.5 * 4
        ema.reset()
        np.testing.assert_array_equal(shadow.value, [3.0, 3.0])
        assert ema.step.value == 0


@pytest.mark.parametrize("make, error, message", [
    (lambda: ExponentialMovingAverage(1.0), ValueError, r"decay must lie in \[0, 1\), got 1.0"),
    (lambda: ExponentialMovingAverage(-1, debias=False), ValueError, r"decay must lie in \[0, 1\], got -1.0"),
    (lambda: ExponentialMovingAverage("slow"), TypeError, r"decay must be a number in \[0, 1\]"),
    (lambda: polyak_update([], [], tau=2.0), ValueError, r"tau must be a number in \[0, 1\], got 2.0"),
])
def test_invalid_moving_average_settings_are_rejected(make, error, message):
    with sg.Graph(), pytest.raises(error, match=message):
        make()


def test_invalid_moving_average_sources_are_rejected():
    with sg.Graph():
        w = sg.Variable(np.ones(2, np.float32), name="w")
        target = sg.Variable(np.ones(3, np.float32), name="target")
        with pytest.raises(ValueError, match=r"targets= needs debias=False"):
            ExponentialMovingAverage(0.9).track(w, targets=target)
        message = r"targets\[0\] 'target' \(shape \(3,\).*does not match sources\[0\]"
        with pytest.raises(sg.ShapeError, match=message):
            ExponentialMovingAverage(0.9, debias=False).track(w, targets=target)
        with pytest.raises(sg.ShapeError, match=r"dimension unknown at build time.*mean over the batch"):
            ExponentialMovingAverage(0.9)(sg.Placeholder((None, 2), name="batch"))
        with pytest.raises(sg.DTypeError, match=r"sources\[0\] must be a float tensor"):
            ExponentialMovingAverage(0.9)(sg.Variable(np.ones(2, np.int32), name="counts"))
        ema = ExponentialMovingAverage(0.9)
        ema.track(w)
        with pytest.raises(ValueError, match=r"'w' is already tracked"):
            ema.track(w)
        with pytest.raises(KeyError, match=r"is not tracked; call track\(\) first"):
            ema.average(target)
