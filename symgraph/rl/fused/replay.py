r"""A replay buffer that lives on the device: a pytree of fixed-size arrays and pure functions of it, for
training loops compiled whole (``jax.jit``, ``jax.lax.scan``, ``jax.vmap`` over seeds).

It keeps the layout and the semantics of the host :class:`~symgraph.rl.buffer.Buffer`, so the off-policy
learners see the same minibatches from either:

- storage is a ring of ``rows`` rows of ``n_envs`` items per field, time-major (one :func:`add` writes one
  row: one step of each sub-environment), an item's *slot* is ``row * n_envs + env``, and the oldest row is
  overwritten when the ring is full;
- :func:`sample` draws slots uniformly, or proportionally to priorities (Schaul, Quan, Antonoglou & Silver
  2016, "Prioritized Experience Replay"): item :math:`i` with probability

  .. math::

      P(i) = \frac{p_i^\alpha}{\sum_k p_k^\alpha}, \qquad
      w_i = \frac{(N \cdot P(i))^{-\beta}}{\max_j (N \cdot P(j))^{-\beta}}
          = \Big(\frac{p_i^\alpha}{\min_j p_j^\alpha}\Big)^{-\beta},

  with :math:`N` the number of stored items, the maximum over all of them, :math:`p_i = |\delta_i| +
  \epsilon` after :func:`update_priorities`, and new items given the largest priority seen so far (1 at
  first). The draw is stratified over ``batch_size`` equal segments of the total (the paper's appendix
  B.2.1) and found by a cumulative sum and a binary search (``jnp.searchsorted``): :math:`O(N)` work per
  draw of a whole minibatch instead of the sum tree's :math:`O(B \log N)`, which on an accelerator or a
  vectorised CPU loop costs little at replay sizes up to about :math:`10^6` and keeps the buffer a handful of
  flat arrays (the priorities are summed in float32, so very skewed priorities over millions of items lose
  some resolution);
- :func:`n_step_targets` computes the n-step returns of sampled transitions at sample time by the one n-step
  rule of the replays (:mod:`symgraph.rl.storage.nstep`, the same equations as the host
  :meth:`Buffer.n_step_targets <symgraph.rl.buffer.Buffer.n_step_targets>`): the chain from step :math:`t`
  follows the same sub-environment's next rows for up to ``n`` steps, stopping after a termination (no
  bootstrap), a truncation (bootstrap from the state reached) or the newest stored row (found from the write
  position),

  .. math::

      G_t = \sum_{k=0}^{m-1} \gamma^k r_{t+k}, \qquad
      \text{discount}_t = \gamma^m (1 - \text{terminal}_{t+m-1}), \qquad
      \text{bootstrap from } s_{t+m}.

Every function is pure and jittable; the configuration (``alpha``, ``eps``) is static (part of the tree's
structure), the rest are arrays, so a buffer is carried through ``jax.lax.scan`` and batched by ``jax.vmap``.

Example::

    buffer = replay.init(10_000, {"state": obs, "action": a, "reward": r, ...})   # one row: (n_envs, ...)
    buffer = replay.add(buffer, transitions)                                        # inside a scan
    batch = replay.sample(buffer, key, 64)                                          # + "indices", "weights"
"""

import dataclasses
import numbers
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from symgraph.errors import ShapeError, format_shape
from symgraph.rl.storage import nstep

__all__ = ["ReplayBuffer", "init", "add", "sample", "update_priorities", "n_step_targets"]


