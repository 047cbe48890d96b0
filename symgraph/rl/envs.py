"""Environment adaptation: one entry point for every kind of environment, space descriptions for learners,
and checks of actions and observations.

gymnasium is the environment API (the maintained Gym; gym 0.26 does not run on numpy 2): ``reset(seed=...)``
returns ``(obs, info)`` and ``step(action)`` returns ``(obs, reward, terminated, truncated, info)``, where
``terminated`` means the MDP reached a terminal state (no bootstrap) and ``truncated`` that the episode was
cut (a time limit: bootstrap from the value of the state reached).

- :func:`make_env` takes a gymnasium env, a gymnasium vector env, an env id, an env factory, or a legacy
  gym-style env (4-tuple ``step``, ``reset`` returning only the observation), and applies gymnasium's own
  wrappers on request (``TimeLimit``, ``RecordEpisodeStatistics``, ``NormalizeObservation``,
  ``NormalizeReward``, ``FrameStackObservation``, ``RescaleAction``, ``ClipAction``; any other, e.g.
  ``AtariPreprocessing``, through ``wrappers=``).
- :class:`LegacyEnv` is the small adapter for legacy envs (``done`` plus ``info["TimeLimit.truncated"]``
  become ``terminated``/``truncated``).
- :func:`space_info` describes the spaces for learners (observation shape/dtype, discrete or continuous
  actions, number of actions or action shape and bounds) and rejects spaces the learners cannot handle.
- :func:`check_action` and :func:`check_observation` raise errors that name the value, the space or shape
  expected and the fix. :class:`ValidateActions` runs :func:`check_action` inside an env for its first steps
  only (by default), so the hot path stays a plain ``step`` call.
- :func:`registered_env_id` admits an env id read from a file (a run's ``config.json``, a checkpoint) only
  if it names a registered environment, so that making it imports no module the file chose.
- :func:`final_observations` recovers the true next observations of a vector env that resets
  sub-environments within the step (``AutoresetMode.SAME_STEP``, what :func:`make_env` builds).

Noise processes for exploration live in :mod:`symgraph.rl.noise`.
"""

import difflib
import math
import numbers
import warnings
from dataclasses import dataclass

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import RecordConstructorArgs
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from symgraph.errors import format_shape

__all__ = ["make_env", "LegacyEnv", "ValidateActions", "ValidateVectorActions", "SpaceInfo", "space_info",
           "check_action", "check_observation", "final_observations", "is_vector_env", "registered_env_id",
           "close_env_ids", "episode_limit"]


#: The most sub-environments (``n_envs``) or stacked frames (``frame_stack``) :func:`make_env` takes.
_MAX_COUNT = 2**31 - 1


def registered_env_id(env_id, source):
    """``env_id`` if it is the id of an environment in gymnasium's registry; else a ValueError naming
    ``source`` (where the id was read, e.g. ``"runs/ppo/config.json"``).

    For ids read from files: ``gymnasium.make("module:Env-v0")`` imports ``module`` (from the working directory
    too) before it looks the env up, so an id of that form in a file someone else wrote runs their code. A
    registered id makes the registered environment and imports nothing; ids with a ``:`` are refused even if
    registered, since ``gymnasium.make`` imports their module part too.

    Raises:
        ValueError: ``env_id`` is not a string naming a registered environment, or holds a ``:``.
    """
    if isinstance(env_id, str) and ":" not in env_id and env_id in gymnasium.registry:
        return env_id
    why = ("its 'module:' form makes gymnasium import that module, which an id read from a file may not do"
           if isinstance(env_id, str) and ":" in env_id else "no environment of that id is registered")
    raise ValueError(f"the env id {env_id!r} of {source} is not a registered gymnasium id: {why}; only "
                     f"registered ids are read from files (register the environment in the program, or pass a "
                     f"registered id)")


def close_env_ids(env_id, n=3):
    """Up to ``n`` ids of gymnasium's registry close to ``env_id`` (for a "did you mean" hint)."""
    return difflib.get_close_matches(env_id, list(gymnasium.registry), n=n) if isinstance(env_id, str) else []


