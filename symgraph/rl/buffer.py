r"""Experience buffer: the seed-compatible user class over the storage of :mod:`symgraph.rl.storage`: a
time-major ring of named fields (:mod:`~symgraph.rl.storage.ring`), path returns per finished path
(:mod:`~symgraph.rl.storage.paths`), uniform or proportional prioritised sampling and n-step targets
(:mod:`~symgraph.rl.storage.replay`, :mod:`~symgraph.rl.storage.nstep`) and time-major rollout reads
(:mod:`~symgraph.rl.storage.rollout`).

Layout. Every field (``"state"``, ``"action"``, ``"reward"``, ``"next-state"``, ``"terminal"``,
``"truncated"``, ``"V"``, ``"log-prob"``, or any other name) is one preallocated numpy array of shape
``(rows, n_envs, *item_shape)``, created on the first push from the pushed dtypes and shapes. A push writes
one row: one step of a single environment (``n_envs = 1``) or one step of each of the ``n_envs``
sub-environments of a vector environment. Storage is therefore time-major, which is what on-policy learners
want (:meth:`Buffer.rollout`), and an item (one transition) has a stable *slot* ``row * n_envs + env``, which
is what :meth:`Buffer.sample` returns as ``"indices"`` and :meth:`Buffer.update_priorities` takes. When the
buffer is full the oldest row is overwritten.

Paths. Each environment's current path (the steps pushed since its last :meth:`Buffer.finish_path`) is
tracked separately; ``finish_path(last_val, env_index)`` computes ``"reward-to-go"``, ``"advantage"``
(GAE) and ``"TD-error"`` for those steps (the equations are in :mod:`symgraph.rl.storage.paths`).

Prioritised sampling (Schaul et al. 2016): item :math:`i` is drawn with probability :math:`P(i) = p_i^\alpha
/ \sum_k p_k^\alpha`, :math:`p_i = |\delta_i| + \epsilon`, with importance weights :math:`w_i = (p_i^\alpha /
\min_j p_j^\alpha)^{-\beta}` (:mod:`symgraph.rl.storage.replay`), and :math:`\beta` annealed towards 1 over
training (a float set at any time through ``buffer.beta``, or a schedule: a callable of the number of
:meth:`Buffer.sample` calls so far).

Checkpoints. :meth:`Buffer.state_dict` and :meth:`Buffer.load_state_dict` give and take the whole state as
``{name: array or JSON-able value}`` (what :mod:`symgraph.rl.checkpoint` stores for a run).
"""

import math
import numbers
import warnings
from collections.abc import Mapping

import numpy as np

from symgraph.errors import format_shape
from symgraph.rl.storage import nstep, paths, replay, rollout, schema
from symgraph.rl.storage.batch import Batch, ordered
from symgraph.rl.storage.paths import COMPUTED_FIELDS
from symgraph.rl.storage.ring import Ring, allocation_size

__all__ = ["Buffer"]


