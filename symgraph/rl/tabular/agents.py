"""Model-free tabular agents: Q-learning, SARSA(λ), expected SARSA, and Dyna-Q with its `TabularModel`.

All agents keep a table ``Q[s, a]`` (float64, shape (n_states, n_actions)) and act ε-greedily on it. They
learn one environment step at a time::

    state, _ = env.reset(seed=0)
    while True:
        action = agent.act(state)
        next_state, reward, terminated, truncated, _ = env.step(action)
        agent.update(state, action, reward, next_state, terminated, truncated)
        if terminated or truncated:
            break                  # update() has ended the agent's episode (traces reset, schedule advanced)
        state = next_state

Conventions shared by every agent:

- ``epsilon`` is the *exploration* probability: with probability ε a uniformly random action, otherwise the
  greedy one (ties broken uniformly at random). It is a number in [0, 1] or a schedule, a callable of the
  episode index (``epsilon_unit="episode"``, the default) or of the step index (``"step"``); see
  `LinearDecay` and `ExponentialDecay`.
- ``terminated`` (the MDP reached a terminal state) means no bootstrap: the target is the reward alone.
  ``truncated`` (a time limit) still bootstraps from the next state's value, since the state is not terminal
  (Pardo et al. 2018, "Time Limits in Reinforcement Learning"); it only ends the episode.
- An ``update`` with ``terminated`` or ``truncated`` ends the agent's episode. `end_episode()` ends one that
  the caller abandons without either flag (it is a no-op right after such an update).
- States and actions are numbered as the environment numbers them (a ``Discrete(n, start=k)`` space is
  supported); ``act`` takes one state and returns one action, or an array of states and returns an array.
- Randomness comes from one ``numpy.random.Generator`` seeded by ``seed``.

Reference: R. S. Sutton and A. G. Barto, *Reinforcement Learning: An Introduction*, 2nd ed., MIT Press, 2018
(cited as S&B below).
"""

import operator

import numpy as np

from symgraph.rl.bandits._common import check_real, check_reward, check_seed, check_whole
from symgraph.rl.tabular import saving
from symgraph.rl.tabular.mdp import discrete_spaces


def _check_probability(name, value):
    if not 0.0 <= check_real(value, name) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


class TableMixin:
    """Read side shared by every holder of a Q table: values, greedy policy, batch indexing.

    Subclasses set ``n_states``, ``n_actions``, ``_s0``/``_a0`` (Discrete ``start`` offsets) and provide
    ``_table()``, the (S, A) float64 Q array.
    """

    @property
    def q_values(self):
        """The (n_states, n_actions) table of action values, indexed by ``state - start``. It is the agent's
        live array: writing into it changes the agent."""
        return self._table()

    @property
    def values(self):
        """State values under the greedy policy, ``V[s] = max_a Q[s, a]``, shape (n_states,)."""
        return self._table().max(axis=1)

    def greedy_policy(self):
        """The greedy action of every state, (n_states,): ``argmax_a Q[s, a]``, first maximum on ties."""
        return self._table().argmax(axis=1) + self._a0

    def _state_indices(self, states):
        """Validated int64 table rows of an array of states."""
        idx = np.asarray(states)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"states must be integers (Discrete observations), got an array of dtype "
                            f"{idx.dtype}")
        idx = idx.astype(np.int64) - self._s0
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_states):
            raise IndexError(f"states must lie in [{self._s0}, {self._s0 + self.n_states}), got values "
                             f"{idx.min() + self._s0}..{idx.max() + self._s0}")
        return idx

    def _checked_index(self, name, value, start, n):
        """Table index of ``value``, one state or action of an ``update`` (a negative one would silently
        update another row), or an IndexError/TypeError naming it."""
        try:
            i = operator.index(value) - start
        except TypeError:
            raise TypeError(f"{type(self).__name__}.update: {name} {value!r} is not an integer; states and "
                            f"actions are Discrete, in [{start}, {start + n})") from None
        if not 0 <= i < n:
            raise IndexError(f"{type(self).__name__}.update: {name} {value!r} is outside its space "
                             f"[{start}, {start + n})")
        return i

    def _check_transition(self, state, action, reward, next_state):
        """The checked reward of a real transition, after its states and action (before anything changes)."""
        s0, n = self._s0, self.n_states
        if not (state.__class__ is int and next_state.__class__ is int and action.__class__ is int
                and 0 <= state - s0 < n and 0 <= next_state - s0 < n and 0 <= action - self._a0 < self.n_actions):
            self._checked_index("state", state, s0, n)
            self._checked_index("action", action, self._a0, self.n_actions)
            self._checked_index("next_state", next_state, s0, n)
        if reward.__class__ is float and reward - reward == 0.0:  # finite: the common case, checked fast
            return reward
        return check_reward(reward, f"{type(self).__name__}.update", "the environment")

    def _state_index(self, state):
        """Validated table row of one state, or None when ``state`` is not a scalar integer."""
        try:
            s = operator.index(state) - self._s0
        except TypeError:
            return None
        if not 0 <= s < self.n_states:
            raise IndexError(f"state {state!r} is outside the observation space [{self._s0}, "
                             f"{self._s0 + self.n_states})")
        return s


