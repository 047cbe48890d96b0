"""Actor / Critic templates and the ready-made MLP / CNN networks.

Oracles: numpy forward passes from the variables' values, scipy.stats log-densities and entropies,
``scipy.integrate.quad`` for the TanhNormal entropy, ``jax.lax.conv_general_dilated`` for the CNN, and the
closed forms of Polyak averaging and dueling aggregation. Every error path has a ``pytest.raises(match=)``.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

import symgraph as sg
import symgraph.nn as nn
import symgraph.tensor as T
from symgraph import probabilities as P
from symgraph.errors import DTypeError, ShapeError
from symgraph.rl.agents import (
    Actor,
    Critic,
    copy_state,
    hard_updates,
    polyak_updates,
    resolve_distribution,
    variable_pairs,
)
from symgraph.rl.networks import CNNActor, CNNCritic, MLPActor, MLPCritic


def _states(dim=4, name="states"):
    return sg.Placeholder((None, dim), "float32", name=name)


def _data(rng, n=6, dim=4):
    return rng.normal(size=(n, dim)).astype("float32")


def _values(network):
    """``{name relative to the scope: numpy value}`` of a network's variables."""
    return {v.name[len(network.scope) + 1:]: v.value.astype(np.float64) for v in network.variables}


def _mlp_numpy(x, w, prefix, n_hidden, activation=np.tanh):
    h = x.astype(np.float64)
    for i in range(n_hidden):
        h = activation(h @ w[f"{prefix}hidden_{i}/W"] + w[f"{prefix}hidden_{i}/b"])
    return h


def _dense_numpy(h, w, name):
    return h @ w[f"{name}/W"] + w[f"{name}/b"]


def close(actual, expected, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol,
                               atol=atol)


# -- distributions -------------------------------------------------------------------------------------
def test_categorical_actor_matches_numpy(rng):
    states = _states()
    actor = MLPActor(states, 3, "categorical", hidden=(8, 8), head_init="glorot_uniform")
    assert actor.kind == "categorical" and actor.stochastic
    assert actor.actions is actor.actions                                 # one node for acting
    given = sg.Placeholder((None,), "int32", name="given")
    f = sg.function(states, given, outputs=[actor.actions, actor.mode, actor.log_prob(given), actor.entropy])
    x = _data(rng)
    a = rng.integers(0, 3, size=6).astype("int32")
    actions, mode, log_prob, entropy = f(x, a)
    w = _values(actor)
    logits = _dense_numpy(_mlp_numpy(x, w, "", 2), w, "logits")
    logp = special.log_softmax(logits, axis=-1)
    assert actions.shape == (6,) and actions.dtype == np.int32 and np.all((actions >= 0) & (actions < 3))
    assert mode.dtype == np.int32 and np.array_equal(mode, logits.argmax(-1))
    close(log_prob, logp[np.arange(6), a])
    close(entropy, stats.entropy(np.exp(logp), axis=-1))


def test_categorical_actor_samples_follow_the_policy():
    states = _states(2)
    actor = MLPActor(states, 3, "categorical", hidden=(), head_init="glorot_uniform")
    x = np.tile(np.array([[0.5, -1.0]], "float32"), (20000, 1))
    w = _values(actor)
    p = special.softmax(_dense_numpy(x[:1].astype(np.float64), w, "logits"), axis=-1)[0]
    counts = np.bincount(sg.function(states, outputs=actor.actions, seed=3)(x), minlength=3)
    assert stats.chisquare(counts, p * counts.sum()).pvalue > 1e-3


def test_normal_actor_with_learned_state_independent_log_std(rng):
    states = _states()
    actor = MLPActor(states, 2, "normal", hidden=(8,), log_std_init=-0.5, head_init="glorot_uniform")
    assert actor.log_std is not None and actor.log_std.shape == (2,) and actor.log_std in actor.params
    close(actor.log_std.value, [-0.5, -0.5])
    actor.log_std.update(np.array([-0.3, 0.2], "float32"))
    given = sg.Placeholder((None, 2), name="given")
    f = sg.function(states, given, outputs=[actor.actions, actor.mode, actor.log_prob(given), actor.entropy])
    x, a = _data(rng), rng.normal(size=(6, 2)).astype("float32")
    actions, mode, log_prob, entropy = f(x, a)
    w = _values(actor)
    mean = _dense_numpy(_mlp_numpy(x, w, "", 1), w, "mean")
    std = np.exp([-0.3, 0.2])
    assert actions.shape == (6, 2) and actions.dtype == np.float32
    close(mode, mean)
    close(log_prob, stats.norm.logpdf(a, mean, std).sum(-1))
    close(entropy, np.full(6, stats.norm.entropy(scale=std).sum()))
    # samples: standardised draws are N(0, 1)
    big = np.tile(x[:1], (20000, 1))
    z = (sg.function(states, outputs=actor.actions, seed=1)(big) - mean[:1]) / std
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    # gradients reach the log-std Variable
    (g,) = sg.gradients(T.mean(actor.log_prob(given)), [actor.log_std])
    assert np.all(np.abs(g.get({states: x, given: a})) > 0)


