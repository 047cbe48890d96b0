"""Dynamic programming on a known model: value iteration and policy iteration (S&B chapter 4).

Both take an environment exposing its transition model (gymnasium's FrozenLake, Taxi, CliffWalking:
``env.unwrapped.P``) or a `TabularMDP`, are solved on first use (or by ``solve()``), and then behave like
the other tabular agents: ``q_values``, ``values``, ``greedy_policy()``, ``act()``. They learn nothing from
experience, so ``update`` and ``end_episode`` do nothing.
"""

import math
import warnings

import numpy as np

from symgraph.rl.bandits._common import check_real, check_whole
from symgraph.rl.tabular.agents import TableMixin
from symgraph.rl.tabular.mdp import TabularMDP, evaluate_policy


class _Planner(TableMixin):
    def __init__(self, env, gamma, tol, max_iterations):
        self.mdp = env if isinstance(env, TabularMDP) else TabularMDP.from_env(env)
        if not 0.0 <= check_real(gamma, "gamma") <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
        if not 0 < check_real(tol, "tol") < math.inf:
            raise ValueError(f"tol must be positive and finite, got {tol!r}")
        check_whole(max_iterations, "max_iterations", minimum=1)
        self.n_states, self.n_actions = self.mdp.n_states, self.mdp.n_actions
        self._s0, self._a0 = self.mdp.state_start, self.mdp.action_start
        self.gamma = float(gamma)
        self.tol = float(tol)
        self.max_iterations = int(max_iterations)
        self.iterations = 0
        self.converged = False
        self._q = None
        self._actions = None  # greedy actions cached for act(), reset by solve()

    def _table(self):
        if self._q is None:
            self.solve()
        return self._q

    def solve(self):
        raise NotImplementedError(f"{type(self).__name__} must implement solve(), which computes its Q table")

    def act(self, state, deterministic=False):
        """The greedy action of ``state`` (an int), or of each state of an array. Planners' policies are
        deterministic, so ``deterministic`` changes nothing."""
        if self._actions is None:
            self._actions = self.greedy_policy()
            self._action_list = self._actions.tolist()
        policy = self._actions
        s = self._state_index(state)
        if s is None:
            return policy[self._state_indices(state)]
        return self._action_list[s]

    def update(self, state, action, reward, next_state, terminated, truncated=False):
        """Planners learn nothing from experience: a no-op, for interface compatibility."""

    def end_episode(self):
        """A no-op, for interface compatibility."""

    def __repr__(self):
        return (f"{type(self).__name__}(n_states={self.n_states}, n_actions={self.n_actions}, "
                f"gamma={self.gamma}, tol={self.tol})")


class ValueIteration(_Planner):
    """Value iteration (Bellman 1957; S&B §4.4): repeat the optimality backup over all states,

        V_{k+1}(s) = max_a [ R(s, a) + γ Σ_s' P(s' | s, a, not terminal) V_k(s') ],

    until ``max_s |V_{k+1}(s) − V_k(s)| < tol``, then act greedily on ``Q = R + γ P V``.

    Args:
        env: an env with ``env.unwrapped.P`` (or a `TabularMDP`).
        gamma: discount γ in [0, 1] (with γ = 1 it converges when every optimal policy terminates).
        tol: the stopping threshold θ on the largest value change of a sweep.
        max_iterations: sweeps before giving up with a RuntimeWarning.
    """

    def __init__(self, env, gamma=0.99, tol=1e-8, max_iterations=100_000):
        super().__init__(env, gamma, tol, max_iterations)

    def solve(self):
        """Run value iteration; returns self. Sets ``iterations`` and ``converged``."""
        mdp, gamma = self.mdp, self.gamma
        values = np.zeros(mdp.n_states)
        self.converged = False
        self.iterations = 0
        while self.iterations < self.max_iterations:
            self.iterations += 1
            new_values = mdp.q_from_values(values, gamma).max(axis=1)
            change = np.abs(new_values - values).max()
            values = new_values
            if change < self.tol:
                self.converged = True
                break
        if not self.converged:
            warnings.warn(f"value iteration did not converge in {self.max_iterations} sweeps (last change "
                          f"{change:.3g} > tol {self.tol}); raise max_iterations or tol, or use gamma < 1",
                          RuntimeWarning, stacklevel=2)
        self._q = mdp.q_from_values(values, gamma)
        self._actions = None
        return self


class PolicyIteration(_Planner):
    """Policy iteration (Howard 1960; S&B §4.3): alternate policy evaluation and greedy improvement,

        evaluation:   V_π = R_π + γ P_π V_π, solved exactly as V_π = (I − γ P_π)⁻¹ R_π ("exact"), or by
                      expectation sweeps until the largest change is below ``tol`` ("iterative")

        improvement:  π'(s) = argmax_a [R(s, a) + γ Σ_s' P(s' | s, a, not terminal) V_π(s')]

    until the policy is stable. An action is only replaced by one better by more than ``tol`` (relative), so
    ties cannot make it cycle. Starts from the policy that always takes the first action.

    Args:
        env: an env with ``env.unwrapped.P`` (or a `TabularMDP`).
        gamma: discount γ in [0, 1]; exact evaluation with γ = 1 needs every evaluated policy to terminate.
        tol: improvement threshold, and the stopping threshold of iterative evaluation.
        evaluation: "exact" or "iterative".
        max_iterations: improvement rounds before giving up with a RuntimeWarning.
    """

    def __init__(self, env, gamma=0.99, tol=1e-8, evaluation="exact", max_iterations=1000):
        super().__init__(env, gamma, tol, max_iterations)
        if not isinstance(evaluation, str) or evaluation not in ("exact", "iterative"):
            raise ValueError(f"evaluation must be 'exact' or 'iterative', got {evaluation!r}")
        self.evaluation = evaluation
        self._policy = None

    def _evaluate(self, policy, values):
        if self.evaluation == "exact":
            return evaluate_policy(self.mdp, policy, self.gamma)
        c_pi, r_pi, _ = self.mdp.policy_dynamics(policy)
        for _ in range(1_000_000):
            new_values = r_pi + self.gamma * (c_pi @ values)
            change = np.abs(new_values - values).max()
            values = new_values
            if change < self.tol:
                return values
        raise RuntimeError(f"iterative policy evaluation did not converge (last change {change:.3g}); use "
                           f"gamma < 1 or evaluation='exact'")

    def solve(self):
        """Run policy iteration; returns self. Sets ``iterations`` and ``converged``."""
        mdp, gamma = self.mdp, self.gamma
        rows = np.arange(mdp.n_states)
        actions = np.zeros(mdp.n_states, dtype=np.int64)  # table columns
        values = np.zeros(mdp.n_states)
        self.converged = False
        self.iterations = 0
        while self.iterations < self.max_iterations:
            self.iterations += 1
            values = self._evaluate(actions + self._a0, values)
            q = mdp.q_from_values(values, gamma)
            current = q[rows, actions]
            better = q.max(axis=1) > current + self.tol * np.maximum(1.0, np.abs(current))
            if not better.any():
                self.converged = True
                break
            actions = np.where(better, q.argmax(axis=1), actions)
        if not self.converged:
            warnings.warn(f"policy iteration did not converge in {self.max_iterations} rounds",
                          RuntimeWarning, stacklevel=2)
        self._q = q
        self._policy = actions + self._a0
        self._actions = None
        return self

    def greedy_policy(self):
        """The policy iteration's final policy (greedy on ``q_values`` up to ``tol`` on ties)."""
        self._table()
        return self._policy.copy()
