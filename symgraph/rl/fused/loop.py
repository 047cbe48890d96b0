r"""``train``: the whole training loop of a learner on a JAX-native environment, compiled into one program.

:func:`train` is :func:`symgraph.rl.run`'s sibling for gymnax environments. Where ``run`` steps a gymnasium
env from Python and calls the learner's compiled functions once per step and update, ``train`` builds one
pure JAX function of a PRNG key that does everything (resets, acting, env steps, updates, evaluation) from
the learner's ``.pure`` views, and compiles it once with ``jax.jit``. ``jax.vmap`` runs ``N`` seeds in that
one program (each with its own initial parameters, drawn as :func:`symgraph.initial_state` draws them, and
its own env and sampling keys), and when several devices are present the seeds are sharded across them
with JAX's own sharding (a ``jax.sharding.Mesh`` over the seed axis).

The contract between ``train`` and the algorithm modules
--------------------------------------------------------

An algorithm module (:mod:`symgraph.rl.fused.on_policy` for :class:`~symgraph.rl.PPO`,
:class:`~symgraph.rl.ActorCritic` and :class:`~symgraph.rl.REINFORCE`; ``symgraph.rl.fused.off_policy`` for
the off-policy learners) exposes ``build(learner, env, total_steps, *, <options>) -> Program``, where ``env``
is a :class:`~symgraph.rl.fused.envs.JaxEnv` (already sized: ``env.num_envs`` copies), ``total_steps`` the
env steps to take per seed (all copies together), and the keyword-only options (if any) come from
:func:`train`'s ``options`` dict, checked against the signature. It raises a ``ValueError`` naming the
argument and the fix when the learner, env or step count do not fit (e.g. ``total_steps`` not a multiple of
the steps of one iteration). The :class:`~symgraph.rl.fused.program.Program` it returns is made of pure
functions of **one** seed (``train`` vmaps them):

``init(learner_state, key) -> carry``
    the loop's carry (any pytree) from the seed's initial learner state (a dict as
    :attr:`~symgraph.rl.learners.on_policy.OnPolicyLearner.state`, already re-drawn for the seed and with
    the user's :func:`train` ``state_overrides`` applied) and a key for everything else (env resets,
    exploration).
``iteration(carry) -> (carry, metrics)``
    one iteration of training (on-policy: a rollout and an update); ``metrics`` is a flat dict of float32
    scalars, with at least ``"episode/return"``, ``"episode/length"`` (means over the episodes that ended
    during the iteration; see :func:`~symgraph.rl.fused.program.episode_metrics`) and ``"episode/count"``,
    and the update's metrics as ``"update/<name>"``.
``learner_state(carry) -> dict``
    the learner state held in the carry (what :meth:`set_state` takes).
``greedy(learner_state, obs) -> actions``
    the greedy (deterministic) policy's env actions for a batch of observations, for the final evaluation.
``num_iterations``, ``steps_per_iteration``
    ints: ``num_iterations * steps_per_iteration == total_steps``.

``train`` scans ``iteration`` ``num_iterations`` times (``jax.lax.scan``, over all seeds at once), reports
the seed-averaged metrics to the logger and the progress bar every ``log_every`` env steps through
``jax.debug.callback`` (the program stays one compiled call; there is no callback at all without a logger
or a progress bar), evaluates the final greedy policy, and writes one seed's final state back into the
learner.

Hyperparameters across seeds
----------------------------

Each seed's learner state is a dict of arrays, and ``state_overrides={name: values}`` replaces entries of it
with per-seed values (``values`` has a leading axis of one entry per seed). Anything the learner keeps in
its state can so differ between the seeds of one compiled program: the learners hold the hyperparameters
users sweep as state entries (``learner.hyperparameter_variables()`` lists them by constructor argument: the
numeric learning rates, entries ending in ``hyperparams/learning_rate``, which PPO's ``anneal_lr`` scales;
``gamma``; PPO's ``eps_clip``, ``lam``, ``entropy_beta``, ``vf_coef``, ``clip_vf``; A2C's ``lam`` and
``entropy_beta``, REINFORCE's ``entropy_beta``; ``tau`` below 1; SAC's fixed ``alpha``; see
:mod:`symgraph.rl.learners.hyperparameters`), and so are step counters and the initial parameters
themselves. A callable ``lr`` is computed from the step count instead and is not an entry. The list of
entries is ``learner.state.keys()``.
"""

