"""SAC: the learned temperature, and a seeded learning run on Pendulum-v1."""


import gymnasium
import pytest

from symgraph.rl.learners.sac import SAC
from tests.rl.learners.conftest import continuous_buffer, pendulum_run, small

pytestmark = pytest.mark.slow  # builds of several seconds; the learning runs also carry the marker learning

# ---------------------------------------------------------------------------------------------------------
# The temperature


def test_sac_learns_its_temperature_towards_the_target_entropy():
    agent = small(SAC, gradient_steps=20, lr=1e-2)
    assert agent.alpha == pytest.approx(1.0)
    metrics = agent.update(continuous_buffer())
    assert float(metrics["entropy"]) > agent.target_entropy == -2.0
    assert agent.alpha < 1.0   # entropy above the target: the temperature goes down
    fixed = small(SAC, alpha=0.2)
    fixed.update(continuous_buffer())
    assert fixed.alpha == pytest.approx(0.2) and "alpha_loss" not in fixed.update(continuous_buffer())


# ---------------------------------------------------------------------------------------------------------
# Learning


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_sac_learns_pendulum(seed):
    agent = SAC.from_env(gymnasium.make("Pendulum-v1"), batch_size=256, lr=1e-3, hidden=(64, 64),
                         random_steps=100, seed=seed)
    evals = pendulum_run(agent, seed=seed)
    assert max(evals) >= -250, evals