def test_normal_actor_with_state_dependent_log_std_and_bounds(rng):
    class Net(Actor):
        def create_network(self, states):
            h = nn.dense(states, 8, "tanh")
            return nn.dense(h, 3, name="mean"), 3.0 * nn.dense(h, 3, name="log_std")

    states = _states()
    actor = Net(states, "normal_log_std", log_std_bounds=(-1.0, 0.5))
    assert actor.log_std is None
    given = sg.Placeholder((None, 3), name="given")
    x, a = 3 * _data(rng), rng.normal(size=(6, 3)).astype("float32")
    log_prob, entropy = sg.function(states, given, outputs=[actor.log_prob(given), actor.entropy])(x, a)
    w = _values(actor)
    h = np.tanh(_dense_numpy(x.astype(np.float64), w, "dense"))
    mean, raw = _dense_numpy(h, w, "mean"), 3 * _dense_numpy(h, w, "log_std")
    assert raw.min() < -1 and raw.max() > 0.5                                   # the bounds are active
    std = np.exp(np.clip(raw, -1.0, 0.5))
    close(log_prob, stats.norm.logpdf(a, mean, std).sum(-1), rtol=1e-4)
    close(entropy, stats.norm.entropy(scale=std).sum(-1), rtol=1e-4)


class _TanhNet(Actor):
    def create_network(self, states):
        h = nn.dense(states, 16, "tanh")
        return nn.dense(h, 2, name="mean"), 40.0 * nn.dense(h, 2, name="log_std")


def _tanh_log_prob(y, mean, std):
    u = np.arctanh(y)
    return (stats.norm.logpdf(u, mean, std) - np.log1p(-y * y)).sum(-1)


def test_tanh_normal_actor(rng):
    states = _states()
    actor = _TanhNet(states, "TanhNormal")
    assert actor.log_std_bounds == (-20.0, 2.0)
    given = sg.Placeholder((None, 2), name="given")
    y, y_log_prob = actor.sample_and_log_prob()
    f = sg.function(states, given, outputs=[actor.actions, actor.mode, actor.log_prob(given), y, y_log_prob],
                    seed=0)
    x = _data(rng)
    a = np.tanh(rng.normal(size=(6, 2))).astype("float32")
    actions, mode, log_prob, sample, sample_log_prob = f(x, a)
    w = _values(actor)
    h = np.tanh(_dense_numpy(x.astype(np.float64), w, "dense"))
    mean, raw = _dense_numpy(h, w, "mean"), 40 * _dense_numpy(h, w, "log_std")
    assert raw.min() < -20 or raw.max() > 2                                     # clipping matters here
    std = np.exp(np.clip(raw, -20, 2))
    assert actions.shape == (6, 2) and np.all(np.abs(actions) < 1) and np.all(np.abs(sample) <= 1)
    close(mode, np.tanh(mean))
    close(log_prob, _tanh_log_prob(a.astype(np.float64), mean, std), rtol=1e-4, atol=1e-4)
    # recomputing from y = tanh(u) is well conditioned only away from +-1 and for non-tiny std
    inside = np.all((np.abs(sample) < 0.99) & (std > 0.05), axis=-1)
    assert inside.any()
    close(sample_log_prob[inside], _tanh_log_prob(sample[inside].astype(np.float64), mean[inside],
                                                  std[inside]), rtol=1e-3, atol=1e-3)
    assert np.all(np.isfinite(sample_log_prob))


def test_tanh_normal_entropy_matches_quadrature(rng):
    class Net(Actor):
        def create_network(self, states):
            return nn.dense(states, 2, name="mean"), nn.dense(states, 2, name="log_std")

    states = _states(3)
    actor = Net(states, P.TanhNormal)
    x = _data(rng, 3, 3)
    entropy = sg.function(states, outputs=actor.entropy)(x)
    w = _values(actor)
    mean = _dense_numpy(x.astype(np.float64), w, "mean")
    std = np.exp(np.clip(_dense_numpy(x.astype(np.float64), w, "log_std"), -20, 2))

    def h(m, s):  # -E[log p(tanh u)] with u ~ N(m, s)
        def integrand(u):
            return -stats.norm.pdf(u, m, s) * (stats.norm.logpdf(u, m, s) - np.log(np.cosh(u) ** -2))
        return integrate.quad(integrand, m - 12 * s, m + 12 * s, limit=200)[0]

    expected = [sum(h(mean[i, j], std[i, j]) for j in range(2)) for i in range(3)]
    close(entropy, expected, rtol=1e-4, atol=1e-4)


