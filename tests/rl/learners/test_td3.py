"""TD3: the delayed policy and target updates, and a seeded learning run on Pendulum-v1."""


import gymnasium
import numpy as np
import pytest

from symgraph.rl.learners.td3 import TD3
from tests.rl.learners.conftest import continuous_buffer, pendulum_run, small, values

pytestmark = pytest.mark.slow  # builds of several seconds; the learning runs also carry the marker learning

# ---------------------------------------------------------------------------------------------------------
# The delayed policy step


def test_td3_delays_the_policy_and_target_updates():
    agent = small(TD3, policy_delay=2)
    buffer = continuous_buffer()
    actor, target_actor = values(agent.actor.params), values(agent.target_actor.variables)
    critic = values(agent.critics[0].params)
    first = agent.update(buffer)
    # no policy step in this call: the actor loss is the held one (0 before the first policy step), never NaN
    assert first["actor_loss"] == 0.0 and np.isfinite(first["critic_loss"])
    assert all(np.array_equal(a, b) for a, b in zip(actor, values(agent.actor.params)))
    assert all(np.array_equal(a, b) for a, b in zip(target_actor, values(agent.target_actor.variables)))
    assert not all(np.array_equal(a, b) for a, b in zip(critic, values(agent.critics[0].params)))
    second = agent.update(buffer)
    assert np.isfinite(second["actor_loss"])
    assert not any(np.array_equal(a, b) for a, b in zip(actor, values(agent.actor.params)))
    # Polyak: target = (1 - tau) target_0 + tau * actor_2 (the policy after its step)
    for t0, t, p in zip(target_actor, values(agent.target_actor.variables), values(agent.actor.params)):
        np.testing.assert_allclose(t, (1 - agent.tau) * t0 + agent.tau * p, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_td3_learns_pendulum(seed):
    agent = TD3.from_env(gymnasium.make("Pendulum-v1"), batch_size=256, lr=1e-3, gamma=0.98, tau=0.005,
                         hidden=(64, 64), random_steps=1000, seed=seed)
    evals = pendulum_run(agent, noise=agent.make_noise(0.1), update_after=1000, seed=seed)
    assert max(evals) >= -250, evals
