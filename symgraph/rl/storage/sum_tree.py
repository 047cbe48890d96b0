r"""A sum-tree (with a min-tree beside it) over a fixed number of non-negative priorities.

Proportional prioritised experience replay (Schaul, Quan, Antonoglou & Silver 2016, "Prioritized
Experience Replay", ICLR, section 3.3 and appendix B.2.1) samples item :math:`i` with probability

.. math::

    P(i) = \frac{p_i^\alpha}{\sum_k p_k^\alpha}.

Sampling from :math:`P` naively costs :math:`O(n)` per draw (a cumulative sum). A sum-tree is a complete
binary tree whose leaves hold the :math:`n` priorities and whose every inner node holds the sum of its two
children, so the root is the total. A draw takes a uniform :math:`u \in [0, \text{total})` and walks from the
root down: go left if :math:`u` is below the left child's sum, otherwise subtract it and go right. The leaf
reached is the first index whose cumulative sum exceeds :math:`u`, found in :math:`O(\log n)`; changing a
priority re-sums the :math:`O(\log n)` nodes above it.

The tree is one flat ``float64`` array in heap layout (root at 1, children of node ``k`` at ``2k`` and
``2k + 1``, leaves at ``[size, 2 size)`` with ``size`` the capacity rounded up to a power of two). Both
``update`` and ``find`` take whole batches of indices/values and walk all of them down or up the tree
together, one numpy operation per level, so a batch of ``B`` costs ``O(B log n)`` work in ``O(log n)``
numpy calls. Parents are recomputed from their children (never updated by differences), so no rounding
error accumulates however many updates are made. A second tree of minima gives the smallest priority in
:math:`O(1)` (the importance-sampling weights of PER are normalised by the largest weight, the one of the
least likely item).
"""

import math

import numpy as np

__all__ = ["SumTree"]


