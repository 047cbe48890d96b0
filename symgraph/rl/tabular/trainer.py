"""`Trainer`: run a tabular agent on an environment, evaluate its greedy policy, plot the learning curve.

Three modes (the direct-RL / model-learning / planning split of S&B §8.1, as in GenRL's classical trainer):

- ``"learn"``: direct RL; the agent ``update``s on every real step. A planner (`ValueIteration`,
  `PolicyIteration`) is solved once first and then only acts. `DynaQ` plans inside its own ``update``.
- ``"plan"``: model-based only; real steps feed a `TabularModel`, and the agent learns solely from
  ``planning_steps`` simulated transitions per real step. A planner is solved from the environment's known
  model, as in "learn".
- ``"dyna"``: both; the agent updates on the real step, then on ``planning_steps`` simulated ones (with
  `QLearning` this is Dyna-Q).

Model-based modes need agents that can learn from transitions out of trajectory order (``simulated_update``:
`QLearning`, `ExpectedSARSA`); SARSA(λ)'s update depends on the action it takes next and on its traces.
"""

import logging
import time

import numpy as np

from symgraph.rl.bandits._common import check_real, check_seed, check_whole
from symgraph.rl.driver.evaluate import evaluate
from symgraph.rl.progress import progress_bar
from symgraph.rl.tabular.agents import SARSA, DynaQ, TabularAgent, TabularModel
from symgraph.rl.tabular.mdp import TabularMDP, evaluate_policy
from symgraph.rl.tabular.planning import _Planner

logger = logging.getLogger(__name__)

_MODES = ("learn", "plan", "dyna")


def _default_success(episode_return, last_reward, terminated, info):
    """An episode succeeds when the env says so (``info["is_success"]``), else when it terminated (not
    truncated) on a positive reward: FrozenLake's goal, Taxi's drop-off."""
    if "is_success" in info:
        return bool(info["is_success"])
    return bool(terminated) and last_reward > 0