import inspect
import logging
import math
import numbers
import time
import weakref
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from symgraph import rng
from symgraph.rl.fused.envs import as_jax_env, is_jax_env
from symgraph.rl.progress import NullProgressBar, progress_bar
from symgraph.state import initial_state

__all__ = ["train", "TrainResult", "seed_state"]

log = logging.getLogger(__name__)

#: The number of reports (logger rows, progress-bar updates) over training when ``log_every`` is None.
DEFAULT_REPORTS = 100


@dataclass
class TrainResult:
    """What :func:`train` returns (every array is numpy; a leading axis of one entry per seed).

    Attributes:
        seeds: the integer seeds, in order.
        steps: ``(iterations,)`` env steps per seed at the end of each iteration.
        metrics: ``{name: (seeds, iterations)}``: each iteration's metrics (``"episode/return"``,
            ``"episode/length"``, ``"episode/count"``, ``"update/..."``).
        final_returns: ``(seeds,)`` mean return of the final greedy policy over ``eval_episodes`` episodes, or
            None when ``eval_episodes=0``.
        states: ``{name: (seeds, ...)}``: each seed's final learner state.
        seconds: the run time of the compiled program (compilation excluded).
        compile_seconds: the time spent drawing the seeds' initial states and tracing and compiling it.
        devices: the number of devices the seeds were sharded across.
    """

    seeds: tuple
    steps: np.ndarray
    metrics: dict
    final_returns: np.ndarray | None
    states: dict = field(repr=False)
    seconds: float
    compile_seconds: float
    devices: int = 1

    @property
    def episode_returns(self):
        """``(seeds, iterations)``: the mean return of the training episodes that ended in each iteration."""
        return self.metrics["episode/return"]

    @property
    def total_steps(self):
        """Env steps per seed."""
        return int(self.steps[-1])

    @property
    def steps_per_second(self):
        """Env steps per second over all seeds (compilation excluded)."""
        return self.total_steps * len(self.seeds) / self.seconds

    def state(self, index=0):
        """The final learner state of the ``index``-th seed (a dict for ``learner.set_state``)."""
        if not -len(self.seeds) <= index < len(self.seeds):
            raise IndexError(f"TrainResult.state: index must be in [-{len(self.seeds)}, {len(self.seeds)}) (one per "
                             f"seed), got {index}")
        return {name: value[index] for name, value in self.states.items()}


def _is_key(value):
    return np.dtype(value.dtype) == np.uint32 and tuple(value.shape) == (2,)


def seed_state(learner, key):
    """A learner's state as a fresh seed ``key`` starts it: pure and jittable (``train`` maps it over the seeds'
    keys with ``jax.lax.map``: a vmapped orthogonal initializer can deadlock on CPU, see ``_seed_states``).

    Variables made from an initializer (the networks' parameters) are re-drawn as
    :func:`symgraph.initial_state` draws them (so the key of the learner's own seed,
    ``symgraph.rng.key_from_seed(learner.seed)``, gives the parameters the learner was created with), PRNG
    keys (the compiled functions' and the learner's sampling keys) are ``fold_name(key, name)``, and every
    other entry (optimizer moments, counters) takes its creation value.
    """
    template = learner.state
    variables = learner.graph.variables
    values = initial_state([variables[name] for name in template if name in variables], key)
    state = {}
    for name, value in template.items():
        if _is_key(value) and (name not in variables or not variables[name].trainable):
            state[name] = rng.fold_name(key, name)
        else:
            state[name] = jnp.asarray(values[name])
    return state