def _check_env_id(env_id, owner="make_env"):
    """Refuse, before any environment is made (or any worker process started), an env id that
    ``gymnasium.make`` would not find: a ValueError naming ``env_or_id``, gymnasium's reason and the
    registered ids close to it. A ``module:Env-vN`` id imports ``module`` first, as ``gymnasium.make`` does."""
    # gymnasium.make's own lookup (it also accepts unversioned ids and imports a module: prefix); the public
    # gymnasium.spec, stricter, where a gymnasium version no longer has it
    find = getattr(gymnasium.envs.registration, "_find_spec", None) or gymnasium.spec
    try:
        with warnings.catch_warnings():  # gymnasium.make warns about an out-of-date or unversioned id itself
            warnings.simplefilter("ignore")
            find(env_id)
    except gymnasium.error.Error as exc:
        close = close_env_ids(env_id.rpartition(":")[2])
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"{owner}: env_or_id {env_id!r} is not the id of a registered gymnasium environment "
                         f"({str(exc).strip()}){hint}; pass a registered id (gymnasium.pprint_registry() lists "
                         f"them), or import the package that registers it first") from None


def is_vector_env(env):
    """Whether ``env`` is a gymnasium vector environment (a batch of sub-environments stepped together)."""
    return isinstance(env, VectorEnv)


# ---------------------------------------------------------------------------------------------------------
# Legacy gym-style environments


def _convert_space(space, owner):
    """A gymnasium space equal to ``space`` (a gymnasium space, or one of gym's by duck typing)."""
    if isinstance(space, spaces.Space):
        return space
    kind = type(space).__name__
    if kind == "Box":
        dtype = np.dtype(space.dtype)
        return spaces.Box(np.asarray(space.low, dtype), np.asarray(space.high, dtype), tuple(space.shape),
                          dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(space.n), start=int(getattr(space, "start", 0)))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(space.nvec))
    if kind == "MultiBinary":
        return spaces.MultiBinary(space.n)
    if kind == "Tuple":
        return spaces.Tuple([_convert_space(s, owner) for s in space.spaces])
    if kind == "Dict":
        return spaces.Dict({k: _convert_space(s, owner) for k, s in space.spaces.items()})
    raise TypeError(f"LegacyEnv: cannot convert the {owner} {space!r} ({type(space).__module__}.{kind}) to a "
                    f"gymnasium space; give the env gymnasium.spaces (Box, Discrete, MultiDiscrete, "
                    f"MultiBinary, Tuple or Dict)")


class LegacyEnv(gymnasium.Env):
    """A gymnasium env around a gym-style env (anything with ``reset``/``step`` that is not a
    ``gymnasium.Env``).

    - ``reset()`` returning only the observation (gym < 0.26) becomes ``(obs, {})``; a seed is passed to the
      env's ``seed(seed)`` method if it has one, else as ``reset(seed=seed)``.
    - ``step()`` returning ``(obs, reward, done, info)`` becomes ``(obs, reward, terminated, truncated,
      info)`` with ``truncated = done and info.get("TimeLimit.truncated", False)`` (what gym's ``TimeLimit``
      set) and ``terminated = done and not truncated``. A 5-tuple passes through.
    - gym's spaces are converted to the gymnasium spaces of the same kind.

    Args:
        env: the legacy environment (kept as ``self.legacy_env``).
    """

    def __init__(self, env):
        for method in ("reset", "step"):
            if not callable(getattr(env, method, None)):
                raise TypeError(f"LegacyEnv: {type(env).__name__} has no {method}() method, so it is not an "
                                f"environment; pass a gymnasium env, an env id or a gym-style env")
        for attr in ("observation_space", "action_space"):
            if not hasattr(env, attr):
                raise TypeError(f"LegacyEnv: {type(env).__name__} has no {attr}; give the env gymnasium "
                                f"spaces as {attr} (e.g. gymnasium.spaces.Box(-1, 1, (4,)))")
        self.legacy_env = env
        self.observation_space = _convert_space(env.observation_space, "observation_space")
        self.action_space = _convert_space(env.action_space, "action_space")
        self.metadata = dict(getattr(env, "metadata", None) or {})
        self.render_mode = getattr(env, "render_mode", None)
        self.reward_range = getattr(env, "reward_range", (-math.inf, math.inf))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        env = self.legacy_env
        if seed is not None and callable(getattr(env, "seed", None)):
            env.seed(seed)
            out = env.reset() if options is None else env.reset(options=options)
        elif seed is not None or options is not None:
            kwargs = {k: v for k, v in (("seed", seed), ("options", options)) if v is not None}
            out = env.reset(**kwargs)
        else:
            out = env.reset()
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            return out
        return out, {}

    def step(self, action):
        out = self.legacy_env.step(action)
        if not isinstance(out, tuple) or len(out) not in (4, 5):
            count = f" of {len(out)} values" if isinstance(out, tuple) else ""
            raise ValueError(f"LegacyEnv: {type(self.legacy_env).__name__}.step() returned "
                             f"{type(out).__name__}{count}; expected (obs, reward, done, info) or (obs, "
                             f"reward, terminated, truncated, info)")
        if len(out) == 5:
            obs, reward, terminated, truncated, info = out
            return obs, reward, bool(terminated), bool(truncated), info
        obs, reward, done, info = out
        info = dict(info or {})
        truncated = bool(done) and bool(info.pop("TimeLimit.truncated", False))
        return obs, reward, bool(done) and not truncated, truncated, info

    def render(self):
        return self.legacy_env.render()

    def close(self):
        close = getattr(self.legacy_env, "close", None)
        if callable(close):
            close()


