"""Known finite MDPs: the transition model of a discrete environment as arrays, and exact policy evaluation.

gymnasium's toy-text environments (FrozenLake, Taxi, CliffWalking) expose their dynamics as
``env.unwrapped.P[state][action] = [(probability, next_state, reward, terminated), ...]``; `TabularMDP`
turns that into

- ``rewards[s, a]``       expected immediate reward, Σ p · r;
- ``continuation``        a sparse (S·A, S) matrix, row ``s·A + a``: the probability of moving to each next
                          state *without terminating* (terminating transitions contribute no future value);
- ``success[s, a]``       probability that the step terminates with a positive reward (reaching a goal),
  so the same evaluation machinery gives success probabilities.

With these the Bellman equations are ``Q = R + γ · C V`` (reshaped to (S, A)); `evaluate_policy` solves them
exactly for a policy, either over an infinite horizon (a linear system) or over a finite one (``horizon``
steps of backward recursion, which is what a time-limited environment scores).
"""

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from gymnasium import spaces

_DENSE_LIMIT = 4096  # solve the policy-evaluation system densely up to this many states


def discrete_spaces(env):
    """``(n_states, n_actions, state_start, action_start)`` of an env with Discrete spaces, or a TypeError.

    ``env`` is anything with ``observation_space`` and ``action_space`` attributes (a gymnasium Env or a
    stub). gymnasium's ``Discrete(n, start=k)`` is supported: agents index their tables by ``state - k``.
    """
    names = ("observation", "action")
    found = []
    for name in names:
        space = getattr(env, f"{name}_space", None)
        if space is None:
            raise TypeError(f"tabular agents need an environment with Discrete observation and action "
                            f"spaces; {type(env).__name__} has no {name}_space attribute")
        if not isinstance(space, spaces.Discrete):
            raise TypeError(
                f"tabular agents need Discrete observation and action spaces, but the {name} space is "
                f"{space!r}; discretize it into a gymnasium.spaces.Discrete (e.g. with an observation/action "
                f"wrapper that maps to integers 0..n-1), or use a function-approximation learner instead")
        found.append(space)
    obs, act = found
    return int(obs.n), int(act.n), int(obs.start), int(act.start)


class TabularMDP:
    """A finite MDP as arrays: expected rewards, non-terminal transition probabilities, success probabilities.

    Build one with `TabularMDP.from_env` (reads ``env.unwrapped.P``) or `TabularMDP.from_transitions`
    (the same ``{state: {action: [(p, next_state, reward, terminated), ...]}}`` mapping). Attributes:
    ``n_states``, ``n_actions``, ``rewards`` (S, A), ``success`` (S, A), ``continuation`` (sparse (S·A, S)),
    ``initial_distribution`` (S,) or None, ``state_start``/``action_start`` (offsets of the Discrete spaces).
    """

    def __init__(self, n_states, n_actions, rewards, continuation, success, initial_distribution=None,
                 state_start=0, action_start=0):
        self.n_states = int(n_states)
        self.n_actions = int(n_actions)
        self.rewards = np.asarray(rewards, dtype=np.float64)
        self.success = np.asarray(success, dtype=np.float64)
        self.continuation = scipy.sparse.csr_array(continuation)
        self.initial_distribution = (None if initial_distribution is None
                                     else np.asarray(initial_distribution, dtype=np.float64))
        self.state_start = int(state_start)
        self.action_start = int(action_start)

    @classmethod
    def from_env(cls, env):
        """Read the transition model of a toy-text style env (``env.unwrapped.P``) and its start distribution
        (``env.unwrapped.initial_state_distrib`` when present)."""
        n_states, n_actions, s0, a0 = discrete_spaces(env)
        unwrapped = getattr(env, "unwrapped", env)
        transitions = getattr(unwrapped, "P", None)
        if transitions is None:
            raise ValueError(
                f"{type(unwrapped).__name__} exposes no transition model: planners need env.unwrapped.P, a "
                f"mapping {{state: {{action: [(probability, next_state, reward, terminated), ...]}}}} as "
                f"gymnasium's FrozenLake, Taxi and CliffWalking have; for other environments learn a model "
                f"from experience (DynaQ, or Trainer(mode='dyna'))")
        initial = getattr(unwrapped, "initial_state_distrib", None)
        return cls.from_transitions(transitions, n_states, n_actions, initial, s0, a0)

    @classmethod
    def from_transitions(cls, transitions, n_states, n_actions, initial_distribution=None, state_start=0,
                         action_start=0):
        """Build from ``transitions[state][action] = [(probability, next_state, reward, terminated), ...]``
        (states and actions as the environment numbers them, i.e. including any Discrete ``start``)."""
        rewards = np.zeros((n_states, n_actions))
        success = np.zeros((n_states, n_actions))
        rows, cols, vals = [], [], []
        for s in range(n_states):
            by_action = transitions.get(s + state_start) if hasattr(transitions, "get") else transitions[s]
            if by_action is None:
                raise ValueError(f"the transition model has no entry for state {s + state_start}; it needs "
                                 f"one for each of the {n_states} states")
            for a in range(n_actions):
                outcomes = by_action.get(a + action_start) if hasattr(by_action, "get") else by_action[a]
                if not outcomes:
                    raise ValueError(f"the transition model has no outcomes for state {s + state_start}, "
                                     f"action {a + action_start}")
                total = 0.0
                for p, s2, r, done in outcomes:
                    p = float(p)
                    total += p
                    rewards[s, a] += p * r
                    if done:
                        if r > 0:
                            success[s, a] += p
                    else:
                        rows.append(s * n_actions + a)
                        cols.append(int(s2) - state_start)
                        vals.append(p)
                if abs(total - 1.0) > 1e-6:
                    raise ValueError(f"the outcome probabilities of state {s + state_start}, action "
                                     f"{a + action_start} sum to {total}, not 1")
        continuation = scipy.sparse.csr_array((vals, (rows, cols)), shape=(n_states * n_actions, n_states))
        continuation.sum_duplicates()
        return cls(n_states, n_actions, rewards, continuation, success, initial_distribution, state_start,
                   action_start)

    def q_from_values(self, values, gamma):
        """One Bellman backup: ``Q[s, a] = R[s, a] + γ Σ_s' C[s, a, s'] V[s']``."""
        return self.rewards + gamma * (self.continuation @ values).reshape(self.n_states, self.n_actions)

    def policy_matrix(self, policy):
        """(S, A) action probabilities of ``policy``: an (S,) array of actions (as the env numbers them) or
        an (S, A) array of probabilities."""
        policy = np.asarray(policy)
        if policy.ndim == 1:
            if policy.shape[0] != self.n_states:
                raise ValueError(f"a deterministic policy needs one action per state: shape "
                                 f"({self.n_states},), got {policy.shape}")
            actions = policy.astype(np.int64) - self.action_start
            if actions.min() < 0 or actions.max() >= self.n_actions:
                raise ValueError(f"policy actions must lie in [{self.action_start}, "
                                 f"{self.action_start + self.n_actions}), got {policy.min()}..{policy.max()}")
            probs = np.zeros((self.n_states, self.n_actions))
            probs[np.arange(self.n_states), actions] = 1.0
            return probs
        if policy.shape != (self.n_states, self.n_actions):
            raise ValueError(f"a stochastic policy needs shape ({self.n_states}, {self.n_actions}) "
                             f"(states, actions), got {policy.shape}")
        if not np.allclose(policy.sum(axis=1), 1.0) or policy.min() < 0:
            raise ValueError("a stochastic policy's rows must be probability distributions (non-negative, "
                             "summing to 1)")
        return policy.astype(np.float64)

    def policy_dynamics(self, policy):
        """``(C_π, R_π, success_π)`` under ``policy``: the (S, S) sparse non-terminal transition matrix, and
        the expected reward and success probability of one step."""
        probs = self.policy_matrix(policy)
        n, k = self.n_states, self.n_actions
        weights = scipy.sparse.csr_array((probs.ravel(), (np.repeat(np.arange(n), k), np.arange(n * k))),
                                         shape=(n, n * k))
        return (weights @ self.continuation, (probs * self.rewards).sum(axis=1),
                (probs * self.success).sum(axis=1))


