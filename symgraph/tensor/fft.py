"""``T.fft``: ``jax.numpy.fft`` on nodes (discrete Fourier transforms and their frequencies), from the table
of ``symgraph.tensor.numpy_table``."""

import jax.numpy as jnp

from symgraph.tensor import numpy_table, renames, wrap

globals().update(wrap.build(jnp.fft, numpy_table.FFT, "jax.numpy.fft"))

__all__ = sorted(numpy_table.parse(numpy_table.FFT))
__getattr__ = renames.module_getattr("tensor.fft")
