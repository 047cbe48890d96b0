"""function(): the public contract, updates, compilation caching, state and the pure view, inputs checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T


def linear_model():
    x = sg.Placeholder((None, 3), "float32", name="x")
    w = sg.Variable(np.ones((3, 2), "float32"), name="w")
    b = sg.Variable(np.zeros(2, "float32"), name="b")
    y = T.tanh(x @ w + b)
    loss = T.mean(y ** 2)
    return x, w, b, y, loss


def test_contract_example_trains_like_hand_written_jax():
    x, w, b, y, loss = linear_model()
    gw, gb = sg.gradients(loss, [w, b])
    train = sg.function(x, outputs=loss, updates={w: w - 0.1 * gw, b: b - 0.1 * gb})
    data = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")

    def reference(params):
        return jnp.mean(jnp.tanh(data @ params[0] + params[1]) ** 2)

    params = (jnp.ones((3, 2)), jnp.zeros(2))
    for _ in range(3):
        expected_loss = reference(params)
        grads = jax.grad(reference)(params)
        params = tuple(p - 0.1 * g for p, g in zip(params, grads))
        got = train(data)
        assert isinstance(got, np.ndarray) and got.shape == ()
        np.testing.assert_allclose(got, expected_loss, rtol=1e-6)
    np.testing.assert_allclose(w.value, params[0], rtol=1e-6)
    np.testing.assert_allclose(b.value, params[1], atol=1e-7)


def test_output_forms():
    x, w, b, y, loss = linear_model()
    data = np.ones((2, 3), "float32")
    assert isinstance(sg.function(x, outputs=loss)(data), np.ndarray)
    both = sg.function(x, outputs=(y, loss))(data)
    assert isinstance(both, list) and len(both) == 2 and both[0].shape == (2, 2)
    named = sg.function(x, outputs={"y": y, "loss": loss})(data)
    assert set(named) == {"y", "loss"}
    np.testing.assert_allclose(named["loss"], both[1])
    assert sg.function(x, updates={w: w + T.sum(x)})(data) is None
    np.testing.assert_allclose(w.value, 7.0)


def test_updates_are_computed_from_pre_call_values():
    a = sg.Variable(np.float32(1.0), name="a")
    b = sg.Variable(np.float32(10.0), name="b")
    swap = sg.function(outputs=[a, b], updates={a: b, b: a + b})
    before = swap()
    assert before == [1.0, 10.0]
    assert (a.value, b.value) == (10.0, 11.0)


def test_updates_as_list_of_pairs():
    counter = sg.Variable(np.int32(0), name="counter")
    step = sg.function(updates=[(counter, counter + 1)])
    for _ in range(3):
        step()
    assert counter.value == 3


def test_compiled_once_per_shape_signature_and_updates_never_recompile():
    x, w, b, y, loss = linear_model()
    gw = sg.gradients(loss, w)
    train = sg.function(x, outputs=loss, updates={w: w - 0.1 * gw})
    for _ in range(4):
        train(np.ones((5, 3), "float32"))
    assert train.compile_count == 1
    train(np.ones((7, 3), "float32"))
    assert train.compile_count == 2
    train(np.ones((5, 3), "float32"))
    w.update(np.zeros((3, 2)))
    train(np.ones((5, 3), "float32"))
    assert train.compile_count == 2


def test_identical_functions_share_one_executable_and_keep_their_own_state(monkeypatch):
    from symgraph import shared_jit
    monkeypatch.setattr(shared_jit, "_EXECUTABLES", {})
    models = [linear_model(), linear_model()]
    trains = []
    for x, w, _, _, loss in models:
        trains.append(sg.function(x, outputs=loss, updates={w: w - 0.1 * sg.gradients(loss, w)}))
    models[1][1].update(np.full((3, 2), 0.5, "float32"))  # the second model starts elsewhere
    data = np.ones((5, 3), "float32")
    losses = [float(train(data)) for train in trains]
    assert len(shared_jit._EXECUTABLES) == 1                         # the second function compiled nothing
    np.testing.assert_allclose(losses, [np.tanh(3.0) ** 2, np.tanh(1.5) ** 2], rtol=1e-6)
    assert not np.allclose(models[0][1].value, models[1][1].value)  # each wrote its own variables back



def test_functions_keep_working_after_clear_caches():
    from symgraph import shared_jit

    x, w, _, y, loss = linear_model()
    train = sg.function(x, outputs=loss, updates={w: w - 0.1 * sg.gradients(loss, w)}, seed=0)
    data = np.ones((5, 3), "float32")
    losses = [float(train(data))]
    total = T.sum(y)
    assert float(total.get({x: data})) == pytest.approx(float(np.tanh(data @ w.value).sum()), rel=1e-6)
    sg.clear_caches()
    assert not shared_jit._EXECUTABLES and train.compile_count == 0
    assert not sg.get_graph()._eager_functions
    losses.append(float(train(data)))                                # compiled again, same state
    assert train.compile_count == 1
    assert float(train.pure(train.state, data)[0]) < losses[1]      # the pure view too
    assert float(total.get({x: data})) == pytest.approx(float(np.tanh(data @ w.value).sum()), rel=1e-6)
    w.update(np.ones((3, 2), "float32"))
    assert float(train(data)) == pytest.approx(losses[0], rel=1e-6)  # the same program's results
    assert losses[1] < losses[0]

def test_a_direct_call_inside_a_jax_transformation_points_to_pure():
    x, w, b, y, loss = linear_model()
    f = sg.function(x, outputs=loss, name="loss_fn")
    data = np.ones((5, 3), "float32")
    with pytest.raises(sg.InputError, match=r"'loss_fn' was called on traced values.*loss_fn.pure\(state"):
        jax.jit(lambda a: f(a))(data)
    pure = jax.jit(lambda a: f.pure(f.state, a)[0])  # the way that works
    np.testing.assert_allclose(pure(data), f(data), rtol=1e-6)


def test_a_function_runs_op_by_op_under_disable_jit():
    x, w, b, y, loss = linear_model()
    train = sg.function(x, outputs=loss, updates={w: w - 0.1 * sg.gradients(loss, w)})
    data = np.ones((5, 3), "float32")
    with jax.disable_jit():  # JAX's debugging mode: Python values inside, still the same results
        first = train(data)
    np.testing.assert_allclose(first, np.tanh(3.0) ** 2, rtol=1e-6)
    assert train.compile_count == 0 and not np.allclose(w.value, 1.0)


def test_inputs_are_converted_within_their_dtype_kind():
    x = sg.Placeholder((None,), "float32")
    f = sg.function(x, outputs=x * 2)
    assert f(np.arange(3.0)).dtype == np.float32  # float64 array
    np.testing.assert_allclose(f([1, 2]), [2.0, 4.0])  # a list of ints
    np.testing.assert_allclose(f(jnp.ones(2)), [2.0, 2.0])
    k = sg.Placeholder((), "int32")
    assert sg.function(k, outputs=k + 1)(4) == 5


def test_state_and_pure_do_not_write_back():
    x, w, b, y, loss = linear_model()
    gw, gb = sg.gradients(loss, [w, b])
    train = sg.function(x, outputs=loss, updates={w: w - 0.1 * gw, b: b - 0.1 * gb})
    state = train.state
    assert set(state) == {"w", "b"}
    data = np.ones((4, 3), "float32")
    out, new_state = train.pure(state, data)
    np.testing.assert_allclose(w.value, 1.0)  # untouched
    assert set(new_state) == set(state)
    np.testing.assert_allclose(train(data), out)
    np.testing.assert_allclose(w.value, new_state["w"])


def test_pure_under_jit_scan_and_vmap():
    x, w, b, y, loss = linear_model()
    gw, gb = sg.gradients(loss, [w, b])
    train = sg.function(x, outputs=loss, updates={w: w - 0.1 * gw, b: b - 0.1 * gb})
    data = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    start = train.state

    def step(state, _):
        out, state = train.pure(state, data)
        return state, out

    final, losses = jax.jit(lambda s: jax.lax.scan(step, s, None, length=5))(start)
    expected = [train(data) for _ in range(5)]
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    np.testing.assert_allclose(final["w"], w.value, rtol=1e-5)

    # vmap over 3 parameter sets (one per seed) and 3 data batches
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    stacked = {"w": jax.vmap(lambda k: jax.random.normal(k, (3, 2)))(keys), "b": jnp.zeros((3, 2))}
    batches = jnp.stack([data, data * 2, data * 3])
    outs, states = jax.vmap(train.pure)(stacked, batches)
    for i in range(3):
        w.update(stacked["w"][i])
        b.update(np.zeros(2))
        np.testing.assert_allclose(outs[i], train(np.asarray(batches[i])), rtol=1e-5)
        np.testing.assert_allclose(states["w"][i], w.value, rtol=1e-5)


def test_states_of_functions_sharing_variables_merge():
    x, w, b, y, loss = linear_model()
    act = sg.function(x, outputs=y + T.random.normal((2,)) * 0.0, seed=0, name="act")
    train = sg.function(x, outputs=loss, updates={w: w - 0.1 * sg.gradients(loss, w)}, name="train")
    state = dict(act.state)
    state.update(train.state)
    assert set(state) == {"w", "b", "act/rng"}
    data = np.ones((2, 3), "float32")
    _, state = train.pure(state, data)
    acted, state2 = act.pure(state, data)
    assert set(state2) == set(state)
    np.testing.assert_allclose(acted, np.tanh(data @ np.asarray(state["w"]) + np.asarray(state["b"])), rtol=1e-6)


def test_pure_names_missing_state():
    x, w, b, y, loss = linear_model()
    f = sg.function(x, outputs=loss)
    with pytest.raises(sg.InputError, match=r"state lacks \['b'\]"):
        f.pure({"w": w.value}, np.ones((1, 3)))


def test_variable_update_and_reset():
    v = sg.Variable(np.arange(3.0), name="v")
    assert v.dtype == np.float32 and v.value.dtype == np.float32
    v.update([5, 6, 7])
    np.testing.assert_allclose(v.value, [5, 6, 7])
    v.reset()
    np.testing.assert_allclose(v.value, [0, 1, 2])
    with pytest.raises(sg.UpdateError, match=r"shape \(2,\), expected \(3,\)"):
        v.update([1.0, 2.0])
    i = sg.Variable(np.int32(0))
    with pytest.raises(sg.UpdateError, match="dtype float64, expected int32.*cast it explicitly"):
        i.update(0.5)


def test_variable_from_initializer_and_initial_state():
    graph = sg.get_graph()
    w = sg.Variable(jax.nn.initializers.glorot_uniform(), name="w", shape=(4, 3))
    z = sg.Variable(np.zeros(2, "float32"), name="z")
    assert w.shape == (4, 3) and w.dtype == np.float32
    fresh = sg.initial_state([w, z], sg.key_from_seed(graph.seed))
    np.testing.assert_array_equal(fresh["w"], w.value)  # creation used the graph seed's key
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    many = jax.jit(jax.vmap(lambda k: sg.initial_state([w, z], k)))(keys)
    assert many["w"].shape == (4, 4, 3) and many["z"].shape == (4, 2)
    assert not np.allclose(many["w"][0], many["w"][1])
    np.testing.assert_array_equal(many["z"], 0.0)
    with pytest.raises(sg.ShapeError, match="needs shape="):
        sg.Variable(jax.nn.initializers.zeros)


def test_tensor_get_evaluates_eagerly():
    x, w, b, y, loss = linear_model()
    np.testing.assert_allclose(y.get({x: np.ones((1, 3))}), np.tanh([[3.0, 3.0]]), rtol=1e-6)
    np.testing.assert_allclose((w * 2).get(), 2.0)