class TabularAgent(TableMixin):
    """Base of the model-free agents: the Q table, ε-greedy acting, counters and the episode protocol.

    Args:
        env: an environment (or any object) with Discrete ``observation_space`` and ``action_space``.
        epsilon: exploration probability in [0, 1], or a callable schedule of the episode/step index.
        gamma: discount factor γ in [0, 1].
        lr: step size α in (0, 1].
        epsilon_unit: "episode" (the schedule gets the number of finished episodes) or "step" (the number
            of ``update`` calls so far).
        initial_q: initial value of every table entry (optimistic values encourage exploration).
        seed: seed of the agent's ``numpy.random.Generator``.

    Attributes:
        episodes: number of finished episodes; steps: number of ``update`` calls.
    """

    #: Attributes that :meth:`save` leaves out (work arrays, and what it stores its own way).
    not_saved = ("model",)

    def __init__(self, env, epsilon=0.1, gamma=0.99, lr=0.1, *, epsilon_unit="episode", initial_q=0.0,
                 seed=None):
        self.n_states, self.n_actions, self._s0, self._a0 = discrete_spaces(env)
        _check_probability("gamma", gamma)
        if not 0.0 < check_real(lr, "lr") <= 1.0:
            raise ValueError(f"lr (the step size alpha) must be in (0, 1], got {lr!r}")
        if not isinstance(epsilon_unit, str) or epsilon_unit not in ("episode", "step"):
            raise ValueError(f"epsilon_unit must be 'episode' or 'step', got {epsilon_unit!r}")
        if callable(epsilon):
            self._schedule = epsilon
        else:
            _check_probability("epsilon (the exploration probability)", epsilon)
            self._schedule = None
        self.gamma = float(gamma)
        self.lr = float(lr)
        self.epsilon_unit = epsilon_unit
        self.seed = check_seed(seed)
        self._rng = np.random.default_rng(seed)
        self._q = np.full((self.n_states, self.n_actions), float(check_real(initial_q, "initial_q", finite=True)))
        self.episodes = 0
        self.steps = 0
        self._in_episode = False
        self._step_schedule = self._schedule if epsilon_unit == "step" else None
        self._epsilon = float(epsilon) if self._schedule is None else self._scheduled(0)

    # --- exploration -------------------------------------------------------------------------------------
    def _scheduled(self, t):
        eps = float(self._schedule(t))
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"the epsilon schedule {self._schedule!r} returned {eps} at {self.epsilon_unit} "
                             f"{t}; exploration probabilities must be in [0, 1]")
        return eps

    @property
    def epsilon(self):
        """The exploration probability in force now."""
        return self._scheduled(self.steps) if self._step_schedule is not None else self._epsilon

    def _table(self):
        return self._q

    def _greedy_index(self, s):
        """argmax_a Q[s, a], ties broken uniformly at random (pure Python: faster than numpy on one row)."""
        row = self._q[s].tolist()
        best = max(row)
        if row.count(best) == 1:
            return row.index(best)
        ties = [i for i, v in enumerate(row) if v == best]
        return ties[int(self._rng.random() * len(ties))]

    def _explore_index(self, s):
        """ε-greedy action (table column) in state row ``s``."""
        eps = self._epsilon if self._step_schedule is None else self._scheduled(self.steps)
        if eps and self._rng.random() < eps:
            return int(self._rng.random() * self.n_actions)
        return self._greedy_index(s)

    def act(self, state, deterministic=False):
        """ε-greedy action for ``state`` (greedy, first maximum, when ``deterministic``).

        One state (an int) gives one int action; an array of states gives an array of actions of the same
        shape.
        """
        s = self._state_index(state)
        if s is None:
            return self._act_batch(state, deterministic)
        if deterministic:
            return int(self._q[s].argmax()) + self._a0
        self._in_episode = True
        return self._explore_index(s) + self._a0

    def _act_batch(self, states, deterministic):
        idx = self._state_indices(states)
        rows = self._q[idx]
        if deterministic:
            return rows.argmax(axis=-1) + self._a0
        is_best = rows == rows.max(axis=-1, keepdims=True)
        greedy = np.where(is_best, self._rng.random(rows.shape), -1.0).argmax(axis=-1)
        explore = self._rng.random(idx.shape) < self.epsilon
        random_actions = (self._rng.random(idx.shape) * self.n_actions).astype(np.int64)
        return np.where(explore, random_actions, greedy) + self._a0

    # --- episodes ----------------------------------------------------------------------------------------
    def _finish_episode(self):
        self._in_episode = False
        self.episodes += 1
        if self._schedule is not None and self._step_schedule is None:
            self._epsilon = self._scheduled(self.episodes)

    def end_episode(self):
        """End the current episode (a no-op if the last ``update`` ended it: terminated or truncated)."""
        if self._in_episode:
            self._finish_episode()

    def update(self, state, action, reward, next_state, terminated, truncated=False):
        """Learn from one environment step; returns the TD error. Implemented by each agent."""
        raise NotImplementedError(f"{type(self).__name__} must implement update(state, action, reward, "
                                  "next_state, terminated, truncated)")

    # --- saving ------------------------------------------------------------------------------------------
    def save(self, path):
        """Save the agent to one ``.npz`` file at ``path`` (exactly that path: no suffix is added), written
        atomically: the Q table, the counters, the ε in force, the random generator (and SARSA's traces,
        Dyna-Q's model), so that the agent loaded from it acts and learns exactly as this one would.
        Schedules are code and are not stored. Returns ``path``."""
        return saving.save(self, path)

    def load(self, path):
        """Load a file written by :meth:`save` into this agent, which must be of the same class, with the same
        settings (spaces, γ, step size, trace settings, planning steps, ε a number or a schedule), and the
        same schedules; all or nothing (a :class:`~symgraph.SaveLoadError` lists what differs and nothing
        is changed). Returns the agent."""
        return saving.load(self, path)

    def __repr__(self):
        eps = self._schedule if self._schedule is not None else self._epsilon
        return (f"{type(self).__name__}(n_states={self.n_states}, n_actions={self.n_actions}, "
                f"epsilon={eps!r}, gamma={self.gamma}, lr={self.lr})")


