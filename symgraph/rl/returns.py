"""Returns and advantages of trajectories: pure, jittable JAX functions on arrays.

Conventions (shared by every function here):

- Time is the leading axis. ``rewards[t]`` is the reward received on the transition from ``s_t`` to
  ``s_{t+1}``, for ``t = 0 .. T-1``. Extra trailing axes (vector environments, batches) broadcast: a
  ``rewards`` array of shape ``(T, E)`` holds ``E`` trajectories side by side.
- ``discounts[t]`` is ``gamma * (1 - terminal_t)``, where ``terminal_t`` marks that ``s_{t+1}`` is terminal;
  a 0 stops every sum at that step, so several episodes can share one array. On a truncation (time limit)
  keep the discount and bootstrap from the value of the state reached instead.
- ``discounts`` and ``lam`` may be a scalar, or any leading part of the rewards' shape (``(T,)`` for
  ``rewards`` of shape ``(T, E)``), which broadcasts over the remaining axes.
- ``values`` (in :func:`td_errors` and :func:`gae`) has ``T + 1`` rows, ``V(s_0) .. V(s_T)``; its last row is
  the bootstrap value. ``next_values`` (in :func:`lambda_returns` and :func:`n_step_returns`, as in rlax)
  has ``T`` rows, ``next_values[t] = V(s_{t+1})``.

Every recursion runs as one reverse ``jax.lax.scan`` over time, so the functions compile to a small loop
and work under ``jax.jit``, ``jax.vmap`` and ``jax.grad``. Gradients flow through every argument: wrap the
result in ``jax.lax.stop_gradient`` where it is a regression target. Each public function checks the
argument shapes in Python (they are static even under ``jit``; a mismatch raises
:class:`symgraph.errors.ShapeError`, a ``ValueError``), then calls its maths, a jitted private function
written right below it, so eager calls (e.g. once per finished episode) are compiled once per shape.
"""

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from symgraph.errors import DTypeError, ShapeError, format_shape

__all__ = ["discounted_returns", "td_errors", "gae", "lambda_returns", "n_step_returns"]


# ---------------------------------------------------------------------------------------------------------
# Shape checks (on static shapes: numpy arrays, JAX arrays, tracers and Python numbers alike)


def _check_rewards(fn, rewards):
    shape = np.shape(rewards)
    if len(shape) < 1:
        raise ShapeError(f"{fn}: `rewards` must have time on a leading axis, shape (T, ...), got a scalar "
                         f"(shape {format_shape(shape)}); pass one reward per step, e.g. [r_0, ..., r_(T-1)]")
    return shape


def _check_per_step(fn, name, x, shape):
    """``x`` (``discounts`` or ``lam``) must be a scalar or have a leading part of the rewards' shape."""
    got = np.shape(x)
    if got != shape[: len(got)]:
        raise ShapeError(
            f"{fn}: `{name}` must be a scalar or have shape {format_shape(shape)} (or a leading part of it, "
            f"which broadcasts over the remaining axes) to match `rewards`, got {format_shape(got)}; give "
            f"one {'discount' if name == 'discounts' else name} per step, with time on axis 0")


_RATES = {
    "discounts": ("gamma_t = gamma * (1 - terminal_t), with a discount factor 0 <= gamma <= 1",
                  "check the discount factor (e.g. 0.99) and that `terminal` holds 0/1 flags"),
    "lam": ("the trace decay: 0 gives one-step TD targets, 1 Monte-Carlo returns",
            "pass a lambda such as 0.95"),
}


def _known(x):
    """``x`` as a numpy array when its values are known now (Python numbers, numpy arrays, lists of them),
    else None: JAX arrays (traced inside ``jit``, or made on a device) are not read back to be checked."""
    if isinstance(x, numbers.Number | np.ndarray | np.generic):
        return np.asarray(x)
    if isinstance(x, list | tuple):
        try:
            return np.asarray(x)
        except (TypeError, ValueError):  # e.g. a list of traced values
            return None
    return None


