"""Losses and bootstrap targets for policy-gradient and value-based learners: pure, jittable JAX functions.

Conventions:

- Batch-major. Per-sample arguments share one shape ``S`` (``(B,)`` for a batch of transitions, ``(T, B)``
  for a rollout, anything else): ``log_probs``, ``advantages``, ``r_t``, ``discount_t`` and so on. Action
  values and categorical distributions add a trailing axis: ``q_t`` has shape ``S + (A,)`` for ``A``
  actions, ``next_probs`` shape ``S + (N,)`` for ``N`` atoms.
- ``_tm1`` marks quantities at the time of the action (``s_{t-1}, a_{t-1}``), ``_t`` at the next state, as
  in rlax. ``discount_t`` is ``gamma * (1 - terminal_t)``; it may also be a scalar.
- Losses reduce to a scalar with a mean over every element, optionally weighted by ``weights`` (shape
  ``S``: a padding mask, or importance weights for prioritised replay). They stop gradients where the
  algorithm treats a quantity as data: advantages, old log-probabilities, old values and returns, and TD
  targets. The target functions themselves are plain maths: :func:`td_loss` stops their gradient.
- Each public function checks its arguments' shapes in Python (they are static even under ``jax.jit``; a
  mismatch raises :class:`symgraph.errors.ShapeError`, a ``ValueError``, naming the argument, the expected
  and the received shapes), then calls its maths: a jitted private function written right below it, so
  eager calls compile once per shape and calls inside a traced learner inline it.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from symgraph.errors import DTypeError, ShapeError, format_shape

__all__ = [
    "policy_gradient_loss",
    "clipped_surrogate_loss",
    "ppo_value_loss",
    "ppo_diagnostics",
    "categorical_entropy",
    "entropy_loss",
    "huber_loss",
    "l2_loss",
    "td_loss",
    "batched_index",
    "q_learning_target",
    "double_q_learning_target",
    "sarsa_target",
    "expected_sarsa_target",
    "categorical_projection",
]

_sg = jax.lax.stop_gradient


# ---------------------------------------------------------------------------------------------------------
# Argument checks (on static shapes: numpy arrays, JAX arrays, tracers and Python numbers alike)


def _same_shape(fn, reference_name, reference, **others):
    """Every array in ``others`` (``None`` skipped) must have the reference's shape."""
    expected = np.shape(reference)
    for name, x in others.items():
        if x is not None and np.shape(x) != expected:
            raise ShapeError(f"{fn}: `{name}` must have the shape of `{reference_name}`, "
                             f"{format_shape(expected)}, got {format_shape(np.shape(x))}; pass one value per "
                             f"sample, aligned with `{reference_name}`")


def _scalar_or_shape(fn, name, x, shape, what):
    if np.shape(x) not in ((), tuple(shape)):
        raise ShapeError(f"{fn}: `{name}` must be a scalar or have shape {format_shape(shape)} ({what}), got "
                         f"{format_shape(np.shape(x))}")


def _check_nonnegative(fn, name, x):
    """A scalar hyperparameter, possibly traced (an annealed schedule); checked for sign when concrete."""
    if np.ndim(x) != 0:
        raise ShapeError(f"{fn}: `{name}` must be a scalar, got shape {format_shape(np.shape(x))}; pass one "
                         "number (it may be a traced value, e.g. an annealed schedule)")
    if isinstance(x, int | float) and x < 0:
        raise ValueError(f"{fn}: `{name}` must be >= 0, got {x!r}")


def _check_action_values(fn, name, q, r_t):
    """``q`` must have shape ``r_t.shape + (A,)``."""
    shape, expected = np.shape(q), np.shape(r_t)
    if len(shape) != len(expected) + 1 or shape[:-1] != expected:
        raise ShapeError(f"{fn}: `{name}` must have shape {format_shape(expected + ('A',))} (the shape of "
                         f"`r_t` plus a trailing axis of one value per action), got {format_shape(shape)}; "
                         "pass the Q-network's output for every action, not the value of one action")


