r"""Path returns: reward-to-go, GAE advantages and TD errors of the paths stored in a ring, for agents that
want them (:meth:`symgraph.rl.buffer.Buffer.finish_path`; no built-in learner needs them: the on-policy
learners compute their advantages in their own compiled update).

For the steps of one environment's path (the steps pushed since its last :func:`finish_path`), with
:math:`\gamma_t = \gamma (1 - \text{terminal}_t)`,

.. math::

    \text{reward-to-go}_t &= r_t + \gamma_t\, \text{reward-to-go}_{t+1}, \qquad
        \text{reward-to-go}_T = \text{last\_val}, \\
    \text{TD-error}_t &= \delta_t = r_t + \gamma_t V(s_{t+1}) - V(s_t), \qquad V(s_T) = \text{last\_val}, \\
    \text{advantage}_t &= \delta_t + \gamma_t \lambda\, \text{advantage}_{t+1}
        \quad \text{(GAE, Schulman et al. 2016, eq. 16)},

by :func:`symgraph.rl.returns.discounted_returns`, :func:`~symgraph.rl.returns.td_errors` and
:func:`~symgraph.rl.returns.gae` (SymJAX passed :math:`\gamma\lambda` as the discount of the TD errors; here
:math:`\gamma` discounts the bootstrap and :math:`\gamma\lambda` the sum of TD errors, as in the paper).
A path that ends in a termination (``terminal=True`` on its last step) has discount 0 there, so ``last_val``
is ignored and nothing is bootstrapped; a path cut by a time limit or by the end of a rollout bootstraps
from ``last_val = V(s_T)``, the value of the state reached. ``advantage + V`` is the lambda-return, the usual
value target with GAE. Steps of a path whose ``"reward-to-go"``/``"advantage"``/``"TD-error"`` are not
computed yet hold NaN.
"""

import contextlib

import jax
import numpy as np

from symgraph.errors import ShapeError, format_shape
from symgraph.rl import returns

__all__ = ["COMPUTED_FIELDS", "finish_path", "environments"]

#: Fields written by :func:`finish_path` (never pushed).
COMPUTED_FIELDS = ("reward-to-go", "advantage", "TD-error")


@jax.jit
def _path_maths(rewards, values, discounts, last_val, lam):
    """The three per-path quantities in one compiled call (time-major, one column per environment)."""
    return (returns.discounted_returns(rewards, discounts, last_val),
            returns.gae(rewards, values, discounts, lam),
            returns.td_errors(rewards, values, discounts))


def _host_device():
    """JAX's CPU device, where the per-path maths runs even when the default backend is an accelerator: the
    inputs are small numpy arrays and the recursions are sequential scans, for which a GPU round trip (copies
    plus one kernel launch per scan step) costs more than the whole computation on the host. ``None`` if
    JAX was started without its CPU backend."""
    try:
        return jax.devices("cpu")[0]
    except RuntimeError:
        return None


def _bucket(n):
    """``n`` rounded up to a power of two (at least 8): paths are padded to few lengths, so the maths
    compiles once per bucket rather than once per episode length."""
    return max(8, 1 << (int(n) - 1).bit_length())


def environments(env_index, n_envs, owner):
    """``env_index`` (None: every environment, an int, or distinct ints) as an int array, checked."""
    if env_index is None:
        return np.arange(n_envs)
    envs = np.atleast_1d(np.asarray(env_index))
    if envs.ndim != 1 or envs.dtype.kind not in "iu" or (envs.size and (envs.min() < 0 or envs.max() >= n_envs)) \
            or len(np.unique(envs)) != len(envs):
        raise ValueError(f"{owner}: env_index must be None, an int or distinct ints in 0..{n_envs - 1} (the "
                         f"buffer holds {n_envs} environments), got {env_index!r}")
    return envs