def evaluate_policy(mdp, policy, gamma=0.99, horizon=None, reward="reward"):
    """State values of ``policy`` in a known MDP, exactly.

    Infinite horizon (``horizon=None``): solves the linear system ``(I − γ C_π) V = R_π`` (Sutton & Barto
    2018, eq. 4.4 in matrix form). With ``γ = 1`` this is singular when the policy can avoid termination
    forever from some state; a ValueError then asks for ``γ < 1`` or a ``horizon``.

    Finite horizon ``H``: ``V_0 = 0``, ``V_{k+1} = R_π + γ C_π V_k``; ``V_H`` is the expected return of an
    episode cut after ``H`` steps, i.e. what a ``TimeLimit(H)`` environment scores.

    ``reward="success"`` evaluates the probability of terminating with a positive reward instead of the
    return (for FrozenLake, with ``γ = 1``, both are the probability of reaching the goal).

    Args:
        mdp: a `TabularMDP` (or an env, from which one is built).
        policy: (S,) actions or (S, A) action probabilities.
        gamma: discount in [0, 1].
        horizon: None for the infinite-horizon value, or a number of steps.
        reward: "reward" (expected return) or "success" (success probability).

    Returns:
        (S,) array of values, indexed by state (minus the Discrete ``start``).
    """
    if not isinstance(mdp, TabularMDP):
        mdp = TabularMDP.from_env(mdp)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    if reward not in ("reward", "success"):
        raise ValueError(f"reward must be 'reward' or 'success', got {reward!r}")
    c_pi, r_pi, s_pi = mdp.policy_dynamics(policy)
    r = r_pi if reward == "reward" else s_pi
    if horizon is not None:
        if horizon < 0:
            raise ValueError(f"horizon must be a non-negative number of steps, got {horizon!r}")
        values = np.zeros(mdp.n_states)
        for _ in range(int(horizon)):
            values = r + gamma * (c_pi @ values)
        return values
    system = scipy.sparse.identity(mdp.n_states, format="csr") - gamma * c_pi
    try:
        if mdp.n_states <= _DENSE_LIMIT:
            values = np.linalg.solve(system.toarray(), r)
        else:
            values = scipy.sparse.linalg.spsolve(system.tocsc(), r)
        singular = not np.all(np.isfinite(values))
    except np.linalg.LinAlgError:
        singular = True
    if not singular:  # near-singular systems solve to garbage: check the residual
        singular = np.abs(system @ values - r).max() > 1e-6 * max(1.0, np.abs(r).max())
    if singular:
        raise ValueError(f"exact policy evaluation failed: with gamma={gamma} the system "
                         f"(I - gamma P_pi) V = R_pi is singular, because the policy never terminates from "
                         f"some states; use gamma < 1 or give a finite horizon")
    return values