#: The compiled ``keys -> states`` of each learner (``_seed_states``), kept while the learner lives.
_SEED_STATES = weakref.WeakKeyDictionary()

#: XLA options of the programs ``train`` compiles, on the CPU: LLVM's optimisation level 1 instead of XLA's
#: default. On a 2-core CPU, PPO's fused program of CartPole-v1 and its seeds' initial states (3 seeds) compiled
#: in 3.4-3.8 s instead of 5.0-5.1 s, and ran in the same 3.5 s: the heavy work of these programs is in matrix
#: products, library kernels that LLVM does not generate. Not used on accelerators, whose code generation it
#: would also change.
CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


def _compiler_options(devices):
    """:data:`CPU_COMPILER_OPTIONS` when the program runs on CPU devices, else None."""
    platforms = {d.platform for d in (jax.devices() if devices is None else devices)}
    return dict(CPU_COMPILER_OPTIONS) if platforms == {"cpu"} else None


def _seed_states(learner):
    """``keys -> states``: :func:`seed_state` of each key, stacked, compiled once per learner (and number of
    seeds) as a program of its own, outside the training program.

    The seeds are mapped with ``jax.lax.map``, one after the other, not ``jax.vmap``: vmapped, orthogonal
    initializers become one batched QR decomposition, whose CPU kernel (jaxlib's LAPACK ``orgqr``) splits the
    batch over XLA's intra-op thread pool and waits for it from a thread of that pool, which deadlocks when the
    pool is small (seen on 2 cores). Drawing initial values is cheap, so the loop costs nothing that matters."""
    fn = _SEED_STATES.get(learner)
    if fn is None:
        fn = _SEED_STATES[learner] = jax.jit(lambda keys: jax.lax.map(lambda key: seed_state(learner, key), keys),
                                             compiler_options=_compiler_options(None))
    return fn


def _builder(learner):
    from symgraph.rl.learners.off_policy import OffPolicyLearner
    from symgraph.rl.learners.on_policy import OnPolicyLearner

    if isinstance(learner, OnPolicyLearner):
        from symgraph.rl.fused import on_policy

        return on_policy.build
    if isinstance(learner, OffPolicyLearner):
        try:
            from symgraph.rl.fused import off_policy
        except ImportError as error:
            raise NotImplementedError(f"train: fused training of {type(learner).__name__} is not available "
                                      f"({error}); use rl.run with a gymnasium env") from error
        return off_policy.build
    raise TypeError(f"train: learner must be a symgraph.rl learner (PPO, ActorCritic, REINFORCE, DQN, DDPG, TD3, "
                    f"SAC), got {type(learner).__name__}; other agents run with rl.run on gymnasium envs")