def _check_rate(fn, name, x):
    """``discounts`` or ``lam``, when known now (see :func:`_known`), must hold numbers in [0, 1]."""
    arr = _known(x)
    if arr is None:
        return
    what, fix = _RATES[name]
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"{fn}: `{name}` must hold numbers ({what}), got dtype {arr.dtype}; {fix}")
    bad = ~((arr >= 0) & (arr <= 1))  # NaN is outside too
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {index}" if index else ""
        raise ValueError(f"{fn}: `{name}` must lie in [0, 1] ({what}), got {arr[index]!s}{where}; {fix}")


def _check_values(fn, values, shape):
    expected = (shape[0] + 1,) + shape[1:]
    if np.shape(values) != expected:
        raise ShapeError(
            f"{fn}: `values` must have shape {format_shape(expected)} (T + 1 rows: V(s_0) .. V(s_T)) given "
            f"`rewards` of shape {format_shape(shape)}, got {format_shape(np.shape(values))}; append the "
            "bootstrap value V(s_T) (0 after a termination) as the last row, e.g. "
            "jnp.concatenate([values, last_value[None]])")


def _check_next_values(fn, next_values, shape):
    if np.shape(next_values) != shape:
        raise ShapeError(
            f"{fn}: `next_values` must have shape {format_shape(shape)} (the same as `rewards`: "
            f"next_values[t] = V(s_(t+1))), got {format_shape(np.shape(next_values))}; if you hold V(s_0) "
            ".. V(s_T), pass values[1:]")


# ---------------------------------------------------------------------------------------------------------
# Helpers of the maths (traced inside jit)


def _promote(*arrays):
    """The arguments as arrays of one common floating dtype (the default float for integer inputs)."""
    arrays = [jnp.asarray(a) for a in arrays]
    dtype = jnp.result_type(float, *arrays)
    return [a.astype(dtype) for a in arrays]


def _per_step(x, shape):
    """Broadcast a scalar or leading-axes array to ``shape`` (trailing axes added)."""
    return jnp.broadcast_to(x.reshape(x.shape + (1,) * (len(shape) - x.ndim)), shape)


def _reverse_scan(step, init, xs):
    """``ys[t] = carry_t`` where ``carry_t = step(carry_{t+1}, xs[t])`` and ``carry_T = init``."""

    def body(carry, x):
        carry = step(carry, x)
        return carry, carry

    return jax.lax.scan(body, init, xs, reverse=True)[1]


# ---------------------------------------------------------------------------------------------------------
# Returns and advantages


def discounted_returns(rewards, discounts, bootstrap):
    r"""Discounted returns bootstrapped at the end of the sequence.

    .. math::

        G_t = r_t + \gamma_t G_{t+1}, \qquad G_T = \text{bootstrap},

    that is :math:`G_t = \sum_{k=t}^{T-1} \big(\prod_{i=t}^{k-1} \gamma_i\big) r_k
    + \big(\prod_{i=t}^{T-1} \gamma_i\big) \text{bootstrap}` (Sutton & Barto 2018, section 3.3). A zero
    discount (a terminal step) cuts the sum, so episodes that end inside the sequence do not leak into each
    other.

    Args:
        rewards: ``r_t``, shape ``(T, ...)``.
        discounts: ``gamma_t = gamma * (1 - terminal_t)``, a scalar or shape ``(T, ...)`` (or a leading part).
        bootstrap: the value of the state after the last step, ``V(s_T)`` (0 after a termination), a scalar
            or shape ``rewards.shape[1:]``.

    Returns:
        ``G_t``, shape ``(T, ...)``.
    """
    fn = "discounted_returns"
    shape = _check_rewards(fn, rewards)
    _check_per_step(fn, "discounts", discounts, shape)
    _check_rate(fn, "discounts", discounts)
    if np.shape(bootstrap) not in ((), shape[1:]):
        raise ShapeError(f"{fn}: `bootstrap` must be a scalar or have shape {format_shape(shape[1:])} "
                         f"(rewards.shape[1:], one value per trajectory), got "
                         f"{format_shape(np.shape(bootstrap))}; pass V(s_T) of the state reached after the "
                         "last step")
    return _discounted_returns(rewards, discounts, bootstrap)


@jax.jit
def _discounted_returns(rewards, discounts, bootstrap):
    rewards, discounts, bootstrap = _promote(rewards, discounts, bootstrap)
    discounts = _per_step(discounts, rewards.shape)
    init = jnp.broadcast_to(bootstrap, rewards.shape[1:])
    return _reverse_scan(lambda g, x: x[0] + x[1] * g, init, (rewards, discounts))