class OneStepTD(TabularAgent):
    """One-step TD control: ``Q(S, A) ← Q(S, A) + α [R + γ b(S') − Q(S, A)]``, the bootstrap b(S') given by
    ``_bootstrap`` (dropped when S' is terminal). Q-learning and expected SARSA differ only in b."""

    def _bootstrap(self, s2):
        raise NotImplementedError(f"{type(self).__name__} must implement _bootstrap(next_state), the "
                                  "bootstrap value b(S') of its TD target")

    def update(self, state, action, reward, next_state, terminated, truncated=False):
        """One TD step from the transition (S, A, R, S'); returns the TD error δ.

        ``terminated``: S' is terminal, no bootstrap. ``truncated``: time limit, bootstraps; either ends the
        episode. A state or action outside its space (IndexError, TypeError) or a NaN or infinite reward
        (ValueError) is refused before anything changes."""
        reward = self._check_transition(state, action, reward, next_state)
        delta = self.simulated_update(state, action, reward, next_state, terminated)
        self.steps += 1
        self._in_episode = True
        if terminated or truncated:
            self._finish_episode()
        return delta

    def simulated_update(self, state, action, reward, next_state, terminated):
        """The same update from a model sample (planning): not counted as a step, touches no episode state."""
        s = state - self._s0
        a = action - self._a0
        q = self._q
        if terminated:
            delta = reward - q[s, a]
        else:
            delta = reward + self.gamma * self._bootstrap(next_state - self._s0) - q[s, a]
        q[s, a] += self.lr * delta
        return delta