def _check_actions(fn, name, a, r_t):
    """``a`` must hold integer actions of the shape of ``r_t``."""
    dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
    if not jnp.issubdtype(dtype, jnp.integer):
        raise DTypeError(f"{fn}: `{name}` must hold integer actions, got dtype {dtype}; cast them with "
                         ".astype('int32')")
    if np.shape(a) != np.shape(r_t):
        raise ShapeError(f"{fn}: `{name}` must have the shape of `r_t`, {format_shape(np.shape(r_t))} (one "
                         f"action per sample), got {format_shape(np.shape(a))}")


def _check_transition(fn, r_t, discount_t):
    _scalar_or_shape(fn, "discount_t", discount_t, np.shape(r_t),
                     "the shape of `r_t`: one discount per sample")


# ---------------------------------------------------------------------------------------------------------
# Helpers of the maths (traced inside jit)


def _floats(*arrays):
    """The arguments (``None`` kept) as arrays of one common floating dtype."""
    present = [jnp.asarray(a) for a in arrays if a is not None]
    dtype = jnp.result_type(float, *present)
    it = iter(present)
    return [None if a is None else next(it).astype(dtype) for a in arrays]


def _mean(x, weights):
    return jnp.mean(x if weights is None else weights * x)


def _index(values, indices):
    return jnp.take_along_axis(values, indices[..., None], axis=-1)[..., 0]


# ---------------------------------------------------------------------------------------------------------
# Policy losses


def policy_gradient_loss(log_probs, advantages, weights=None):
    r"""Policy-gradient (REINFORCE / advantage actor-critic) loss.

    .. math::

        L = -\operatorname{mean}\big(w \cdot \log \pi(a_t \mid s_t) \cdot \operatorname{sg}(A_t)\big)

    whose gradient is the likelihood-ratio policy gradient (Williams 1992; Sutton et al. 2000; with
    advantages as in Mnih et al. 2016, A3C). ``sg`` is the stop-gradient: advantages are data.

    Args:
        log_probs: ``log pi(a_t | s_t)`` of the actions taken, shape ``S``.
        advantages: ``A_t`` (or returns for REINFORCE), shape ``S``.
        weights: optional per-sample weights (a mask), shape ``S``.

    Returns:
        The scalar loss.
    """
    _same_shape("policy_gradient_loss", "log_probs", log_probs, advantages=advantages, weights=weights)
    return _policy_gradient_loss(log_probs, advantages, weights)


@jax.jit
def _policy_gradient_loss(log_probs, advantages, weights):
    log_probs, advantages, weights = _floats(log_probs, advantages, weights)
    return -_mean(log_probs * _sg(advantages), weights)


def clipped_surrogate_loss(log_probs, old_log_probs, advantages, epsilon=0.2, weights=None):
    r"""PPO's clipped surrogate objective, as a loss (Schulman et al. 2017, "Proximal Policy Optimization
    Algorithms", eq. 7).

    .. math::

        \rho_t = \exp\big(\log \pi(a_t \mid s_t) - \log \pi_{\text{old}}(a_t \mid s_t)\big), \qquad
        L = -\operatorname{mean}\Big(w \cdot \min\big(\rho_t A_t,\;
        \operatorname{clip}(\rho_t, 1 - \epsilon, 1 + \epsilon) A_t\big)\Big).

    Gradients stop at ``old_log_probs`` and ``advantages``; they are zero for samples whose ratio is
    clipped in the direction the advantage pushes.

    Args:
        log_probs: ``log pi(a_t | s_t)`` under the current policy, shape ``S``.
        old_log_probs: ``log pi_old(a_t | s_t)`` under the policy that collected the data, shape ``S``.
        advantages: ``A_t``, shape ``S`` (normalise them beforehand if you wish).
        epsilon: the clip range, a scalar ``>= 0`` (may be traced, e.g. annealed).
        weights: optional per-sample weights (a mask), shape ``S``.

    Returns:
        The scalar loss.
    """
    fn = "clipped_surrogate_loss"
    _check_nonnegative(fn, "epsilon", epsilon)
    _same_shape(fn, "log_probs", log_probs, old_log_probs=old_log_probs, advantages=advantages,
                weights=weights)
    return _clipped_surrogate_loss(log_probs, old_log_probs, advantages, epsilon, weights)