def test_deterministic_actor(rng):
    states = _states()
    actor = MLPActor(states, 2, hidden=(8,), head_init="glorot_uniform")
    assert actor.kind == "deterministic" and not actor.stochastic
    assert actor.actions is actor.mode
    assert isinstance(actor.distribution, P.Deterministic)
    x = _data(rng)
    actions, entropy = sg.function(states, outputs=[actor.actions, actor.entropy])(x)
    w = _values(actor)
    close(actions, np.tanh(_dense_numpy(_mlp_numpy(x, w, "", 1), w, "action")))
    assert entropy.shape == (6,) and np.all(entropy == 0)
    with pytest.raises(TypeError, match="deterministic actor has no action density"):
        actor.log_prob(actor.actions)
    with pytest.raises(TypeError, match="deterministic actor has no action density"):
        actor.sample_and_log_prob()
    linear = MLPActor(states, 2, None, hidden=(8,), out_activation=None, head_init="glorot_uniform")
    assert np.abs(sg.function(states, outputs=linear.actions)(100 * x)).max() > 1


@pytest.mark.parametrize("given, kind", [
    (None, "deterministic"), (P.Deterministic, "deterministic"), ("deterministic", "deterministic"),
    (P.Categorical, "categorical"), ("Categorical", "categorical"), (P.Normal, "normal"),
    (P.DiagNormal, "normal"), ("gaussian", "normal"), (P.TanhNormal, "tanh_normal"),
    ("tanh_normal", "tanh_normal"), ("Tanh-Normal", "tanh_normal")])
def test_distributions_by_class_or_name(given, kind):
    assert resolve_distribution(given) == kind


def test_multi_discrete_and_matrix_actions(rng):
    class MultiDiscrete(Actor):
        def create_network(self, states):
            return T.reshape(nn.dense(states, 6), (-1, 2, 3))          # two choices of three actions

    states = _states()
    actor = MultiDiscrete(states, "categorical")
    given = sg.Placeholder((None, 2), "int32", name="given")
    x, a = _data(rng), rng.integers(0, 3, size=(6, 2)).astype("int32")
    actions, log_prob = sg.function(states, given, outputs=[actor.actions, actor.log_prob(given)])(x, a)
    w = _values(actor)
    logp = special.log_softmax(_dense_numpy(x.astype(np.float64), w, "dense").reshape(6, 2, 3), axis=-1)
    assert actions.shape == (6, 2)
    close(log_prob, np.take_along_axis(logp, a[..., None], -1)[..., 0].sum(-1))


# -- params, apply, copy --------------------------------------------------------------------------------
def test_params_are_exactly_the_scope_trainable_variables():
    states = _states()
    actor = MLPActor(states, 2, "normal")
    other = MLPActor(states, 2, "categorical")                          # same default name: "actor_1"
    critic = MLPCritic(states)

    class WithStats(Actor):
        def create_network(self, states):
            sg.Variable(np.zeros(3, "float32"), name="count", trainable=False)
            return nn.dense(states, 2)

    stats_actor = WithStats(states, "categorical", name="pi")
    assert (actor.scope, other.scope, critic.scope, stats_actor.scope) == ("actor", "actor_1", "critic", "pi")
    for net in (actor, other, critic, stats_actor):
        assert net.params == sg.get_variables(scope=net.scope, trainable=True)
    assert [v.name for v in actor.params] == [
        "actor/hidden_0/W", "actor/hidden_0/b", "actor/hidden_1/W", "actor/hidden_1/b", "actor/mean/W",
        "actor/mean/b", "actor/log_std"]
    assert not {*actor.params} & {*other.params} and not {*actor.params} & {*critic.params}
    assert [v.name for v in stats_actor.params] == ["pi/dense/W", "pi/dense/b"]
    assert [v.name for v in stats_actor.variables] == ["pi/count", "pi/dense/W", "pi/dense/b"]