def _generator(seed):
    """The buffer's ``numpy.random.Generator`` from ``seed``, or a TypeError naming it."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(f"Buffer: seed must be None, a non-negative int or a numpy Generator, got "
                    f"{type(seed).__name__} {seed!r}")


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
        self._ring = None        # the Ring of stored arrays, kept (and reused) across clear()
        self._priorities = None  # the Priorities of priority sampling
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
        return tuple(self._ring.data) if self._spec is not None else ()

    @property
    def length(self):
        """The number of stored items (SymJAX's name for ``len(buffer)``)."""
        return len(self)

    @property
    def ring(self):
        """The :class:`~symgraph.rl.storage.ring.Ring` holding the stored arrays (``None`` before the first
        push); read and write items through the buffer's methods, which keep paths and priorities in step."""
        return self._ring if self._spec is not None else None

    @property
    def priorities(self):
        """The priorities :math:`p_i^\\alpha` of the stored items, by slot (a float64 array of ``len(buffer)``
        entries), or ``None`` for a uniform buffer."""
        if not self.priority_sampling:
            return None
        return self._priorities.tree[np.arange(len(self))] if len(self) else np.zeros(0)

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
        return len(self._ring) if self._spec is not None else 0

    def __contains__(self, key):
        return self._spec is not None and key in self._ring.data

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
        self._n_samples = 0
        self._path_len = None if self._n_envs is None else np.zeros(self._n_envs, dtype=np.int64)
        if self._ring is not None:
            self._ring.clear()
        if self._priorities is not None:
            self._priorities.clear()

    reset = clear

    def _fail(self, message, error=ValueError):
        raise error(f"Buffer.push: {message}")

    def _init_storage(self, transition):
        """Fix the fields, item shapes, dtypes and (if needed) n_envs from the first push after clear()."""
        spec, self._n_envs, batched = schema.first_push(transition, self._n_envs, "Buffer.push")
        n = self._n_envs
        self._allocate(spec, n)
        self._spec = spec
        self._keys = tuple(spec)
        self._batched = batched or n > 1
        self._path_len = np.zeros(n, dtype=np.int64)

    def _allocate(self, spec, n):
        """The ring of ``ceil(maxlen / n)`` rows for the fields of ``spec`` (the current one when it matches)
        and the priorities of priority sampling; a ValueError naming ``maxlen`` when numpy cannot allocate
        them."""
        rows = -(-self.maxlen // n)
        try:
            if self._ring is None or not self._ring.matches(rows, n, spec):
                self._ring = None
                self._ring = Ring(rows, n, spec)
            for key in COMPUTED_FIELDS:  # re-created by the next finish_path
                self._ring.data.pop(key, None)
            if self.priority_sampling and (self._priorities is None or self._priorities.tree.capacity != rows * n):
                self._priorities = replay.Priorities(rows * n, self.alpha, self.eps)
        except (MemoryError, ValueError) as exc:
            size = allocation_size(rows, n, spec)
            if self.priority_sampling:
                size += 32 << (rows * n - 1).bit_length()  # the sum and min trees
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
        ring = self._ring
        row = ring.next_row
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
                if arr.size == math.prod(expected) and key in schema.SCALAR_FIELDS:
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
                self._fail(f"'reward' at step {ring.steps}{where} is {np.atleast_1d(arr)[bad]}: rewards "
                           f"must be finite; check the environment or the reward shaping (rewarder) that "
                           f"produced it")
            if batched:
                ring.data[key][row] = arr
            else:
                ring.data[key][row, 0] = arr
        for key in COMPUTED_FIELDS:
            if key in ring.data:
                ring.data[key][row] = np.nan
        if self._priorities is not None:
            self._priorities.add(row * n + np.arange(n) if n > 1 else row)
        self._path_len += 1
        ring.advance()

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

    def mark_truncated(self, env_index=None):
        """Mark the newest stored step of the sub-environments ``env_index`` (``None``: all of them, an int,
        or distinct ints) as truncated: their episode is abandoned there (e.g. on resuming a run, whose next
        step of those sub-environments starts a new episode), so n-step chains stop at it and bootstrap from
        its next state. Does nothing while the buffer is empty or stores no ``"truncated"`` field."""
        if not len(self) or "truncated" not in self:
            return
        envs = paths.environments(env_index, self._n_envs, "Buffer.mark_truncated")
        self._ring.data["truncated"][self._ring.newest_row, envs] = True

    # -----------------------------------------------------------------------------------------------------
    # Paths

    def finish_path(self, last_val=0.0, env_index=None):
        """Compute ``"reward-to-go"``, ``"advantage"`` (GAE) and ``"TD-error"`` for the current path of each
        environment in ``env_index``, then start new paths there (:func:`symgraph.rl.storage.paths.finish_path`,
        whose docstring has the equations).

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

        The maths is one jitted call on all the paths at once, run on JAX's CPU device: about 50 us for a
        50-step path and 120 us for 1000 steps once compiled, less than a Python loop over the steps (40 us and
        480 us).
        """
        if self._spec is None:
            return
        if "reward" not in self._spec:
            raise KeyError("Buffer.finish_path: there is no 'reward' field to compute returns from; push "
                           "{'reward': r, ...} (and 'V' for advantages) at every step")
        cut = paths.finish_path(self._ring, self._path_len, last_val, env_index, self.gamma, self.lam,
                                "Buffer.finish_path")
        if cut and not self._warned_truncation:
            self._warned_truncation = True
            warnings.warn("Buffer.finish_path: a path contains a truncated (time-limit) step before its end; it "
                          "is treated as terminal because V of its next state is unknown. Call "
                          "finish_path(V(s_T), env_index) when each episode ends to bootstrap it", stacklevel=2)

    # -----------------------------------------------------------------------------------------------------
    # Reading

    def _field(self, key, caller):
        if self._spec is None or key not in self._ring.data:
            hint = (" (it is computed by finish_path(): call it at the end of each path first)"
                    if key in COMPUTED_FIELDS else "")
            raise KeyError(f"Buffer.{caller}: unknown field {key!r}{hint}; stored fields: "
                           f"{list(self.fields)}")
        return self._ring.data[key]

    def _keys_argument(self, keys, caller, default):
        keys = default if keys is None else ([keys] if isinstance(keys, str) else list(keys))
        for k in keys:
            self._field(k, caller)
        return keys

    def __getitem__(self, key):
        """A read-only numpy array of field ``key``, one entry per stored item, oldest first, shape
        ``(len(buffer), *item_shape)`` (items of one row ordered by environment).

        It is a view of the storage while the stored rows are contiguous (before the buffer first wraps
        around, or when it is full and the write position is back at row 0) and a copy otherwise.
        """
        self._field(key, "__getitem__")
        out = self._ring.items(key)
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
        keys = self._keys_argument(keys, "get", self.fields)
        return self._ring.gather(idx, keys)

    def sample(self, batch_size, keys=None):
        """Draw ``batch_size`` items (with replacement), uniformly or by priority.

        Args:
            batch_size: the number of items, or an array of slots to read (then nothing is drawn).
            keys: the fields to return (default: all stored fields).

        Returns:
            A :class:`~symgraph.rl.storage.batch.Batch` ``{field: array of shape (batch_size, *item_shape)}``;
            with ``priority_sampling`` also ``"indices"`` (the items' slots, for :meth:`update_priorities`) and
            ``"weights"`` (the importance-sampling weights, float32, at most 1). It indexes by field name and
            unpacks into its arrays in a fixed order: by default ``"state"``, ``"action"``, ``"reward"``,
            ``"next-state"``, ``"terminal"``, then the other stored fields in push order (then the
            ``finish_path`` fields, then ``"indices"`` and ``"weights"``); with ``keys``, their order. So
            ``s, a, r, s2, t = buffer.sample(64)`` binds the arrays of a buffer of those five fields.

        Raises:
            ValueError: the buffer holds fewer items than ``batch_size``.
            KeyError: an unknown field in ``keys``.
        """
        keys = self._keys_argument(keys, "sample", ordered(self.fields))
        if not isinstance(batch_size, numbers.Integral):
            return Batch(self.get(batch_size, keys))
        size = len(self)
        if batch_size < 1 or size < batch_size:
            if batch_size < 1:
                raise ValueError(f"Buffer.sample: batch_size must be a positive int, got {batch_size!r}")
            raise ValueError(f"Buffer.sample: the buffer holds {size} items, fewer than the batch of "
                             f"{batch_size}; push more steps first (e.g. start updates once "
                             f"len(buffer) >= batch_size) or lower batch_size")
        if not self.priority_sampling:
            out = Batch(self.get(self._rng.integers(0, size, batch_size), keys))
        else:
            idx, weights = self._priorities.draw(self._rng, batch_size, size, self.stratified, self.beta)
            out = Batch(self.get(idx, keys))
            out["indices"] = idx
            out["weights"] = weights
        self._n_samples += 1
        return out

    def n_step_targets(self, indices, gamma, n_step):
        """The n-step returns ``"reward"``, discounts ``"discount"`` and bootstrap states ``"next-state"`` of
        the items at slots ``indices`` (float32 returns and discounts), by the replays' one n-step rule
        (:mod:`symgraph.rl.storage.nstep`: the chain follows the same sub-environment's next rows until
        ``n_step`` steps, a termination, a truncation or the newest stored row).

        Raises:
            KeyError: a field the rule reads (``"reward"``, ``"terminal"``, ``"next-state"``, and
                ``"truncated"`` when ``n_step > 1``) is not stored.
            ValueError: a bad ``gamma`` or ``n_step``.
            IndexError: a slot outside ``0..len(buffer) - 1``.
        """
        owner = "Buffer.n_step_targets"
        if isinstance(n_step, bool) or not isinstance(n_step, numbers.Integral) or n_step < 1:
            raise ValueError(f"{owner}: n_step must be an int >= 1 (the most rewards summed), got {n_step!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not 0.0 <= gamma <= 1.0:
            raise ValueError(f"{owner}: gamma must be a number in [0, 1], got {gamma!r}")
        for field in nstep.needed_fields(n_step):
            self._field(field, "n_step_targets")
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= len(self))):
            raise IndexError(f"{owner}: indices must be integer slots in 0..{len(self) - 1}, got {indices!r}")
        ring = self._ring
        return nstep.n_step_targets(np, ring.gather, idx, rows=ring.rows, n_envs=ring.n_envs,
                                    next_row=ring.next_row, rows_stored=ring.rows_stored, gamma=gamma,
                                    n_step=int(n_step))

    def update_priorities(self, indices, td_errors):
        """Set the priorities of the items at ``indices`` to :math:`(|\\delta| + \\epsilon)^\\alpha`.

        Args:
            indices: the slots returned in ``sample(...)["indices"]``.
            td_errors: their new TD errors :math:`\\delta` (any array of the same length; numpy or JAX).
        """
        if not self.priority_sampling:
            raise ValueError("Buffer.update_priorities: this buffer samples uniformly; build it with "
                             "Buffer(maxlen, priority_sampling=True) to use priorities")
        idx, td = replay.check_td_errors(indices, td_errors, len(self), "Buffer.update_priorities")
        self._priorities.update(idx, td)

    def rollout(self, keys=None, length=None):
        """The last ``length`` rows (default: every stored row) in time order, time-major: a dict
        ``{field: array of shape (T, n_envs, *item_shape)}`` (copies), for on-policy learners
        (:func:`symgraph.rl.storage.rollout.time_major`).

        Raises:
            ValueError: ``length`` is more than the stored rows.
        """
        keys = self._keys_argument(keys, "rollout", self.fields)
        if self._spec is None:
            return {}
        return rollout.time_major(self._ring, keys, length, "Buffer.rollout")

    # -----------------------------------------------------------------------------------------------------
    # State

    def state_dict(self):
        """The buffer's state as ``{name: array or JSON-able value}``: the stored arrays (``"ring/data/<field>"``)
        and write position (``"ring/..."``), the pushed fields' schema, the paths' lengths, the priorities
        (``"priorities/..."``), the sampling generator and counters, and ``maxlen``/``priority_sampling`` (a
        buffer built otherwise refuses the state). A ``beta`` schedule is configuration, not state: it is not
        saved (a float ``beta`` is). :meth:`load_state_dict` restores it."""
        state = {"maxlen": self.maxlen, "priority_sampling": self.priority_sampling, "n_envs": self._n_envs,
                 "n_samples": self._n_samples, "warned_truncation": self._warned_truncation,
                 "rng": self._rng.bit_generator.state, "beta": None if callable(self._beta) else self._beta,
                 "schema": None}
        if self._spec is None:
            return state
        state.update({"schema": [[k, list(shape), np.dtype(dtype).str] for k, (shape, dtype) in self._spec.items()],
                      "batched": self._batched, "path_len": self._path_len.copy()})
        state.update({"ring/" + k: v for k, v in self._ring.state_dict().items()})
        if self._priorities is not None:
            state.update({"priorities/" + k: v for k, v in self._priorities.state_dict().items()})
        return state

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict` (e.g. a resumed run's). Every entry is checked before anything changes.

        Raises:
            KeyError: a missing entry.
            ValueError, TypeError, ShapeError: an entry of the wrong kind, shape or dtype, or a state saved from
                a buffer of another ``maxlen`` or ``priority_sampling``.
        """
        owner = "Buffer.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{owner}: expected the dict of Buffer.state_dict(), got {type(state).__name__}")
        missing = [k for k in ("maxlen", "priority_sampling", "n_envs", "n_samples", "rng", "beta", "schema")
                   if k not in state]
        if missing:
            raise KeyError(f"{owner}: the state has no entry {missing[0]!r}; pass what Buffer.state_dict() returned")
        saved = (state["maxlen"], bool(state["priority_sampling"]))
        if saved != (self.maxlen, self.priority_sampling):
            raise ValueError(f"{owner}: the state was saved from Buffer(maxlen={saved[0]!r}, priority_sampling="
                             f"{saved[1]}), this buffer is Buffer(maxlen={self.maxlen}, priority_sampling="
                             f"{self.priority_sampling}); build the buffer with the saved ones to restore it")
        rng = np.random.Generator(type(self._rng.bit_generator)())
        try:
            rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{owner}: 'rng' is not the state of a {type(self._rng.bit_generator).__name__} "
                             f"generator ({exc})") from None
        n_samples = state["n_samples"]
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 0:
            raise ValueError(f"{owner}: 'n_samples' must be an int >= 0, got {n_samples!r}")
        ring = spec = path_len = priorities = None
        if state["schema"] is not None:
            ring, spec, path_len, priorities = self._stored(state, owner)
        if state["beta"] is not None:
            self.beta = state["beta"]
        self._rng.bit_generator.state = rng.bit_generator.state   # in place: a Generator shared stays shared
        self.clear()
        self._n_samples = int(n_samples)
        self._warned_truncation = bool(state.get("warned_truncation", False))
        if spec is None:
            return
        self._ring, self._spec, self._keys, self._path_len = ring, spec, tuple(spec), path_len
        self._n_envs, self._batched, self._priorities = ring.n_envs, bool(state["batched"]), priorities

    def _stored(self, state, owner):
        """``(ring, spec, path_len, priorities)`` of a state that holds items, checked."""
        ring = Ring.from_state_dict({k[5:]: v for k, v in state.items() if k.startswith("ring/")}, owner)
        try:
            spec = {str(k): (tuple(int(d) for d in shape), np.dtype(dtype)) for k, shape, dtype in state["schema"]}
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: 'schema' must list [field, item shape, dtype] triples, got "
                             f"{str(state['schema'])[:200]}") from None
        given = self._n_envs_given
        if ring.rows != -(-self.maxlen // ring.n_envs) or (given is not None and ring.n_envs != given):
            raise ValueError(f"{owner}: the state holds {ring.rows} rows of {ring.n_envs} environments, which is "
                             f"not a Buffer(maxlen={self.maxlen}, n_envs={given}); restore it into the buffer it "
                             f"was saved from")
        if not ring.matches(ring.rows, ring.n_envs, spec) or any(k not in COMPUTED_FIELDS for k in
                                                                  list(ring.data)[len(spec):]):
            raise ValueError(f"{owner}: the stored arrays {list(ring.data)} do not match the schema {list(spec)}")
        path_len = np.asarray(state.get("path_len"))
        if path_len.shape != (ring.n_envs,) or path_len.dtype.kind not in "iu":
            raise ValueError(f"{owner}: 'path_len' must be an int array of shape ({ring.n_envs},), got "
                             f"{path_len!r:.80}")
        priorities = None
        if self.priority_sampling:
            priorities = replay.Priorities(ring.capacity, self.alpha, self.eps)
            priorities.load_state_dict({k[11:]: v for k, v in state.items() if k.startswith("priorities/")})
        return ring, spec, path_len.astype(np.int64), priorities