def td_errors(rewards, values, discounts):
    r"""One-step temporal-difference errors.

    .. math::

        \delta_t = r_t + \gamma_t V(s_{t+1}) - V(s_t)

    (Sutton 1988; Sutton & Barto 2018, section 6.1).

    Args:
        rewards: ``r_t``, shape ``(T, ...)``.
        values: ``V(s_0) .. V(s_T)``, shape ``(T + 1, ...)``; the last row is the bootstrap value.
        discounts: ``gamma_t = gamma * (1 - terminal_t)``, a scalar or shape ``(T, ...)`` (or a leading part).

    Returns:
        ``delta_t``, shape ``(T, ...)``.
    """
    fn = "td_errors"
    shape = _check_rewards(fn, rewards)
    _check_values(fn, values, shape)
    _check_per_step(fn, "discounts", discounts, shape)
    _check_rate(fn, "discounts", discounts)
    return _td_errors(rewards, values, discounts)


@jax.jit
def _td_errors(rewards, values, discounts):
    rewards, values, discounts = _promote(rewards, values, discounts)
    return rewards + _per_step(discounts, rewards.shape) * values[1:] - values[:-1]


def gae(rewards, values, discounts, lam):
    r"""Generalized advantage estimation (Schulman et al. 2016, "High-Dimensional Continuous Control Using
    Generalized Advantage Estimation", eq. 16), truncated at the end of the sequence.

    .. math::

        \delta_t = r_t + \gamma_t V(s_{t+1}) - V(s_t), \qquad
        A_t = \delta_t + \gamma_t \lambda_t A_{t+1}, \qquad A_T = 0,

    that is :math:`A_t = \sum_{k \ge t} \big(\prod_{i=t}^{k-1} \gamma_i \lambda_i\big) \delta_k`. With
    ``lam = 1`` it is the discounted return minus ``V(s_t)``; with ``lam = 0`` the TD error. The matching
    value targets (the lambda-returns) are ``gae(...) + values[:-1]``.

    Args:
        rewards: ``r_t``, shape ``(T, ...)``.
        values: ``V(s_0) .. V(s_T)``, shape ``(T + 1, ...)``; the last row is the bootstrap value.
        discounts: ``gamma_t = gamma * (1 - terminal_t)``, a scalar or shape ``(T, ...)`` (or a leading part).
        lam: ``lambda``, a scalar or per-step array of shape ``(T, ...)`` (or a leading part).

    Returns:
        The advantages ``A_t``, shape ``(T, ...)``.
    """
    fn = "gae"
    shape = _check_rewards(fn, rewards)
    _check_values(fn, values, shape)
    _check_per_step(fn, "discounts", discounts, shape)
    _check_rate(fn, "discounts", discounts)
    _check_per_step(fn, "lam", lam, shape)
    _check_rate(fn, "lam", lam)
    return _gae(rewards, values, discounts, lam)


@jax.jit
def _gae(rewards, values, discounts, lam):
    rewards, values, discounts, lam = _promote(rewards, values, discounts, lam)
    discounts = _per_step(discounts, rewards.shape)
    lam = _per_step(lam, rewards.shape)
    deltas = rewards + discounts * values[1:] - values[:-1]
    init = jnp.zeros(rewards.shape[1:], rewards.dtype)
    return _reverse_scan(lambda a, x: x[0] + x[1] * a, init, (deltas, discounts * lam))


