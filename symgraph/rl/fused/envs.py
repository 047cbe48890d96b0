"""JAX-native environments (gymnax) for the compiled training loop: detection, and a vmapped adapter.

gymnax 1.0's API (``env, params = gymnax.make("CartPole-v1")``) is functional: ``env.reset(key, params) ->
(obs, state)`` and ``env.step(key, state, action, params) -> (obs, state, reward, terminated, truncated,
info)``, with automatic reset (the returned ``obs``/``state`` start the next episode where one ended, and the
last observation of the ended episode is in ``info["final_observation"]``). :class:`JaxEnv` holds an env, its
params and a number of parallel copies, and exposes

- :meth:`JaxEnv.reset` and :meth:`JaxEnv.step`: pure functions over all ``num_envs`` copies (``jax.vmap``),
  usable inside ``jax.jit``/``jax.lax.scan``/``jax.vmap``; ``step`` returns ``final_obs``, the true next
  observation of each transition (the pre-reset one where an episode ended), which is what a truncated
  transition bootstraps from, and keeps running episode statistics in its :class:`EnvState`;
- the spaces as gymnasium spaces (``observation_space``/``action_space``, and the ``single_*`` names of a
  vector env) and a ``spec`` with the episode limit, so that :func:`symgraph.rl.envs.space_info` and the
  learners' ``from_env`` read a gymnax env as they read a gymnasium one.

Wherever an env is accepted, a gymnax environment may be given as the env itself (default params), as an
``(env, params)`` pair (what ``gymnax.make`` returns), or as a :class:`JaxEnv`.
"""

import sys
from types import SimpleNamespace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

__all__ = ["JaxEnv", "EnvState", "is_jax_env", "as_jax_env"]


def _gymnax_base():
    """gymnax's ``Environment`` class if gymnax was imported (an env of it cannot exist otherwise), else None."""
    module = sys.modules.get("gymnax.environments.environment")
    return None if module is None else module.Environment


def _is_gymnax(env):
    base = _gymnax_base()
    return base is not None and isinstance(env, base)


def is_jax_env(env):
    """Whether ``env`` is a JAX-native environment: a gymnax ``Environment``, an ``(env, params)`` pair of
    one, or a :class:`JaxEnv`."""
    if isinstance(env, JaxEnv) or _is_gymnax(env):
        return True
    return isinstance(env, tuple) and len(env) == 2 and _is_gymnax(env[0])


def as_jax_env(env, params=None, num_envs=None):
    """``env`` as a :class:`JaxEnv` (a :class:`JaxEnv` given is returned as is, or re-sized/re-parametrised
    when ``num_envs``/``params`` say so).

    Args:
        env: a gymnax ``Environment``, an ``(env, params)`` pair, or a :class:`JaxEnv`.
        params: the env params (overrides those of a pair); None keeps the pair's or the env's defaults.
        num_envs: parallel copies; None keeps a :class:`JaxEnv`'s own (1 for a bare env).
    """
    if isinstance(env, JaxEnv):
        if params is None and (num_envs is None or num_envs == env.num_envs):
            return env
        return JaxEnv(env.env, env.params if params is None else params,
                      env.num_envs if num_envs is None else num_envs)
    if isinstance(env, tuple) and len(env) == 2 and _is_gymnax(env[0]):
        env, pair_params = env
        params = pair_params if params is None else params
    if not _is_gymnax(env):
        raise TypeError(f"expected a JAX-native environment (a gymnax Environment, an (env, params) pair as "
                        f"gymnax.make returns, or a symgraph.rl.fused.JaxEnv), got {type(env).__name__} "
                        f"{env!r}; make one with gymnax.make('CartPole-v1')")
    return JaxEnv(env, params, 1 if num_envs is None else num_envs)


class EnvState(NamedTuple):
    """The state of :class:`JaxEnv`'s ``num_envs`` copies (every field has a leading ``num_envs`` axis).

    Attributes:
        env_state: the gymnax env states.
        episode_return, episode_length: the running (undiscounted) return and length of each copy's current
            episode.
        last_return, last_length: those of each copy's last finished episode (0 before the first ends):
            at a step where an episode ends (``terminated | truncated``), the ended episode's.
    """

    env_state: object
    episode_return: jax.Array
    episode_length: jax.Array
    last_return: jax.Array
    last_length: jax.Array


