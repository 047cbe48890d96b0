"""``run(env, agent, buffer, ...)``: the generic training loop that drives any agent of the protocol in
:mod:`symgraph.rl.protocol` on any environment :func:`symgraph.rl.envs.make_env` accepts, with periodic
evaluation of the deterministic policy.

One *step* below is one decision of the agent: one ``act``, one transition stored, one ``observe``. With
``skip_frames=k`` a step repeats the action for up to ``k`` environment frames (``env.step`` calls); with a
vector environment of ``n`` sub-environments a vector step counts as ``n`` steps (``n`` transitions). Step
counters (``update_every``, ``update_after``, ``max_steps``, ``total_steps``) count these transitions.

Per step, ``run``:

1. asks the agent for an action (``act_and_extras(state)`` if it has it, else ``act(state)``), adds
   ``noise()`` (clipped to the bounds of a ``Box`` action space) and maps it through ``action_processor``;
2. steps the environment (``skip_frames`` times, rewards summed, stopping at the end of the episode);
3. shapes the reward with ``rewarder`` and pushes ``{"state", "action", "reward", "next-state", "terminal",
   "truncated", **extras}`` to the buffer (``"terminal"`` is the environment's ``terminated`` only;
   ``"truncated"`` marks time limits, the env's or ``max_episode_steps``), and calls ``observe`` for
   per-step agents;
4. at the end of an episode calls ``buffer.finish_path(last_val)`` with ``last_val = 0`` after a
   termination and ``value(next_state)`` after a truncation (bootstrap), then the scheduled updates, then
   ``end_episode()``, the logger, the callbacks and the evaluation. An agent whose
   ``needs_path_returns`` is False (every symgraph learner: they compute their returns from the stored
   rewards themselves) gets no ``finish_path`` calls, so its buffer holds no ``"reward-to-go"``,
   ``"advantage"`` or ``"TD-error"``.

After every update that returns metrics, ``run`` checks that no loss metric became NaN or infinite, and
raises :class:`TrainingDiverged` if one did (see ``run``'s docstring). With
``checkpoint_every``/``checkpoint_path`` it writes checkpoints (:mod:`symgraph.rl.checkpoint`) from which
``resume=True`` continues a run exactly as if it had not been interrupted.

:func:`evaluate` runs whole episodes of an agent's policy (no learning, no noise): ``run``'s periodic
evaluation, the tabular trainer and the command line use it.

The machinery is in the package ``symgraph.rl.driver``: ``config`` (the parameters, checked once, in a frozen
``RunConfig``), ``lanes`` (a single env driven as a vector of one, and vector envs), ``loop`` (the one
interaction loop, updates, divergence checks, bookkeeping), ``resume`` (checkpoints), ``evaluate`` and
``frames`` (the ``skip_frames`` wrapper).
"""

import time

from symgraph.rl.driver.config import make_config
from symgraph.rl.driver.evaluate import CHECKED_STEPS, Evaluation, evaluate  # noqa: F401 (CHECKED_STEPS kept here)
from symgraph.rl.driver.loop import EVAL_SEED_OFFSET, Driver  # noqa: F401 (EVAL_SEED_OFFSET kept importable here)
from symgraph.rl.driver.result import RunResult, TrainingDiverged
from symgraph.rl.driver.resume import metrics_to_python

__all__ = ["run", "evaluate", "Evaluation", "RunResult", "TrainingDiverged"]


