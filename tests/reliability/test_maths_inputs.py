"""Inputs of the RL maths, the bandit agents and the tabular agents: a NaN or infinite reward, a discount or
lambda outside [0, 1] is refused with a message naming the argument and the value, and leaves the agent's
estimates untouched; traced values (inside ``jax.jit``) are not checked."""

import math

import jax
import numpy as np
import pytest

from symgraph.rl import Buffer, returns
from symgraph.rl.bandits import (
    UCB1,
    BayesianUCB,
    BernoulliMAB,
    EpsilonGreedy,
    GaussianThompsonSampling,
    GradientBandit,
    LinearPosterior,
    ThompsonSampling,
)
from symgraph.rl.tabular import SARSA, DynaQ, ExpectedSARSA, QLearning, TabularModel
from tests.rl.tabular.conftest import Chain

BAD_REWARDS = [math.nan, math.inf, -math.inf, np.float32("nan")]

# ---------------------------------------------------------------------------------------------------------
# Bandit agents


MAB_AGENTS = [EpsilonGreedy, UCB1, BayesianUCB, ThompsonSampling, GaussianThompsonSampling, GradientBandit]


def _statistics(agent):
    """Every array-valued public statistic of a multi-armed agent (counts, estimates, posteriors...)."""
    names = ("counts", "quality", "alpha", "beta", "posterior_mean", "posterior_std", "preferences",
             "probabilities")
    return {n: np.array(getattr(agent, n)) for n in names if hasattr(type(agent), n)}


@pytest.mark.parametrize("reward", BAD_REWARDS, ids=repr)
@pytest.mark.parametrize("cls", MAB_AGENTS, ids=lambda c: c.__name__)
def test_mab_update_refuses_a_non_finite_reward_and_keeps_its_estimates(cls, reward):
    agent = cls(BernoulliMAB(reward_probs=[0.3, 0.7], seed=0), seed=0)
    agent.update_params(0, 1, 1.0)
    before = _statistics(agent)
    with pytest.raises(ValueError, match=rf"{cls.__name__}.update_params: .*reward {reward}.*must be finite"):
        agent.update_params(0, 1, reward)
    after = _statistics(agent)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


@pytest.mark.parametrize("reward", ["1.0", None, [1.0]], ids=repr)
@pytest.mark.parametrize("cls", MAB_AGENTS, ids=lambda c: c.__name__)
def test_mab_update_refuses_a_reward_that_is_not_a_number(cls, reward):
    agent = cls(BernoulliMAB(reward_probs=[0.3, 0.7], seed=0), seed=0)
    with pytest.raises(TypeError, match=r"update_params: reward must be a real number"):
        agent.update_params(0, 1, reward)
    assert agent.counts.sum() == 0


def test_contextual_update_db_names_a_reward_that_is_not_a_number():
    agent = LinearPosterior(BernoulliMAB(reward_probs=[0.3, 0.7], seed=0), seed=0)
    with pytest.raises(TypeError, match=r"LinearPosterior.update_db: reward must be a real number, got str"):
        agent.update_db(np.ones(1), 0, "high")
    with pytest.raises(ValueError, match=r"LinearPosterior.update_db: .*reward nan.*must be finite"):
        agent.update_db(np.ones(1), 0, math.nan)
    assert len(agent.db) == 0


# ---------------------------------------------------------------------------------------------------------
# Tabular agents


@pytest.mark.parametrize("reward", BAD_REWARDS, ids=repr)
@pytest.mark.parametrize("cls", [QLearning, SARSA, ExpectedSARSA, DynaQ], ids=lambda c: c.__name__)
def test_tabular_update_refuses_a_non_finite_reward_and_keeps_its_table(cls, reward):
    agent = cls(Chain(n_actions=2), seed=0)
    agent.update(0, 1, 1.0, 1, False)
    q, steps = agent.q_values.copy(), agent.steps
    with pytest.raises(ValueError, match=rf"{cls.__name__}.update: .*reward {reward}.*must be finite"):
        agent.update(1, 0, reward, 2, False)
    np.testing.assert_array_equal(agent.q_values, q)
    assert agent.steps == steps
    if cls is DynaQ:
        assert len(agent.model) == 1


@pytest.mark.parametrize("cls", [QLearning, SARSA, ExpectedSARSA, DynaQ], ids=lambda c: c.__name__)
def test_tabular_update_refuses_a_reward_that_is_not_a_number(cls):
    agent = cls(Chain(n_actions=2), seed=0)
    with pytest.raises(TypeError, match=rf"{cls.__name__}.update: reward must be a real number, got str"):
        agent.update(0, 1, "1.0", 1, False)
    assert agent.steps == 0 and not agent.q_values.any()


@pytest.mark.parametrize("state, action, next_state, bad", [
    (-1, 0, 1, "state -1"), (3, 0, 1, "state 3"), (0, 2, 1, "action 2"), (0, -1, 1, "action -1"),
    (0, 0, 7, "next_state 7"), (0.5, 0, 1, "state 0.5"),
])
@pytest.mark.parametrize("cls", [QLearning, SARSA, ExpectedSARSA, DynaQ], ids=lambda c: c.__name__)
def test_tabular_update_refuses_states_and_actions_outside_the_spaces(cls, state, action, next_state, bad):
    # a negative index would silently update another row of the table (numpy's wrap-around)
    agent = cls(Chain(n_actions=2), seed=0)
    with pytest.raises((IndexError, TypeError), match=rf"{cls.__name__}.update: {bad}"):
        agent.update(state, action, 1.0, next_state, False)
    assert agent.steps == 0 and not agent.q_values.any()


