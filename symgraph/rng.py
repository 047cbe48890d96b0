"""PRNG keys from integer seeds, without the pitfalls of small or truncated seeds.

``jax.random.PRNGKey(seed)`` silently keeps only the low 32 bits of a seed when 64-bit mode is off, so
``2**32`` and ``0`` give the same stream. Here a seed is any integer in ``[0, 2**64)`` and both of its
32-bit halves go into the (threefry, ``uint32[2]``) key. Fresh seeds come from the OS entropy pool (64 bits),
never from a single byte.
"""

import secrets
import zlib

import jax
import numpy as np

SEED_LIMIT = 2**64


def fresh_seed():
    """A new 64-bit seed drawn from the operating system's entropy pool."""
    return secrets.randbits(64)


def key_from_seed(seed, argument="seed"):
    """The ``uint32[2]`` PRNG key for an integer seed in ``[0, 2**64)`` (``None``: a fresh random seed)."""
    if seed is None:
        seed = fresh_seed()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"{argument} must be an int in [0, 2**64) or None, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{argument} must be in [0, 2**64), got {seed}; pass a non-negative integer")
    return jax.numpy.asarray(np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32))


def name_salt(name):
    """A stable 31-bit integer derived from a name, to fold a name into a key (same name, same salt)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def fold_name(key, name):
    """``key`` folded with the stable salt of ``name``: one independent stream per name."""
    return jax.random.fold_in(key, name_salt(name))