def _options(options, build, learner):
    """``options`` checked against the keyword arguments ``build`` takes."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"train: options must be a dict of keyword arguments, got {type(options).__name__}")
    known = [name for name, p in inspect.signature(build).parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = [name for name in options if name not in known]
    if unknown:
        takes = f"it takes {', '.join(known)}" if known else "it takes none"
        raise ValueError(f"train: options has {unknown[0]!r}, which fused {type(learner).__name__} training does "
                         f"not use; {takes}")
    return dict(options)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"train: {name} must be a positive int, got {value!r}")
    return int(value)


def _seeds(seeds, learner):
    if isinstance(seeds, bool):
        raise TypeError(f"train: seeds must be a positive int (the number of seeds) or a list of int seeds, got "
                        f"{seeds!r}")
    if isinstance(seeds, numbers.Integral):
        if seeds < 1:
            raise ValueError(f"train: seeds must be >= 1 (the number of seeds to train), got {seeds}; pass "
                             f"seeds=1 for one run")
        return tuple((learner.seed + i) % rng.SEED_LIMIT for i in range(int(seeds)))
    try:
        seeds = tuple(seeds)
    except TypeError:
        raise TypeError(f"train: seeds must be a positive int or a list of int seeds, got "
                        f"{type(seeds).__name__} {seeds!r}") from None
    if not seeds:
        raise ValueError("train: seeds is an empty list; pass at least one seed")
    for s in seeds:
        rng.key_from_seed(s, "train: each seed")
    if len(set(int(s) for s in seeds)) != len(seeds):
        raise ValueError(f"train: seeds lists a seed twice ({list(seeds)}); two runs of one seed are identical")
    return tuple(int(s) for s in seeds)


def _overrides(state_overrides, template, n_seeds):
    if state_overrides is None:
        return {}
    if not isinstance(state_overrides, dict):
        raise TypeError(f"train: state_overrides must be a dict {{state entry name: per-seed values}}, got "
                        f"{type(state_overrides).__name__}")
    out = {}
    for name, values in state_overrides.items():
        if name not in template:
            close = [k for k in template if name.rsplit("/", 1)[-1] in k][:5]
            raise KeyError(f"train: state_overrides names {name!r}, which is not an entry of the learner's state"
                           f"{f'; similar entries: {close}' if close else ''} (all entries: learner.state.keys())")
        want = template[name]
        values = jnp.asarray(values)
        shape = (n_seeds, *want.shape)
        if values.shape != shape:
            raise ValueError(f"train: state_overrides[{name!r}] must have shape {shape} (one value of shape "
                             f"{tuple(want.shape)} per seed, {n_seeds} seeds), got {tuple(values.shape)}")
        if values.dtype != want.dtype:
            if jnp.issubdtype(values.dtype, jnp.floating) != jnp.issubdtype(want.dtype, jnp.floating):
                raise TypeError(f"train: state_overrides[{name!r}] has dtype {values.dtype}, but the entry is "
                                f"{want.dtype}")
            values = values.astype(want.dtype)
        out[name] = values
    return out


def _report_every(log_every, steps_per_iteration, num_iterations, reporting):
    """Iterations between two reports (None: no report)."""
    if log_every is None:
        return max(1, math.ceil(num_iterations / DEFAULT_REPORTS)) if reporting else None
    log_every = _positive_int("log_every", log_every)
    return max(1, math.ceil(log_every / steps_per_iteration))


def _mesh(n_seeds, devices):
    """A one-axis mesh over the devices the seeds are sharded across (None for one device)."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("train: devices is empty; pass None (every device) or a list of jax devices")
    n = math.gcd(n_seeds, len(devices))
    if n < len(devices):
        log.info("train: %d seeds over %d devices: sharding across %d of them (a multiple of the device count "
                 "of seeds uses them all)", n_seeds, len(devices), n)
    if n == 1:
        return None
    return jax.sharding.Mesh(np.array(devices[:n]), ("seeds",))


def _evaluate(program, env, episodes):
    """``evaluate(learner_state, key) -> mean return`` of the greedy policy over ``episodes`` episodes (one per
    copy of ``env``, ``max_episode_steps`` steps: the first episode of each copy)."""
    limit = env.max_episode_steps

    def evaluate(state, key):
        reset_key, key = jax.random.split(key)
        obs, env_state = env.reset(reset_key)

        def step(carry, step_key):
            obs, env_state, total, running = carry
            action = program.greedy(state, obs)
            obs, env_state, reward, terminated, truncated, _ = env.step(step_key, env_state, action)
            total = total + running * reward
            running = running * (1.0 - (terminated | truncated).astype(jnp.float32))
            return (obs, env_state, total, running), None

        ones = jnp.ones(episodes, jnp.float32)
        (_, _, total, _), _ = jax.lax.scan(step, (obs, env_state, 0.0 * ones, ones), jax.random.split(key, limit))
        return jnp.mean(total)

    return evaluate