class QLearning(OneStepTD):
    """Q-learning (Watkins 1989; S&B §6.5), off-policy TD control:

        Q(S, A) ← Q(S, A) + α [R + γ max_a Q(S', a) − Q(S, A)]

    with the bracketed bootstrap ``γ max_a Q(S', a)`` dropped when S' is terminal. It learns the values of the
    greedy policy whatever the behaviour, so on CliffWalking it finds the optimal path along the cliff edge
    (S&B example 6.6).

    Args: see `TabularAgent` (``env, epsilon=0.1, gamma=0.99, lr=0.1``, keyword-only ``epsilon_unit``,
    ``initial_q``, ``seed``).
    """

    def _bootstrap(self, s2):
        return max(self._q[s2].tolist())


class ExpectedSARSA(OneStepTD):
    """Expected SARSA (van Seijen et al. 2009; S&B §6.6): the bootstrap is the expectation of Q(S', ·) under
    the agent's own ε-greedy policy π,

        Q(S, A) ← Q(S, A) + α [R + γ Σ_a π(a|S') Q(S', a) − Q(S, A)],
        Σ_a π(a|S') Q(S', a) = (1 − ε) max_a Q(S', a) + ε · mean_a Q(S', a)

    (greedy ties share the 1 − ε mass, and all have the maximal value, hence the closed form). It removes the
    variance SARSA gets from sampling A'; with ε = 0 it is Q-learning.

    Args: see `TabularAgent`.
    """

    def _bootstrap(self, s2):
        row = self._q[s2].tolist()
        eps = self._epsilon if self._step_schedule is None else self._scheduled(self.steps)
        return (1.0 - eps) * max(row) + eps * sum(row) / self.n_actions


