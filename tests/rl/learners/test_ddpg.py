"""DDPG: TD3 with one critic, no delay and no target smoothing; a seeded learning run on Pendulum-v1."""


import gymnasium
import numpy as np
import pytest

from symgraph.rl.learners.td3 import DDPG, TD3
from tests.rl.learners.conftest import continuous_buffer, pendulum_run, small

pytestmark = pytest.mark.slow  # builds of several seconds; the learning runs also carry the marker learning

# ---------------------------------------------------------------------------------------------------------
# DDPG as a TD3


def test_ddpg_is_td3_with_one_critic_no_delay_and_no_smoothing():
    ddpg = small(DDPG)
    td3 = small(TD3, tau=0.01, policy_delay=1, target_noise=0.0, noise_clip=0.0, n_critics=1)
    assert (ddpg.n_critics, ddpg.policy_delay, ddpg.target_noise, ddpg.tau) == (1, 1, 0.0, 0.01)
    assert len(ddpg.critics) == 1 and isinstance(ddpg, TD3)
    buffer = continuous_buffer()
    batches, _ = ddpg.sample_batches(buffer)
    metrics, state_ddpg = ddpg.update_pure(ddpg.state, batches)
    _, state_td3 = td3.update_pure(td3.state, batches)
    assert np.isfinite(float(metrics["actor_loss"]))   # the policy learns at every step
    for v in ddpg.actor.params + ddpg.critics[0].params:
        np.testing.assert_allclose(state_ddpg[v.name], state_td3[v.name], rtol=1e-6, err_msg=v.name)


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_ddpg_learns_pendulum(seed):
    agent = DDPG.from_env(gymnasium.make("Pendulum-v1"), batch_size=256, lr=1e-3, gamma=0.98, tau=0.005,
                         hidden=(64, 64), random_steps=1000, seed=seed)
    evals = pendulum_run(agent, noise=agent.make_noise(0.1), update_after=1000, seed=seed)
    assert max(evals) >= -250, evals