# ---------------------------------------------------------------------------------------------------------
# Checks


def check_action(space, action):
    """Raise a ``ValueError`` if ``action`` is not a valid action of ``space``; return it otherwise.

    Handles ``Discrete`` (an integer in ``start .. start + n - 1``), ``Box`` (an array of the space's shape,
    finite and within its bounds), ``MultiDiscrete`` (what a vector env of ``Discrete`` takes: one integer per
    sub-environment) and ``MultiBinary``; other spaces fall back to ``space.contains``. Float actions are
    accepted for a ``Box`` of any float dtype (gymnasium's own ``contains`` rejects float64 for float32).

    The message names the action, the space and the fix.
    """
    if isinstance(space, spaces.Discrete):
        arr = np.asarray(action)
        lo, hi = int(space.start), int(space.start + space.n - 1)
        if arr.shape != ():
            raise ValueError(f"action {_short(action)} (shape {format_shape(arr.shape)}) is not valid for "
                             f"{space}: expected one integer in {lo}..{hi}; pass the index of the "
                             f"action (e.g. argmax of the logits), not a one-hot vector or probabilities")
        if arr.dtype.kind not in "iu":
            raise ValueError(f"action {_short(action)} ({arr.dtype}) is not valid for {space}: "
                             f"expected an integer in {lo}..{hi}; cast it with int(action)")
        if not lo <= int(arr) <= hi:
            raise ValueError(f"action {int(arr)} is out of range for {space}: valid actions are "
                             f"{lo}..{hi}; check the number of actions the agent was built with "
                             f"(space_info(env).n_actions = {space.n})")
        return action
    if isinstance(space, spaces.Box):
        arr = np.asarray(action)
        if arr.shape != space.shape:
            raise ValueError(f"action {_short(action)} has shape {format_shape(arr.shape)} but {space}"
                             f" takes shape {format_shape(space.shape)}; reshape it (e.g. "
                             f"action.reshape({space.shape}) or drop a batch axis with action[0])")
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"action {_short(action)} of dtype {arr.dtype} is not a number for "
                             f"{space}; pass a float array")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"action {_short(action)} is not finite (NaN or inf) for {space}; the "
                             f"policy diverged or the action was computed from a NaN")
        outside = (arr < space.low) | (arr > space.high)
        if np.any(outside):
            i = tuple(int(k) for k in np.argwhere(outside)[0])
            raise ValueError(f"action {_short(action)} is outside {space}: entry {i} is {float(arr[i])}, "
                             f"bounds [{float(space.low[i])}, {float(space.high[i])}]; clip it "
                             f"(np.clip(action, space.low, space.high)), or make the env with "
                             f"make_env(..., clip_actions=True) (gymnasium's ClipAction)")
        return action
    if isinstance(space, spaces.MultiDiscrete):
        arr = np.asarray(action)
        if arr.shape != space.shape or arr.dtype.kind not in "iu":
            raise ValueError(f"action {_short(action)} (shape {format_shape(arr.shape)}, {arr.dtype}) is not "
                             f"valid for {space}: expected integers of shape "
                             f"{format_shape(space.shape)} (one action per sub-environment of a vector env)")
        rel = arr - space.start
        bad = (rel < 0) | (rel >= space.nvec)
        if np.any(bad):
            i = tuple(int(k) for k in np.argwhere(bad)[0])
            raise ValueError(f"action {_short(action)} is outside {space}: entry {i} is "
                             f"{int(arr[i])}, valid {int(space.start[i])}.."
                             f"{int(space.start[i] + space.nvec[i] - 1)}")
        return action
    if isinstance(space, spaces.MultiBinary):
        arr = np.asarray(action)
        if arr.shape != space.shape or not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"action {_short(action)} is not valid for {space}: expected 0/1 "
                             f"values of shape {format_shape(space.shape)}")
        return action
    if not space.contains(action):
        raise ValueError(f"action {_short(action)} is not in the action space {space}; sample "
                         f"one with space.sample() to see the expected form")
    return action


