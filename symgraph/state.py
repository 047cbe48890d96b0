"""Functional initial values of variables: N seeds give N parameter sets inside one compiled program."""

from symgraph import rng
from symgraph.nodes import Variable


def initial_state(variables, key):
    """Fresh initial values ``{name: array}`` of ``variables`` drawn with PRNG ``key``.

    A variable made from an initializer gets ``initializer(fold_in(key, salt(name)), shape, dtype)``: the same
    key and name always give the same value (creating a variable uses the key of the graph's seed, so
    ``initial_state(vs, key_from_seed(graph.seed))`` reproduces the creation values). A variable made from a
    concrete value gets that value. Pure JAX: works under ``jax.jit``, ``jax.lax.map`` and ``jax.vmap`` over
    keys (but prefer ``jax.lax.map`` for orthogonal initializers on the CPU: a vmapped QR has been seen to hang
    there, in jaxlib's batched QR kernel).
    """
    variables = list(variables.values()) if isinstance(variables, dict) else list(variables)
    for v in variables:
        if not isinstance(v, Variable):
            raise TypeError(f"initial_state takes Variables, got {v!r}")
    return {v.name: v._initial if v.initializer is None else
            v.initializer(rng.fold_name(key, v.name), v.aval.shape, v.aval.dtype) for v in variables}