class Trainer:
    """Train a tabular agent by episodes, with periodic greedy evaluation.

    Args:
        agent: a tabular agent (`QLearning`, `SARSA`, `ExpectedSARSA`, `DynaQ`) or planner
            (`ValueIteration`, `PolicyIteration`).
        env: a gymnasium environment with Discrete spaces (the agent's).
        mode: "learn", "plan" or "dyna" (see the module docstring).
        n_episodes: training episodes run by `train`.
        start_steps: the first ``start_steps`` environment steps take uniformly random actions (the agent
            still learns from them).
        evaluate_frequency: evaluate the greedy policy every this many episodes (0: never).
        evaluate_episodes: episodes per evaluation (ignored by exact evaluation).
        evaluation: "episodes" (run greedy episodes) or "exact" (evaluate the greedy policy on the
            environment's known model ``env.unwrapped.P`` over the episode time limit: noise-free).
        target_success: stop training at the first evaluation whose success rate reaches this (None: never).
        planning_steps: simulated updates per real step in "plan"/"dyna" modes.
        model: the `TabularModel` of "plan"/"dyna" modes (default: a new one).
        max_episode_steps: cut episodes after this many steps (truncation) when the env has no time limit of
            its own (CliffWalking-v1 has none); None: rely on the env.
        seed: seeds the environment's first reset, its action space and the trainer's generator.
        progress: a progress bar (:func:`symgraph.rl.progress.progress_bar`): ``True`` shows it, ``None``
            (default) only on a terminal outside CI, ``False`` never.

    Attributes (filled by `train`): ``episode_rewards``, ``episode_lengths`` (lists), ``evaluations`` (list of
    dicts with ``episode``, ``steps``, ``mean_return``, ``success_rate``), ``total_steps``, ``train_seconds``.
    """

    def __init__(self, agent, env, mode="learn", n_episodes=1000, start_steps=0, evaluate_frequency=0,
                 evaluate_episodes=100, *, evaluation="episodes", target_success=None, planning_steps=10,
                 model=None, max_episode_steps=None, seed=None, progress=None):
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if not isinstance(evaluation, str) or evaluation not in ("episodes", "exact"):
            raise ValueError(f"evaluation must be 'episodes' or 'exact', got {evaluation!r}")
        for name, value in (("n_episodes", n_episodes), ("start_steps", start_steps),
                            ("evaluate_frequency", evaluate_frequency), ("planning_steps", planning_steps)):
            check_whole(value, name)
        check_whole(evaluate_episodes, "evaluate_episodes", minimum=1)
        if max_episode_steps is not None:
            max_episode_steps = check_whole(max_episode_steps, "max_episode_steps", minimum=1)
        if target_success is not None and not 0 <= check_real(target_success, "target_success") <= 1:
            raise ValueError(f"target_success must be a success rate in [0, 1] or None, got {target_success!r}")
        check_seed(seed)
        self._planner = isinstance(agent, _Planner)
        if mode in ("plan", "dyna") and not self._planner:
            if isinstance(agent, DynaQ):
                raise ValueError("DynaQ already plans inside its update (planning_steps); train it with "
                                 "mode='learn', or use QLearning with mode='dyna'")
            if not hasattr(agent, "simulated_update"):
                raise ValueError(f"mode={mode!r} learns from simulated transitions, which "
                                 f"{type(agent).__name__} cannot use (SARSA(lambda) bootstraps from the "
                                 f"action it takes next and keeps eligibility traces); use QLearning or "
                                 f"ExpectedSARSA, or mode='learn'")
        if self._planner and mode == "dyna":
            raise ValueError(f"{type(agent).__name__} solves the known model and learns nothing from "
                             f"experience; use mode='plan' (or 'learn')")
        if not self._planner and not isinstance(agent, TabularAgent):
            raise TypeError(f"Trainer needs a tabular agent or planner, got {type(agent).__name__}")
        if (agent.n_states, agent.n_actions) != (env.observation_space.n, env.action_space.n):
            raise ValueError(f"the agent's table is {agent.n_states} states x {agent.n_actions} actions "
                             f"but the environment has {env.observation_space} observations and "
                             f"{env.action_space} actions; build the agent from this environment")
        self.agent = agent
        self.env = env
        self.mode = mode
        self.n_episodes = int(n_episodes)
        self.start_steps = int(start_steps)
        self.evaluate_frequency = int(evaluate_frequency)
        self.evaluate_episodes = int(evaluate_episodes)
        self.evaluation = evaluation
        self.target_success = target_success
        self.planning_steps = int(planning_steps)
        self.model = (TabularModel() if model is None else model) if mode != "learn" else model
        self.max_episode_steps = max_episode_steps
        self.seed = seed
        self.progress = progress
        self._rng = np.random.default_rng(seed)
        self._first_reset = True
        self._mdp = None
        self.episode_rewards = []
        self.episode_lengths = []
        self.evaluations = []
        self.total_steps = 0
        self.train_seconds = 0.0

    # --- training ----------------------------------------------------------------------------------------
    def _reset(self):
        if self._first_reset:
            self._first_reset = False
            if self.seed is not None:
                self.env.action_space.seed(self.seed)
            return self.env.reset(seed=self.seed)[0]
        return self.env.reset()[0]

    def _run_episode(self):
        """One training episode; returns (return, length)."""
        env, agent, model = self.env, self.agent, self.model
        learn = self.mode != "plan" and not self._planner
        plan_n = self.planning_steps if (model is not None and not self._planner) else 0
        sarsa = isinstance(agent, SARSA)
        limit = self.max_episode_steps
        rng = self._rng
        n_actions, a0 = env.action_space.n, env.action_space.start

        state = self._reset()
        action = (int(rng.random() * n_actions) + a0 if self.total_steps < self.start_steps
                  else agent.act(state))
        episode_return, length = 0.0, 0
        while True:
            next_state, reward, terminated, truncated, _ = env.step(action)
            length += 1
            self.total_steps += 1
            episode_return += reward
            if limit is not None and length >= limit:
                truncated = True
            done = terminated or truncated
            next_action = None
            if not done and self.total_steps < self.start_steps:
                next_action = int(rng.random() * n_actions) + a0
            if learn:
                if sarsa and next_action is not None:
                    agent.update(state, action, reward, next_state, terminated, truncated,
                                 next_action=next_action)
                else:
                    agent.update(state, action, reward, next_state, terminated, truncated)
            if plan_n:
                model.add(state, action, reward, next_state, terminated)
                simulated_update, sample, agent_rng = agent.simulated_update, model.sample, agent._rng
                for _ in range(plan_n):
                    simulated_update(*sample(agent_rng))
            if done:
                break
            state = next_state
            action = next_action if next_action is not None else agent.act(state)
        if not learn:
            agent.end_episode()  # the agent saw no update with the done flag
        return episode_return, length

    def train(self):
        """Run ``n_episodes`` training episodes (fewer if ``target_success`` is reached); returns the episode
        returns as a numpy array (also kept in ``episode_rewards``)."""
        if self._planner and not self.agent.converged:
            self.agent.solve()
        start = time.perf_counter()
        bar = progress_bar(self.n_episodes, enabled=self.progress, desc=f"{type(self.agent).__name__} ({self.mode})",
                           unit="episode")
        first = len(self.episode_rewards)
        try:
            for episode in range(first + 1, first + self.n_episodes + 1):
                episode_return, length = self._run_episode()
                self.episode_rewards.append(episode_return)
                self.episode_lengths.append(length)
                bar.update(1)
                if self.evaluate_frequency and episode % self.evaluate_frequency == 0:
                    result = self.evaluate(self.evaluate_episodes, exact=self.evaluation == "exact")
                    result.update(episode=episode, steps=self.total_steps)
                    self.evaluations.append(result)
                    logger.info("episode %d (%d steps): greedy mean return %.4g, success rate %.4g", episode,
                                self.total_steps, result["mean_return"], result["success_rate"])
                    bar.set_postfix(ret=f"{result['mean_return']:.3g}",
                                    success=f"{result['success_rate']:.3g}")
                    if self.target_success is not None and result["success_rate"] >= self.target_success:
                        logger.info("target success %.3g reached after %d episodes", self.target_success,
                                    episode)
                        break
        finally:
            bar.close()
            self.train_seconds += time.perf_counter() - start
        return np.asarray(self.episode_rewards[first:], dtype=np.float64)

    # --- evaluation --------------------------------------------------------------------------------------
    def evaluate(self, episodes=100, exact=False, success=None):
        """Score the agent's greedy policy (no exploration, no learning).

        Args:
            episodes: greedy episodes to run on the environment.
            exact: instead of running episodes, evaluate the greedy policy on the environment's known model
                (``env.unwrapped.P``), undiscounted, over the time limit (``max_episode_steps`` or the env's
                ``spec.max_episode_steps``; infinite if neither), from its initial state distribution.
            success: ``f(episode_return, last_reward, terminated, info) -> bool`` deciding a simulated
                episode's success (default: ``info["is_success"]`` if given, else terminated on a positive
                reward). Exact evaluation counts terminations with a positive reward.

        Returns:
            dict with ``mean_return``, ``success_rate``, and for simulated episodes ``std_return``,
            ``mean_length`` and ``episodes``.
        """
        if exact:
            return self._evaluate_exact()
        if episodes < 1:
            raise ValueError(f"episodes must be at least 1, got {episodes!r}")
        seed = None
        if self._first_reset:  # the trainer's first reset, as in training
            self._first_reset = False
            if self.seed is not None:
                self.env.action_space.seed(self.seed)
            seed = self.seed
        scores = evaluate(self.agent, self.env, episodes, max_episode_steps=self.max_episode_steps, seed=seed,
                          success=_default_success if success is None else success)
        return {"mean_return": scores.mean, "std_return": scores.std,
                "success_rate": int(scores.successes.sum()) / episodes,
                "mean_length": float(scores.lengths.mean()), "episodes": episodes}

    def _evaluate_exact(self):
        if self._mdp is None:
            self._mdp = TabularMDP.from_env(self.env)
            if self._mdp.initial_distribution is None:
                raise ValueError(f"exact evaluation needs the initial state distribution "
                                 f"(env.unwrapped.initial_state_distrib), which "
                                 f"{type(self.env.unwrapped).__name__} lacks; use evaluation='episodes'")
        mdp = self._mdp
        horizon = self.max_episode_steps
        if horizon is None and getattr(self.env, "spec", None) is not None:
            horizon = self.env.spec.max_episode_steps
        policy = self.agent.greedy_policy()
        start = mdp.initial_distribution
        mean_return = evaluate_policy(mdp, policy, 1.0, horizon=horizon) @ start
        success_rate = evaluate_policy(mdp, policy, 1.0, horizon=horizon, reward="success") @ start
        return {"mean_return": float(mean_return), "success_rate": float(success_rate)}

    # --- plotting ----------------------------------------------------------------------------------------
    def plot(self, path=None, window=100):
        """Learning curve: training episode returns (raw and a ``window``-episode moving average) and the
        greedy evaluations. Saves to ``path`` when given; returns the matplotlib Figure."""
        from matplotlib.figure import Figure

        if not self.episode_rewards:
            raise ValueError("nothing to plot: call train() first")
        rewards = np.asarray(self.episode_rewards, dtype=np.float64)
        episodes = np.arange(1, len(rewards) + 1)
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(episodes, rewards, color="tab:blue", alpha=0.25, linewidth=0.8, label="episode return")
        w = max(1, min(int(window), len(rewards)))
        moving = np.convolve(rewards, np.ones(w) / w, mode="valid")
        ax.plot(episodes[w - 1:], moving, color="tab:blue", label=f"moving average ({w} episodes)")
        if self.evaluations:
            x = [e["episode"] for e in self.evaluations]
            ax.plot(x, [e["mean_return"] for e in self.evaluations], "o-", color="tab:orange", markersize=3,
                    label="greedy evaluation: mean return")
            ax2 = ax.twinx()
            ax2.plot(x, [e["success_rate"] for e in self.evaluations], "s--", color="tab:green", markersize=3,
                     label="greedy evaluation: success rate")
            ax2.set_ylabel("success rate")
            ax2.set_ylim(-0.02, 1.02)
            ax2.legend(loc="lower right")
        env_id = self.env.spec.id if getattr(self.env, "spec", None) is not None else type(self.env).__name__
        ax.set_title(f"{type(self.agent).__name__} on {env_id} (mode {self.mode!r})")
        ax.set_xlabel("episode")
        ax.set_ylabel("return")
        ax.legend(loc="upper left")
        if path is not None:
            fig.savefig(path)
        return fig
