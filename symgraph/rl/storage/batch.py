"""The minibatch a storage's ``sample`` returns: arrays by field name that also unpack in a fixed order."""

import jax

__all__ = ["Batch", "FIRST_FIELDS", "ordered"]

#: The fields a batch lists first, in this order (those stored), before any other field.
FIRST_FIELDS = ("state", "action", "reward", "next-state", "terminal")


class Batch:
    """A sampled minibatch ``{field: array}`` that indexes like a dict and unpacks like a tuple.

    ``batch["state"]``, ``batch["indices"]``, ``"weights" in batch``, ``batch.keys()``, ``.values()``,
    ``.items()``, ``.get()``, ``dict(batch)`` and ``{**batch}`` work as on a dict. Iterating (and so unpacking)
    yields the **arrays**, in the order of :meth:`keys`: for a sample of every field, ``"state"``,
    ``"action"``, ``"reward"``, ``"next-state"``, ``"terminal"`` (those stored), then the other stored fields
    in the order of the first push, then the fields computed by ``finish_path``, and last ``"indices"`` and
    ``"weights"`` of a prioritised draw; for a sample of given ``keys``, their order. So a buffer of SymJAX's
    five fields unpacks as::

        s, a, r, s2, t = buffer.sample(64)

    A batch is a JAX pytree (its arrays are the leaves), so it passes through ``jax.jit`` and ``jax.tree``.
    """

    __slots__ = ("_arrays",)

    def __init__(self, arrays):
        self._arrays = dict(arrays)

    def __getitem__(self, field):
        return self._arrays[field]

    def __setitem__(self, field, value):
        self._arrays[field] = value

    def __contains__(self, field):
        return field in self._arrays

    def __len__(self):
        return len(self._arrays)

    def __iter__(self):
        """The arrays, in the order of :meth:`keys` (so ``s, a, r, s2, t = batch`` binds arrays)."""
        return iter(self._arrays.values())

    def keys(self):
        """The field names, in order."""
        return self._arrays.keys()

    def values(self):
        """The arrays, in the order of :meth:`keys`."""
        return self._arrays.values()

    def items(self):
        """``(field, array)`` pairs, in order."""
        return self._arrays.items()

    def get(self, field, default=None):
        """The array of ``field``, or ``default``."""
        return self._arrays.get(field, default)

    def __repr__(self):
        shapes = ", ".join(f"{k!r}: {getattr(v, 'shape', '?')}" for k, v in self._arrays.items())
        return f"Batch({{{shapes}}})"


def ordered(fields):
    """``fields`` (names, in push order) in the order of a batch of every field (:class:`Batch`)."""
    first = [f for f in FIRST_FIELDS if f in fields]
    return first + [f for f in fields if f not in first]


jax.tree_util.register_pytree_node(Batch, lambda b: (tuple(b.values()), tuple(b.keys())),
                                   lambda keys, leaves: Batch(zip(keys, leaves, strict=True)))