def train(env, learner, total_steps, *, seeds=1, num_envs=None, env_params=None, eval_episodes=10, log_every=None,
          logger=None, progress=None, state_overrides=None, write_seed=0, devices=None, options=None):
    """Train ``learner`` on a JAX-native env with the whole loop compiled (see the module docstring).

    Args:
        env: a gymnax environment: ``gymnax.make(id)``'s ``(env, params)`` pair, the env alone (default params),
            or a :class:`~symgraph.rl.fused.envs.JaxEnv`.
        learner: a learner built for the env's spaces (e.g. ``rl.PPO.from_env(env, n_envs=4, ...)``).
        total_steps: env steps per seed, all parallel copies together (PureJaxRL's ``TOTAL_TIMESTEPS``); a
            multiple of the steps of one iteration (on-policy: ``n_steps * n_envs``).

    Keyword Args:
        seeds: the number of seeds (``learner.seed``, ``learner.seed + 1``, ...) or a list of int seeds.
            Seed ``s`` starts from the parameters ``initial_state`` draws with ``key_from_seed(s)``: the
            learner's own seed starts where the learner was created.
        num_envs: parallel env copies per seed (PureJaxRL's ``NUM_ENVS``); None takes the learner's
            ``n_envs`` (or a ``JaxEnv``'s ``num_envs``). It must equal the learner's ``n_envs``.
        env_params: gymnax ``EnvParams`` replacing the env's (or the pair's) params.
        eval_episodes: episodes of the final greedy evaluation per seed (0: none).
        log_every: env steps (per seed) between two reports to ``logger`` and ``progress``, rounded up to whole
            iterations; None: about 100 reports over training (when there is a logger or a progress bar).
        logger: a :class:`~symgraph.rl.logging.Logger` receiving each report (the seed means of the metrics,
            at ``step`` = env steps per seed), or None.
        progress: the progress bar: True, False or None (automatic, see
            :func:`~symgraph.rl.progress.progress_enabled`).
        state_overrides: ``{state entry name: values}`` with one value per seed (a leading axis of
            ``len(seeds)``), replacing that entry of each seed's initial learner state: how to vmap a
            hyperparameter the learner keeps in its state (see the module docstring).
        write_seed: the index (in ``seeds``) of the seed whose final state is written back into the learner,
            or None to leave the learner as it was.
        devices: the devices to shard seeds across (None: ``jax.devices()``); seeds are split evenly across
            ``gcd(len(seeds), len(devices))`` of them.
        options: keyword arguments of the algorithm module's ``build`` (the off-policy learners' replay and
            update schedule, see ``symgraph.rl.fused.off_policy.build``); the on-policy learners take none.

    Returns:
        a :class:`TrainResult`.

    Raises:
        TypeError: ``env`` is not a JAX-native env (``rl.run`` takes gymnasium envs), or an unsupported learner.
        ValueError: a bad count (``seeds``, ``total_steps``, ``log_every``, ``eval_episodes``), ``num_envs``
            different from the learner's ``n_envs``, or ``total_steps`` not a multiple of an iteration.
    """
    if not is_jax_env(env):
        raise TypeError(f"train: env must be a JAX-native (gymnax) environment, e.g. gymnax.make('CartPole-v1'), "
                        f"got {type(env).__name__}; train gymnasium envs with rl.run(env, agent, buffer)")
    total_steps = _positive_int("total_steps", total_steps)
    if isinstance(eval_episodes, bool) or not isinstance(eval_episodes, numbers.Integral) or eval_episodes < 0:
        raise ValueError(f"train: eval_episodes must be an int >= 0 (0: no final evaluation), got {eval_episodes!r}")
    build = _builder(learner)
    seed_list = _seeds(seeds, learner)
    if num_envs is not None:
        num_envs = _positive_int("num_envs", num_envs)
    elif not hasattr(env, "num_envs"):
        num_envs = getattr(learner, "n_envs", 1)
    jax_env = as_jax_env(env, env_params, num_envs)
    program = build(learner, jax_env, total_steps, **_options(options, build, learner))
    n_seeds, n_iterations = len(seed_list), program.num_iterations
    template = learner.state
    overrides = _overrides(state_overrides, template, n_seeds)
    if write_seed is not None and (isinstance(write_seed, bool) or not isinstance(write_seed, numbers.Integral)
                                   or not 0 <= write_seed < n_seeds):
        raise ValueError(f"train: write_seed must be an index in [0, {n_seeds}) of seeds, or None, got "
                         f"{write_seed!r}")
    bar = progress_bar(n_iterations * program.steps_per_iteration, enabled=progress,
                       desc=f"{type(learner).__name__} on {jax_env.name} ({n_seeds} seed{'s' * (n_seeds > 1)})")
    every = _report_every(log_every, program.steps_per_iteration, n_iterations,
                          logger is not None or not isinstance(bar, NullProgressBar))
    evaluate = None
    if eval_episodes:
        if jax_env.max_episode_steps is None:
            raise ValueError(f"train: {jax_env.name} has no episode limit (params.max_steps_in_episode), so the "
                             f"final evaluation cannot be bounded; pass eval_episodes=0")
        evaluate = _evaluate(program, as_jax_env(jax_env, num_envs=int(eval_episodes)), int(eval_episodes))
    reported = [0]

    def report(iteration, metrics):
        steps = (int(iteration) + 1) * program.steps_per_iteration
        values = {name: float(value) for name, value in metrics.items()}
        if logger is not None:
            logger.write(values, steps)
        bar.update(steps - reported[0])
        reported[0] = steps
        bar.set_return(values["episode/return"])

    def program_fn(keys, states):
        carry = jax.vmap(program.init)(states, keys)

        def body(carry, index):
            carry, metrics = jax.vmap(program.iteration)(carry)
            if every is not None:
                means = {name: jnp.mean(value) for name, value in metrics.items()}
                due = ((index + 1) % every == 0) | (index + 1 == n_iterations)
                jax.lax.cond(due, lambda: jax.debug.callback(report, index, means), lambda: None)
            return carry, metrics

        carry, metrics = jax.lax.scan(body, carry, jnp.arange(n_iterations))
        final = jax.vmap(program.learner_state)(carry)
        eval_keys = jax.vmap(lambda k: rng.fold_name(k, "fused/evaluation"))(keys)
        returns = jax.vmap(evaluate)(final, eval_keys) if evaluate is not None else None
        return final, {name: value.T for name, value in metrics.items()}, returns

    keys = jnp.stack([rng.key_from_seed(s) for s in seed_list])
    mesh = _mesh(n_seeds, devices)
    start = time.perf_counter()
    states = _seed_states(learner)(keys)
    states.update(overrides)
    if mesh is not None:
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds"))
        keys, states = jax.device_put((keys, states), sharding)
    compiled = jax.jit(program_fn).lower(keys, states).compile(compiler_options=_compiler_options(devices))
    compile_seconds = time.perf_counter() - start
    with bar:
        start = time.perf_counter()
        final, metrics, returns = jax.block_until_ready(compiled(keys, states))
        seconds = time.perf_counter() - start
    if write_seed is not None:
        learner.set_state({name: value[write_seed] for name, value in final.items()})
    return TrainResult(
        seeds=seed_list,
        steps=np.arange(1, n_iterations + 1, dtype=np.int64) * program.steps_per_iteration,
        metrics={name: np.asarray(value) for name, value in metrics.items()},
        final_returns=None if returns is None else np.asarray(returns),
        states={name: np.asarray(value) for name, value in final.items()},
        seconds=seconds, compile_seconds=compile_seconds,
        devices=1 if mesh is None else mesh.devices.size)
