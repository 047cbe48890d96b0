"""Learners: one module per algorithm, on the shared ``Learner`` base."""

from symgraph.rl.learners.a2c import ActorCritic
from symgraph.rl.learners.base import Learner
from symgraph.rl.learners.dqn import DQN
from symgraph.rl.learners.off_policy import OffPolicyLearner
from symgraph.rl.learners.on_policy import OnPolicyLearner
from symgraph.rl.learners.ppo import PPO
from symgraph.rl.learners.qrdqn import QRDQN
from symgraph.rl.learners.reinforce import REINFORCE
from symgraph.rl.learners.sac import SAC
from symgraph.rl.learners.td3 import DDPG, TD3

__all__ = ["Learner", "OnPolicyLearner", "REINFORCE", "ActorCritic", "PPO",
           "OffPolicyLearner", "DQN", "QRDQN", "DDPG", "TD3", "SAC"]