def test_tabular_model_refuses_a_non_finite_reward():
    model = TabularModel(seed=0)
    with pytest.raises(ValueError, match=r"TabularModel.add: .*reward nan.*must be finite"):
        model.add(0, 0, math.nan, 1, False)
    assert len(model) == 0


# ---------------------------------------------------------------------------------------------------------
# Return functions

R = np.array([1.0, 0.0, 2.0])
V = np.array([0.5, 0.2, 0.1, 0.0])


def _call(fn, discounts=0.9, lam=0.95):
    """``fn`` on a 3-step trajectory with the given discount(s) and lambda."""
    if fn == "discounted_returns":
        return returns.discounted_returns(R, discounts, 0.0)
    if fn == "td_errors":
        return returns.td_errors(R, V, discounts)
    if fn == "gae":
        return returns.gae(R, V, discounts, lam)
    if fn == "lambda_returns":
        return returns.lambda_returns(R, discounts, V[1:], lam)
    return returns.n_step_returns(R, discounts, V[1:], 2)


ALL = ["discounted_returns", "td_errors", "gae", "lambda_returns", "n_step_returns"]
WITH_LAMBDA = ["gae", "lambda_returns"]
OUT_OF_RANGE = [1.5, -1, -0.01, math.nan, math.inf, np.float32(1.01), np.array([0.9, 1.5, 0.9]),
                [0.9, 0.9, -0.5], np.array([0.9, np.nan, 0.9], np.float32)]


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=repr)
@pytest.mark.parametrize("fn", ALL)
def test_return_functions_refuse_a_discount_outside_0_1(fn, value):
    with pytest.raises(ValueError, match=rf"{fn}: `discounts` must lie in \[0, 1\].* got .*(1.5|-1|-0.01|nan|inf"
                                         rf"|1.01|-0.5)"):
        _call(fn, discounts=value)


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=repr)
@pytest.mark.parametrize("fn", WITH_LAMBDA)
def test_return_functions_refuse_a_lambda_outside_0_1(fn, value):
    with pytest.raises(ValueError, match=rf"{fn}: `lam` must lie in \[0, 1\].* got .*(1.5|-1|-0.01|nan|inf"
                                         rf"|1.01|-0.5)"):
        _call(fn, lam=value)


@pytest.mark.parametrize("fn", ALL)
def test_return_functions_refuse_discounts_that_are_not_numbers(fn):
    with pytest.raises(TypeError, match=rf"{fn}: `discounts` must hold numbers"):
        _call(fn, discounts=np.array(["0.9", "0.9", "0.9"]))


@pytest.mark.parametrize("fn", ALL)
def test_return_functions_accept_the_bounds_and_traced_values(fn):
    for d in (0.0, 1.0, np.ones(3), [1.0, 0.0, 0.5], True):
        assert np.all(np.isfinite(_call(fn, discounts=d)))
    if fn in WITH_LAMBDA:
        for lam in (0, 1, np.zeros(3), np.float32(1.0)):
            assert np.all(np.isfinite(_call(fn, lam=lam)))
    # traced values are not checked (their values are unknown while tracing), as in the learners' updates
    out = jax.jit(lambda d, lam: _call(fn, discounts=d, lam=lam))(1.5, 2.0)
    assert out.shape == (3,)


# ---------------------------------------------------------------------------------------------------------
# The buffer's own settings


@pytest.mark.parametrize("name", ["gamma", "lam", "alpha"])
@pytest.mark.parametrize("value", [1.5, -1, math.nan, math.inf, "0.9", None])
def test_buffer_refuses_rates_outside_0_1(name, value):
    with pytest.raises(ValueError, match=rf"Buffer: {name} must be a number in \[0, 1\], got"):
        Buffer(100, **{name: value})


@pytest.mark.parametrize("value", [0, -5, 2.5, math.nan, math.inf, "100", None, True])
def test_buffer_refuses_a_maxlen_that_is_not_a_positive_int(value):
    with pytest.raises(ValueError, match=r"Buffer: maxlen must be a positive int"):
        Buffer(value)


@pytest.mark.parametrize("name, value", [("beta", math.inf), ("beta", math.nan), ("eps", math.inf),
                                         ("eps", math.nan)])
def test_buffer_refuses_non_finite_beta_and_eps(name, value):
    with pytest.raises(ValueError, match=rf"Buffer: {name} must be a .*finite.*, got {value}"):
        Buffer(100, priority_sampling=True, **{name: value})


def test_buffer_names_maxlen_when_its_storage_cannot_be_allocated():
    buffer = Buffer(10**18)
    with pytest.raises(ValueError, match=r"Buffer.push: cannot allocate .*maxlen=1000000000000000000"):
        buffer.push({"state": np.zeros(4, np.float32), "reward": 1.0})
