"""The whole training loop compiled, for JAX-native (gymnax) environments.

- :func:`train` (also ``symgraph.rl.train``): train a learner with rollouts, updates and evaluation inside one
  ``jax.jit``-compiled program, ``N`` seeds at once with ``jax.vmap``, sharded across devices;
- :mod:`symgraph.rl.fused.envs`: gymnax detection and the vmapped :class:`JaxEnv` adapter;
- :mod:`symgraph.rl.fused.on_policy`: the fused rollout-and-update iteration of PPO, ActorCritic and
  REINFORCE, built from the learners' own ``act_pure``/``update_pure``.
"""

from symgraph.rl.fused.envs import EnvState, JaxEnv, as_jax_env, is_jax_env
from symgraph.rl.fused.loop import TrainResult, seed_state, train
from symgraph.rl.fused.program import Program, episode_metrics

__all__ = ["train", "TrainResult", "Program", "JaxEnv", "EnvState", "as_jax_env", "is_jax_env", "episode_metrics",
           "seed_state"]
