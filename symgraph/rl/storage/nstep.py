r"""The one n-step rule of the replays: the targets of sampled transitions, computed at sample time.

With ``n_step = n`` (Sutton 1988; Mnih et al. 2016; Hessel et al. 2018, "Rainbow") the chain from a sampled
step :math:`t` follows the **same sub-environment's next rows** of the ring until ``n`` steps, a termination
(no bootstrap), a truncation (bootstrap from the state reached) or the newest stored row, whichever comes
first (:math:`m \le n` steps):

.. math::

    G_t = \sum_{k=0}^{m-1} \gamma^k r_{t+k}, \qquad
    \text{discount}_t = \gamma^m (1 - \text{terminal}_{t+m-1}), \qquad
    \text{bootstrap from } s_{t+m},

so the target is :math:`G_t + \text{discount}_t \, V(s_{t+m})`. ``n = 1`` is the one-step target
:math:`r_t + \gamma (1 - \text{terminal}_t) V(s_{t+1})`. The newest stored row is found from the write
position: the row of the item at slot ``row * n_envs + env`` has age ``(row - oldest) mod rows`` (0 for the
oldest stored row), and the chain may go ``k`` rows on while ``age + k < rows_stored``.

:func:`n_step_targets` is written once against an array namespace, so the host replay (numpy,
:class:`symgraph.rl.buffer.Buffer`) and the device replay (``jax.numpy``, inside compiled loops,
:func:`symgraph.rl.fused.replay.n_step_targets`) compute the same numbers with the same float32 operations.
"""

__all__ = ["n_step_targets", "needed_fields"]


def needed_fields(n_step):
    """The stored fields the rule reads: ``"reward"``, ``"next-state"``, ``"terminal"``, and ``"truncated"``
    when ``n_step > 1``."""
    return ("reward", "next-state", "terminal") + (("truncated",) if n_step > 1 else ())


def n_step_targets(xp, gather, indices, *, rows, n_envs, next_row, rows_stored, gamma, n_step):
    """The (n-step) returns, discounts and bootstrap states of the items at ``indices`` (module docstring).

    Args:
        xp: the array namespace, ``numpy`` or ``jax.numpy``.
        gather: ``gather(slots, fields) -> {field: items}``, reading any slot of the ring.
        indices: int slots ``row * n_envs + env`` of the sampled items.
        rows, n_envs: the ring's size.
        next_row, rows_stored: the write position and the number of stored rows.
        gamma: the discount factor (a number, or a float32 scalar array).
        n_step: the most rewards summed (a static int >= 1).

    Returns:
        ``{"reward": G_t, "discount": gamma^m (1 - terminal), "next-state": s_{t+m}}``, float32 returns and
        discounts, in the shape of ``indices``.
    """
    fields = needed_fields(n_step)
    indices = xp.asarray(indices)
    first = gather(indices, fields)
    returns = first["reward"].astype(xp.float32).reshape(indices.shape)
    terminal = first["terminal"].astype(bool).reshape(indices.shape)
    next_states = first["next-state"]
    steps = xp.ones(indices.shape, xp.int32)
    if n_step > 1:
        row, env = xp.divmod(indices, n_envs)
        oldest = (next_row - rows_stored) % rows
        age = (row - oldest) % rows
        alive = ~(terminal | first["truncated"].astype(bool).reshape(indices.shape))
        for k in range(1, n_step):
            alive = alive & (age + k < rows_stored)
            step = gather(((row + k) % rows) * n_envs + env, fields)
            weight = xp.float32(gamma ** k)
            returns = returns + xp.where(alive, weight * step["reward"].astype(xp.float32).reshape(indices.shape),
                                         xp.float32(0.0))
            done = step["terminal"].astype(bool).reshape(indices.shape)
            terminal = xp.where(alive, done, terminal)
            mask = alive.reshape(alive.shape + (1,) * (next_states.ndim - alive.ndim))
            next_states = xp.where(mask, step["next-state"], next_states)
            steps = xp.where(alive, k + 1, steps)
            alive = alive & ~(done | step["truncated"].astype(bool).reshape(indices.shape))
    discount = xp.float32(gamma) ** steps.astype(xp.float32) * (xp.float32(1.0) - terminal.astype(xp.float32))
    return {"reward": returns, "discount": discount, "next-state": next_states}