def _short(x, limit=60):
    text = np.array2string(np.asarray(x), threshold=8, precision=4) if np.ndim(x) else repr(x)
    return text if len(text) <= limit else text[:limit] + "..."


def check_observation(observation, state_shape, n_envs=None):
    """Raise a ``ShapeError`` (a ``ValueError``) if ``observation`` does not have the shape the agent
    expects; return it otherwise.

    Args:
        observation: one observation (or a batch of ``n_envs``).
        state_shape: the agent's state shape, without a batch axis (``None`` entries match any size).
        n_envs: ``None`` for one observation; an int for a batch of that many (a vector env).
    """
    from symgraph.errors import ShapeError

    got = np.shape(observation)
    expected = tuple(state_shape) if n_envs is None else (int(n_envs),) + tuple(state_shape)
    if len(got) != len(expected) or any(e is not None and e != g
                                        for e, g in zip(expected, got, strict=False)):
        batch = f" (a batch of {n_envs} from a vector env)" if n_envs is not None else ""
        raise ShapeError(f"observation of shape {format_shape(got)} does not match the expected state shape "
                         f"{format_shape(expected)}{batch}; build the agent with the env's observation shape "
                         f"(space_info(env).obs_shape, e.g. PPO.from_env(env)) or wrap the env so it returns "
                         f"that shape (gymnasium.wrappers.FlattenObservation, ReshapeObservation, "
                         f"FrameStackObservation)")
    return observation


# ---------------------------------------------------------------------------------------------------------
# Space descriptions


@dataclass(frozen=True)
class SpaceInfo:
    """What a learner needs to know about an environment's spaces (for one sub-environment).

    Attributes:
        obs_shape: the shape of one observation (``()`` for a ``Discrete`` observation: a state index).
        obs_dtype: its numpy dtype.
        n_states: the number of states of a ``Discrete`` observation space, else ``None``.
        discrete: whether actions are discrete (``Discrete``) rather than continuous (``Box``).
        n_actions: the number of discrete actions, else ``None``.
        action_shape: the shape of one action (``()`` for discrete actions).
        action_dtype: its numpy dtype.
        action_low, action_high: the bounds of a ``Box`` action space (arrays of ``action_shape``), else
            ``None``. Behind a ``ClipAction`` wrapper (whose own space is unbounded, as gymnasium defines it)
            they are the bounds it clips to.
        action_start: the first discrete action (``Discrete(n, start)``; 0 almost always).
        n_envs: the number of sub-environments (1 for a single env).
    """

    obs_shape: tuple
    obs_dtype: np.dtype
    n_states: int | None
    discrete: bool
    n_actions: int | None
    action_shape: tuple
    action_dtype: np.dtype
    action_low: np.ndarray | None
    action_high: np.ndarray | None
    action_start: int
    n_envs: int


def space_info(env):
    """Describe ``env``'s spaces (a gymnasium env, a vector env, a gymnax env or ``(env, params)`` pair, or any
    object with ``observation_space`` and ``action_space``) as a :class:`SpaceInfo`.

    Observations may be ``Box``, ``Discrete``, ``MultiBinary`` or ``MultiDiscrete``; actions ``Discrete`` or
    ``Box``. Anything else raises a ``TypeError`` that says what to do (e.g. ``FlattenObservation`` for a
    ``Dict`` observation).
    """
    from symgraph.rl.fused.envs import as_jax_env, is_jax_env

    if isinstance(env, VectorEnv):
        obs_space, act_space, n_envs = env.single_observation_space, env.single_action_space, env.num_envs
    elif is_jax_env(env):
        env = as_jax_env(env)
        obs_space, act_space, n_envs = env.single_observation_space, env.single_action_space, env.num_envs
    else:
        try:
            obs_space, act_space = env.observation_space, env.action_space
        except AttributeError:
            raise TypeError(f"space_info: {type(env).__name__} has no observation_space/action_space; pass a "
                            f"gymnasium env (e.g. make_env('CartPole-v1'))") from None
        n_envs = 1
    if isinstance(obs_space, spaces.Discrete):
        obs_shape, obs_dtype, n_states = (), np.dtype(obs_space.dtype), int(obs_space.n)
    elif isinstance(obs_space, spaces.Box | spaces.MultiBinary | spaces.MultiDiscrete):
        obs_shape, obs_dtype, n_states = tuple(obs_space.shape), np.dtype(obs_space.dtype), None
    else:
        fix = ("wrap the env in gymnasium.wrappers.FlattenObservation to get one flat Box"
               if isinstance(obs_space, spaces.Dict | spaces.Tuple)
               else "wrap the env so that it returns arrays (a Box space)")
        raise TypeError(f"space_info: observation space {obs_space!r} is not supported: symgraph.rl agents "
                        f"take Box, Discrete, MultiBinary or MultiDiscrete observations; {fix}")
    if isinstance(act_space, spaces.Discrete):
        return SpaceInfo(obs_shape, obs_dtype, n_states, True, int(act_space.n), (),
                         np.dtype(act_space.dtype), None, None, int(act_space.start), n_envs)
    if isinstance(act_space, spaces.Box):
        low, high = _clip_bounds(env) or (act_space.low, act_space.high)
        return SpaceInfo(obs_shape, obs_dtype, n_states, False, None, tuple(act_space.shape),
                         np.dtype(act_space.dtype), low.copy(), high.copy(), 0, n_envs)
    raise TypeError(f"space_info: action space {act_space!r} is not supported: symgraph.rl learners take "
                    f"Discrete (categorical policies, Q-learning) or Box (continuous policies) actions; wrap "
                    f"the env so that it takes one of those (e.g. enumerate a MultiDiscrete space's "
                    f"combinations as one Discrete space with a gymnasium.ActionWrapper)")


