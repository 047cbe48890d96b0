r"""The time-major ring of named fields that every host storage is built on.

Every field is one preallocated numpy array of shape ``(rows, n_envs, *item_shape)``. One row is one step:
of a single environment (``n_envs = 1``) or of each of the ``n_envs`` sub-environments of a vector
environment. An item (one transition) has the stable *slot* ``row * n_envs + env``. Rows are written in
order at the write position :attr:`Ring.next_row`; when the ring is full the oldest row is overwritten, so
the stored rows, oldest first, are ``next_row - rows_stored, ..., next_row - 1`` (modulo ``rows``).
"""

import math

import numpy as np

from symgraph.errors import ShapeError, format_shape

__all__ = ["Ring", "allocation_size"]

_DATA = "data/"


class Ring:
    """A ring of ``rows`` rows of ``n_envs`` items per field (module docstring).

    Args:
        rows: the number of rows.
        n_envs: the number of items per row (sub-environments).
        spec: ``{field: (item_shape, dtype)}``, in the order the fields are kept.

    Raises:
        MemoryError, ValueError: numpy cannot allocate the arrays.
    """

    def __init__(self, rows, n_envs, spec):
        self.rows = int(rows)
        self.n_envs = int(n_envs)
        #: ``{field: array of shape (rows, n_envs, *item_shape)}``, in the order of ``spec``.
        self.data = {k: np.zeros((self.rows, self.n_envs) + tuple(shape), dtype) for k, (shape, dtype) in spec.items()}
        self.clear()

    def matches(self, rows, n_envs, spec):
        """Whether the ring has ``rows`` rows of ``n_envs`` items and the fields of ``spec`` first, in order,
        with the same item shapes and dtypes (so it can be reused)."""
        return (self.rows == rows and self.n_envs == n_envs and list(self.data)[:len(spec)] == list(spec)
                and all((a.shape[2:], a.dtype) == (tuple(spec[k][0]), np.dtype(spec[k][1]))
                        for k, a in zip(spec, self.data.values(), strict=False)))

    def clear(self):
        """Forget every stored row (the arrays are kept)."""
        #: The next row to write.
        self.next_row = 0
        #: The number of rows holding steps (at most :attr:`rows`).
        self.rows_stored = 0
        #: The number of rows written since :meth:`clear` (the step counter of messages).
        self.steps = 0

    def __len__(self):
        """The number of stored items, ``rows_stored * n_envs``."""
        return self.rows_stored * self.n_envs

    @property
    def capacity(self):
        """The most items held: ``rows * n_envs``."""
        return self.rows * self.n_envs

    @property
    def newest_row(self):
        """The row written last (meaningful once a row is stored)."""
        return (self.next_row - 1) % self.rows

    def advance(self):
        """Move the write position past the row just written at :attr:`next_row`."""
        self.next_row = (self.next_row + 1) % self.rows
        self.rows_stored = min(self.rows_stored + 1, self.rows)
        self.steps += 1

    def order(self):
        """The stored rows, oldest first."""
        return (self.next_row - self.rows_stored + np.arange(self.rows_stored)) % self.rows

    def latest(self, length):
        """The last ``length`` rows written (the newest last), wrapping around the ring (``length`` may exceed
        the stored rows: the rows before the oldest are then empty or overwritten ones)."""
        return (self.next_row - length + np.arange(length)) % self.rows

    def add_field(self, name, fill, dtype):
        """Add a field of scalar items filled with ``fill`` (used for the fields computed from the others)."""
        self.data[name] = np.full((self.rows, self.n_envs), fill, dtype=dtype)

    def gather(self, slots, fields):
        """``{field: items at slots}`` for int ``slots`` (any shape) of the ring, stored or not."""
        rows, envs = np.divmod(np.asarray(slots), self.n_envs)
        return {f: self.data[f][rows, envs] for f in fields}

    def items(self, field):
        """Field ``field``, one entry per stored item, oldest first: shape ``(len(ring), *item_shape)``, a view
        while the stored rows are contiguous and a copy otherwise."""
        data = self.data[field]
        start = (self.next_row - self.rows_stored) % self.rows if self.rows_stored else 0
        if start + self.rows_stored <= self.rows:
            out = data[start:start + self.rows_stored]
        else:
            out = np.concatenate([data[start:], data[:self.next_row]])
        return out.reshape((-1,) + data.shape[2:])

    def state_dict(self):
        """``{"rows", "n_envs", "next_row", "rows_stored", "steps": int, "fields": [[name, item shape, dtype],
        ...], "data/<field>": array}``: everything :meth:`load_state_dict` needs."""
        state = {"rows": self.rows, "n_envs": self.n_envs, "next_row": self.next_row,
                 "rows_stored": self.rows_stored, "steps": self.steps,
                 "fields": [[k, list(a.shape[2:]), a.dtype.str] for k, a in self.data.items()]}
        state.update({_DATA + k: a for k, a in self.data.items()})
        return state

    @classmethod
    def from_state_dict(cls, state, owner):
        """A ring holding ``state`` (from :meth:`state_dict`), every entry checked: a missing entry, a wrong
        shape or dtype, or an inconsistent position raises an error naming it."""
        counts = {}
        for name in ("rows", "n_envs", "next_row", "rows_stored", "steps"):
            value = _entry(state, name, owner)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"{owner}: the state's {name!r} must be an int >= 0, got {value!r}")
            counts[name] = int(value)
        if counts["rows"] < 1 or counts["n_envs"] < 1 or counts["next_row"] >= counts["rows"] \
                or counts["rows_stored"] > counts["rows"]:
            raise ValueError(f"{owner}: the state's ring position is inconsistent ({counts}); pass a state "
                             f"that state_dict() returned")
        fields = _entry(state, "fields", owner)
        try:
            spec = {str(name): (tuple(int(d) for d in shape), np.dtype(dtype)) for name, shape, dtype in fields}
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: the state's 'fields' must list [name, item shape, dtype] triples, got "
                             f"{str(fields)[:200]}") from None
        ring = cls.__new__(cls)
        ring.rows, ring.n_envs = counts["rows"], counts["n_envs"]
        ring.data = {}
        for name, (shape, dtype) in spec.items():
            array = np.asarray(_entry(state, _DATA + name, owner))
            expected = (ring.rows, ring.n_envs) + shape
            if array.shape != expected:
                raise ShapeError(f"{owner}: the state's {_DATA + name!r} has shape {format_shape(array.shape)}, "
                                 f"expected {format_shape(expected)} (rows x n_envs x item shape)")
            if array.dtype != dtype:
                raise TypeError(f"{owner}: the state's {_DATA + name!r} is {array.dtype}, expected {dtype}")
            ring.data[name] = array.copy()
        unknown = [k for k in state if k.startswith(_DATA) and k[len(_DATA):] not in spec]
        if unknown:
            raise KeyError(f"{owner}: the state holds {unknown[0]!r}, a field its 'fields' do not list")
        ring.next_row, ring.rows_stored, ring.steps = counts["next_row"], counts["rows_stored"], counts["steps"]
        return ring


def _entry(state, name, owner):
    try:
        return state[name]
    except KeyError:
        raise KeyError(f"{owner}: the state has no entry {name!r}; pass a state that state_dict() returned "
                       f"(it holds {sorted(state)[:12]})") from None


def allocation_size(rows, n_envs, spec):
    """The bytes a ring of ``rows`` x ``n_envs`` items of the fields of ``spec`` takes."""
    items = rows * n_envs
    return sum(items * math.prod(shape) * np.dtype(dtype).itemsize for shape, dtype in spec.values())