def lambda_returns(rewards, discounts, next_values, lam):
    r"""Lambda-returns, bootstrapped from ``next_values`` (Sutton & Barto 2018, section 12.1, in its
    recursive form).

    .. math::

        G^\lambda_t = r_t + \gamma_t \big[(1 - \lambda_t) V(s_{t+1}) + \lambda_t G^\lambda_{t+1}\big],
        \qquad G^\lambda_{T-1} = r_{T-1} + \gamma_{T-1} V(s_T).

    ``lam = 1`` gives the Monte-Carlo return bootstrapped from ``V(s_T)``; ``lam = 0`` the one-step TD target.

    Args:
        rewards: ``r_t``, shape ``(T, ...)``.
        discounts: ``gamma_t = gamma * (1 - terminal_t)``, a scalar or shape ``(T, ...)`` (or a leading part).
        next_values: ``v_t = V(s_{t+1})``, shape ``(T, ...)`` (the same as ``rewards``).
        lam: ``lambda``, a scalar or per-step array of shape ``(T, ...)`` (or a leading part).

    Returns:
        ``G^lambda_t``, shape ``(T, ...)``.
    """
    fn = "lambda_returns"
    shape = _check_rewards(fn, rewards)
    _check_per_step(fn, "discounts", discounts, shape)
    _check_rate(fn, "discounts", discounts)
    _check_next_values(fn, next_values, shape)
    _check_per_step(fn, "lam", lam, shape)
    _check_rate(fn, "lam", lam)
    return _lambda_returns(rewards, discounts, next_values, lam)


@jax.jit
def _lambda_returns(rewards, discounts, next_values, lam):
    rewards, discounts, next_values, lam = _promote(rewards, discounts, next_values, lam)
    if rewards.shape[0] == 0:
        return rewards
    discounts = _per_step(discounts, rewards.shape)
    lam = _per_step(lam, rewards.shape)

    def step(g, x):
        r_t, discount_t, v_t, lam_t = x
        return r_t + discount_t * ((1 - lam_t) * v_t + lam_t * g)

    return _reverse_scan(step, next_values[-1], (rewards, discounts, next_values, lam))


def n_step_returns(rewards, discounts, next_values, n):
    r"""n-step bootstrapped returns, truncated at the end of the sequence (Sutton & Barto 2018, section 7.1;
    as used by n-step DQN in Hessel et al. 2018, "Rainbow").

    .. math::

        G^{(n)}_t = \sum_{k=0}^{m-1} \Big(\prod_{i=0}^{k-1} \gamma_{t+i}\Big) r_{t+k}
        + \Big(\prod_{i=0}^{m-1} \gamma_{t+i}\Big) V(s_{t+m}), \qquad m = \min(n, T - t),

    so the last steps, which have fewer than ``n`` rewards left, bootstrap from ``V(s_T)``. It equals
    :func:`lambda_returns` with ``lam = 1`` when ``n >= T``, and the one-step TD target when ``n = 1``.
    Computed with one reverse scan whose carry holds the ``1 .. n``-step returns of the next step.

    Args:
        rewards: ``r_t``, shape ``(T, ...)``.
        discounts: ``gamma_t = gamma * (1 - terminal_t)``, a scalar or shape ``(T, ...)`` (or a leading part).
        next_values: ``v_t = V(s_{t+1})``, shape ``(T, ...)`` (the same as ``rewards``).
        n: the number of steps, a Python int ``>= 1`` (static: it sets the size of the loop carry).

    Returns:
        ``G^(n)_t``, shape ``(T, ...)``.
    """
    fn = "n_step_returns"
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{fn}: `n` must be a Python int >= 1 (the number of steps; it is static), got "
                         f"{n!r}; e.g. n=3")
    shape = _check_rewards(fn, rewards)
    _check_per_step(fn, "discounts", discounts, shape)
    _check_rate(fn, "discounts", discounts)
    _check_next_values(fn, next_values, shape)
    return _n_step_returns(rewards, discounts, next_values, int(n))


@functools.partial(jax.jit, static_argnames="n")
def _n_step_returns(rewards, discounts, next_values, n):
    rewards, discounts, next_values = _promote(rewards, discounts, next_values)
    if rewards.shape[0] == 0:
        return rewards
    discounts = _per_step(discounts, rewards.shape)

    def step(g_next, x):
        # g_next[k - 1] is the k-step return of step t+1 (k = 1..n); V(s_{t+1}) is its 0-step return, so
        # the k-step return of step t is r_t + gamma_t * ((k-1)-step return of step t+1).
        r_t, discount_t, v_t = x
        g = r_t + discount_t * jnp.concatenate([v_t[None], g_next[:-1]], axis=0)
        return g, g[-1]

    # Past the end of the sequence every k-step return is the bootstrap V(s_T).
    init = jnp.broadcast_to(next_values[-1], (n,) + rewards.shape[1:])
    return jax.lax.scan(step, init, (rewards, discounts, next_values), reverse=True)[1]
