r"""Replay storage: uniform and proportional prioritised sampling of the items of a ring, and the minibatches
of the off-policy learners (with the n-step targets of :mod:`symgraph.rl.storage.nstep`).

Prioritised sampling (Schaul, Quan, Antonoglou & Silver 2016, "Prioritized Experience Replay"):
item :math:`i` is drawn with probability :math:`P(i) = p_i^\alpha / \sum_k p_k^\alpha` from a
:class:`~symgraph.rl.storage.sum_tree.SumTree` (:math:`O(\log n)` per draw, stratified over ``batch_size``
equal segments of the total as in the paper's appendix B.2.1), with :math:`p_i = |\delta_i| + \epsilon` after
an update and new items given the largest priority seen so far (so each is replayed at least once soon).
The importance-sampling weights correct the bias of the non-uniform draw,

.. math::

    w_i = \frac{(N \cdot P(i))^{-\beta}}{\max_j (N \cdot P(j))^{-\beta}}
        = \Big(\frac{p_i^\alpha}{\min_j p_j^\alpha}\Big)^{-\beta},

with :math:`N` the number of stored items and the maximum taken over all of them (so weights are at most 1
and comparable between batches).
"""

import numpy as np

from symgraph.errors import ShapeError, format_shape
from symgraph.rl.storage import nstep
from symgraph.rl.storage.sum_tree import SumTree

__all__ = ["Priorities", "sample_batches", "check_td_errors"]


