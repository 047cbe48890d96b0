"""Reinforcement learning on symgraph.

- Learners: :class:`PPO`, :class:`ActorCritic` (A2C), :class:`REINFORCE`, :class:`DQN` (Rainbow switches),
  :class:`QRDQN`, :class:`DDPG`, :class:`TD3`, :class:`SAC` (each with ``from_env``).
- :func:`train`: the whole training loop compiled for JAX-native (gymnax) envs, seeds vmapped
  (``symgraph.rl.fused``).
- :func:`run`: the generic driver ``run(env, agent, buffer, ...)`` of any agent following the protocol in
  ``symgraph.rl.protocol`` (``act``, ``update(buffer)`` or ``observe``, ``end_episode``), with checkpoints,
  ``resume`` and a :class:`TrainingDiverged` stop; :func:`evaluate`: whole episodes of a policy, no
  learning.
- :func:`load`: any learner from its checkpoint (``learner.save(path)`` or a ``run`` checkpoint);
  ``symgraph.rl.checkpoint``: what a checkpoint holds.
- Templates: :class:`Actor`, :class:`Critic` (subclass and implement ``create_network``) and ready-made
  :class:`MLPActor`, :class:`MLPCritic`, :class:`CNNActor`, :class:`CNNCritic`; target-network helpers.
- :class:`Buffer`: ring buffer with GAE/TD-error path finishing and proportional prioritised sampling.
- ``symgraph.rl.envs``: gymnasium/legacy-gym/vector env adaptation; ``symgraph.rl.noise``: exploration noise.
- ``symgraph.rl.returns``: discounted returns, TD errors, GAE, lambda and n-step returns (pure JAX).
- ``symgraph.rl.losses``: policy-gradient, PPO, value, TD and distributional losses and targets.
- ``symgraph.rl.bandits``: multi-armed and contextual bandits, agents and trainers.
- ``symgraph.rl.tabular``: Q-learning, SARSA(lambda), expected SARSA, Dyna-Q, value/policy iteration.
"""

from symgraph.rl import bandits, checkpoint, envs, losses, noise, returns, tabular
from symgraph.rl.agents import Actor, Critic, copy_state, hard_updates, polyak_updates, variable_pairs
from symgraph.rl.buffer import Buffer
from symgraph.rl.checkpoint import load
from symgraph.rl.fused import TrainResult, train
from symgraph.rl.learners import DDPG, DQN, PPO, QRDQN, REINFORCE, SAC, TD3, ActorCritic
from symgraph.rl.networks import CNNActor, CNNCritic, MLPActor, MLPCritic
from symgraph.rl.noise import GaussianNoise, OrnsteinUhlenbeckNoise
from symgraph.rl.protocol import Agent, ObservingAgent, as_agent
from symgraph.rl.run import RunResult, TrainingDiverged, evaluate, run

__all__ = [
    "PPO", "ActorCritic", "REINFORCE", "DQN", "QRDQN", "DDPG", "TD3", "SAC", "run", "RunResult", "TrainingDiverged",
    "evaluate", "load", "checkpoint", "train", "TrainResult",
    "Agent", "ObservingAgent", "as_agent", "Actor", "Critic", "MLPActor", "MLPCritic", "CNNActor", "CNNCritic",
    "copy_state", "hard_updates", "polyak_updates", "variable_pairs", "Buffer", "GaussianNoise",
    "OrnsteinUhlenbeckNoise", "bandits", "envs", "losses", "noise", "returns", "tabular",
]