def _clip_bounds(env):
    """The bounds a ``ClipAction`` wrapper in ``env``'s chain clips to (its own space is unbounded), or
    None."""
    clips = (gymnasium.wrappers.ClipAction, gymnasium.wrappers.vector.ClipAction)
    while env is not None:
        if isinstance(env, clips):
            inner = env.env
            space = inner.single_action_space if isinstance(inner, VectorEnv) else inner.action_space
            return space.low, space.high
        env = getattr(env, "env", None)
    return None


def final_observations(observations, info):
    """The true next observations of a vector env step under ``AutoresetMode.SAME_STEP``.

    Such an env resets a sub-environment within the step that ends its episode, so ``observations`` holds
    the first observation of the next episode there, and the last one of the ended episode is in
    ``info["final_obs"]``. This returns a copy of ``observations`` with those rows replaced: the
    ``"next-state"`` to store for the transition (bootstrap from it on truncation). With no ended episode it
    returns ``observations`` itself.
    """
    mask = info.get("_final_obs") if isinstance(info, dict) else None
    if mask is None or not np.any(mask):
        return observations
    out = np.array(observations, copy=True)
    for i in np.flatnonzero(mask):
        out[i] = info["final_obs"][i]
    return out


# ---------------------------------------------------------------------------------------------------------
# Wrappers that gymnasium does not have


def _validate_steps(steps):
    if steps is True or (isinstance(steps, numbers.Real) and steps == math.inf):
        return math.inf
    if steps is False or steps is None:
        return 0
    if isinstance(steps, numbers.Integral) and steps >= 0:
        return int(steps)
    shown = f"ndarray of shape {format_shape(steps.shape)}" if isinstance(steps, np.ndarray) else repr(steps)
    raise ValueError(f"validate must be True (check every step), False (never) or an int >= 0 (check the "
                     f"first N steps), got {shown}")


class _ActionChecks:
    """The step of :class:`ValidateActions` and :class:`ValidateVectorActions` (one for both)."""

    def step(self, action):
        if self.steps_left:
            check_action(self.action_space, action)
            self.steps_left -= 1
        return self.env.step(action)


class ValidateActions(_ActionChecks, gymnasium.Wrapper, RecordConstructorArgs):
    """Check each action with :func:`check_action` against the action space before stepping, for the first
    ``steps`` steps (``True``: every step).

    Validating only the first steps catches the systematic mistakes (wrong shape, wrong scale, one-hot
    instead of index, NaN from the start) at no cost later; use ``steps=True`` while debugging.
    """

    def __init__(self, env, steps=100):
        RecordConstructorArgs.__init__(self, steps=steps)
        gymnasium.Wrapper.__init__(self, env)
        self.steps_left = _validate_steps(steps)


class ValidateVectorActions(_ActionChecks, VectorWrapper):
    """:class:`ValidateActions` for vector environments (checks the batch of actions against the batched
    action space)."""

    def __init__(self, env, steps=100):
        VectorWrapper.__init__(self, env)
        self.steps_left = _validate_steps(steps)


