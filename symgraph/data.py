"""Minibatches of in-memory arrays, as SymJAX's ``symjax.data.utils.batchify``.

``batchify(X, y, batch_size=32, option="random_see_all", seed=0)`` iterates once over the data (one epoch)
and yields, per minibatch, the matching rows of every array: ``for x_batch, y_batch in batchify(...)``
feeds a compiled function directly. The arrays stay on the host (numpy, or any array indexable by an
integer index array along its first axis); nothing is copied beyond the batch itself.
"""

import numbers

import numpy as np

__all__ = ["BATCH_OPTIONS", "batchify"]

BATCH_OPTIONS = ("continuous", "random", "random_see_all")
"""The orders :func:`batchify` knows (its ``option=``)."""


def _check_arrays(arrays):
    if not arrays:
        raise TypeError("batchify: give at least one array, e.g. batchify(X, y, batch_size=32)")
    arrays = [a if hasattr(a, "shape") and hasattr(a, "__getitem__") else np.asarray(a) for a in arrays]
    for i, a in enumerate(arrays):
        if len(a.shape) == 0:
            raise ValueError(f"batchify: array {i} is a scalar; each array needs a first (sample) axis")
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"batchify: the arrays must have the same length along their first axis (one row "
                         f"per sample), got lengths {lengths}")
    return arrays, lengths[0]


def batchify(*arrays, batch_size, option="continuous", seed=None, drop_last=True):
    """An iterator over the minibatches of ``arrays`` (one epoch).

    Each item is the tuple ``(a[idx] for a in arrays)`` of the rows ``idx`` of the batch, or the batch of
    the one array when a single array is given.

    Args:
        *arrays: arrays of the same length ``N`` along their first axis.
        batch_size: rows per batch (an int >= 1).
        option: the order of the rows:

            - ``"continuous"`` (SymJAX's default): rows ``0..b-1``, then ``b..2b-1``... in order;
            - ``"random_see_all"``: the same after one random permutation of the rows, so each row appears
              exactly once per epoch (the usual shuffled epoch);
            - ``"random"``: ``N // batch_size`` batches, each of ``batch_size`` distinct rows drawn
              independently of the other batches (a row may appear in several batches, or in none).
        seed: an int makes the random orders reproducible; None draws fresh entropy. Not used by
            ``"continuous"``.
        drop_last: True (the default, as in SymJAX) skips the last, smaller batch when ``batch_size`` does not
            divide ``N``; False yields it. ``"random"`` always yields full batches and takes only True.

    Raises:
        ValueError: on an unknown ``option``, a ``batch_size`` above ``N`` (no full batch, so nothing would
            be yielded; pass ``drop_last=False`` for one short batch in an ordered option), arrays of
            different lengths, or ``drop_last=False`` with ``option="random"``.
    """
    arrays, n = _check_arrays(arrays)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batchify: batch_size must be an int >= 1, got {batch_size!r}")
    if option not in BATCH_OPTIONS:
        raise ValueError(f"batchify: option must be one of {BATCH_OPTIONS}, got {option!r}")
    if not isinstance(drop_last, bool):
        raise TypeError(f"batchify: drop_last must be a bool, got {drop_last!r}")
    if option == "random" and not drop_last:
        raise ValueError("batchify: option='random' draws full batches only, so drop_last must be True; for a "
                         "shuffled epoch that yields every row, including a last short batch, use "
                         "option='random_see_all', drop_last=False")
    if batch_size > n and (drop_last or option == "random"):
        raise ValueError(f"batchify: batch_size={batch_size} is larger than the {n} rows, so no full batch "
                         "exists; lower batch_size, or pass drop_last=False for one short batch")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"batchify: seed must be an int or None, got {seed!r}")
    return _batches(arrays, n, int(batch_size), option, np.random.default_rng(seed), drop_last)


def _batches(arrays, n, batch_size, option, rng, drop_last):
    if option == "random":
        indices = [rng.choice(n, batch_size, replace=False) for _ in range(n // batch_size)]
    else:
        order = np.arange(n) if option == "continuous" else rng.permutation(n)
        stop = n - n % batch_size if drop_last else n
        indices = [order[start:start + batch_size] for start in range(0, stop, batch_size)]
    for idx in indices:
        batch = tuple(a[idx] for a in arrays)
        yield batch[0] if len(batch) == 1 else batch