def finish_path(ring, path_len, last_val, env_index, gamma, lam, owner="finish_path"):
    """Compute the path fields (module docstring) of the current path of each environment in ``env_index``,
    writing them into ``ring`` (its ``"reward"``, and ``"terminal"``, ``"truncated"``, ``"V"`` when stored).

    Args:
        ring: a :class:`~symgraph.rl.storage.ring.Ring` with a ``"reward"`` field.
        path_len: int array ``(n_envs,)``: the steps of each environment's current path (set to 0 here for
            the finished ones).
        last_val: ``V(s_T)`` of the state reached after each path's last step: a number, or one value per
            environment in ``env_index``.
        env_index: ``None`` (every environment), an int, or a sequence of distinct ints.
        gamma, lam: the discount :math:`\\gamma` and the GAE :math:`\\lambda`.
        owner: the name errors start with.

    Returns:
        Whether a truncated step inside a path was cut like a termination (``V`` of its next state is
        unknown, so it cannot be bootstrapped; the caller warns).

    The maths runs in one jitted call on all the paths at once (front-padded to a power-of-two length, which
    leaves the results unchanged, so it compiles once per bucket), on JAX's CPU device.
    """
    envs = environments(env_index, ring.n_envs, owner)
    last = np.asarray(last_val, dtype=np.float64)
    if last.size == 1:
        last = np.full(len(envs), float(last.reshape(())))
    elif last.shape != (len(envs),):
        raise ShapeError(f"{owner}: last_val must be a number or have one value per finished environment, shape "
                         f"({len(envs)},), got {format_shape(last.shape)}; pass V(s_T) of each environment's "
                         f"last state")
    if not np.all(np.isfinite(last)):
        raise ValueError(f"{owner}: last_val must be finite, got {last_val!r}")
    lengths = np.minimum(path_len[envs], ring.rows_stored)
    keep = lengths > 0
    envs, last, lengths = envs[keep], last[keep], lengths[keep]
    if len(envs) == 0:
        return False
    data = ring.data
    t_pad = _bucket(lengths.max())
    rows = ring.latest(t_pad)
    valid = np.arange(t_pad)[:, None] >= (t_pad - lengths)[None, :]   # (t_pad, k): real steps
    ridx, eidx = rows[:, None], envs[None, :]
    rewards = np.where(valid, data["reward"][ridx, eidx], 0.0)
    if "terminal" in data:
        discounts = gamma * (1.0 - data["terminal"][ridx, eidx].astype(np.float64))
    else:
        discounts = np.full(valid.shape, gamma)
    cut_truncation = False
    if "truncated" in data:
        cut = data["truncated"][ridx, eidx].astype(bool) & (discounts > 0)
        cut[-1] = False  # the last step bootstraps from last_val
        cut &= valid
        if cut.any():
            discounts = np.where(cut, 0.0, discounts)
            cut_truncation = True
    discounts = np.where(valid, discounts, 0.0)
    values = np.zeros((t_pad + 1, len(envs)))
    if "V" in data:
        values[:-1] = np.where(valid, data["V"][ridx, eidx], 0.0)
        values[-1] = last
    for name, arr in (("reward", rewards), ("V", values[:-1])):
        if not np.all(np.isfinite(arr)):
            t, j = map(int, np.argwhere(~np.isfinite(arr))[0])
            step = ring.steps - t_pad + t
            source = "the critic" if name == "V" else "the environment or the reward shaping"
            raise ValueError(f"{owner}: {name!r} at step {step} (env {int(envs[j])}) is {arr[t, j]}; it must be "
                             f"finite: check {source} that produced it")
    device = _host_device()
    with jax.default_device(device) if device is not None else contextlib.nullcontext():
        rtg, adv, td = _path_maths(rewards.astype(np.float32), values.astype(np.float32),
                                   discounts.astype(np.float32), last.astype(np.float32), np.float32(lam))
    computed = {"reward-to-go": rtg}
    if "V" in data:
        computed.update({"advantage": adv, "TD-error": td})
    t_idx, j_idx = np.nonzero(valid)
    for key, result in computed.items():
        if key not in data:
            ring.add_field(key, np.nan, np.float32)
        ring.data[key][rows[t_idx], envs[j_idx]] = np.asarray(result)[t_idx, j_idx]
    path_len[envs] = 0
    return cut_truncation