class _FirstResetSeed:
    """Pass ``seed`` to the first ``reset`` that gives none, so an env made with a seed is reproducible
    without the caller seeding it (later unseeded resets continue the seeded generator). For vector
    environments sub-environment ``i`` gets ``seed + i`` (gymnasium's rule)."""

    def reset(self, *, seed=None, options=None):
        if seed is None and self._seed is not None:
            seed, self._seed = self._seed, None
        else:
            self._seed = None
        return self.env.reset(seed=seed, options=options)


class _SeedFirstReset(_FirstResetSeed, gymnasium.Wrapper, RecordConstructorArgs):
    def __init__(self, env, seed):
        RecordConstructorArgs.__init__(self, seed=seed)
        gymnasium.Wrapper.__init__(self, env)
        self._seed = seed


class _SeedFirstVectorReset(_FirstResetSeed, VectorWrapper):
    def __init__(self, env, seed):
        VectorWrapper.__init__(self, env)
        self._seed = seed


# ---------------------------------------------------------------------------------------------------------
# make_env


def _adapt(env):
    """A gymnasium env for ``env`` (itself, or a :class:`LegacyEnv` around it)."""
    return env if isinstance(env, gymnasium.Env) else LegacyEnv(env)


def make_env(env_or_id, n_envs=1, seed=None, *, max_episode_steps=None, record_stats=True,
             normalize_obs=False, normalize_reward=False, gamma=0.99, frame_stack=None, rescale_actions=None,
             clip_actions=False, wrappers=(), validate=100, vectorization_mode="sync", env_kwargs=None):
    """A gymnasium environment (or vector environment) from anything environment-like.

    Args:
        env_or_id: an env id (``"CartPole-v1"``; one gymnasium does not know is a ValueError naming the
            registered ids close to it), a gymnasium env, a gymnasium vector env, a legacy gym-style
            env (adapted by :class:`LegacyEnv`), or a factory (a callable returning one of those envs).
        n_envs: the number of sub-environments. ``1`` returns a single env; more returns a vector env built
            from an id or a factory (gymnasium's ``SyncVectorEnv``, or ``AsyncVectorEnv`` with
            ``vectorization_mode="async"``), with ``AutoresetMode.SAME_STEP``: a sub-environment whose
            episode ends is reset within that step, so every step is a real transition; its last observation
            is in ``info["final_obs"]`` (see :func:`final_observations`). A vector env passed in is used as
            is (``n_envs`` then defaults to, and must equal, its ``num_envs``).
        seed: an int >= 0 (gymnasium's rule): seeds the first ``reset`` that is called without a seed
            (sub-environment ``i`` of a vector env gets ``seed + i``) and the action space
            (``action_space.sample()``). ``None``: not seeded.
        max_episode_steps: a time limit (gymnasium's ``TimeLimit``; episodes cut by it are ``truncated``).
            ``None`` keeps the env's registered limit.
        record_stats: add ``RecordEpisodeStatistics`` (``info["episode"]`` holds the return ``"r"``, length
            ``"l"`` and time ``"t"`` of each ended episode, before reward normalisation).
        normalize_obs: ``NormalizeObservation`` (running mean/std; in a vector env, one per sub-environment,
            because gymnasium's vector version does not support same-step autoreset).
        normalize_reward: ``NormalizeReward`` with discount ``gamma`` (scales rewards by a running std of the
            discounted return).
        gamma: the discount of ``normalize_reward``.
        frame_stack: ``FrameStackObservation(env, frame_stack)``: the last ``frame_stack`` observations
            (``None`` or ``0``: no stacking).
        rescale_actions: ``(low, high)``: ``RescaleAction``, so the agent acts in ``[low, high]`` (e.g.
            ``(-1, 1)`` for tanh policies) whatever the env's bounds.
        clip_actions: ``ClipAction``: clip actions into the action space (the outer space then has infinite
            bounds, so validation no longer rejects out-of-bounds actions).
        wrappers: more wrappers, callables ``env -> env`` (e.g. ``gymnasium.wrappers.AtariPreprocessing``,
            with ``env_kwargs={"frameskip": 1}``), applied first, right around the base env (around each
            sub-environment of a vector env).
        validate: check actions with :func:`check_action` for the first ``validate`` steps (an int), every
            step (``True``) or never (``False``). The default checks the first 100 steps only, so the hot
            path is a plain ``step`` afterwards.
        vectorization_mode: ``"sync"`` or ``"async"`` (sub-processes) for ``n_envs > 1``.
        env_kwargs: keyword arguments of ``gymnasium.make`` (or of the factory).

    Wrapper order (innermost first): the base env, ``TimeLimit``, ``wrappers``, ``FrameStackObservation``,
    ``RecordEpisodeStatistics``, ``NormalizeObservation``, ``NormalizeReward``, ``RescaleAction``,
    ``ClipAction``, :class:`ValidateActions`.

    Returns:
        A ``gymnasium.Env`` (``n_envs == 1``) or a ``gymnasium.vector.VectorEnv``.
    """
    from symgraph.rl.fused.envs import is_jax_env

    if is_jax_env(env_or_id):
        raise TypeError("make_env: got a JAX-native (gymnax) environment, which steps as pure JAX functions, not "
                        "through gymnasium; train on it with the compiled loop, symgraph.rl.train(env, learner, "
                        "total_steps), or use the gymnasium version of the env (make_env('CartPole-v1'))")
    env_kwargs = dict(env_kwargs or {})
    if isinstance(n_envs, bool) or not isinstance(n_envs, numbers.Integral) or not 1 <= n_envs <= _MAX_COUNT:
        raise ValueError(f"make_env: n_envs must be a positive int (at most 2**31 - 1), got {n_envs!r}; pass "
                         f"the number of sub-environments, e.g. n_envs=8")
    n_envs = int(n_envs)
    seed = _check_seed(seed)
    frame_stack = _check_frame_stack(frame_stack)
    if max_episode_steps is not None and (not isinstance(max_episode_steps, numbers.Integral)
                                          or max_episode_steps < 1):
        raise ValueError(f"make_env: max_episode_steps must be a positive int or None, got "
                         f"{max_episode_steps!r}")
    validate = _validate_steps(validate)
    if isinstance(env_or_id, VectorEnv):
        if n_envs not in (1, env_or_id.num_envs):
            raise ValueError(f"make_env: got a vector env of {env_or_id.num_envs} sub-environments but "
                             f"n_envs={n_envs}; leave n_envs out to use it as it is")
        if max_episode_steps is not None or wrappers or normalize_obs or frame_stack:
            raise ValueError("make_env: max_episode_steps, wrappers, normalize_obs and frame_stack wrap each "
                             "sub-environment, which a ready vector env does not allow; pass an env id or a "
                             "factory with n_envs=... instead, or wrap the sub-environments yourself")
        return _wrap_vector(env_or_id, seed, record_stats, normalize_reward, gamma, rescale_actions,
                            clip_actions, validate)

    def single(base):
        env = _adapt(base)
        if max_episode_steps is not None and not isinstance(env_or_id, str):
            env = gymnasium.wrappers.TimeLimit(env, max_episode_steps)
        for wrapper in wrappers:
            env = wrapper(env)
        if frame_stack:
            try:
                env = gymnasium.wrappers.FrameStackObservation(env, frame_stack)
            except (MemoryError, ValueError) as exc:  # the stacked observation space is too large
                raise ValueError(f"make_env: frame_stack={frame_stack}: cannot allocate the stacked "
                                 f"observation space of {frame_stack:,} observations ({exc}); lower "
                                 f"frame_stack") from None
        return env

    if isinstance(env_or_id, str):
        _check_env_id(env_or_id)
        make_kwargs = dict(env_kwargs)
        if max_episode_steps is not None:
            make_kwargs["max_episode_steps"] = max_episode_steps
        factory = lambda: gymnasium.make(env_or_id, **make_kwargs)
    elif isinstance(env_or_id, gymnasium.Env) or (not callable(env_or_id) and hasattr(env_or_id, "step")):
        if n_envs > 1:
            raise ValueError(f"make_env: cannot make {n_envs} copies of an env instance "
                             f"({type(env_or_id).__name__}); pass its id or a factory (a function that "
                             f"returns a new env) with n_envs={n_envs}")
        factory = lambda: env_or_id
    elif callable(env_or_id):
        factory = lambda: env_or_id(**env_kwargs)
    else:
        raise TypeError(f"make_env: expected an env id, a gymnasium env, a vector env, a gym-style env or a "
                        f"factory, got {type(env_or_id).__name__} {env_or_id!r}")

    if n_envs == 1:
        env = single(factory())
        if record_stats:
            env = gymnasium.wrappers.RecordEpisodeStatistics(env)
        if normalize_obs:
            env = gymnasium.wrappers.NormalizeObservation(env)
        if normalize_reward:
            env = gymnasium.wrappers.NormalizeReward(env, gamma=gamma)
        if rescale_actions is not None:
            env = gymnasium.wrappers.RescaleAction(env, *_bounds(rescale_actions, env.action_space))
        if clip_actions:
            env = gymnasium.wrappers.ClipAction(env)
        if validate:
            env = ValidateActions(env, validate)
        if seed is not None:
            env.action_space.seed(seed)
            env = _SeedFirstReset(env, seed)
        return env

    def sub_env():
        env = single(factory())
        if normalize_obs:
            env = gymnasium.wrappers.NormalizeObservation(env)
        return env

    vector_cls = {"sync": gymnasium.vector.SyncVectorEnv, "async": gymnasium.vector.AsyncVectorEnv}
    if vectorization_mode not in vector_cls:
        raise ValueError(f"make_env: vectorization_mode must be 'sync' or 'async', got "
                         f"{vectorization_mode!r}")
    env = vector_cls[vectorization_mode]([sub_env] * n_envs, autoreset_mode=AutoresetMode.SAME_STEP)
    return _wrap_vector(env, seed, record_stats, normalize_reward, gamma, rescale_actions, clip_actions,
                        validate)


