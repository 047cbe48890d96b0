r"""Experience buffer: a ring buffer of named fields, returns/advantages per finished path, and uniform or
proportional prioritised sampling.

Layout. Every field (``"state"``, ``"action"``, ``"reward"``, ``"next-state"``, ``"terminal"``,
``"truncated"``, ``"V"``, ``"log-prob"``, or any other name) is one preallocated numpy array of shape
``(rows, n_envs, *item_shape)``, created on the first push from the pushed dtypes and shapes. A push writes
one row: one step of a single environment (``n_envs = 1``) or one step of each of the ``n_envs``
sub-environments of a vector environment. Storage is therefore time-major, which is what on-policy learners
want (:meth:`Buffer.rollout`), and an item (one transition) has a stable *slot* ``row * n_envs + env``, which
is what :meth:`Buffer.sample` returns as ``"indices"`` and :meth:`Buffer.update_priorities` takes. When the
buffer is full the oldest row is overwritten.

Paths. Each environment's current path (the steps pushed since its last :meth:`Buffer.finish_path`) is
tracked separately. ``finish_path(last_val, env_index)`` computes, for those steps, with
:math:`\gamma_t = \gamma (1 - \text{terminal}_t)`,

.. math::

    \text{reward-to-go}_t &= r_t + \gamma_t\, \text{reward-to-go}_{t+1}, \qquad
        \text{reward-to-go}_T = \text{last\_val}, \\
    \text{TD-error}_t &= \delta_t = r_t + \gamma_t V(s_{t+1}) - V(s_t), \qquad V(s_T) = \text{last\_val}, \\
    \text{advantage}_t &= \delta_t + \gamma_t \lambda\, \text{advantage}_{t+1}
        \quad \text{(GAE, Schulman et al. 2016, eq. 16)},

by calling :func:`symgraph.rl.returns.discounted_returns`, :func:`~symgraph.rl.returns.td_errors` and
:func:`~symgraph.rl.returns.gae` (SymJAX passed :math:`\gamma\lambda` as the discount of the TD errors; here
:math:`\gamma` discounts the bootstrap and :math:`\gamma\lambda` the sum of TD errors, as in the paper).
A path that ends in a termination (``terminal=True`` on its last step) has discount 0 there, so ``last_val``
is ignored and nothing is bootstrapped; a path cut by a time limit or by the end of a rollout bootstraps
from ``last_val = V(s_T)``, the value of the state reached. ``advantage + V`` is the lambda-return, the usual
value target with GAE. Steps of a path whose ``"reward-to-go"``/``"advantage"``/``"TD-error"`` are not
computed yet hold NaN.

Prioritised sampling (Schaul, Quan, Antonoglou & Silver 2016, "Prioritized Experience Replay"):
item :math:`i` is drawn with probability :math:`P(i) = p_i^\alpha / \sum_k p_k^\alpha` from a
:class:`~symgraph.rl.sum_tree.SumTree` (:math:`O(\log n)` per draw, stratified over ``batch_size`` equal
segments of the total as in the paper's appendix B.2.1), with :math:`p_i = |\delta_i| + \epsilon` after
:meth:`Buffer.update_priorities` and new items given the largest priority seen so far (so each is replayed at
least once soon). The importance-sampling weights correct the bias of the non-uniform draw,

.. math::

    w_i = \frac{(N \cdot P(i))^{-\beta}}{\max_j (N \cdot P(j))^{-\beta}}
        = \Big(\frac{p_i^\alpha}{\min_j p_j^\alpha}\Big)^{-\beta},

with :math:`N` the number of stored items and the maximum taken over all of them (so weights are at most 1
and comparable between batches), and :math:`\beta` annealed towards 1 over training (a float set at any time
through ``buffer.beta``, or a schedule: a callable of the number of :meth:`Buffer.sample` calls so far).
"""

import contextlib
import math
import numbers
import warnings
from collections.abc import Mapping

import jax
import numpy as np

