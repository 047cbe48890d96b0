"""``SharedJit``: ``jax.jit`` whose executables are shared by identical programs of one process.

The learners of a benchmark or a sweep (several seeds, the same architecture and hyperparameters) trace the
same update program, each through its own ``jax.jit``, which compiles each one again (seconds for a large
update). ``SharedJit`` lowers the program (a fraction of that) and looks the compiled executable up by the
digest of the lowered text and of the tree structures of its arguments and results; the executable is
compiled once per process.
"""

import hashlib

import jax
import numpy as np

__all__ = ["SharedJit"]

#: Compiled executables of this process, by the digest of their lowered program and argument structure.
_EXECUTABLES = {}


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
            executable = _EXECUTABLES.get(digest)
            if executable is None:
                executable = _EXECUTABLES[digest] = lowered.compile()
            self._by_signature[signature] = executable
        self._last, self._last_default = executable, placement[0]
        return executable(*args)

    def cache_size(self):
        """The number of argument signatures this function was called with."""
        return len(self._by_signature)