@jax.jit
def _clipped_surrogate_loss(log_probs, old_log_probs, advantages, epsilon, weights):
    log_probs, old_log_probs, advantages, weights = _floats(log_probs, old_log_probs, advantages, weights)
    ratio = jnp.exp(log_probs - _sg(old_log_probs))
    advantages = _sg(advantages)
    surrogate = jnp.minimum(ratio * advantages, jnp.clip(ratio, 1 - epsilon, 1 + epsilon) * advantages)
    return -_mean(surrogate, weights)


def ppo_value_loss(values, returns, old_values=None, epsilon=None, weights=None):
    r"""Value-function loss, optionally clipped around the old values as in PPO2 (OpenAI Baselines;
    discussed by Engstrom et al. 2020, "Implementation Matters in Deep RL").

    .. math::

        L = \tfrac12 \operatorname{mean}\big(w \cdot (V - R)^2\big) \quad\text{or, with } \epsilon:\quad
        L = \tfrac12 \operatorname{mean}\Big(w \cdot \max\big((V - R)^2,
        (V_{\text{old}} + \operatorname{clip}(V - V_{\text{old}}, -\epsilon, \epsilon) - R)^2\big)\Big).

    Gradients stop at ``returns`` and ``old_values``.

    Args:
        values: ``V(s_t)`` under the current critic, shape ``S``.
        returns: the regression targets ``R_t`` (e.g. ``gae(...) + values``), shape ``S``.
        old_values: ``V_old(s_t)`` from the critic that collected the data, shape ``S``; needed with
            ``epsilon``.
        epsilon: the value clip range, a scalar ``>= 0``, or ``None`` for the plain squared error.
        weights: optional per-sample weights (a mask), shape ``S``.

    Returns:
        The scalar loss.
    """
    fn = "ppo_value_loss"
    _same_shape(fn, "values", values, returns=returns, old_values=old_values, weights=weights)
    if epsilon is None:
        return _value_loss(values, returns, weights)
    _check_nonnegative(fn, "epsilon", epsilon)
    if old_values is None:
        raise ValueError(f"{fn}: value clipping (epsilon={epsilon!r}) needs `old_values`, the critic's "
                         "values when the data was collected; pass them, or epsilon=None for an unclipped "
                         "loss")
    return _clipped_value_loss(values, returns, old_values, epsilon, weights)


@jax.jit
def _value_loss(values, returns, weights):
    values, returns, weights = _floats(values, returns, weights)
    return 0.5 * _mean(jnp.square(values - _sg(returns)), weights)


@jax.jit
def _clipped_value_loss(values, returns, old_values, epsilon, weights):
    values, returns, old_values, weights = _floats(values, returns, old_values, weights)
    returns, old_values = _sg(returns), _sg(old_values)
    clipped = old_values + jnp.clip(values - old_values, -epsilon, epsilon)
    return 0.5 * _mean(jnp.maximum(jnp.square(values - returns), jnp.square(clipped - returns)), weights)