from symgraph.errors import ShapeError, format_shape
from symgraph.rl import returns
from symgraph.rl.sum_tree import SumTree

__all__ = ["Buffer"]

#: Fields written by :meth:`Buffer.finish_path` (never pushed).
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


def _generator(seed):
    """The buffer's ``numpy.random.Generator`` from ``seed``, or a TypeError naming it."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(f"Buffer: seed must be None, a non-negative int or a numpy Generator, got "
                    f"{type(seed).__name__} {seed!r}")


def _bucket(n):
    """``n`` rounded up to a power of two (at least 8): paths are padded to few lengths, so the maths of
    :meth:`Buffer.finish_path` compiles once per bucket rather than once per episode length."""
    return max(8, 1 << (int(n) - 1).bit_length())


class Buffer:
    """A ring buffer of named fields with GAE per finished path and optional prioritised sampling.

    Args:
        maxlen: the most transitions (items) held; with ``n_envs`` environments the buffer holds
            ``ceil(maxlen / n_envs)`` rows of ``n_envs`` items (see :attr:`capacity`).
        priority_sampling: sample proportionally to priorities (Schaul et al. 2016) instead of uniformly;
            :meth:`sample` then also returns ``"indices"`` and ``"weights"``.
        gamma: the discount factor :math:`\\gamma` of :meth:`finish_path`.
        lam: the GAE :math:`\\lambda` of :meth:`finish_path` (1: Monte-Carlo advantages, 0: TD errors).
        alpha: the priority exponent :math:`\\alpha` (0: uniform, 1: fully proportional).
        beta: the importance-sampling exponent :math:`\\beta`: a float, or a callable ``beta(t)`` of the
            number ``t`` of :meth:`sample` calls made so far (e.g. ``symgraph.nn.schedules.linear(0.4, 1.0,
            100_000)``); settable later through :attr:`beta`.
        n_envs: the number of environments pushed per row. ``None`` infers it from the first push: a
            ``"reward"`` of shape ``(E,)`` means ``E`` environments, a scalar reward one.
        eps: the :math:`\\epsilon` of priorities :math:`(|\\delta| + \\epsilon)^\\alpha`, so that no item
            becomes unreachable.
        stratified: draw one prioritised sample in each of ``batch_size`` equal segments of the total
            priority (lower variance, as in the paper) rather than ``batch_size`` independent draws.
        seed: seed of the buffer's ``numpy.random.Generator`` (sampling), or a ``Generator``.

    Example::

        buffer = Buffer(10_000, gamma=0.99, lam=0.95)
        buffer.push({"state": s, "action": a, "reward": r, "next-state": s2, "terminal": done, "V": v})
        ...
        buffer.finish_path(last_val=0 if terminated else v_last)   # at the end of each episode
        batch = buffer.sample(64, keys=["state", "action", "advantage", "reward-to-go"])

    A vector environment of ``E`` sub-environments pushes one row per step (every field with a leading axis of
    ``E``) and finishes each sub-environment's path on its own with ``finish_path(v, env_index=i)``, or all
    at once with ``finish_path(values_of_shape_E)``.
    """

    def __init__(self, maxlen, priority_sampling=False, gamma=0.99, lam=0.95, alpha=0.6, beta=0.4, *,
                 n_envs=None, eps=1e-6, stratified=True, seed=None):
        if isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 1:
            raise ValueError(f"Buffer: maxlen must be a positive int (the most transitions held), got "
                             f"{maxlen!r}")
        if n_envs is not None and (isinstance(n_envs, bool) or not isinstance(n_envs, numbers.Integral)
                                   or not 1 <= n_envs <= 2**31 - 1):
            raise ValueError(f"Buffer: n_envs must be a positive int (at most 2**31 - 1) or None (inferred from "
                             f"the first push), got {n_envs!r}")
        for name, value in (("gamma", gamma), ("lam", lam), ("alpha", alpha)):
            if not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
                raise ValueError(f"Buffer: {name} must be a number in [0, 1], got {value!r}")
        if not isinstance(eps, numbers.Real) or not 0 < eps < math.inf:
            raise ValueError(f"Buffer: eps must be a positive number, finite (the floor of every priority), "
                             f"got {eps!r}")
        self.maxlen = int(maxlen)
        self.priority_sampling = bool(priority_sampling)
        self.gamma = float(gamma)
        self.lam = float(lam)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.stratified = bool(stratified)
        self.beta = beta
        self._rng = _generator(seed)
        self._n_envs_given = None if n_envs is None else int(n_envs)
        self._n_envs = self._n_envs_given
        self._data = {}          # field -> array (rows, n_envs, *item_shape)
        self._spec = None        # field -> (item_shape, dtype) fixed by the first push since clear()
        self._rows = None        # capacity in rows
        self._tree = None
        self._warned_truncation = False
        self.clear()

    # -----------------------------------------------------------------------------------------------------
    # Properties

    @property
    def n_envs(self):
        """Environments per row (``None`` until the first push when it is inferred)."""
        return self._n_envs

    @property
    def capacity(self):
        """The most items held: ``rows * n_envs`` (``maxlen`` rounded up to a multiple of ``n_envs``)."""
        if self._n_envs is None:
            return self.maxlen
        return -(-self.maxlen // self._n_envs) * self._n_envs

    @property
    def fields(self):
        """The names of the stored fields, pushed ones first, then the ones :meth:`finish_path` wrote."""
        return tuple(self._data) if self._spec is not None else ()

    @property
    def length(self):
        """The number of stored items (SymJAX's name for ``len(buffer)``)."""
        return len(self)

    @property
    def beta(self):
        """The current importance-sampling exponent (the schedule evaluated at the number of samples drawn).

        Set a float or a callable ``beta(t)`` to change it.
        """
        if callable(self._beta):
            return float(self._beta(self._n_samples))
        return self._beta

    @beta.setter
    def beta(self, value):
        if not callable(value):
            if not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
                raise ValueError(f"Buffer: beta must be a number >= 0, finite (usually annealed from ~0.4 to 1), "
                                 f"or a callable of the number of sample() calls, got {value!r}")
            value = float(value)
        self._beta = value

    def __len__(self):
        return self._rows_stored * (self._n_envs or 1)

    def __contains__(self, key):
        return self._spec is not None and key in self._data

    def __repr__(self):
        kind = "prioritised" if self.priority_sampling else "uniform"
        return (f"Buffer({len(self)}/{self.capacity} items, n_envs={self._n_envs}, {kind}, "
                f"fields={list(self.fields)})")

    # -----------------------------------------------------------------------------------------------------
    # Writing

    def clear(self):
        """Forget every stored item, path and priority (also reachable as ``reset()``).

        The storage arrays are kept and reused by the next push if its fields have the same shapes and dtypes;
        a push with other fields or shapes starts afresh.
        """
        self._spec = None
        self._n_envs = self._n_envs_given  # an inferred n_envs is inferred again by the next push
        self._next_row = 0
        self._rows_stored = 0
        self._steps = 0
        self._n_samples = 0
        self._max_priority = 1.0
        self._path_len = None if self._n_envs is None else np.zeros(self._n_envs, dtype=np.int64)
        if self._tree is not None:
            self._tree.clear()

    reset = clear

    def _fail(self, message, error=ValueError):
        raise error(f"Buffer.push: {message}")

    def _init_storage(self, transition):
        """Fix the fields, item shapes, dtypes and (if needed) n_envs from the first push after clear()."""
        bad = [k for k in transition if k in COMPUTED_FIELDS]
        if bad:
            self._fail(f"field {bad[0]!r} is computed by finish_path() and cannot be pushed; push the "
                       f"rewards (and 'V' for advantages) and call buffer.finish_path(last_val) at the end "
                       f"of each path", KeyError)
        if "reward" in transition:
            reward = np.asarray(transition["reward"])
            if reward.dtype.kind not in "biuf":
                self._fail(f"'reward' must be a number (or one number per environment), got dtype "
                           f"{reward.dtype}")
            if reward.ndim > 1:
                self._fail(f"'reward' must be a scalar (one environment) or of shape (n_envs,) (a vector "
                           f"environment), got shape {format_shape(reward.shape)}; squeeze it")
            # A (1,) reward is a vector environment of one only if every field has that leading axis.
            batched = reward.ndim == 1 and (reward.shape[0] > 1 or all(
                np.ndim(v) >= 1 and np.shape(v)[0] == 1 for v in transition.values()))
            inferred = reward.shape[0] if batched else 1
            if self._n_envs is None:
                self._n_envs = inferred
            elif batched and inferred != self._n_envs:
                self._fail(f"'reward' has shape {format_shape(reward.shape)} but the buffer was built for "
                           f"n_envs={self._n_envs} environments; push ({self._n_envs},) rewards or build "
                           f"Buffer(..., n_envs={inferred})")
        else:
            if self._n_envs is None:
                self._n_envs = 1
            batched = self._n_envs > 1
        n = self._n_envs
        spec = {}
        for key, value in transition.items():
            arr = np.asarray(value)
            if batched:
                if arr.ndim == 0 or arr.shape[0] != n:
                    self._fail(f"field {key!r} has shape {format_shape(arr.shape)}, but a push for {n} "
                               f"environments needs a leading axis of {n} (one entry per environment)")
                shape = arr.shape[1:]
            else:
                shape = arr.shape
            if key in ("reward", "terminal", "truncated", "V") and shape not in ((), (1,)):
                self._fail(f"field {key!r} must hold one number per step{' and environment' if n > 1 else ''}"
                           f", got item shape {format_shape(shape)}; push a scalar per environment")
            if key in ("reward", "terminal", "truncated", "V") and shape == (1,):
                shape = ()
            spec[key] = (shape, arr.dtype)
        self._rows = -(-self.maxlen // n)
        reuse = (self._data and list(self._data)[: len(spec)] == list(spec)
                 and all(self._data[k].shape[0] == self._rows and self._data[k].shape[1] == n
                         and (self._data[k].shape[2:], self._data[k].dtype) == spec[k] for k in spec))
        self._allocate(spec, n, reuse)
        for key in COMPUTED_FIELDS:  # re-created by the next finish_path
            self._data.pop(key, None)
        self._spec = spec
        self._keys = tuple(spec)
        self._batched = batched or n > 1
        self._path_len = np.zeros(n, dtype=np.int64)

    def _allocate(self, spec, n, reuse):
        """Zeroed storage of ``self._rows`` rows for the fields of ``spec`` (unless the current one is reused)
        and the sum tree of priority sampling; a ValueError naming ``maxlen`` when numpy cannot allocate
        them."""
        try:
            if not reuse:
                self._data = {k: np.zeros((self._rows, n) + shape, dtype) for k, (shape, dtype) in spec.items()}
            if self.priority_sampling and (self._tree is None or self._tree.capacity != self._rows * n):
                self._tree = SumTree(self._rows * n)
        except (MemoryError, ValueError) as exc:
            self._data = {}
            items = self._rows * n
            size = sum(items * math.prod(shape) * np.dtype(dtype).itemsize for shape, dtype in spec.values())
            if self.priority_sampling:
                size += 32 << (items - 1).bit_length()  # the sum and min trees
            self._fail(f"cannot allocate the storage of maxlen={self.maxlen} items of fields {list(spec)} "
                       f"({size / 2**30:.3g} GiB; {exc}); build the Buffer with a smaller maxlen")

    def push(self, transition):
        """Append one step: a dict ``{field: value}``.

        For a single environment each value is one step's item (``reward`` a scalar); for ``n_envs``
        environments each value has a leading axis of ``n_envs`` (``reward`` of shape ``(n_envs,)``). Every
        push must have the fields of the first push since :meth:`clear`, with the same item shapes; values
        are cast to the stored dtypes (only within the same kind: a float pushed into an integer field is an
        error).

        Raises:
            KeyError: a field missing from, or added to, the fields of the first push.
            ValueError: a shape that differs from the stored one, or a NaN/infinite reward (the message names
                the step and environment).
        """
        if not isinstance(transition, Mapping):
            self._fail(f"expected a dict of fields (e.g. {{'state': s, 'action': a, 'reward': r}}), got "
                       f"{type(transition).__name__}", TypeError)
        if self._spec is None:
            self._init_storage(transition)
        n = self._n_envs
        row = self._next_row
        if len(transition) != len(self._keys):
            self._check_keys(transition)
        batched = self._batched  # n_envs > 1, or one environment pushed with a leading axis of 1
        for key in self._keys:
            try:
                value = transition[key]
            except KeyError:
                self._check_keys(transition)
                raise
            arr = np.asarray(value)
            shape, dtype = self._spec[key]
            expected = (n,) + shape if batched else shape
            if arr.shape != expected:
                if arr.size == math.prod(expected) and key in ("reward", "terminal", "truncated", "V"):
                    arr = arr.reshape(expected)  # (1,) for (), (n, 1) for (n,)
                else:
                    self._bad_shape(key, arr.shape, expected, batched)
            if arr.dtype != dtype and not np.can_cast(arr.dtype, dtype, "same_kind"):
                self._fail(f"field {key!r}: cannot store a {arr.dtype} value in a {dtype} field (fixed by "
                           f"the first push); push {dtype} values, or clear() the buffer and push "
                           f"{arr.dtype} from the start", TypeError)
            if key == "reward" and not np.all(np.isfinite(arr)):
                bad = int(np.flatnonzero(~np.isfinite(np.atleast_1d(arr)))[0])
                where = f" (env {bad})" if batched and n > 1 else ""
                self._fail(f"'reward' at step {self._steps}{where} is {np.atleast_1d(arr)[bad]}: rewards "
                           f"must be finite; check the environment or the reward shaping (rewarder) that "
                           f"produced it")
            if batched:
                self._data[key][row] = arr
            else:
                self._data[key][row, 0] = arr
        for key in COMPUTED_FIELDS:
            if key in self._data:
                self._data[key][row] = np.nan
        if self._tree is not None:
            slots = row * n + np.arange(n) if n > 1 else row
            self._tree.update(slots, self._max_priority ** self.alpha)
        self._path_len += 1
        self._next_row = (row + 1) % self._rows
        self._rows_stored = min(self._rows_stored + 1, self._rows)
        self._steps += 1

    def _check_keys(self, transition):
        missing = [k for k in self._keys if k not in transition]
        extra = [k for k in transition if k not in self._spec]
        if missing:
            self._fail(f"field {missing[0]!r} is missing (the first push had fields {list(self._keys)}, got "
                       f"{list(transition)}); push every field at every step", KeyError)
        if extra:
            self._fail(f"field {extra[0]!r} was not in the first push (expected fields {list(self._keys)}); "
                       f"a buffer stores a fixed set of fields: push it from the first step on, or clear() "
                       f"the buffer first", KeyError)

    def _bad_shape(self, key, got, expected, batched):
        what = f"({self._n_envs} environments x item shape)" if batched else "per step"
        self._fail(f"field {key!r}: expected shape {format_shape(expected)} {what}, as fixed by the first "
                   f"push, got {format_shape(got)}; push arrays of the same shape at every step, or clear() "
                   f"the buffer to store other shapes")

    # -----------------------------------------------------------------------------------------------------
    # Paths

    def finish_path(self, last_val=0.0, env_index=None):
        """Compute ``"reward-to-go"``, ``"advantage"`` (GAE) and ``"TD-error"`` for the current path of each
        environment in ``env_index``, then start new paths there.

        Call it at the end of every episode, and at the end of a rollout for the paths still running.
        ``"advantage"`` and ``"TD-error"`` need a ``"V"`` field (``V(s_t)`` pushed with each step); with no
        ``"V"`` only ``"reward-to-go"`` is computed. If the path's last step has ``terminal=True`` its
        discount is 0 and ``last_val`` is ignored; otherwise (time limit, end of rollout) the path bootstraps
        from ``last_val``. A path longer than the buffer is computed over its stored (most recent) steps.
        A ``truncated=True`` step inside a path (a time-limit end with no ``finish_path`` call) cannot be
        bootstrapped, because ``V`` of its next state is unknown: it is cut like a termination, with a
        warning; finish each path where its episode ends to avoid that.

        Args:
            last_val: ``V(s_T)`` of the state reached after each path's last step: a number, or an array with
                one value per environment in ``env_index``.
            env_index: ``None`` (every environment: ``range(n_envs)``), an int, or a sequence of ints.

        The maths is :func:`symgraph.rl.returns.discounted_returns`, :func:`~symgraph.rl.returns.gae` and
        :func:`~symgraph.rl.returns.td_errors` in one jitted call on all the paths at once (front-padded to a
        power-of-two length, which leaves the results unchanged, so it compiles once per bucket), run on
        JAX's CPU device: about 50 us for a 50-step path and 120 us for 1000 steps once compiled, less than
        a Python loop over the steps (40 us and 480 us).
        """
        if self._spec is None:
            return
        if "reward" not in self._spec:
            raise KeyError("Buffer.finish_path: there is no 'reward' field to compute returns from; push "
                           "{'reward': r, ...} (and 'V' for advantages) at every step")
        n = self._n_envs
        if env_index is None:
            envs = np.arange(n)
        else:
            envs = np.atleast_1d(np.asarray(env_index))
            if envs.ndim != 1 or envs.dtype.kind not in "iu" or envs.min() < 0 or envs.max() >= n \
                    or len(np.unique(envs)) != len(envs):
                raise ValueError(f"Buffer.finish_path: env_index must be None, an int or distinct ints in "
                                 f"0..{n - 1} (the buffer holds {n} environments), got {env_index!r}")
        last = np.asarray(last_val, dtype=np.float64)
        if last.size == 1:
            last = np.full(len(envs), float(last.reshape(())))
        elif last.shape != (len(envs),):
            raise ShapeError(f"Buffer.finish_path: last_val must be a number or have one value per finished "
                             f"environment, shape ({len(envs)},), got {format_shape(last.shape)}; pass "
                             f"V(s_T) of each environment's last state")
        if not np.all(np.isfinite(last)):
            raise ValueError(f"Buffer.finish_path: last_val must be finite, got {last_val!r}")
        lengths = np.minimum(self._path_len[envs], self._rows_stored)
        keep = lengths > 0
        envs, last, lengths = envs[keep], last[keep], lengths[keep]
        if len(envs) == 0:
            return
        t_pad = _bucket(lengths.max())
        rows = (self._next_row - t_pad + np.arange(t_pad)) % self._rows
        valid = np.arange(t_pad)[:, None] >= (t_pad - lengths)[None, :]   # (t_pad, k): real steps
        ridx, eidx = rows[:, None], envs[None, :]
        rewards = np.where(valid, self._data["reward"][ridx, eidx], 0.0)
        if "terminal" in self._data:
            discounts = self.gamma * (1.0 - self._data["terminal"][ridx, eidx].astype(np.float64))
        else:
            discounts = np.full(valid.shape, self.gamma)
        if "truncated" in self._data:
            cut = self._data["truncated"][ridx, eidx].astype(bool) & (discounts > 0)
            cut[-1] = False  # the last step bootstraps from last_val
            cut &= valid
            if cut.any():
                discounts = np.where(cut, 0.0, discounts)
                if not self._warned_truncation:
                    self._warned_truncation = True
                    warnings.warn("Buffer.finish_path: a path contains a truncated (time-limit) step "
                                  "before its end; it is treated as terminal because V of its next state is "
                                  "unknown. Call finish_path(V(s_T), env_index) when each episode ends to "
                                  "bootstrap it", stacklevel=2)
        discounts = np.where(valid, discounts, 0.0)
        values = np.zeros((t_pad + 1, len(envs)))
        if "V" in self._data:
            values[:-1] = np.where(valid, self._data["V"][ridx, eidx], 0.0)
            values[-1] = last
        for name, arr in (("reward", rewards), ("V", values[:-1])):
            if not np.all(np.isfinite(arr)):
                t, j = map(int, np.argwhere(~np.isfinite(arr))[0])
                step = self._steps - t_pad + t
                source = "the critic" if name == "V" else "the environment or the reward shaping"
                raise ValueError(f"Buffer.finish_path: {name!r} at step {step} (env {int(envs[j])}) is "
                                 f"{arr[t, j]}; it must be finite: check {source} that produced it")
        device = _host_device()
        with jax.default_device(device) if device is not None else contextlib.nullcontext():
            rtg, adv, td = _path_maths(rewards.astype(np.float32), values.astype(np.float32),
                                       discounts.astype(np.float32), last.astype(np.float32),
                                       np.float32(self.lam))
        computed = {"reward-to-go": rtg}
        if "V" in self._data:
            computed.update({"advantage": adv, "TD-error": td})
        t_idx, j_idx = np.nonzero(valid)
        for key, result in computed.items():
            if key not in self._data:
                self._data[key] = np.full((self._rows, n), np.nan, dtype=np.float32)
            self._data[key][rows[t_idx], envs[j_idx]] = np.asarray(result)[t_idx, j_idx]
        self._path_len[envs] = 0

    # -----------------------------------------------------------------------------------------------------
    # Reading

    def _field(self, key, caller):
        if self._spec is None or key not in self._data:
            hint = (" (it is computed by finish_path(): call it at the end of each path first)"
                    if key in COMPUTED_FIELDS else "")
            raise KeyError(f"Buffer.{caller}: unknown field {key!r}{hint}; stored fields: "
                           f"{list(self.fields)}")
        return self._data[key]

    def _order(self):
        """The stored rows, oldest first."""
        start = self._next_row - self._rows_stored
        return (start + np.arange(self._rows_stored)) % self._rows

    def __getitem__(self, key):
        """A read-only numpy array of field ``key``, one entry per stored item, oldest first, shape
        ``(len(buffer), *item_shape)`` (items of one row ordered by environment).

        It is a view of the storage while the stored rows are contiguous (before the buffer first wraps
        around, or when it is full and the write position is back at row 0) and a copy otherwise.
        """
        data = self._field(key, "__getitem__")
        start = (self._next_row - self._rows_stored) % self._rows if self._rows_stored else 0
        if start + self._rows_stored <= self._rows:
            out = data[start:start + self._rows_stored]
        else:
            out = np.concatenate([data[start:], data[:self._next_row]])
        out = out.reshape((-1,) + data.shape[2:])
        out.flags.writeable = False
        return out

    def get(self, indices, keys=None):
        """The fields ``keys`` (default: all) of the items at slots ``indices`` (as returned in
        ``sample(...)["indices"]``), a dict of arrays."""
        idx = np.asarray(indices)
        size = len(self)
        if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= size)):
            raise IndexError(f"Buffer.get: indices must be integer slots in 0..{size - 1} (the buffer holds "
                             f"{size} items), got {indices!r}")
        keys = self.fields if keys is None else ([keys] if isinstance(keys, str) else keys)
        data = [self._field(k, "get") for k in keys]
        rows, envs = np.divmod(idx, self._n_envs)
        return {k: d[rows, envs] for k, d in zip(keys, data, strict=True)}

    def sample(self, batch_size, keys=None):
        """Draw ``batch_size`` items (with replacement), uniformly or by priority.

        Args:
            batch_size: the number of items, or an array of slots to read (then nothing is drawn).
            keys: the fields to return (default: all stored fields).

        Returns:
            A dict ``{field: array of shape (batch_size, *item_shape)}``; with ``priority_sampling`` also
            ``"indices"`` (the items' slots, for :meth:`update_priorities`) and ``"weights"`` (the
            importance-sampling weights, float32, at most 1).

        Raises:
            ValueError: the buffer holds fewer items than ``batch_size``.
            KeyError: an unknown field in ``keys``.
        """
        keys = self.fields if keys is None else ([keys] if isinstance(keys, str) else list(keys))
        for k in keys:
            self._field(k, "sample")
        if not isinstance(batch_size, numbers.Integral):
            return self.get(batch_size, keys)
        size = len(self)
        if batch_size < 1 or size < batch_size:
            if batch_size < 1:
                raise ValueError(f"Buffer.sample: batch_size must be a positive int, got {batch_size!r}")
            raise ValueError(f"Buffer.sample: the buffer holds {size} items, fewer than the batch of "
                             f"{batch_size}; push more steps first (e.g. start updates once "
                             f"len(buffer) >= batch_size) or lower batch_size")
        if not self.priority_sampling:
            out = self.get(self._rng.integers(0, size, batch_size), keys)
            self._n_samples += 1
            return out
        tree = self._tree
        total = tree.total
        if self.stratified:
            u = (self._rng.permutation(batch_size) + self._rng.random(batch_size)) * (total / batch_size)
        else:
            u = self._rng.random(batch_size) * total
        idx = np.minimum(tree.find(u), size - 1)
        beta = self.beta
        weights = (tree[idx] / tree.min) ** (-beta)
        out = self.get(idx, keys)
        out["indices"] = idx
        out["weights"] = weights.astype(np.float32)
        self._n_samples += 1
        return out

    def update_priorities(self, indices, td_errors):
        """Set the priorities of the items at ``indices`` to :math:`(|\\delta| + \\epsilon)^\\alpha`.

        Args:
            indices: the slots returned in ``sample(...)["indices"]``.
            td_errors: their new TD errors :math:`\\delta` (any array of the same length; numpy or JAX).
        """
        if not self.priority_sampling:
            raise ValueError("Buffer.update_priorities: this buffer samples uniformly; build it with "
                             "Buffer(maxlen, priority_sampling=True) to use priorities")
        idx = np.asarray(indices).ravel()
        td = np.asarray(td_errors, dtype=np.float64).ravel()
        if idx.shape != td.shape:
            raise ShapeError(f"Buffer.update_priorities: got {idx.size} indices and {td.size} TD errors; "
                             f"pass one TD error per sampled index")
        size = len(self)
        if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= size)):
            raise IndexError(f"Buffer.update_priorities: indices must be integer slots in 0..{size - 1} (as "
                             f"returned by sample()['indices']), got {indices!r}")
        if not np.all(np.isfinite(td)):
            j = int(np.flatnonzero(~np.isfinite(td))[0])
            raise ValueError(f"Buffer.update_priorities: the TD error of index {int(idx[j])} is {td[j]}; TD "
                             f"errors must be finite (a diverging critic?)")
        p = np.abs(td) + self.eps
        if p.size:
            self._max_priority = max(self._max_priority, float(p.max()))
        self._tree.update(idx, p ** self.alpha)

    def rollout(self, keys=None, length=None):
        """The last ``length`` rows (default: every stored row) in time order, time-major: a dict
        ``{field: array of shape (T, n_envs, *item_shape)}`` (copies), for on-policy learners.

        Raises:
            ValueError: ``length`` is more than the stored rows.
        """
        keys = self.fields if keys is None else ([keys] if isinstance(keys, str) else list(keys))
        data = [self._field(k, "rollout") for k in keys]
        order = self._order()
        if length is not None:
            if not 0 <= length <= len(order):
                raise ValueError(f"Buffer.rollout: asked for the last {length} rows but the buffer holds "
                                 f"{len(order)} (of {self._n_envs} environments each); ask for at most "
                                 f"{len(order)}")
            order = order[len(order) - length:]
        return {k: d[order] for k, d in zip(keys, data, strict=True)}