class SARSA(TabularAgent):
    """SARSA(λ), on-policy TD control with eligibility traces (Rummery & Niranjan 1994; S&B §6.4, §12.7):

        δ = R + γ Q(S', A') − Q(S, A)          (δ = R − Q(S, A) if S' is terminal)
        z(S, A) ← z(S, A) + 1                  accumulating trace (``trace="accumulating"``), or
        z(S, A) ← 1                            replacing trace (``trace="replacing"``, Singh & Sutton 1996)
        Q ← Q + α δ z                          (every entry)
        z ← γ λ z

    with all traces z reset to 0 at the start of each episode. Both Q values in δ are read before the
    update. λ = 0 is one-step SARSA (S&B §6.4); λ → 1 approaches Monte Carlo. The next action A' is the one
    the agent *will take*: ``update`` draws it ε-greedily from S' (before changing Q) and the following
    ``act(S')`` returns it, so the algorithm stays on-policy. A caller that picks the next action itself
    (e.g. random warm-up steps) passes it as ``next_action``. On truncation A' is drawn for the bootstrap
    only. SARSA learns the value of the ε-greedy policy it follows, so on CliffWalking it keeps away from the
    cliff edge (S&B example 6.6).

    Args:
        env, epsilon, gamma, lr: see `TabularAgent`.
        lmbda: trace decay λ in [0, 1].
        trace: "accumulating" (S&B eq. 12.5 in tabular form) or "replacing".
        epsilon_unit, initial_q, seed: see `TabularAgent`.
    """

    not_saved = ("model", "_scratch")

    def __init__(self, env, epsilon=0.1, lmbda=0.9, gamma=0.99, lr=0.1, *, trace="accumulating",
                 epsilon_unit="episode", initial_q=0.0, seed=None):
        super().__init__(env, epsilon, gamma, lr, epsilon_unit=epsilon_unit, initial_q=initial_q, seed=seed)
        _check_probability("lmbda (the trace decay lambda)", lmbda)
        if not isinstance(trace, str) or trace not in ("accumulating", "replacing"):
            raise ValueError(f"trace must be 'accumulating' or 'replacing', got {trace!r}")
        self.lmbda = float(lmbda)
        self.trace = trace
        self._accumulate = trace == "accumulating"
        self._decay = self.gamma * self.lmbda
        self._traces = np.zeros_like(self._q)
        self._scratch = np.zeros_like(self._q)
        self._pending = None  # (next state, next action) drawn by the last update, as the env numbers them

    @property
    def traces(self):
        """The eligibility traces z, shape (n_states, n_actions) (all zero between episodes)."""
        return self._traces

    def act(self, state, deterministic=False):
        """As `TabularAgent.act`, except that the action drawn by the last ``update`` for this state is
        returned (once), so that the action taken is the A' the update bootstrapped from."""
        pending = self._pending
        if pending is not None and not deterministic:
            self._pending = None
            if isinstance(state, int | np.integer) and state == pending[0]:
                return pending[1]
        return super().act(state, deterministic)

    def update(self, state, action, reward, next_state, terminated, truncated=False, next_action=None):
        """One SARSA(λ) step from (S, A, R, S'); returns the TD error δ.

        ``next_action``: the action the caller will take in S' (default: drawn here, ε-greedily, and
        returned by the next ``act(S')``). ``terminated``: no bootstrap. ``truncated``: bootstraps; either
        ends the episode (traces reset). A state or action outside its space (IndexError, TypeError) or a NaN
        or infinite reward (ValueError) is refused before anything changes.
        """
        reward = self._check_transition(state, action, reward, next_state)
        if next_action is not None:
            self._checked_index("next_action", next_action, self._a0, self.n_actions)
        s = state - self._s0
        a = action - self._a0
        q = self._q
        if terminated:
            delta = reward - q[s, a]
        else:
            s2 = next_state - self._s0
            if next_action is None:
                a2 = self._explore_index(s2)
                if not truncated:
                    self._pending = (next_state, a2 + self._a0)
            else:
                a2 = next_action - self._a0
            delta = reward + self.gamma * q[s2, a2] - q[s, a]
        if self._decay == 0.0:  # one-step SARSA: traces would only ever hold the current pair
            q[s, a] += self.lr * delta
        else:
            z = self._traces
            if self._accumulate:
                z[s, a] += 1.0
            else:
                z[s, a] = 1.0
            np.multiply(z, self.lr * delta, out=self._scratch)
            q += self._scratch
            z *= self._decay
        self.steps += 1
        self._in_episode = True
        if terminated or truncated:
            self._finish_episode()
        return delta

    def __repr__(self):
        return f"{super().__repr__()[:-1]}, lmbda={self.lmbda}, trace={self.trace!r})"

    def _finish_episode(self):
        self._traces.fill(0.0)
        self._pending = None
        super()._finish_episode()