def ppo_diagnostics(log_probs, old_log_probs, epsilon=0.2):
    r"""Diagnostics of a PPO update: the approximate KL divergence and the fraction of clipped ratios.

    .. math::

        \widehat{KL}(\pi_{\text{old}} \,\|\, \pi) = \operatorname{mean}\big((\rho - 1) - \log \rho\big),
        \qquad \text{clip fraction} = \operatorname{mean}\big(|\rho - 1| > \epsilon\big),

    the non-negative, unbiased "k3" estimator (Schulman 2020, "Approximating KL Divergence"), as logged by
    Stable-Baselines3 and CleanRL. No gradients flow.

    Args:
        log_probs: ``log pi(a_t | s_t)``, shape ``S``.
        old_log_probs: ``log pi_old(a_t | s_t)``, shape ``S``.
        epsilon: the clip range of the surrogate, a scalar.

    Returns:
        ``{"approx_kl": scalar, "clip_fraction": scalar}``.
    """
    fn = "ppo_diagnostics"
    _check_nonnegative(fn, "epsilon", epsilon)
    _same_shape(fn, "log_probs", log_probs, old_log_probs=old_log_probs)
    return _ppo_diagnostics(log_probs, old_log_probs, epsilon)


@jax.jit
def _ppo_diagnostics(log_probs, old_log_probs, epsilon):
    log_probs, old_log_probs = _floats(log_probs, old_log_probs)
    log_ratio = _sg(log_probs - old_log_probs)
    ratio = jnp.exp(log_ratio)
    return {"approx_kl": jnp.mean((ratio - 1) - log_ratio),
            "clip_fraction": jnp.mean((jnp.abs(ratio - 1) > epsilon).astype(ratio.dtype))}


def categorical_entropy(logits):
    r"""Entropy of categorical distributions given by unnormalised logits, over the last axis.

    .. math::

        H(\pi) = -\sum_a \pi_a \log \pi_a, \qquad \pi = \operatorname{softmax}(\text{logits}).

    Args:
        logits: shape ``S + (A,)``.

    Returns:
        ``H``, shape ``S``.
    """
    if np.ndim(logits) < 1:
        raise ShapeError("categorical_entropy: `logits` must have a trailing axis of one logit per action, "
                         f"shape S + (A,), got {format_shape(np.shape(logits))}")
    return _categorical_entropy(logits)


@jax.jit
def _categorical_entropy(logits):
    log_p = jax.nn.log_softmax(_floats(logits)[0], axis=-1)
    return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)


def entropy_loss(entropy, weights=None):
    r"""Entropy regulariser, as a loss to add with a positive coefficient (the entropy bonus of Williams &
    Peng 1991 and Mnih et al. 2016).

    .. math::

        L = -\operatorname{mean}(w \cdot H_t)

    so minimising ``loss + beta * entropy_loss(H)`` maximises the entropy with weight ``beta``.

    Args:
        entropy: per-sample entropies ``H_t`` (e.g. :func:`categorical_entropy`), shape ``S``.
        weights: optional per-sample weights (a mask), shape ``S``.

    Returns:
        The scalar loss.
    """
    _same_shape("entropy_loss", "entropy", entropy, weights=weights)
    return _entropy_loss(entropy, weights)


@jax.jit
def _entropy_loss(entropy, weights):
    entropy, weights = _floats(entropy, weights)
    return -_mean(entropy, weights)


# ---------------------------------------------------------------------------------------------------------
# Value losses


def huber_loss(x, delta=1.0):
    r"""Elementwise Huber loss (Huber 1964), the TD loss of DQN's gradient clipping (Mnih et al. 2015).

    .. math::

        \ell_\delta(x) = \begin{cases} \tfrac12 x^2 & |x| \le \delta \\
        \delta (|x| - \tfrac12 \delta) & |x| > \delta \end{cases}

    Its gradient is ``x`` clipped to ``[-delta, delta]``. ``delta = 1`` is PyTorch's ``smooth_l1_loss``.

    Args:
        x: errors, any shape.
        delta: the switch point from quadratic to linear, a scalar ``>= 0``.

    Returns:
        ``l(x)``, the shape of ``x``.
    """
    _check_nonnegative("huber_loss", "delta", delta)
    return _huber_loss(x, delta)


@jax.jit
def _huber_loss(x, delta):
    x = _floats(x)[0]
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    return 0.5 * jnp.square(quadratic) + delta * (abs_x - quadratic)