@dataclasses.dataclass(frozen=True)
class ReplayBuffer:
    """The state of an on-device replay buffer (a pytree; build it with :func:`init`).

    Attributes:
        data: ``{field: array of shape (rows, n_envs, *item_shape)}``.
        priorities: ``(rows, n_envs)`` float32 priorities :math:`p^\\alpha` (0 for empty slots), or None for
            a uniform buffer.
        max_priority: the largest :math:`p = |\\delta| + \\epsilon` seen so far (float32; 1 at first).
        row: the next row to write (int32).
        rows_stored: the number of rows holding transitions (int32, at most ``rows``).
        alpha: the priority exponent :math:`\\alpha` (static).
        eps: the :math:`\\epsilon` added to every ``|delta|`` (static).
    """

    data: dict
    priorities: jax.Array | None
    max_priority: jax.Array
    row: jax.Array
    rows_stored: jax.Array
    alpha: float = 0.6
    eps: float = 1e-6

    @property
    def rows(self):
        """The number of rows of the ring."""
        return next(iter(self.data.values())).shape[0]

    @property
    def n_envs(self):
        """The number of items per row (sub-environments)."""
        return next(iter(self.data.values())).shape[1]

    @property
    def capacity(self):
        """The most items held: ``rows * n_envs``."""
        return self.rows * self.n_envs

    @property
    def size(self):
        """The number of stored items (an int32 array)."""
        return self.rows_stored * self.n_envs

    @property
    def prioritized(self):
        """Whether sampling is proportional to priorities."""
        return self.priorities is not None


jax.tree_util.register_dataclass(ReplayBuffer, data_fields=["data", "priorities", "max_priority", "row",
                                                            "rows_stored"], meta_fields=["alpha", "eps"])


def _positive_int(owner, name, value, meaning):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int ({meaning}), got {value!r}")
    return int(value)