class Priorities:
    """The priorities :math:`p^\\alpha` of ``capacity`` slots, drawn from proportionally (module docstring).

    Args:
        capacity: the number of slots.
        alpha: the priority exponent :math:`\\alpha`.
        eps: the :math:`\\epsilon` of :math:`p = |\\delta| + \\epsilon`.
    """

    def __init__(self, capacity, alpha, eps):
        self.tree = SumTree(capacity)
        self.alpha, self.eps = float(alpha), float(eps)
        #: The largest :math:`p = |\\delta| + \\epsilon` seen so far (1 at first): new items get it.
        self.max_priority = 1.0

    def clear(self):
        """Every priority back to 0, the largest one seen back to 1."""
        self.tree.clear()
        self.max_priority = 1.0

    def add(self, slots):
        """Give the (new) items at ``slots`` the largest priority seen so far."""
        self.tree.update(slots, self.max_priority ** self.alpha)

    def draw(self, rng, batch_size, size, stratified, beta):
        """``(slots, weights)``: ``batch_size`` draws among the first ``size`` slots with the numpy Generator
        ``rng`` (stratified or independent), and their float32 importance weights for exponent ``beta``."""
        tree = self.tree
        total = tree.total
        if stratified:
            u = (rng.permutation(batch_size) + rng.random(batch_size)) * (total / batch_size)
        else:
            u = rng.random(batch_size) * total
        idx = np.minimum(tree.find(u), size - 1)
        weights = (tree[idx] / tree.min) ** (-beta)
        return idx, weights.astype(np.float32)

    def update(self, slots, td_errors):
        """Set the priorities at ``slots`` to :math:`(|\\delta| + \\epsilon)^\\alpha` (finite ``td_errors``,
        checked by the caller) and remember the largest :math:`p`."""
        p = np.abs(td_errors) + self.eps
        if p.size:
            self.max_priority = max(self.max_priority, float(p.max()))
        self.tree.update(slots, p ** self.alpha)

    def state_dict(self):
        """``{"priorities", "set"}`` of the sum tree and ``"max_priority"``."""
        return {**self.tree.state_dict(), "max_priority": self.max_priority}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` (checked; see
        :meth:`symgraph.rl.storage.sum_tree.SumTree.load_state_dict`)."""
        if "max_priority" not in state:
            raise KeyError("Priorities.load_state_dict: the state has no entry 'max_priority'")
        value = state["max_priority"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < np.inf:
            raise ValueError(f"Priorities.load_state_dict: 'max_priority' must be a positive finite number, "
                             f"got {value!r}")
        self.tree.load_state_dict(state)
        self.max_priority = float(value)


def _check_buffer(storage, prioritized, fields, owner):
    if prioritized != bool(getattr(storage, "priority_sampling", False)):
        if prioritized:
            raise ValueError(f"{owner}: prioritized=True needs a buffer with priority sampling: build it with "
                             f"learner.make_buffer(maxlen) or Buffer(maxlen, priority_sampling=True)")
        raise ValueError(f"{owner}: the buffer samples by priority but the learner was built with "
                         f"prioritized=False and would ignore the priorities; pass prioritized=True, or use "
                         f"Buffer(maxlen) (uniform)")
    missing = [f for f in fields if f not in storage]
    if missing:
        absent = ' and '.join(f'no field {name!r}' for name in missing)
        raise KeyError(f"{owner}: the buffer has {absent} (it holds {list(storage.fields)}); push "
                       f"transitions with {list(fields)} (rl.run does)")


def sample_batches(storage, rng, batch_size, steps, n_step, gamma, fields, *, prioritized=False,
                   owner="sample_batches"):
    """``(batches, indices)``: ``steps`` minibatches of ``batch_size`` transitions drawn from ``storage``, with
    their (n-step) returns, discounts and bootstrap states (:mod:`symgraph.rl.storage.nstep`), or ``(None,
    None)`` while it holds fewer than ``batch_size`` transitions.

    Args:
        storage: a :class:`~symgraph.rl.buffer.Buffer` holding ``"state"``, ``"action"``, ``"reward"``,
            ``"next-state"``, ``"terminal"`` (and ``"truncated"`` when ``n_step > 1``).
        rng: the numpy Generator of uniform draws (``steps * batch_size`` slots at once); prioritised draws
            use the buffer's own (``steps`` stratified draws of ``batch_size``).
        batch_size, steps: the minibatch size and the number of minibatches.
        n_step, gamma: the n-step rule's length and discount.
        fields: ``{field: (item_shape, dtype)}``: the minibatch's fields, among ``"state"``, ``"action"``,
            ``"reward"`` (the n-step return), ``"discount"``, ``"next-state"`` (the state to bootstrap from) and
            ``"weight"`` (the importance weights; ones when uniform); each is reshaped to ``(steps,
            batch_size, *item_shape)`` and cast to ``dtype``.
        prioritized: draw by priority (the buffer must sample by priority, and the reverse).
        owner: the name errors start with.

    Returns:
        ``{field: array (steps, batch_size, *item)}`` for the fields of ``fields``, and the sampled slots
        (``steps * batch_size``, for ``update_priorities``).

    Raises:
        ValueError: the buffer's sampling kind differs from ``prioritized``, or an item shape differs from
            ``fields``' (the env's spaces against the learner's shapes).
        KeyError: a field the minibatch needs is not stored.
    """
    size = len(storage)
    if size < batch_size:
        return None, None
    stored = ("state", "action") + nstep.needed_fields(n_step)
    _check_buffer(storage, prioritized, stored, owner)
    n = steps * batch_size
    if prioritized:
        draws = [storage.sample(batch_size, keys=["reward"]) for _ in range(steps)]
        indices = np.concatenate([d["indices"] for d in draws])
        weights = np.concatenate([d["weights"] for d in draws]).astype(np.float32)
    else:
        indices = rng.integers(0, size, n)
        weights = np.ones(n, np.float32)
    data = storage.get(indices, ["state", "action"])
    targets = storage.n_step_targets(indices, gamma, n_step)
    columns = {"state": data["state"], "action": data["action"], "reward": targets["reward"],
               "discount": targets["discount"], "next-state": targets["next-state"], "weight": weights}
    batches = {}
    for field, (item, dtype) in fields.items():
        value = np.asarray(columns[field])
        if value.shape[1:] != tuple(item):
            if value.size != n * int(np.prod(item, dtype=np.int64)):
                raise ValueError(f"{owner}: buffer field {field!r} holds items of shape "
                                 f"{format_shape(value.shape[1:])}, but the learner expects {format_shape(item)}; "
                                 f"check the env's spaces against state_shape and actions_shape")
            value = value.reshape((n, *item))
        batches[field] = value.astype(dtype, copy=False).reshape((steps, batch_size, *item))
    return batches, indices


def check_td_errors(indices, td_errors, size, owner):
    """``(slots, td_errors)`` as flat int and float64 arrays, checked: as many of each, slots in ``0..size -
    1``, finite errors."""
    idx = np.asarray(indices).ravel()
    td = np.asarray(td_errors, dtype=np.float64).ravel()
    if idx.shape != td.shape:
        raise ShapeError(f"{owner}: got {idx.size} indices and {td.size} TD errors; pass one TD error per sampled "
                         f"index")
    if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= size)):
        raise IndexError(f"{owner}: indices must be integer slots in 0..{size - 1} (as returned by "
                         f"sample()['indices']), got {indices!r}")
    if not np.all(np.isfinite(td)):
        j = int(np.flatnonzero(~np.isfinite(td))[0])
        raise ValueError(f"{owner}: the TD error of index {int(idx[j])} is {td[j]}; TD errors must be finite (a "
                         f"diverging critic?)")
    return idx, td