def run(env, agent, buffer=None, rewarder=None, noise=None, action_processor=None, max_episode_steps=10000,
        max_episodes=1000, update_every=None, update_after=None, skip_frames=1, reset_each_episode=False,
        wait_end_path=None, eval_every=10, eval_max_episode_steps=10000, eval_max_episodes=10, *,
        max_steps=None, seed=None, callbacks=(), logger=None, progress=False, eval_env=None,
        checkpoint_every=None, checkpoint_path=None, resume=False):
    """Train ``agent`` on ``env``, storing transitions in ``buffer``, with periodic deterministic evaluation.

    The agent follows :mod:`symgraph.rl.protocol`: ``act(states, deterministic=False)``, an
    ``update(buffer)`` hook returning a dict of metrics or ``None`` (or ``observe(...)`` for per-step
    learners), and ``end_episode()``; optional ``act_and_extras``, ``value``, ``state_shape``, and the
    learner contract's ``schedule`` (when to update) and ``make_storage(n_envs)`` (its storage), so that
    ``run(env, learner)`` needs nothing else. A tabular
    agent (whose ``update`` takes one transition) is adapted automatically
    (:class:`~symgraph.rl.protocol.StepAgent`). Nothing is printed.

    Args:
        env: an env id (``"CartPole-v1"``), a gymnasium env, a gymnasium vector env, a legacy gym-style env
            or a factory (see :func:`~symgraph.rl.envs.make_env`; build vector envs with
            ``make_env(id, n_envs=N)``). Envs made here from an id or a factory are closed at the end.
        agent: the learner (see above).
        buffer: a :class:`~symgraph.rl.buffer.Buffer` receiving every transition, passed to
            ``agent.update``; ``None`` (default): the agent's ``agent.make_storage(n_envs)``, or no storage
            for agents that learn in ``observe`` (tabular agents).
        rewarder: reward shaping, ``rewarder(reward, state, action, next_state) -> reward``, applied to each
            step's reward (summed over the skipped frames; batches for a vector env) before it is stored and
            observed. ``episode_returns`` keep the environment's rewards.
        noise: exploration noise: a callable returning a sample to add to the agent's action (e.g.
            :class:`~symgraph.rl.noise.GaussianNoise`, :class:`~symgraph.rl.noise.OrnsteinUhlenbeckNoise`),
            with an optional ``reset()``, called at the start of every episode (with a vector env: at the
            start and after every step in which an episode ended). Without ``action_processor`` the noisy
            action is clipped to the bounds of the env's ``Box`` action space (noise on discrete actions is
            an error); with one, the processor maps it into the space. The noisy action is the one stored.
        action_processor: ``action_processor(action) -> env_action``, mapping the agent's (noisy) action to
            what ``env.step`` takes (e.g. rescaling, a lookup table). The buffer stores the agent's action.
        max_episode_steps: cut training episodes after this many steps (a truncation: stored
            ``truncated=True`` and bootstrapped); ``None``: only the env's own limits. In a vector env a
            sub-environment that cannot be reset alone continues from where it is as a new episode.
        max_episodes: stop after this many finished training episodes (``None``: no limit; a vector env may
            finish a few more in its last step).
        update_every: call ``agent.update(buffer)`` after every step ``t`` (counting transitions from 1)
            that is a multiple of ``update_every``... ``None`` (default), here and for ``update_after``
            and ``wait_end_path``: the agent's schedule (``agent.schedule.update_every``,
            ``.update_after``, ``.at_episode_end``, see :class:`~symgraph.rl.protocol.Schedule`), or
            1/1/False for an agent without one.
        update_after: ...and at least ``update_after`` (e.g. fill a replay buffer with ``update_after``
            transitions first). A vector step covering several such multiples makes that many updates, so
            the ratio of updates to transitions does not depend on the number of sub-environments.
        skip_frames: action repeat: each action is applied for ``skip_frames`` env frames (``env.step``
            calls), the rewards summed, stopping early when the episode ends; one transition is stored.
            Single envs only (wrap each sub-environment of a vector env instead).
        reset_each_episode: clear the buffer at the start of each episode (single envs only).
        wait_end_path: make updates only at the end of episodes: at each episode end, one
            ``agent.update(buffer)`` if at least one became due (by ``update_every``/``update_after``) since
            the last one. ``None``: the agent's ``schedule.at_episode_end``, or False.
        eval_every: evaluate every ``eval_every`` finished training episodes; ``0`` or ``None``: never.
            Evaluation (:func:`evaluate`) runs ``act(state, deterministic=True)`` (no noise, no shaping, no
            learning; the ``action_processor`` and ``skip_frames`` apply) on a separate env instance:
            ``eval_env``, or one
            made from the same id/spec (or a deep copy made before training), seeded with
            ``seed + EVAL_SEED_OFFSET`` on its first reset.
        eval_max_episode_steps: cut evaluation episodes after this many steps.
        eval_max_episodes: the episodes of each evaluation (their mean return is recorded).

    Keyword Args:
        max_steps: stop after this many steps (transitions); ``None``: no limit. An episode running then is
            abandoned (its path is finished with a bootstrap and ``end_episode()`` is called).
        seed: an int >= 0 or None; seeds the env's first reset (``env.reset(seed=seed)``; sub-environment
            ``i`` of a vector env gets ``seed + i``), its action space and the evaluation env's first reset.
            The agent, buffer and noise have seeds of their own.
        callbacks: a callable or a list of callables, each called after every finished training episode with
            a dict of the run's state: ``episode`` (finished episodes), ``episode_return``,
            ``episode_length``, ``env_index``, ``total_steps``, ``result`` (the :class:`RunResult` so far),
            ``agent``, ``buffer`` and ``env``. Returning ``False`` stops the run after that step.
        logger: an object with ``write(metrics: dict, step: int)``, written once per finished episode
            (``episode/return``, ``episode/length`` and the mean of each scalar update metric since the
            last write as ``update/<name>``) and once per evaluation (``eval/return``, ``eval/length``),
            with ``step = total_steps``.
        progress: a progress bar (:func:`symgraph.rl.progress.progress_bar`, updated once per episode):
            ``True`` shows it, ``None`` only on a terminal outside CI, ``False`` (default) never.
        eval_env: the evaluation env (a single env, or an id).
        checkpoint_every: write a checkpoint to ``checkpoint_path`` every ``checkpoint_every`` steps
            (transitions), at the first episode end at or after each multiple (with a single env; a vector env
            has episodes running at any time, so there at the first vector step at or after each multiple).
            ``None``: no checkpoints. The file (one ``.npz``, written atomically: a crash while writing
            leaves the previous one whole) holds the agent's checkpoint (``agent.save``: variables,
            random state, config; ``symgraph.rl.load(checkpoint_path)`` rebuilds the learner from it) and
            the run's own state: the step, episode and update/evaluation counters, the results so far, the
            buffer's contents and random generator, the noise process's state (``noise`` must then be an
            object, e.g. :class:`~symgraph.rl.noise.GaussianNoise`, not a function), and the environments'
            state between episodes (their random generators, their action spaces' and the running
            statistics of their wrappers, see :func:`symgraph.rl.checkpoint.env_state`). Needs an agent
            that can be checkpointed (a ``symgraph.rl`` learner).
        checkpoint_path: the checkpoint file (written, and read by ``resume``), kept as given (no suffix
            added).
        resume: continue the run saved in ``checkpoint_path``: build the env, agent, buffer and noise the
            same way as for the run that wrote it (fresh objects, as after a crash) and call ``run`` with
            the same arguments (``max_steps``/``max_episodes`` may be raised); ``run`` loads the agent,
            buffer, noise, environments and counters from the file and continues. With a single env the
            result (returns, evaluations, losses, the agent's parameters) is identical to the uninterrupted
            run's, given stateless ``rewarder``/``action_processor``/callbacks and an env that keeps nothing
            else across episodes. With a vector env the episodes running at the checkpoint are abandoned
            (finished as truncated, bootstrapped) and every sub-environment starts a new one, so the result
            differs from an uninterrupted run's (a vector env's mid-episode state cannot be saved
            generally). A missing file is an error, as loading a missing model is in Stable-Baselines3 and
            the zoo (pass ``resume=False`` to start afresh).

    Returns:
        A :class:`RunResult`.

    Divergence. After each update that returns metrics, ``run`` reads its loss metrics (the metrics whose
    name contains ``"loss"``, scalars) to the host, which waits once for the update to finish (one sync per
    update; the next ``act`` would wait for it anyway). If one is NaN or infinite, it raises
    :class:`TrainingDiverged`, naming the step, the update and the loss terms, and the last checkpoint
    (written before the divergence, and left untouched). Every update reports the loss terms it computed
    and no placeholders (TD3's update without a policy step reports its last actor loss), so a NaN is
    always a divergence.

    Raises:
        TrainingDiverged: a loss became NaN or infinite (see above); a ``FloatingPointError``.
        FileNotFoundError: ``resume=True`` and no file at ``checkpoint_path``.
        SaveLoadError: ``resume=True`` with a checkpoint of another agent class, architecture or env.
        ValueError: invalid arguments; an observation whose shape is not the agent's ``state_shape`` (the
            message names both and the env); an action outside the action space (checked on the first
            ``CHECKED_STEPS`` steps); a NaN or infinite reward (the message names the episode and step).
        TypeError: an agent without ``act`` or without an update hook, a non-callable ``rewarder``...
    """
    start = time.perf_counter()
    config = make_config(
        agent, rewarder=rewarder, noise=noise, action_processor=action_processor,
        max_episode_steps=max_episode_steps, max_episodes=max_episodes, update_every=update_every,
        update_after=update_after, skip_frames=skip_frames, reset_each_episode=reset_each_episode,
        wait_end_path=wait_end_path, eval_every=eval_every, eval_max_episode_steps=eval_max_episode_steps,
        eval_max_episodes=eval_max_episodes, max_steps=max_steps, seed=seed, callbacks=callbacks, logger=logger,
        progress=progress, checkpoint_every=checkpoint_every, checkpoint_path=checkpoint_path, resume=resume)
    driver = Driver(config, env, agent, buffer, eval_env)
    try:
        driver.run()
    finally:
        driver.close()
    result = driver.result
    result.losses = [metrics_to_python(m) for m in result.losses]
    result.wall_time = time.perf_counter() - start + driver.elapsed_before
    return result