def _check_seed(seed):
    """``seed`` as an int (gymnasium seeds only Python ints >= 0), or None; else an error naming it."""
    if seed is None:
        return None
    expected = ("make_env: seed must be None or an int >= 0 (it seeds the first reset and the action space, "
                "as gymnasium requires)")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{expected}, got {type(seed).__name__} {seed!r}; pass an int such as seed=0, or None")
    if seed < 0:
        raise ValueError(f"{expected}, got {seed!r}; pass a seed >= 0")
    return int(seed)


def _check_frame_stack(frame_stack):
    """``frame_stack`` as an int >= 1, or None (``None`` or ``0``: no stacking); else an error naming it."""
    if frame_stack is None or frame_stack is False or (isinstance(frame_stack, numbers.Integral)
                                                       and frame_stack == 0):
        return None
    expected = "make_env: frame_stack must be None or a positive int (at most 2**31 - 1: the observations stacked)"
    if isinstance(frame_stack, bool) or not isinstance(frame_stack, numbers.Integral):
        raise TypeError(f"{expected}, got {type(frame_stack).__name__} {frame_stack!r}; pass e.g. frame_stack=4, "
                        f"or None for no stacking")
    if not 1 <= frame_stack <= _MAX_COUNT:
        raise ValueError(f"{expected}, got {frame_stack!r}; pass e.g. frame_stack=4, or None for no stacking")
    return int(frame_stack)