def l2_loss(x):
    r"""Elementwise squared loss :math:`\ell(x) = \tfrac12 x^2`.

    Args:
        x: errors, any shape.

    Returns:
        ``l(x)``, the shape of ``x``.
    """
    return _l2_loss(x)


@jax.jit
def _l2_loss(x):
    return 0.5 * jnp.square(_floats(x)[0])


def td_loss(predictions, targets, loss="huber", delta=1.0, weights=None):
    r"""Mean TD loss between predicted values and (stop-gradient) bootstrap targets.

    .. math::

        L = \operatorname{mean}\big(w \cdot \ell(\operatorname{sg}(y) - \hat q)\big),
        \qquad \ell \in \{\text{Huber}_\delta, \tfrac12 x^2\}

    (Mnih et al. 2015 for the Huber form; with importance weights ``w`` for prioritised replay, Schaul et
    al. 2016).

    Args:
        predictions: ``q_tm1`` (e.g. ``batched_index(q_tm1, a_tm1)``) or ``v_tm1``, shape ``S``.
        targets: ``y`` from :func:`q_learning_target` and friends, shape ``S``.
        loss: ``"huber"`` or ``"l2"``.
        delta: the Huber switch point (ignored by ``"l2"``).
        weights: optional per-sample weights, shape ``S``.

    Returns:
        The scalar loss.
    """
    fn = "td_loss"
    if loss not in ("huber", "l2"):
        raise ValueError(f"{fn}: `loss` must be 'huber' or 'l2', got {loss!r}")
    _check_nonnegative(fn, "delta", delta)
    _same_shape(fn, "predictions", predictions, targets=targets, weights=weights)
    return _td_loss(predictions, targets, loss, delta, weights)


@functools.partial(jax.jit, static_argnames="loss")
def _td_loss(predictions, targets, loss, delta, weights):
    predictions, targets, weights = _floats(predictions, targets, weights)
    errors = _sg(targets) - predictions
    return _mean(_huber_loss(errors, delta) if loss == "huber" else _l2_loss(errors), weights)


# ---------------------------------------------------------------------------------------------------------
# Bootstrap targets for action values


def batched_index(values, indices):
    """``values[..., indices]`` per sample: the value of each sample's action.

    Args:
        values: shape ``S + (A,)``.
        indices: integer actions, shape ``S``.

    Returns:
        Shape ``S``.
    """
    fn = "batched_index"
    dtype = indices.dtype if hasattr(indices, "dtype") else np.asarray(indices).dtype
    if not jnp.issubdtype(dtype, jnp.integer):
        raise DTypeError(f"{fn}: `indices` must hold integer actions, got dtype {dtype}; cast them with "
                         ".astype('int32')")
    shape, expected = np.shape(values), np.shape(indices)
    if len(shape) != len(expected) + 1 or shape[:-1] != expected:
        raise ShapeError(f"{fn}: `values` must have shape {format_shape(expected + ('A',))} (the shape of "
                         f"`indices` plus one value per action), got {format_shape(shape)}; pass one action "
                         "per row of `values`")
    return _batched_index(values, indices)


_batched_index = jax.jit(_index)


def q_learning_target(r_t, discount_t, q_t):
    r"""Q-learning target (Watkins 1989; DQN, Mnih et al. 2015).

    .. math::

        y = r_t + \gamma_t \max_a Q(s_t, a)

    Args:
        r_t: rewards, shape ``S``.
        discount_t: ``gamma * (1 - terminal_t)``, shape ``S`` or a scalar.
        q_t: ``Q(s_t, .)`` (from the target network in DQN), shape ``S + (A,)``.

    Returns:
        ``y``, shape ``S``.
    """
    fn = "q_learning_target"
    _check_transition(fn, r_t, discount_t)
    _check_action_values(fn, "q_t", q_t, r_t)
    return _q_learning_target(r_t, discount_t, q_t)


@jax.jit
def _q_learning_target(r_t, discount_t, q_t):
    r_t, discount_t, q_t = _floats(r_t, discount_t, q_t)
    return r_t + discount_t * jnp.max(q_t, axis=-1)


