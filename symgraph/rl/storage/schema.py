"""The schema of a host storage: the fields, item shapes and dtypes that the first push after a clear fixes,
and the number of environments it implies."""

import numpy as np

from symgraph.errors import format_shape
from symgraph.rl.storage.paths import COMPUTED_FIELDS

__all__ = ["SCALAR_FIELDS", "first_push"]

#: Fields of one number per step and environment (an item shape of ``(1,)`` is stored as ``()``).
SCALAR_FIELDS = ("reward", "terminal", "truncated", "V")


def first_push(transition, n_envs, owner):
    """``(spec, n_envs, batched)`` fixed by the first push ``transition`` (a dict of fields): ``spec`` is
    ``{field: (item_shape, dtype)}`` in push order; ``n_envs`` is the given number of environments, or when
    ``None`` the one inferred from the ``"reward"`` (shape ``(E,)``: ``E`` environments, a scalar: one);
    ``batched`` says whether the values carry a leading environment axis.

    Raises:
        KeyError: a field computed by ``finish_path`` was pushed.
        ValueError: a reward that is not a number or of a bad shape, or fields whose leading axes disagree.
    """
    def fail(message, error=ValueError):
        raise error(f"{owner}: {message}")

    bad = [k for k in transition if k in COMPUTED_FIELDS]
    if bad:
        fail(f"field {bad[0]!r} is computed by finish_path() and cannot be pushed; push the "
             f"rewards (and 'V' for advantages) and call buffer.finish_path(last_val) at the end "
             f"of each path", KeyError)
    if "reward" in transition:
        reward = np.asarray(transition["reward"])
        if reward.dtype.kind not in "biuf":
            fail(f"'reward' must be a number (or one number per environment), got dtype "
                 f"{reward.dtype}")
        if reward.ndim > 1:
            fail(f"'reward' must be a scalar (one environment) or of shape (n_envs,) (a vector "
                 f"environment), got shape {format_shape(reward.shape)}; squeeze it")
        # A (1,) reward is a vector environment of one only if every field has that leading axis.
        batched = reward.ndim == 1 and (reward.shape[0] > 1 or all(
            np.ndim(v) >= 1 and np.shape(v)[0] == 1 for v in transition.values()))
        inferred = reward.shape[0] if batched else 1
        if n_envs is None:
            n_envs = inferred
        elif batched and inferred != n_envs:
            fail(f"'reward' has shape {format_shape(reward.shape)} but the buffer was built for "
                 f"n_envs={n_envs} environments; push ({n_envs},) rewards or build "
                 f"Buffer(..., n_envs={inferred})")
    else:
        if n_envs is None:
            n_envs = 1
        batched = n_envs > 1
    n = n_envs
    spec = {}
    for key, value in transition.items():
        arr = np.asarray(value)
        if batched:
            if arr.ndim == 0 or arr.shape[0] != n:
                fail(f"field {key!r} has shape {format_shape(arr.shape)}, but a push for {n} "
                     f"environments needs a leading axis of {n} (one entry per environment)")
            shape = arr.shape[1:]
        else:
            shape = arr.shape
        if key in SCALAR_FIELDS and shape not in ((), (1,)):
            fail(f"field {key!r} must hold one number per step{' and environment' if n > 1 else ''}"
                 f", got item shape {format_shape(shape)}; push a scalar per environment")
        if key in SCALAR_FIELDS and shape == (1,):
            shape = ()
        spec[key] = (shape, arr.dtype)
    return spec, n_envs, batched