def _gymnasium_space(space, what, env_name):
    """The gymnasium space of a gymnax ``Discrete`` or ``Box`` space."""
    kind = type(space).__name__
    if kind == "Discrete":
        return spaces.Discrete(int(space.n))
    if kind == "Box":
        shape = tuple(int(d) for d in space.shape)
        dtype = np.dtype(space.dtype)
        low = np.broadcast_to(np.asarray(space.low, dtype), shape).copy()
        high = np.broadcast_to(np.asarray(space.high, dtype), shape).copy()
        return spaces.Box(low, high, shape, dtype)
    raise TypeError(f"{env_name}: its {what} space {space!r} is not supported: symgraph.rl learners take Box or "
                    f"Discrete spaces; wrap the env (e.g. gymnax.wrappers.FlattenObservationWrapper for a Dict "
                    f"observation)")


class JaxEnv:
    """``num_envs`` copies of a gymnax environment, stepped together by pure functions (see the module
    docstring).

    Args:
        env: a gymnax ``Environment``.
        params: its ``EnvParams`` (None: ``env.default_params``).
        num_envs: the number of parallel copies (a positive int).

    Attributes:
        env, params, num_envs: as given.
        name: the env's name (``"CartPole-v1"``).
        single_observation_space, single_action_space: one copy's spaces, as gymnasium spaces
            (``observation_space``/``action_space`` are the same objects).
        max_episode_steps: the episode limit of ``params`` (``max_steps_in_episode``), or None.
        spec: ``spec.id`` (the name) and ``spec.max_episode_steps``, as a gymnasium env's spec.
    """

    def __init__(self, env, params=None, num_envs=1):
        if not _is_gymnax(env):
            raise TypeError(f"JaxEnv: env must be a gymnax Environment (gymnax.make('CartPole-v1')[0]), got "
                            f"{type(env).__name__} {env!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"JaxEnv: num_envs must be a positive int, got {num_envs!r}; pass e.g. num_envs=4")
        self.env = env
        self.params = env.default_params if params is None else params
        self.num_envs = int(num_envs)
        self.name = env.name
        self.single_observation_space = _gymnasium_space(env.observation_space(self.params), "observation",
                                                         self.name)
        self.single_action_space = _gymnasium_space(env.action_space(self.params), "action", self.name)
        self.observation_space, self.action_space = self.single_observation_space, self.single_action_space
        limit = getattr(self.params, "max_steps_in_episode", None)
        self.max_episode_steps = None if limit is None else int(limit)
        self.spec = SimpleNamespace(id=self.name, max_episode_steps=self.max_episode_steps)
        self.unwrapped = self
        self._obs_dtype = self.single_observation_space.dtype
        self._discrete = isinstance(self.single_action_space, spaces.Discrete)

    def __repr__(self):
        return f"<JaxEnv {self.name} x{self.num_envs}>"

    def reset(self, key):
        """``(obs, state)``: fresh episodes in every copy (``obs`` of shape ``(num_envs, *obs_shape)``)."""
        obs, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(jax.random.split(key, self.num_envs),
                                                                     self.params)
        zeros = jnp.zeros(self.num_envs, jnp.float32)
        counts = jnp.zeros(self.num_envs, jnp.int32)
        return obs.astype(self._obs_dtype), EnvState(env_state, zeros, counts, zeros, counts)

    def step(self, key, state, action):
        """One step of every copy: ``(obs, state, reward, terminated, truncated, final_obs)``.

        ``key`` is one PRNG key (split into one per copy) or ``num_envs`` keys (shape ``(num_envs, 2)``: a
        compiled loop may split the keys of all its steps at once, which is cheaper than step by step).
        ``obs`` starts the next episode where one ended (automatic reset); ``final_obs`` is the observation
        the action led to (the pre-reset one where an episode ended), the next state of the transition.
        ``reward`` is float32, ``terminated``/``truncated`` are bool, all of shape ``(num_envs,)``.
        """
        keys = key if key.ndim == 2 else jax.random.split(key, self.num_envs)
        action = action.astype(jnp.int32) if self._discrete else action.astype(self.single_action_space.dtype)
        obs, env_state, reward, terminated, truncated, info = jax.vmap(
            self.env.step, in_axes=(0, 0, 0, None))(keys, state.env_state, action, self.params)
        reward = reward.astype(jnp.float32)
        terminated, truncated = terminated.astype(bool), truncated.astype(bool)
        done = terminated | truncated
        episode_return = state.episode_return + reward
        episode_length = state.episode_length + 1
        state = EnvState(env_state,
                         jnp.where(done, 0.0, episode_return),
                         jnp.where(done, 0, episode_length),
                         jnp.where(done, episode_return, state.last_return),
                         jnp.where(done, episode_length, state.last_length))
        final_obs = info["final_observation"].astype(self._obs_dtype)
        return obs.astype(self._obs_dtype), state, reward, terminated, truncated, final_obs