def test_default_initialisation_is_orthogonal_with_small_heads():
    states = _states(64)
    actor = MLPActor(states, 2, "categorical")
    critic = MLPCritic(states)
    w = _values(actor)
    close(w["hidden_1/W"].T @ w["hidden_1/W"], 2 * np.eye(64), atol=1e-4)       # orthogonal, gain sqrt 2
    close(np.linalg.norm(w["logits/W"], axis=0), [0.01, 0.01], atol=1e-6)      # head gain 0.01
    close(np.linalg.norm(_values(critic)["value/W"]), 1.0, atol=1e-5)          # critic head gain 1
    assert not np.any(w["hidden_0/b"])


def test_apply_shares_variables_and_gradients(rng):
    class Inline(Actor):                                                # no layer kept: apply must clone
        def create_network(self, states):
            return nn.dense(nn.dense(states, 8, "relu"), 2, name="mean")

    states, next_states = _states(), _states(name="next_states")
    actor = Inline(states, "normal")
    count = len(sg.get_variables())
    applied = actor.apply(next_states)
    assert len(sg.get_variables()) == count                             # no new variables
    assert applied.params == actor.params and applied.states is next_states and applied.scope == actor.scope
    assert isinstance(applied, Inline) and applied.log_std is actor.log_std
    a = sg.Placeholder((None, 2), name="a")
    x, acts = _data(rng), rng.normal(size=(6, 2)).astype("float32")
    loss, loss_next = T.mean(actor.log_prob(a)), T.mean(applied.log_prob(a))
    grads = sg.gradients(loss, actor.params)
    grads_next = sg.gradients(loss_next, actor.params)
    f = sg.function(states, next_states, a, outputs=[actor.mode, applied.mode, loss, loss_next, *grads,
                                                      *grads_next])
    out = f(x, x, acts)
    close(out[0], out[1])
    close(out[2], out[3])
    for g, g_next in zip(out[4:4 + len(grads)], out[4 + len(grads):], strict=True):
        close(g, g_next)
        assert np.any(g != 0)
    other = f(x, 2 * x, acts)
    assert not np.allclose(other[0], other[1])
    # a batch of another size, and numpy input
    close(sg.function(outputs=actor.apply(x[:2]).mode)(), out[0][:2])
    with pytest.raises(ShapeError, match="only the first .batch. dimension may differ"):
        actor.apply(_states(5, "wrong"))


def test_copy_has_its_own_variables_initialised_equal(rng):
    states, next_states = _states(), _states(name="next_states")
    actor = MLPActor(states, 2, "normal", hidden=(8,))
    actor.log_std.update(np.array([0.1, -0.2], "float32"))
    target = actor.copy()
    assert target.scope == "target_actor" and target.copied_from is actor
    assert [v.name for v in target.params] == [f"target_{v.name}" for v in actor.params]
    assert not {*target.params} & {*actor.params}
    assert target.log_std in target.params and target.log_std is not actor.log_std
    for source, copied in actor.pairs(target):
        assert source.name.split("/", 1)[1] == copied.name.split("/", 1)[1]
        assert np.array_equal(source.value, copied.value)
    x = _data(rng)
    on_next = target.apply(next_states)
    f = sg.function(states, next_states, outputs=[actor.mode, target.mode, on_next.mode])
    mode, target_mode, next_mode = f(x, x)
    close(mode, target_mode)
    close(mode, next_mode)
    # separate variables: changing the source leaves the copy alone, and the updates sync them
    pairs = actor.pairs(target)
    for v in actor.params:
        v.update(v.value + 1.0)
    mode, target_mode, _ = f(x, x)
    assert not np.allclose(mode, target_mode)
    old = {t.name: t.value for _, t in pairs}
    sg.function(updates=polyak_updates(pairs, 0.25))()
    for source, copied in pairs:
        close(copied.value, 0.75 * old[copied.name] + 0.25 * source.value)
    sg.function(updates=hard_updates(pairs))()
    mode, target_mode, _ = f(x, x)
    close(mode, target_mode)
    # a copy on other inputs, at once
    direct = actor.copy("direct", states=next_states)
    assert direct.states is next_states and direct.scope == "direct"


def test_copy_next_to_a_nested_scope_and_of_a_critic():
    states = _states()
    actions = sg.Placeholder((None, 2), name="actions")
    with sg.Scope("agent"):
        critic = MLPCritic(states, actions, (8,), name="q")
    target = critic.copy()
    assert critic.scope == "agent/q" and target.scope == "agent/target_q"
    assert target.actions is actions and [v.name for v in target.variables] == [
        "agent/target_q/hidden_0/W", "agent/target_q/hidden_0/b", "agent/target_q/value/W",
        "agent/target_q/value/b"]
    with pytest.raises(TypeError, match="unexpected argument 'action'"):
        critic.copy(action=actions)


