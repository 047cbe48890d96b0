"""Neural-network nonlinearities and normalised exponentials on nodes (``jax.nn`` semantics)."""

import jax

from symgraph.nodes import _axis, apply


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x))."""
    return apply(jax.nn.sigmoid, (x,), name="sigmoid")


def relu(x):
    """max(x, 0)."""
    return apply(jax.nn.relu, (x,), name="relu")


def softplus(x):
    """log(1 + exp(x)), computed stably."""
    return apply(jax.nn.softplus, (x,), name="softplus")


def elu(x, alpha=1.0):
    """x if x > 0 else alpha (exp(x) - 1)."""
    return apply(jax.nn.elu, (x,), {"alpha": alpha}, name="elu")


def gelu(x, approximate=True):
    """Gaussian error linear unit (tanh approximation by default, as jax.nn.gelu)."""
    return apply(jax.nn.gelu, (x,), {"approximate": approximate}, name="gelu")


def silu(x):
    """x * sigmoid(x) (a.k.a. swish)."""
    return apply(jax.nn.silu, (x,), name="silu")


def leaky_relu(x, negative_slope=0.01):
    """x if x >= 0 else negative_slope * x."""
    return apply(jax.nn.leaky_relu, (x,), {"negative_slope": negative_slope}, name="leaky_relu")


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, computed stably."""
    return apply(jax.nn.softmax, (x,), {"axis": _axis(axis)}, name="softmax")


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``."""
    return apply(jax.nn.log_softmax, (x,), {"axis": _axis(axis)}, name="log_softmax")
