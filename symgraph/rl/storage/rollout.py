"""Rollout storage reads: the last rows of a ring in time order, time-major, as on-policy learners want them
(one compiled update over ``(T, n_envs, ...)`` arrays)."""

__all__ = ["time_major"]


def time_major(ring, fields, length=None, owner="rollout"):
    """The last ``length`` rows (default: every stored row) of ``ring``, oldest first: ``{field: array of
    shape (T, n_envs, *item_shape)}`` (copies) for each of ``fields``.

    Raises:
        ValueError: ``length`` is more than the stored rows.
    """
    order = ring.order()
    if length is not None:
        if not 0 <= length <= len(order):
            raise ValueError(f"{owner}: asked for the last {length} rows but the buffer holds {len(order)} (of "
                             f"{ring.n_envs} environments each); ask for at most {len(order)}")
        order = order[len(order) - length:]
    return {k: ring.data[k][order] for k in fields}