def _storage_dtype(dtype):
    """float64 data is stored as float32 (JAX's default), other dtypes as given."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float64 else dtype


def init(capacity, example, *, prioritized=False, alpha=0.6, eps=1e-6):
    """An empty buffer of ``capacity`` transitions, shaped after ``example``.

    Args:
        capacity: the most transitions (items) held; with ``n_envs`` sub-environments the ring has
            ``ceil(capacity / n_envs)`` rows of ``n_envs`` items.
        example: one row, as :func:`add` takes: ``{field: array of shape (n_envs, *item_shape)}`` (e.g. the
            transitions of one step of ``n_envs`` environments); only shapes and dtypes are used. float64
            fields are stored as float32.
        prioritized: sample proportionally to priorities (module docstring).
        alpha: the priority exponent :math:`\\alpha` in ``[0, 1]`` (0: uniform).
        eps: the :math:`\\epsilon > 0` of :math:`p = |\\delta| + \\epsilon`.

    Raises:
        ValueError: a bad ``capacity``, ``alpha`` or ``eps``, or fields whose leading axes (``n_envs``)
            differ.
        TypeError: ``example`` is not a non-empty dict of arrays.
    """
    owner = "replay.init"
    capacity = _positive_int(owner, "capacity", capacity, "the most transitions held")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{owner}: alpha must be a number in [0, 1] (the priority exponent; 0 is uniform), "
                         f"got {alpha!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"{owner}: eps must be a number > 0 (the floor of every priority), got {eps!r}")
    if not isinstance(example, Mapping) or not example:
        raise TypeError(f"{owner}: example must be a non-empty dict {{field: array of shape (n_envs, ...)}} "
                        f"(one row of transitions), got {type(example).__name__}")
    shapes = {k: jnp.shape(v) for k, v in example.items()}
    leading = {s[0] if s else None for s in shapes.values()}
    if len(leading) != 1 or None in leading:
        raise ValueError(f"{owner}: every field of example must have the same leading axis (the number of "
                         f"sub-environments, 1 for a single env), got shapes "
                         f"{ {k: format_shape(s) for k, s in shapes.items()} }; add a leading axis of 1 to "
                         f"a single transition (x[None])")
    n_envs = leading.pop()
    rows = -(-capacity // n_envs)
    data = {k: jnp.zeros((rows, *shapes[k]), _storage_dtype(jnp.result_type(v))) for k, v in example.items()}
    return ReplayBuffer(data=data, priorities=jnp.zeros((rows, n_envs), jnp.float32) if prioritized else None,
                        max_priority=jnp.float32(1.0), row=jnp.int32(0), rows_stored=jnp.int32(0),
                        alpha=float(alpha), eps=float(eps))


def add(buffer, transitions):
    """``buffer`` with one more row, ``transitions`` (``{field: array of shape (n_envs, *item_shape)}``, the
    fields of :func:`init`'s example), overwriting the oldest row when full. New items get the largest
    priority seen so far. Values are cast to the stored dtypes within their kind.

    Raises:
        KeyError: a field missing or not in the buffer.
        ShapeError: a field of another shape than the buffer's row.
        TypeError: a value that cannot be cast to its field's dtype within its kind (e.g. float to int).
    """
    if set(transitions) != set(buffer.data):
        missing = sorted(set(buffer.data) - set(transitions))
        extra = sorted(set(transitions) - set(buffer.data))
        raise KeyError(f"replay.add: the transitions must have exactly the buffer's fields {sorted(buffer.data)}; "
                       f"missing {missing}, unknown {extra}")
    data = {}
    for field, stored in buffer.data.items():
        value = jnp.asarray(transitions[field])
        if value.shape != stored.shape[1:]:
            raise ShapeError(f"replay.add: field {field!r} has shape {format_shape(value.shape)}, but the buffer "
                             f"stores rows of {format_shape(stored.shape[1:])} (n_envs x item shape, fixed by "
                             f"init's example)")
        if value.dtype != stored.dtype and not np.can_cast(value.dtype, stored.dtype, "same_kind"):
            raise TypeError(f"replay.add: field {field!r} is {value.dtype}, which cannot be stored in the buffer's "
                            f"{stored.dtype} field; pass {stored.dtype} values (or init the buffer from such an "
                            f"example)")
        data[field] = stored.at[buffer.row].set(value.astype(stored.dtype))
    priorities = buffer.priorities
    if priorities is not None:
        priorities = priorities.at[buffer.row].set(buffer.max_priority ** buffer.alpha)
    return dataclasses.replace(buffer, data=data, priorities=priorities, row=(buffer.row + 1) % buffer.rows,
                               rows_stored=jnp.minimum(buffer.rows_stored + 1, buffer.rows))


def _gather(buffer, indices, fields):
    rows, envs = jnp.divmod(indices, buffer.n_envs)
    return {f: buffer.data[f][rows, envs] for f in fields}


def sample(buffer, key, batch_size, *, beta=0.4, fields=None):
    """Draw ``batch_size`` items with replacement: uniformly, or by priority (stratified) for a prioritised
    buffer.

    Args:
        buffer: a :class:`ReplayBuffer` holding at least one item (draws from an empty one are meaningless:
            guard the call, e.g. with ``buffer.size >= batch_size``).
        key: a PRNG key.
        batch_size: the number of items (a static int).
        beta: the importance-sampling exponent :math:`\\beta \\ge 0` (a number or a traced scalar, e.g. a
            schedule's value); a uniform buffer's weights are ones.
        fields: the fields to return (default: all).

    Returns:
        ``{field: (batch_size, *item_shape)}`` plus ``"indices"`` (int32 slots, for
        :func:`update_priorities` and :func:`n_step_targets`) and ``"weights"`` (float32 importance weights,
        at most 1; ones for a uniform buffer).
    """
    owner = "replay.sample"
    batch_size = _positive_int(owner, "batch_size", batch_size, "the items drawn")
    fields = tuple(buffer.data) if fields is None else tuple(fields)
    unknown = [f for f in fields if f not in buffer.data]
    if unknown:
        raise KeyError(f"{owner}: unknown field {unknown[0]!r}; the buffer holds {sorted(buffer.data)}")
    if isinstance(beta, numbers.Real) and (isinstance(beta, bool) or not beta >= 0):
        raise ValueError(f"{owner}: beta must be a number >= 0 (usually annealed from ~0.4 to 1), got {beta!r}")
    size = buffer.size
    if buffer.priorities is None:
        indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(size, 1), jnp.int32)
        weights = jnp.ones((batch_size,), jnp.float32)
    else:
        p = buffer.priorities.reshape(-1)
        cumulative = jnp.cumsum(p)
        total = cumulative[-1]
        order_key, offset_key = jax.random.split(key)
        strata = jax.random.permutation(order_key, batch_size)
        u = (strata + jax.random.uniform(offset_key, (batch_size,))) * (total / batch_size)
        indices = jnp.minimum(jnp.searchsorted(cumulative, u, side="right"), size - 1).astype(jnp.int32)
        stored = jnp.arange(p.shape[0]) < size
        smallest = jnp.min(jnp.where(stored, p, jnp.inf))
        weights = ((p[indices] / smallest) ** (-jnp.asarray(beta, jnp.float32))).astype(jnp.float32)
    out = _gather(buffer, indices, fields)
    out["indices"] = indices
    out["weights"] = weights
    return out


def update_priorities(buffer, indices, td_errors):
    """``buffer`` with the priorities of the items at ``indices`` set to :math:`(|\\delta| +
    \\epsilon)^\\alpha` and the largest :math:`|\\delta| + \\epsilon` remembered for new items. With repeated
    indices one of the values is kept.

    Raises:
        ValueError: the buffer samples uniformly.
        ShapeError: ``indices`` and ``td_errors`` have different sizes.
    """
    if buffer.priorities is None:
        raise ValueError("replay.update_priorities: this buffer samples uniformly; build it with "
                         "replay.init(..., prioritized=True) to use priorities")
    indices = jnp.asarray(indices).reshape(-1)
    td_errors = jnp.asarray(td_errors, jnp.float32).reshape(-1)
    if indices.shape != td_errors.shape:
        raise ShapeError(f"replay.update_priorities: got {indices.size} indices and {td_errors.size} TD errors; "
                         f"pass one TD error per sampled index")
    p = jnp.abs(td_errors) + buffer.eps
    flat = buffer.priorities.reshape(-1).at[indices].set(p ** buffer.alpha)
    return dataclasses.replace(buffer, priorities=flat.reshape(buffer.priorities.shape),
                               max_priority=jnp.maximum(buffer.max_priority, jnp.max(p)))


def n_step_targets(buffer, indices, gamma, n_step):
    """The (n-step) returns, discounts and bootstrap states of the items at ``indices`` (module docstring).

    Args:
        buffer: a buffer with ``"reward"``, ``"terminal"`` and ``"next-state"`` fields (and ``"truncated"``
            when ``n_step > 1``).
        indices: int slots, as :func:`sample` returns.
        gamma: the discount factor :math:`\\gamma` in ``[0, 1]``: a number, or a scalar JAX array (e.g. the
            learner state's ``hyperparameters/gamma`` entry, traced: not checked).
        n_step: the most rewards summed, a static int >= 1.

    Returns:
        ``{"reward": G_t, "discount": gamma^m (1 - terminal), "next-state": s_{t+m}}``, float32 returns and
        discounts.

    Raises:
        KeyError: a field it needs is missing.
        ValueError: a bad ``gamma`` or ``n_step``.
    """
    owner = "replay.n_step_targets"
    n_step = _positive_int(owner, "n_step", n_step, "the most rewards summed before bootstrapping")
    if isinstance(gamma, jax.Array) and gamma.ndim == 0:
        gamma = gamma.astype(jnp.float32)
    elif isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"{owner}: gamma must be a number in [0, 1] or a scalar JAX array, got {gamma!r}")
    needed = nstep.needed_fields(n_step)
    missing = [f for f in needed if f not in buffer.data]
    if missing:
        absent = ' and '.join(f'no field {name!r}' for name in missing)
        raise KeyError(f"{owner}: the buffer has {absent} (it holds {sorted(buffer.data)}); store "
                       f"{list(needed)} with every transition")
    return nstep.n_step_targets(jnp, lambda slots, fields: _gather(buffer, slots, fields), indices,
                                rows=buffer.rows, n_envs=buffer.n_envs, next_row=buffer.row,
                                rows_stored=buffer.rows_stored, gamma=gamma, n_step=n_step)