def double_q_learning_target(r_t, discount_t, q_t_value, q_t_selector):
    r"""Double Q-learning target (van Hasselt et al. 2016, "Deep Reinforcement Learning with Double
    Q-learning"): select the next action with one network, evaluate it with the other.

    .. math::

        y = r_t + \gamma_t \, Q_{\text{value}}\big(s_t, \arg\max_a Q_{\text{selector}}(s_t, a)\big)

    In Double DQN the selector is the online network and the evaluator the target network.

    Args:
        r_t: rewards, shape ``S``.
        discount_t: ``gamma * (1 - terminal_t)``, shape ``S`` or a scalar.
        q_t_value: ``Q(s_t, .)`` of the evaluating (target) network, shape ``S + (A,)``.
        q_t_selector: ``Q(s_t, .)`` of the selecting (online) network, shape ``S + (A,)``.

    Returns:
        ``y``, shape ``S``.
    """
    fn = "double_q_learning_target"
    _check_transition(fn, r_t, discount_t)
    _check_action_values(fn, "q_t_value", q_t_value, r_t)
    _same_shape(fn, "q_t_value", q_t_value, q_t_selector=q_t_selector)
    return _double_q_learning_target(r_t, discount_t, q_t_value, q_t_selector)


@jax.jit
def _double_q_learning_target(r_t, discount_t, q_t_value, q_t_selector):
    r_t, discount_t, q_t_value, q_t_selector = _floats(r_t, discount_t, q_t_value, q_t_selector)
    a_t = jnp.argmax(q_t_selector, axis=-1)
    return r_t + discount_t * _index(q_t_value, a_t)


def sarsa_target(r_t, discount_t, q_t, a_t):
    r"""SARSA target (Rummery & Niranjan 1994; Sutton & Barto 2018, section 6.4).

    .. math::

        y = r_t + \gamma_t Q(s_t, a_t)

    Args:
        r_t: rewards, shape ``S``.
        discount_t: ``gamma * (1 - terminal_t)``, shape ``S`` or a scalar.
        q_t: ``Q(s_t, .)``, shape ``S + (A,)``.
        a_t: the next actions actually taken, integers, shape ``S``.

    Returns:
        ``y``, shape ``S``.
    """
    fn = "sarsa_target"
    _check_transition(fn, r_t, discount_t)
    _check_action_values(fn, "q_t", q_t, r_t)
    _check_actions(fn, "a_t", a_t, r_t)
    return _sarsa_target(r_t, discount_t, q_t, a_t)


@jax.jit
def _sarsa_target(r_t, discount_t, q_t, a_t):
    r_t, discount_t, q_t = _floats(r_t, discount_t, q_t)
    return r_t + discount_t * _index(q_t, jnp.asarray(a_t))


def expected_sarsa_target(r_t, discount_t, q_t, probs_a_t):
    r"""Expected SARSA target (van Seijen et al. 2009; Sutton & Barto 2018, section 6.6).

    .. math::

        y = r_t + \gamma_t \sum_a \pi(a \mid s_t) Q(s_t, a)

    Args:
        r_t: rewards, shape ``S``.
        discount_t: ``gamma * (1 - terminal_t)``, shape ``S`` or a scalar.
        q_t: ``Q(s_t, .)``, shape ``S + (A,)``.
        probs_a_t: the policy's action probabilities ``pi(. | s_t)``, shape ``S + (A,)``.

    Returns:
        ``y``, shape ``S``.
    """
    fn = "expected_sarsa_target"
    _check_transition(fn, r_t, discount_t)
    _check_action_values(fn, "q_t", q_t, r_t)
    _same_shape(fn, "q_t", q_t, probs_a_t=probs_a_t)
    return _expected_sarsa_target(r_t, discount_t, q_t, probs_a_t)


