"""Tabular reinforcement learning: Q-learning, SARSA(λ), expected SARSA, Dyna-Q, value and policy iteration,
and a `Trainer` for discrete (gymnasium ``Discrete``) environments.

Example::

    import gymnasium as gym
    from symgraph.rl.tabular import LinearDecay, QLearning, Trainer

    env = gym.make("FrozenLake-v1")
    agent = QLearning(env, epsilon=LinearDecay(1.0, 0.01, 2000), gamma=0.99, lr=0.1, seed=0)
    trainer = Trainer(agent, env, n_episodes=3000, evaluate_frequency=100, seed=0)
    returns = trainer.train()
    summary = trainer.evaluate(1000)   # greedy success rate and mean return
"""

from symgraph.rl.tabular.agents import (
    SARSA,
    DynaQ,
    ExpectedSARSA,
    QLearning,
    TableMixin,
    TabularAgent,
    TabularModel,
)
from symgraph.rl.tabular.mdp import TabularMDP, discrete_spaces, evaluate_policy
from symgraph.rl.tabular.planning import PolicyIteration, ValueIteration
from symgraph.rl.tabular.schedules import ExponentialDecay, LinearDecay
from symgraph.rl.tabular.trainer import Trainer

__all__ = [
    "QLearning", "SARSA", "ExpectedSARSA", "DynaQ", "TabularModel", "TabularAgent", "TableMixin",
    "ValueIteration", "PolicyIteration", "TabularMDP", "evaluate_policy", "discrete_spaces",
    "LinearDecay", "ExponentialDecay", "Trainer",
]
