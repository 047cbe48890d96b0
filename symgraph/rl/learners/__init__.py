"""Learners: one module per algorithm, on the shared ``Learner`` base."""

from symgraph.rl.learners.a2c import ActorCritic
from symgraph.rl.learners.base import Learner
from symgraph.rl.learners.on_policy import OnPolicyLearner
from symgraph.rl.learners.ppo import PPO
from symgraph.rl.learners.reinforce import REINFORCE

__all__ = ["Learner", "OnPolicyLearner", "REINFORCE", "ActorCritic", "PPO"]