class TabularModel:
    """A learned model of a discrete environment: for each observed (state, action), the empirical
    distribution of (next state, reward, terminated) (S&B §8.2's model, generalised from "last outcome" to
    outcome counts so that it is right for stochastic environments too; for a deterministic one both agree).

    ``sample()`` draws a previously observed (state, action) pair uniformly, then an outcome with its observed
    frequency: the "search control" and "model" steps of tabular Dyna-Q. States and actions are stored as
    given (the environment's numbering).
    """

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)
        self._pairs = []   # observed (state, action), in order of first visit
        self._table = {}   # (state, action) -> [outcomes, counts, total, {outcome: position}]

    def __len__(self):
        """Number of distinct (state, action) pairs observed."""
        return len(self._pairs)

    def add(self, state, action, reward, next_state, terminated):
        """Record one real transition (a NaN or infinite reward is a ValueError)."""
        key = (int(state), int(action))
        outcome = (int(next_state), check_reward(reward, "TabularModel.add", "the environment"), bool(terminated))
        entry = self._table.get(key)
        if entry is None:
            self._pairs.append(key)
            self._table[key] = [[outcome], [1], 1, {outcome: 0}]
            return
        position = entry[3].get(outcome)
        if position is None:
            entry[3][outcome] = len(entry[0])
            entry[0].append(outcome)
            entry[1].append(1)
        else:
            entry[1][position] += 1
        entry[2] += 1

    def _draw(self, entry, rng):
        outcomes, counts, total = entry[0], entry[1], entry[2]
        if len(outcomes) == 1:
            return outcomes[0]
        u = rng.random() * total
        for outcome, count in zip(outcomes, counts, strict=True):
            u -= count
            if u < 0:
                return outcome
        return outcomes[-1]

    def sample(self, rng=None):
        """A simulated transition ``(state, action, reward, next_state, terminated)`` from a uniformly drawn
        observed pair. ``rng``: a numpy Generator (default: the model's own)."""
        rng = self._rng if rng is None else rng
        if not self._pairs:
            raise ValueError("the TabularModel is empty: add() real transitions before sampling from it")
        key = self._pairs[int(rng.random() * len(self._pairs))]
        next_state, reward, terminated = self._draw(self._table[key], rng)
        return key[0], key[1], reward, next_state, terminated

    def step(self, state, action, rng=None):
        """A simulated ``(next_state, reward, terminated)`` for a given observed (state, action)."""
        entry = self._table.get((int(state), int(action)))
        if entry is None:
            raise ValueError(f"the TabularModel has never seen action {action} in state {state}; it can only "
                             f"simulate observed pairs")
        return self._draw(entry, self._rng if rng is None else rng)

    def probabilities(self, state, action):
        """Estimated outcomes of (state, action) as ``[(probability, next_state, reward, terminated), ...]``
        (the format of gymnasium's ``env.unwrapped.P``); empty if never observed."""
        entry = self._table.get((int(state), int(action)))
        if entry is None:
            return []
        return [(count / entry[2], *outcome) for outcome, count in zip(entry[0], entry[1], strict=True)]


class DynaQ(QLearning):
    """Tabular Dyna-Q (Sutton 1990; S&B §8.2): Q-learning on each real step, then ``planning_steps``
    Q-learning updates on transitions simulated by a `TabularModel` learned from the real ones:

        real step:   Q(S, A) ← Q(S, A) + α [R + γ max_a Q(S', a) − Q(S, A)];  Model.add(S, A, R, S', term)
        repeat n:    S, A ← random observed pair;  R, S', term ← Model(S, A);  the same Q-learning update

    Simulated transitions bootstrap unless they terminated (a time-limit truncation is not part of the model).
    With ``planning_steps=0`` it is Q-learning.

    Args:
        env, epsilon, gamma, lr: see `TabularAgent`.
        planning_steps: simulated updates per real step (n).
        model: a `TabularModel` to use (default: a new empty one).
        epsilon_unit, initial_q, seed: see `TabularAgent`.
    """

    def __init__(self, env, epsilon=0.1, gamma=0.99, lr=0.1, planning_steps=10, *, model=None,
                 epsilon_unit="episode", initial_q=0.0, seed=None):
        super().__init__(env, epsilon, gamma, lr, epsilon_unit=epsilon_unit, initial_q=initial_q, seed=seed)
        self.planning_steps = check_whole(planning_steps, "planning_steps")
        self.model = TabularModel() if model is None else model

    def update(self, state, action, reward, next_state, terminated, truncated=False):
        """Q-learning on the real transition, record it in the model, then plan; returns the real TD error."""
        delta = super().update(state, action, reward, next_state, terminated, truncated)
        self.model.add(state, action, reward, next_state, terminated)
        self.plan(self.planning_steps)
        return delta

    def plan(self, n):
        """``n`` Q-learning updates on transitions sampled from the model (with the agent's generator)."""
        sample = self.model.sample
        learn = self.simulated_update
        rng = self._rng
        for _ in range(n):
            learn(*sample(rng))