@jax.jit
def _expected_sarsa_target(r_t, discount_t, q_t, probs_a_t):
    r_t, discount_t, q_t, probs_a_t = _floats(r_t, discount_t, q_t, probs_a_t)
    return r_t + discount_t * jnp.sum(probs_a_t * q_t, axis=-1)


# ---------------------------------------------------------------------------------------------------------
# Distributional (C51) target


def categorical_projection(next_probs, rewards, discounts, atoms):
    r"""Project the distribution of :math:`r + \gamma Z` onto the fixed support ``atoms`` (C51,
    Bellemare et al. 2017, "A Distributional Perspective on Reinforcement Learning", Algorithm 1).

    Each shifted atom :math:`\hat z_j = \operatorname{clip}(r + \gamma z_j, z_0, z_{N-1})` splits its
    probability between its two neighbouring atoms in proportion to closeness:

    .. math::

        m_i = \sum_j p_j \Big[1 - \frac{|\hat z_j - z_i|}{\Delta_i}\Big]_0^1,

    where :math:`\Delta_i` is the gap from :math:`z_i` to the neighbour on :math:`\hat z_j`'s side
    (:math:`\Delta z` for an evenly spaced support, as in the paper; any increasing support works). The
    result sums to one, and has the mean of :math:`r + \gamma Z` when that lies inside the support. With
    ``discounts = 0`` (a terminal step) all mass goes to ``clip(r)``. The projection is linear in
    ``next_probs``; stop its gradient when it is a target.

    Args:
        next_probs: :math:`p_j`, probabilities of the next state's distribution over ``atoms`` (for the
            greedy or selected next action), shape ``S + (N,)``.
        rewards: :math:`r`, shape ``S``.
        discounts: :math:`\gamma (1 - \text{terminal})`, shape ``S`` or a scalar.
        atoms: the support :math:`z_0 < \dots < z_{N-1}`, shape ``(N,)``, ``N >= 2``.

    Returns:
        The projected probabilities :math:`m`, shape ``S + (N,)``.
    """
    fn = "categorical_projection"
    atoms_shape = np.shape(atoms)
    if len(atoms_shape) != 1 or atoms_shape[0] < 2:
        raise ShapeError(f"{fn}: `atoms` must be a vector of at least 2 increasing support points, shape "
                         f"(N,), got {format_shape(atoms_shape)}; e.g. jnp.linspace(-10, 10, 51)")
    expected = np.shape(rewards) + atoms_shape
    if np.shape(next_probs) != expected:
        raise ShapeError(f"{fn}: `next_probs` must have shape {format_shape(expected)} (the shape of "
                         "`rewards` plus one probability per atom), got "
                         f"{format_shape(np.shape(next_probs))}; pass the next state's probabilities (of the "
                         "selected action) over the same atoms as `atoms`")
    _scalar_or_shape(fn, "discounts", discounts, np.shape(rewards), "the shape of `rewards`: one per sample")
    return _categorical_projection(next_probs, rewards, discounts, atoms)


@jax.jit
def _categorical_projection(next_probs, rewards, discounts, atoms):
    next_probs, rewards, discounts, atoms = _floats(next_probs, rewards, discounts, atoms)
    lo, hi = atoms[0], atoms[-1]
    shifted = jnp.clip(rewards[..., None] + discounts[..., None] * atoms, lo, hi)  # S + (N,): z_hat_j
    gaps = jnp.diff(atoms)
    gap_below = jnp.concatenate([gaps[:1], gaps])  # z_i - z_{i-1} (any positive number for i = 0)
    gap_above = jnp.concatenate([gaps, gaps[-1:]])  # z_{i+1} - z_i (any positive number for i = N-1)
    distance = shifted[..., None, :] - atoms[:, None]  # S + (N_i, N_j): z_hat_j - z_i
    scaled = jnp.where(distance >= 0, distance / gap_above[:, None], -distance / gap_below[:, None])
    weights = jnp.clip(1 - scaled, 0, 1)
    return jnp.sum(weights * next_probs[..., None, :], axis=-1)