def test_copy_state_is_pure_and_vmappable():
    states = _states()
    critic = MLPCritic(states, hidden=(8,))
    target = critic.copy()
    pairs = critic.pairs(target)
    variables = critic.variables + target.variables

    @jax.jit
    def init(key):
        return copy_state(sg.initial_state(variables, key), pairs)

    state = jax.vmap(init)(jax.random.split(jax.random.PRNGKey(0), 3))
    for source, copied in pairs:
        assert np.array_equal(state[source.name], state[copied.name])
    assert not np.array_equal(state["critic/hidden_0/W"][0], state["critic/hidden_0/W"][1])  # seeds differ


def test_variable_pairs_between_instances_and_mismatch():
    states = _states()
    first, second = MLPCritic(states, hidden=(8,), name="q1"), MLPCritic(states, hidden=(8,), name="q2")
    assert [(a.name, b.name) for a, b in variable_pairs(first, second, trainable=True)][0] == (
        "q1/hidden_0/W", "q2/hidden_0/W")
    wide = MLPCritic(states, hidden=(9,), name="wide")
    deep = MLPCritic(states, hidden=(8, 8), name="deep")
    with pytest.raises(ValueError, match="differ in shape or dtype"):
        variable_pairs(first, wide)
    with pytest.raises(ValueError, match=r"only in the target \['hidden_1/W', 'hidden_1/b'\]"):
        variable_pairs(first, deep)
    with pytest.raises(ValueError, match="tau must be a number in"):
        polyak_updates(first.pairs(second), 1.5)
    with pytest.raises(TypeError, match="pairs must be"):
        hard_updates([first.params[0]])


def test_lazy_nodes_build_into_the_network_graph():
    with sg.Graph("elsewhere") as g:
        states = _states()
        actor = MLPActor(states, 3, "categorical", hidden=(4,))
    actions, entropy = actor.actions, actor.entropy                     # built outside the with block
    assert actions.graph is g and entropy.graph is g and actions.name.startswith("actor/")
    assert sg.function(states, outputs=actions)(np.zeros((2, 4), "float32")).shape == (2,)


# -- critics ----------------------------------------------------------------------------------------------
def test_state_value_critic(rng):
    states = _states()
    critic = MLPCritic(states, hidden=(8, 8), activation="relu")
    assert not critic.discrete and critic.values.shape == (None,)
    x = _data(rng)
    w = _values(critic)
    h = _mlp_numpy(x, w, "", 2, activation=lambda v: np.maximum(v, 0))
    close(sg.function(states, outputs=critic.values)(x), _dense_numpy(h, w, "value")[:, 0])
    with pytest.raises(AttributeError, match="state-value critic V.s.: it has .values but no q_values"):
        _ = critic.q_values
    with pytest.raises(TypeError, match="needs a discrete Q head"):
        critic.q_value(np.zeros(6, "int32"))


def test_action_value_critic_concatenates(rng):
    states, actions = _states(), sg.Placeholder((None, 2), name="actions")
    critic = MLPCritic(states, actions, hidden=(8,))
    assert critic.q_values is critic.values and critic.values.shape == (None,)
    x, a = _data(rng), rng.normal(size=(6, 2)).astype("float32")
    w = _values(critic)
    expected = _dense_numpy(_mlp_numpy(np.concatenate([x, a], -1), w, "", 1), w, "value")[:, 0]
    close(sg.function(states, actions, outputs=critic.values)(x, a), expected)
    # DDPG's actor loss: the critic on the actor's actions
    actor = MLPActor(states, 2, hidden=(8,))
    on_policy = critic.apply(actions=actor.actions)
    assert on_policy.states is states
    got, pi = sg.function(states, outputs=[on_policy.values, actor.actions])(x)
    close(got, _dense_numpy(_mlp_numpy(np.concatenate([x, pi], -1), w, "", 1), w, "value")[:, 0])
    (g,) = sg.gradients(T.mean(on_policy.values), [actor.params[0]])
    assert np.any(g.get({states: x}) != 0)
    with pytest.raises(DTypeError, match="concatenates continuous actions"):
        MLPCritic(states, sg.Placeholder((None,), "int32", name="discrete"))