def _bounds(low_high, space):
    """``(low, high)`` in the dtype of the Box ``space`` (gymnasium warns when float64 bounds are cast)."""
    if not isinstance(space, spaces.Box):
        raise TypeError(f"make_env: rescale_actions needs a Box action space, got {space!r}; drop "
                        f"rescale_actions for discrete actions")
    try:
        low, high = low_high
    except (TypeError, ValueError):
        raise ValueError(f"make_env: rescale_actions must be a pair (low, high), e.g. (-1, 1), got "
                         f"{low_high!r}") from None
    return (np.broadcast_to(np.asarray(low, space.dtype), space.shape).copy(),
            np.broadcast_to(np.asarray(high, space.dtype), space.shape).copy())


def _wrap_vector(env, seed, record_stats, normalize_reward, gamma, rescale_actions, clip_actions, validate):
    vw = gymnasium.wrappers.vector
    if record_stats:
        env = vw.RecordEpisodeStatistics(env)
    if normalize_reward:
        env = vw.NormalizeReward(env, gamma=gamma)
    if rescale_actions is not None:
        env = vw.RescaleAction(env, *_bounds(rescale_actions, env.single_action_space))
    if clip_actions:
        env = vw.ClipAction(env)
    if validate:
        env = ValidateVectorActions(env, validate)
    if seed is not None:
        env.action_space.seed(seed)
        env.single_action_space.seed(seed)
        env = _SeedFirstVectorReset(env, seed)
    return env


def episode_limit(env):
    """The env's registered episode limit (its spec's ``max_episode_steps``; a gymnax env's
    ``max_steps_in_episode``), or None."""
    from symgraph.rl.fused.envs import as_jax_env, is_jax_env

    env = as_jax_env(env) if is_jax_env(env) else env
    spec = getattr(env, "spec", None)
    if spec is None and hasattr(env, "unwrapped") and hasattr(env.unwrapped, "envs"):
        spec = getattr(env.unwrapped.envs[0], "spec", None)
    return getattr(spec, "max_episode_steps", None)
