"""The environments of a run: the training env (made from an id or a factory, or taken as given) driven as
:class:`~symgraph.rl.driver.lanes.OneEnv` or :class:`~symgraph.rl.driver.lanes.VectorEnvs`, and a separate
single env for evaluation."""

import copy

import gymnasium
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from symgraph.rl.driver.evaluate import env_name
from symgraph.rl.driver.frames import SkipFrames
from symgraph.rl.driver.lanes import OneEnv, VectorEnvs
from symgraph.rl.envs import make_env

__all__ = ["made_here", "training_env", "check_env_options", "noise_bounds", "evaluation_env"]


def made_here(given):
    """Whether ``run`` makes the env from ``given`` (an id or a factory), and so closes it."""
    return isinstance(given, str) or (callable(given) and not hasattr(given, "step"))


def training_env(env, config, bad_reward, stores):
    """The lanes driving ``env`` (a single env, wrapped for ``skip_frames``, or a vector env)."""
    name = env_name(env)
    if isinstance(env, VectorEnv):
        return VectorEnvs(env, config.max_episode_steps, bad_reward, name, stores)
    stepped = SkipFrames(env, config.skip_frames) if config.skip_frames > 1 else env
    return OneEnv(stepped, config.max_episode_steps, bad_reward)


def check_env_options(env, config, name):
    """Refuse the options a vector env does not allow (``skip_frames``, ``reset_each_episode``)."""
    if not isinstance(env, VectorEnv):
        return
    if config.skip_frames > 1:
        raise ValueError(f"run: skip_frames={config.skip_frames} with a vector env ({name}): repeating an action "
                         f"across sub-environments that reset at different times mixes episodes; apply frame "
                         f"skipping inside each sub-environment (e.g. make_env(..., n_envs=N, wrappers=[...]) "
                         f"with symgraph.rl.driver.frames.SkipFrames or gymnasium's AtariPreprocessing)")
    if config.reset_each_episode:
        raise ValueError(f"run: reset_each_episode=True with a vector env ({name}) would clear the running "
                         f"episodes of every sub-environment whenever one starts a new episode; clear the "
                         f"buffer in the agent's update instead")


def noise_bounds(action_space, config, name):
    """The ``(low, high)`` to clip noisy actions to (``(None, None)``: no clipping)."""
    if config.noise is None or config.action_processor is not None:
        return None, None
    if not isinstance(action_space, spaces.Box):
        raise ValueError(f"run: noise is added to continuous actions, but the action space of {name} is "
                         f"{action_space}; explore discrete actions in the agent (e.g. epsilon-greedy), or give "
                         f"an action_processor that maps the noisy action to an env action")
    return action_space.low, action_space.high


def evaluation_env(given_eval_env, given_env, env, config, owned):
    """The evaluation env: ``given_eval_env`` (a single env or an id), else, if evaluations will run, one
    made from ``given_env`` (what the caller passed as ``env``) or ``env`` (the training env); None if there
    are none. Envs made here are appended to ``owned``."""
    if given_eval_env is not None:
        eval_env = make_env(given_eval_env, record_stats=False, validate=0)
        if made_here(given_eval_env):
            owned.append(eval_env)
        if isinstance(eval_env, VectorEnv):
            raise TypeError("run: eval_env must be a single env (evaluation runs whole episodes one at a time), "
                            "got a vector env")
        return eval_env
    if config.eval_every and (config.max_episodes is None or config.max_episodes >= config.eval_every):
        eval_env = _separate_env(given_env, env)
        owned.append(eval_env)
        return eval_env
    return None


def _separate_env(given, env):
    """A separate single-env instance for evaluation, made from ``given`` or from ``env``: the same id, spec
    or (failing those) a deep copy."""
    if made_here(given):
        return make_env(given, record_stats=False, validate=0)  # an id or a factory: a new instance
    base = env
    if isinstance(env, VectorEnv):
        subs = getattr(env.unwrapped, "envs", None)
        if subs:
            base = subs[0]
        else:
            spec = getattr(env, "spec", None)
            if spec is not None and getattr(spec, "id", None):
                kwargs = {k: v for k, v in spec.kwargs.items()
                          if k not in ("num_envs", "vectorization_mode", "vector_kwargs", "wrappers")}
                return gymnasium.make(spec.id, **kwargs)
            raise ValueError(f"run: cannot make a single evaluation env from the vector env {env_name(env)} "
                             f"(no id or sub-environments to copy); pass eval_env=... or eval_every=0")
    spec = getattr(base, "spec", None)
    if spec is not None:
        try:
            return gymnasium.make(spec)
        except Exception:  # a wrapper that cannot be recreated from the spec: copy the env instead
            pass
    try:
        return copy.deepcopy(base)
    except Exception as exc:
        raise ValueError(f"run: cannot make a separate evaluation env from {env_name(env)} (no id or spec to "
                         f"make it from, and it cannot be deep-copied: {exc}); pass eval_env=... (another "
                         f"instance) or eval_every=0 (no evaluation)") from exc