def test_discrete_q_critic_and_dueling(rng):
    states = _states()
    critic = MLPCritic(states, hidden=(8,), n_actions=3)
    given = sg.Placeholder((None,), "int32", name="given")
    assert critic.discrete and critic.q_values.shape == (None, 3)
    x, a = _data(rng), rng.integers(0, 3, size=6).astype("int32")
    q, values, greedy, chosen = sg.function(states, given, outputs=[
        critic.q_values, critic.values, critic.greedy_actions, critic.q_value(given)])(x, a)
    w = _values(critic)
    expected = _dense_numpy(_mlp_numpy(x, w, "", 1), w, "q")
    close(q, expected)
    close(values, expected.max(-1))
    assert greedy.dtype == np.int32 and np.array_equal(greedy, expected.argmax(-1))
    close(chosen, expected[np.arange(6), a])
    as_float = sg.Placeholder((None,), name="as_float")
    got = sg.function(states, as_float, outputs=critic.q_value(as_float))(x, a.astype("float32"))
    close(got, expected[np.arange(6), a])
    with pytest.raises(ShapeError, match="squeeze the trailing axis"):
        critic.q_value(sg.Placeholder((None, 1), "int32", name="column"))

    dueling = MLPCritic(states, hidden=(8,), n_actions=3, dueling=True, name="dueling")
    w = _values(dueling)
    h = _mlp_numpy(x, w, "", 1)
    value, advantage = _dense_numpy(h, w, "value"), _dense_numpy(h, w, "advantage")
    expected = value + advantage - advantage.mean(-1, keepdims=True)
    close(sg.function(states, outputs=dueling.q_values)(x), expected)


def test_subclassed_critics_outputs_are_squeezed_or_taken_as_q_values(rng):
    class Column(Critic):
        def create_network(self, states):
            return nn.dense(states, 1)

    class Flat(Critic):
        def create_network(self, states, actions):
            return T.sum(nn.dense(T.concatenate([states, actions], axis=-1), 3), axis=-1)

    class Auto(Critic):
        def create_network(self, states):
            return nn.dense(states, 4)

    states, actions = _states(), sg.Placeholder((None, 2), name="actions")
    column, flat, auto = Column(states), Flat(states, actions), Auto(states)
    assert column.values.shape == (None,) and not column.discrete
    assert flat.values.shape == (None,) and not flat.discrete
    assert auto.discrete and auto.n_actions == 4 and auto.values.shape == (None,)
    x = _data(rng)
    w = _values(column)
    close(sg.function(states, outputs=column.values)(x), _dense_numpy(x.astype(np.float64), w, "dense")[:, 0])
    with pytest.raises(ShapeError, match=r"a discrete Q head with n_actions=3 must return \(batch, 3\)"):
        Auto(states, n_actions=3)


def test_twin_critics_are_two_instances(rng):
    states, actions = _states(), sg.Placeholder((None, 2), name="actions")
    q1 = MLPCritic(states, actions, (8,), "relu", name="q1")
    q2 = MLPCritic(states, actions, (8,), "relu", name="q2")
    assert not {*q1.params} & {*q2.params}
    x, a = _data(rng), rng.normal(size=(6, 2)).astype("float32")
    v1, v2 = sg.function(states, actions, outputs=[q1.values, q2.values])(x, a)
    assert not np.allclose(v1, v2)


