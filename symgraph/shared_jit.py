"""``SharedJit``: ``jax.jit`` whose executables are shared by identical programs of one process.

The learners of a benchmark or a sweep (several seeds, the same architecture and hyperparameters) trace the
same update program, each through its own ``jax.jit``, which compiles each one again (seconds for a large
update). ``SharedJit`` lowers the program (a fraction of that) and looks the compiled executable up by the
digest of the lowered text and of the tree structures of its arguments and results; the executable is
compiled once per process.

The process-wide cache is bounded: it keeps the :data:`DEFAULT_CACHE_SIZE` most recently looked-up
programs (``SYMGRAPH_CACHE_SIZE`` in the environment, or :func:`set_cache_size`, changes the bound), so a
process that builds learner after learner with other programs (a sweep over architectures) does not keep
every executable it ever compiled. A live function keeps the executables it runs whatever the bound; an
evicted program is compiled again only by a function that looks it up anew. :func:`clear_caches` empties
this cache and every other cache of compiled programs in the process.
"""

import hashlib
import os
import weakref

import jax
import numpy as np

from symgraph.graph import clear_eager_functions

__all__ = ["SharedJit", "DEFAULT_CACHE_SIZE", "set_cache_size", "clear_caches"]

#: How many compiled programs the process-wide cache keeps by default (a small learner's program takes
#: 3-4 MiB of memory; the seeds of one configuration need a handful).
DEFAULT_CACHE_SIZE = 64


def size_from_environment():
    """The cache bound set by ``SYMGRAPH_CACHE_SIZE`` (a non-negative int), or :data:`DEFAULT_CACHE_SIZE`."""
    text = os.environ.get("SYMGRAPH_CACHE_SIZE")
    if text is None:
        return DEFAULT_CACHE_SIZE
    if not text.strip().isdigit():
        raise ValueError(f"SYMGRAPH_CACHE_SIZE must be a non-negative int (the number of compiled programs "
                         f"shared in the process; 0 shares none), got {text!r}")
    return int(text)


#: Compiled executables of this process, by the digest of their lowered program and argument structure, the
#: least recently looked up first.
_EXECUTABLES = {}
_bound = size_from_environment()
#: Every live SharedJit, so that clear_caches() can make them forget their executables.
_INSTANCES = weakref.WeakSet()


def set_cache_size(size):
    """Keep at most ``size`` compiled programs in the process-wide cache (0: share none); returns the previous
    bound. Lowering it evicts the least recently used programs at once."""
    global _bound
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise (ValueError if isinstance(size, int) else TypeError)(
            f"set_cache_size: size must be a non-negative int (the number of compiled programs shared in the "
            f"process; 0 shares none), got {size!r}")
    previous, _bound = _bound, size
    _evict()
    return previous


def clear_caches():
    """Forget every compiled program of the process: the shared executables, those each live compiled function
    holds (it compiles again on its next call), the functions behind ``Tensor.get`` of the graphs in use,
    and JAX's own caches (``jax.clear_caches()``). Results are unchanged; only memory and compile time are."""
    _EXECUTABLES.clear()
    for instance in list(_INSTANCES):
        instance.forget()
    clear_eager_functions()
    jax.clear_caches()


def _evict():
    while len(_EXECUTABLES) > _bound:
        del _EXECUTABLES[next(iter(_EXECUTABLES))]


def _shared_executable(digest, lowered):
    """The executable of ``digest`` from the cache (now its most recently used), or ``lowered`` compiled."""
    executable = _EXECUTABLES.pop(digest, None)
    if executable is None:
        executable = lowered.compile()
    if _bound:
        _EXECUTABLES[digest] = executable
        _evict()
    return executable


class SharedJit:
    """``jax.jit(fn)`` with executables shared between instances whose lowered programs are identical.

    A call runs the executable of the previous call directly (jit's own C++ path checks the arguments'
    structure, shapes, dtypes and placement, and refuses other ones); only a new argument signature goes
    through the lookup (tree structure, shapes and dtypes, as ``jax.jit`` keys its cache, and where the
    program runs: the devices of the arguments committed to one, and JAX's default device, which the lowered
    text does not name)."""

    def __init__(self, fn):
        self.jitted = jax.jit(fn)
        self._by_signature = {}
        self._last = self._last_default = None
        _INSTANCES.add(self)

    def __call__(self, *args):
        config = jax.config
        if config.jax_disable_jit:  # debugging op by op (jax.disable_jit()): no executable at all
            return self.jitted(*args)
        if self._last is not None and config.jax_default_device is self._last_default:
            try:
                return self._last(*args)
            except (TypeError, ValueError):  # not the previous signature: look it up below
                pass
        leaves, tree = jax.tree_util.tree_flatten(args)
        placement = (config.jax_default_device,
                     tuple(x.sharding if getattr(x, "committed", False) else None for x in leaves))
        signature = (tree, tuple((np.shape(x), getattr(x, "dtype", type(x))) for x in leaves), placement)
        executable = self._by_signature.get(signature)
        if executable is None:
            lowered = self.jitted.lower(*args)
            digest = hashlib.sha256(f"{tree}\n{placement}\n{lowered.out_tree}\n{lowered.as_text()}".encode()
                                    ).hexdigest()
            executable = self._by_signature[signature] = _shared_executable(digest, lowered)
        self._last, self._last_default = executable, placement[0]
        return executable(*args)

    def cache_size(self):
        """The number of argument signatures this function was called with (since the last clear)."""
        return len(self._by_signature)

    def forget(self):
        """Drop the executables this function holds: the next call looks its program up (or compiles it)."""
        self._by_signature.clear()
        self._last = self._last_default = None