class SumTree:
    """Sums and minima over ``capacity`` non-negative priorities, with proportional search.

    Args:
        capacity: the number of leaves (items), a positive int. All priorities start at 0 (an item of
            priority 0 is never found by :meth:`find`).

    Example::

        tree = SumTree(4)
        tree.update([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
        tree.total                  # 10.0
        tree.find([0.5, 2.5, 9.9])  # array([0, 1, 3])
    """

    def __init__(self, capacity):
        if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 1:
            raise ValueError(f"SumTree: capacity must be a positive int (the number of items), got "
                             f"{capacity!r}")
        self.capacity = int(capacity)
        self._size = 1 << (self.capacity - 1).bit_length()  # leaves, a power of two
        self._depth = self._size.bit_length() - 1
        self._shifts = np.arange(self._depth + 1)
        self._sum = np.zeros(2 * self._size)
        self._min = np.full(2 * self._size, np.inf)

    def __len__(self):
        return self.capacity

    def __getitem__(self, indices):
        """The priorities at ``indices`` (an int or an array of ints)."""
        return self._sum[self._size + self._check_indices(indices)]

    @property
    def total(self):
        """The sum of all priorities (the root), a Python float."""
        return float(self._sum[1])

    @property
    def min(self):
        """The smallest priority among the items ever set (``inf`` while none is), a Python float.

        Items that were never given a priority do not count, so a partly filled buffer gets the minimum of
        its stored items only. Give an item priority 0 to make it unfindable; it then counts as 0 here.
        """
        return float(self._min[1])

    def clear(self):
        """Set every priority back to 0 (and forget the minimum)."""
        self._sum[:] = 0.0
        self._min[:] = np.inf

    def _check_indices(self, indices):
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"SumTree: indices must be integers, got an array of dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.capacity):
            bad = idx[(idx < 0) | (idx >= self.capacity)].ravel()[0]
            raise IndexError(f"SumTree: index {bad} is out of range for a tree of {self.capacity} items "
                             f"(valid: 0 to {self.capacity - 1})")
        return idx

    def update(self, indices, priorities):
        """Set ``priority[indices[j]] = priorities[j]`` and re-sum the nodes above them.

        ``indices`` and ``priorities`` are an int and a float, or 1-D arrays of the same length (a scalar
        priority broadcasts). With repeated indices the last value wins. Priorities must be finite and >= 0.
        """
        if (isinstance(indices, int) and isinstance(priorities, float | int)
                and 0 <= indices < self.capacity and 0.0 <= priorities < math.inf):
            leaf, value = indices, priorities   # one new item: skip the array checks
        else:
            idx = self._check_indices(indices).ravel()
            values = np.broadcast_to(np.asarray(priorities, dtype=np.float64), np.shape(indices)).ravel()
            if values.size and not (np.all(np.isfinite(values)) and values.min() >= 0.0):
                j = int(np.flatnonzero(~(np.isfinite(values) & (values >= 0.0)))[0])
                raise ValueError(f"SumTree: priorities must be finite and >= 0, got {float(values[j])} for "
                                 f"index {idx[j]}; pass |TD error| + eps, not a raw TD error or a NaN")
            leaf = int(idx[0]) if idx.size == 1 else None
            value = values[0] if idx.size == 1 else None
        if leaf is not None:
            # One leaf: its path to the root is a few numpy calls. Ancestor k holds the leaf plus the siblings
            # met on the way up, summed in the same order as the level-by-level loop (so the result is
            # bit-identical), and the minimum of the same.
            path = (self._size + leaf) >> self._shifts   # leaf, parent, ..., root
            chain = np.empty(self._depth + 1)
            chain[0] = value
            chain[1:] = self._sum.take(path[:-1] ^ 1)
            self._sum[path] = np.cumsum(chain)
            chain[1:] = self._min.take(path[:-1] ^ 1)
            self._min[path] = np.minimum.accumulate(chain)
            return
        nodes = self._size + idx  # a new array: shifted in place below
        self._sum[nodes] = values  # fancy assignment: the last of repeated indices wins
        self._min[nodes] = values
        s, m = self._sum, self._min
        for _ in range(self._depth):
            # Repeated parents are recomputed from the same children, so duplicates write equal values
            # (cheaper than deduplicating with np.unique).
            nodes >>= 1
            left = 2 * nodes
            right = left + 1
            s[nodes] = s.take(left) + s.take(right)
            m[nodes] = np.minimum(m.take(left), m.take(right))

    def find(self, values):
        """For each ``u`` in ``values`` (in ``[0, total)``), the index ``i`` with
        ``cumsum[i - 1] <= u < cumsum[i]``, i.e. the item a proportional draw ``u`` lands on.

        Values outside ``[0, total)`` are clipped into it; items of priority 0 are never returned. Returns an
        int64 array of the shape of ``values``.
        """
        u = np.asarray(values, dtype=np.float64)
        shape = u.shape
        u = u.ravel().copy()
        total = self._sum[1]
        if total <= 0.0:
            raise ValueError("SumTree.find: every priority is 0, so there is nothing to find; set "
                             "priorities with update() first")
        np.clip(u, 0.0, np.nextafter(total, 0.0), out=u)
        nodes = np.ones(u.shape, dtype=np.int64)
        s = self._sum
        for _ in range(self._depth):
            left = 2 * nodes
            left_sum = s.take(left)
            # Go right when u is past the left sum, unless rounding would lead into an empty subtree.
            right = (u >= left_sum) & (s.take(left + 1) > 0.0)
            u -= left_sum * right
            nodes = left + right
        return (nodes - self._size).reshape(shape)

    def state_dict(self):
        """``{"priorities": float64 (capacity,), "set": bool (capacity,)}``: the leaves, and which of them were
        ever given a priority (those count in :attr:`min`)."""
        leaves = slice(self._size, self._size + self.capacity)
        return {"priorities": self._sum[leaves].copy(), "set": np.isfinite(self._min[leaves])}

    def load_state_dict(self, state):
        """Set the leaves from :meth:`state_dict` and re-sum every inner node (the tree is then identical to
        the one saved).

        Raises:
            KeyError: an entry is missing.
            ValueError: an entry of another shape or dtype, or a priority that is negative or not finite.
        """
        missing = [k for k in ("priorities", "set") if k not in state]
        if missing:
            raise KeyError(f"SumTree.load_state_dict: the state has no entry {missing[0]!r}; pass what "
                           f"state_dict() returned")
        priorities, is_set = np.asarray(state["priorities"]), np.asarray(state["set"])
        for name, array, kind in (("priorities", priorities, "f"), ("set", is_set, "b")):
            if array.shape != (self.capacity,) or array.dtype.kind != kind:
                raise ValueError(f"SumTree.load_state_dict: {name!r} must be a {'float' if kind == 'f' else 'bool'} "
                                 f"array of shape ({self.capacity},) (one entry per item), got "
                                 f"{array.dtype} of shape {array.shape}")
        if not (np.all(np.isfinite(priorities)) and np.all(priorities >= 0.0)):
            raise ValueError("SumTree.load_state_dict: priorities must be finite and >= 0")
        self.clear()
        leaves = slice(self._size, self._size + self.capacity)
        self._sum[leaves] = priorities
        self._min[leaves] = np.where(is_set, priorities, np.inf)
        for level in range(self._depth - 1, -1, -1):
            nodes = np.arange(1 << level, 2 << level)
            self._sum[nodes] = self._sum[2 * nodes] + self._sum[2 * nodes + 1]
            self._min[nodes] = np.minimum(self._min[2 * nodes], self._min[2 * nodes + 1])