# -- CNN -------------------------------------------------------------------------------------------------
def _conv(x, w, b, stride):
    y = jax.lax.conv_general_dilated(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32),
                                     (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return np.maximum(np.asarray(y, np.float64) + b, 0)


@pytest.mark.slow
def test_cnn_critic_on_small_uint8_images(rng):
    frames = sg.Placeholder((None, 12, 12, 2), "uint8", name="frames")
    convs = ((4, 3, 2), (8, 3, 1))
    critic = CNNCritic(frames, n_actions=3, convs=convs, units=16)
    x = rng.integers(0, 256, size=(5, 12, 12, 2)).astype("uint8")
    q = sg.function(frames, outputs=critic.q_values)(x)
    w = _values(critic)
    h = _conv(x / 255.0, w["conv_0/W"], w["conv_0/b"], 2)
    h = _conv(h, w["conv_1/W"], w["conv_1/b"], 1).reshape(5, -1)
    h = np.maximum(_dense_numpy(h, w, "hidden"), 0)
    close(q, _dense_numpy(h, w, "q"), rtol=1e-4, atol=1e-4)
    # channels first: the same network with the same weights on transposed frames
    first = sg.Placeholder((None, 2, 12, 12), "uint8", name="first")
    chw = CNNCritic(first, n_actions=3, convs=convs, units=16, channels_first=True, name="chw")
    sg.function(updates=hard_updates(critic.pairs(chw)))()
    close(sg.function(first, outputs=chw.q_values)(x.transpose(0, 3, 1, 2)), q, rtol=1e-4, atol=1e-4)
    # an actor and a Q(s, a) critic on the same frames
    actor = CNNActor(frames, 3, "categorical", convs=convs, units=16)
    actions = sg.Placeholder((None, 2), name="actions")
    qsa = CNNCritic(frames, actions, convs=convs, units=16, name="qsa")
    probs, values = sg.function(frames, actions, outputs=[actor.distribution.probs, qsa.values])(
        x, np.zeros((5, 2), "float32"))
    assert probs.shape == (5, 3) and values.shape == (5,)
    close(probs.sum(-1), np.ones(5))


@pytest.mark.slow
def test_cnn_default_is_the_nature_stack():
    frames = sg.Placeholder((None, 84, 84, 4), "uint8", name="frames")
    critic = CNNCritic(frames, n_actions=6, init="glorot_uniform")        # (no 3136 x 512 QR: faster)
    shapes = {k: v.shape for k, v in _values(critic).items()}
    assert shapes == {"conv_0/W": (8, 8, 4, 32), "conv_0/b": (32,), "conv_1/W": (4, 4, 32, 64),
                      "conv_1/b": (64,), "conv_2/W": (3, 3, 64, 64), "conv_2/b": (64,),
                      "hidden/W": (7 * 7 * 64, 512), "hidden/b": (512,), "q/W": (512, 6), "q/b": (6,)}
    gray = sg.Placeholder((None, 9, 9), "float32", name="gray")                # one channel added
    small = CNNActor(gray, 4, "categorical", convs=((2, 3, 2),), units=8)
    assert small.distribution.logits.shape == (None, 4) and _values(small)["conv_0/W"].shape == (3, 3, 1, 2)


def test_custom_dense_layer_class_is_used():
    built = []

    class Recording(nn.Dense):
        def __init__(self, units, activation=None, init="glorot_uniform", name="dense"):
            built.append(name)
            super().__init__(units, activation, init=init, name=name)

    MLPCritic(_states(), hidden=(8,), n_actions=2, dueling=True, dense=Recording)
    assert built == ["hidden_0", "value", "advantage"]


# -- learning signal -------------------------------------------------------------------------------------
@pytest.mark.parametrize("distribution", ["categorical", "normal", "tanh_normal"])
def test_reinforce_gradients_are_finite_and_non_zero(rng, distribution):
    states = _states()
    actor = MLPActor(states, 2, distribution, hidden=(8,))
    discrete = distribution == "categorical"
    actions = sg.Placeholder((None,) if discrete else (None, 2), "int32" if discrete else "float32", name="a")
    advantages = sg.Placeholder((None,), name="advantages")
    loss = -T.mean(actor.log_prob(actions) * advantages)
    grads = sg.gradients(loss, actor.params)
    x = _data(rng, 16)
    a = (rng.integers(0, 2, 16).astype("int32") if discrete
         else np.clip(rng.normal(size=(16, 2)), -0.9, 0.9).astype("float32"))
    adv = rng.normal(size=16).astype("float32")
    values = sg.function(states, actions, advantages, outputs=grads)(x, a, adv)
    for variable, g in zip(actor.params, values, strict=True):
        assert np.all(np.isfinite(g)) and np.any(g != 0), variable.name


def test_sac_style_actor_loss_has_finite_gradients(rng):
    states = _states()
    actor = _TanhNet(states, "tanh_normal")
    critic = MLPCritic(states, actor.actions, (8,))                      # Q(s, a) with a the policy's sample
    a, log_prob = actor.sample_and_log_prob()
    q = critic.apply(actions=a).values
    grads = sg.gradients(T.mean(0.2 * log_prob - q), actor.params)
    for g in sg.function(states, outputs=grads)(50 * _data(rng, 16)):   # saturated tanh: still finite
        assert np.all(np.isfinite(g))


# -- errors --------------------------------------------------------------------------------------------------
def test_forgotten_create_network():
    class Lazy(Actor):
        pass

    class LazyCritic(Critic):
        pass

    with pytest.raises(NotImplementedError, match=r"Lazy must implement create_network\(self, states\)"):
        Lazy(_states(), "categorical")
    with pytest.raises(NotImplementedError, match=r"LazyCritic must implement create_network\(self, st"):
        LazyCritic(_states())


def _returning(value):
    class Net(Actor):
        def create_network(self, states):
            return value(states)
    return Net


class _ThreeValues(Critic):
    def create_network(self, states, actions):
        return nn.dense(T.concatenate([states, actions], axis=-1), 3)


def _critic_returning(value):
    class Net(Critic):
        def create_network(self, states):
            return value(states)
    return Net


def test_wrong_network_outputs():
    states = _states()
    pair = _returning(lambda s: (nn.dense(s, 2), nn.dense(s, 2)))
    with pytest.raises(TypeError, match="categorical actor's create_network must return one tensor of lo"):
        pair(states, "categorical")
    with pytest.raises(TypeError, match="deterministic actor's create_network must return one tensor"):
        pair(states)
    with pytest.raises(TypeError, match=r"did you forget `return`"):
        _returning(lambda s: None)(states, "normal")
    with pytest.raises(TypeError, match="must return symgraph tensors"):
        _returning(lambda s: np.zeros((3, 2)))(states, "normal")
    with pytest.raises(TypeError, match="mean, or a pair"):
        _returning(lambda s: (nn.dense(s, 2),) * 3)(states, "normal")
    with pytest.raises(ShapeError, match="n_actions=3: the last axis must have 3 entries"):
        _returning(lambda s: nn.dense(s, 2))(states, "categorical", n_actions=3)
    with pytest.raises(ShapeError, match="for a one-dimensional action use a last axis of size 1"):
        _returning(lambda s: nn.dense(s, 1)[:, 0])(states, "normal")
    with pytest.raises(ShapeError, match="must broadcast to the shape of the mean"):
        _returning(lambda s: (nn.dense(s, 2), nn.dense(s, 3)))(states, "tanh_normal")
    with pytest.raises(ShapeError, match="first .batch. dimension"):
        _returning(lambda s: T.zeros((3, 2)) + nn.dense(s[:1], 2)[:1])(sg.Placeholder((5, 4), name="five"),
                                                                       "normal")
    with pytest.raises(ShapeError, match=r"must return \(batch,\) or \(batch, 1\), got"):
        _ThreeValues(states, sg.Placeholder((None, 2), name="actions"))
    with pytest.raises(ShapeError, match="for V.s., or .batch, n_actions. for a discrete Q head"):
        _critic_returning(lambda s: T.reshape(nn.dense(s, 4), (-1, 2, 2)))(states)


def test_bad_arguments():
    states = _states()
    with pytest.raises(ValueError, match="unknown actions_distribution 'gamma'"):
        MLPActor(states, 2, "gamma")
    with pytest.raises(TypeError, match="actions_distribution must be None, one of the classes"):
        MLPActor(states, 2, P.Beta)
    with pytest.raises(TypeError, match="states must be a symgraph tensor"):
        MLPActor(np.zeros((3, 4)), 2, "categorical")
    with pytest.raises(ValueError, match="n_actions is required"):
        MLPActor(states, None, "categorical")
    with pytest.raises(ValueError, match="log_std_bounds must have low < high"):
        MLPActor(states, 2, "normal", log_std_bounds=(2, -2))
    with pytest.raises(ValueError, match="dueling=True needs a discrete Q head"):
        MLPCritic(states, dueling=True)
    with pytest.raises(ValueError, match="n_actions is for a discrete Q head"):
        MLPCritic(states, sg.Placeholder((None, 2), name="a"), n_actions=2)
    with pytest.raises(ShapeError, match="expects frames of shape"):
        CNNCritic(states)
    with pytest.raises(ShapeError, match=r"expects states of shape \(batch, ...features\)"):
        MLPCritic(sg.Placeholder((None,), name="flat"))


def test_log_prob_checks_the_actions_shape():
    states = _states()
    categorical = MLPActor(states, 3, "categorical", hidden=(4,))
    normal = MLPActor(states, 1, "normal", hidden=(4,))
    with pytest.raises(ShapeError, match=r"expects actions of shape \(None,\).*squeeze the trailing axis"):
        categorical.log_prob(sg.Placeholder((None, 1), "int32", name="column"))
    with pytest.raises(ShapeError, match=r"expects actions of shape \(None, 1\).*add a trailing axis"):
        normal.log_prob(sg.Placeholder((None,), name="flat"))


def test_foreign_variables_warn():
    shared = nn.Dense(8, "tanh", name="encoder")

    class Shared(Actor):
        def create_network(self, states):
            return nn.dense(shared(states), 2)

    with pytest.warns(UserWarning, match=r"reads trainable variables outside its scope 'actor'.*encoder/W"):
        actor = Shared(_states(), "categorical")
    assert all(v.name.startswith("actor/") for v in actor.params)
    # reading a variable upstream of the states is fine: the states are an input
    encoded = shared(_states(name="raw"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLPActor(encoded, 2, "categorical")
