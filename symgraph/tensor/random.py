"""Random nodes. Each draws from the compiled function's per-call key folded with its own salt, so two random
nodes in one graph are independent, two calls draw different numbers, and a fixed ``function(seed=...)``
reproduces them. Inside a ``T.scan``/``T.while_loop`` body the key is folded with the iteration index too.

A node's salt is its index among the graph's random nodes, unless it is given ``seed=`` (an int in
``[0, 2**31)``): then its salt is its own, ``2**31 + seed``, and it takes no index, so adding a seeded node
does not change the numbers of the nodes built after it (and the same seed gives the same stream relative
to the function's key, whatever was built before).

``shape`` is a tuple of ints, or a node whose (call-time) shape is used, e.g. ``normal(shape=x)``. Besides
the functions written here, every distribution of ``jax.random`` is available under its own name and
signature without the key (``T.random.beta(a, b, shape=(3,))``), plus ``seed=``; ``randn``/``rand`` are
SymJAX's (numpy's) spellings of the standard normal and uniform draws.
"""

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from symgraph.graph import get_graph
from symgraph.nodes import Tensor, apply, canonical_dtype
from symgraph.tensor import renames, wrap

#: Seeds of ``seed=`` are in ``[0, SEED_LIMIT)``; their salts ``SEED_LIMIT + seed`` never meet an index salt.
SEED_LIMIT = 2**31


def _salt(graph, seed, name):
    """The salt of a new random node: its own for a given ``seed``, else the next index of ``graph``."""
    if seed is None:
        return graph.next_random_salt()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"T.random.{name}: seed must be an int in [0, 2**31) or None, got {seed!r}")
    return SEED_LIMIT + int(seed)


def _random(sampler, name, shape, operands=(), seed=None, **params):
    """Node ``sampler(key, shape, *operands, **params)`` with a fresh salt (or the salt of ``seed``)."""
    like = isinstance(shape, Tensor)
    graph = get_graph()
    args = (graph.random_key_node(), *((shape,) if like else ()), *operands)
    if not like:
        shape = None if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
        if shape is not None and any(d is None for d in shape):
            raise ValueError(f"T.random.{name}: shape {shape} has unknown (None) dimensions; pass shape=<a node "
                             "of the wanted shape> to take it at call time")
    return apply(_draw, args, {"sampler": sampler, "shape": shape, "like": like,
                               "salt": _salt(graph, seed, name), **params},
                 name=name)


def _draw(key, *operands, sampler, shape, like, salt, **params):
    key = jax.random.fold_in(key, salt)
    if like:
        shape, operands = operands[0].shape, operands[1:]
    return sampler(key, shape, *operands, **params)


def _normal(key, shape, mean, std, dtype):
    shape = jnp.broadcast_shapes(jnp.shape(mean), jnp.shape(std)) if shape is None else shape
    return mean + std * jax.random.normal(key, shape, dtype)


def _uniform(key, shape, low, high, dtype):
    shape = jnp.broadcast_shapes(jnp.shape(low), jnp.shape(high)) if shape is None else shape
    return jax.random.uniform(key, shape, dtype, low, high)


def _categorical(key, shape, logits, axis):
    return jax.random.categorical(key, logits, axis=axis, shape=shape)


def _bernoulli(key, shape, p):
    return jax.random.bernoulli(key, p, shape)


def _randint(key, shape, low, high, dtype):
    return jax.random.randint(key, shape, low, high, dtype)


def _permutation(key, shape, x, axis, independent):
    return jax.random.permutation(key, x, axis=axis, independent=independent)


def _gumbel(key, shape, dtype):
    return jax.random.gumbel(key, shape, dtype)


@renames.symjax_keywords("T.random.normal")
def normal(shape=None, mean=0.0, std=1.0, dtype="float32", seed=None):
    """Gaussian samples ``mean + std * N(0, 1)`` (shape: given, or that of mean/std broadcast)."""
    return _random(_normal, "normal", shape, (mean, std), seed, dtype=canonical_dtype(dtype))


@renames.symjax_keywords("T.random.uniform")
def uniform(shape=None, low=0.0, high=1.0, dtype="float32", seed=None):
    """Uniform samples in ``[low, high)``."""
    return _random(_uniform, "uniform", shape, (low, high), seed, dtype=canonical_dtype(dtype))


def categorical(logits, axis=-1, shape=None, seed=None):
    """Category indices sampled with probabilities ``softmax(logits)`` along ``axis``."""
    return _random(_categorical, "categorical", shape, (logits,), seed, axis=axis)


def bernoulli(p=0.5, shape=None, seed=None):
    """Booleans that are True with probability ``p``."""
    return _random(_bernoulli, "bernoulli", shape, (p,), seed)


@renames.symjax_keywords("T.random.randint")
def randint(shape, low, high, dtype="int32", seed=None):
    """Integers uniform in ``[low, high)``, drawn with ``shape`` (a tuple, or a node whose shape is used).

    SymJAX's and JAX's order is ``randint(shape, low, high)``; numpy's ``randint(low, high, size)`` is
    accepted when ``size`` is a tuple (``randint(0, 10, (10,))``). ``low < high`` is checked when both are
    numbers."""
    if not isinstance(shape, tuple | list | Tensor) and isinstance(high, tuple | list):
        shape, low, high = high, shape, low  # numpy's order: randint(low, high, size)
    if not isinstance(shape, tuple | list | Tensor):
        raise TypeError(f"T.random.randint: shape must be a tuple of ints (e.g. (10,)) or a node, got {shape!r}; "
                        "the order is randint(shape, low, high), or numpy's randint(low, high, size) with size a "
                        "tuple")
    if all(isinstance(v, int | float | np.integer | np.floating) for v in (low, high)) and not low < high:
        raise ValueError(f"T.random.randint: low must be below high (draws are in [low, high)), got low={low}, "
                         f"high={high}; the order is randint(shape, low, high)")
    return _random(_randint, "randint", shape, (low, high), seed, dtype=canonical_dtype(dtype))


def permutation(x, axis=0, independent=False, seed=None):
    """A random permutation of ``x`` along ``axis`` (an int ``x``: of ``arange(x)``); ``independent``
    permutes each slice along ``axis`` on its own."""
    if isinstance(x, int):
        x = jnp.arange(x)
    return _random(_permutation, "permutation", None, (x,), seed, axis=axis, independent=independent)


def shuffle(x, axis=0, seed=None):
    """SymJAX's ``shuffle``: ``x`` with its slices along ``axis`` in a random order (:func:`permutation`)."""
    return permutation(x, axis=axis, seed=seed)


def gumbel(shape=(), dtype="float32", seed=None):
    """Standard Gumbel samples."""
    return _random(_gumbel, "gumbel", shape, (), seed, dtype=canonical_dtype(dtype))


def _dims(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape


def randn(*shape, dtype="float32", seed=None):
    """Standard normal samples of ``shape``, numpy's and SymJAX's spelling: ``randn(3, 2)`` or
    ``randn((3, 2))``."""
    return normal(_dims(shape), dtype=dtype, seed=seed)


def rand(*shape, dtype="float32", seed=None):
    """Uniform samples in ``[0, 1)`` of ``shape``, numpy's spelling: ``rand(3, 2)`` or ``rand((3, 2))``."""
    return uniform(_dims(shape), dtype=dtype, seed=seed)


#: The ``jax.random`` distributions generated with their own signature (without the key, plus ``seed=``).
DISTRIBUTIONS = (
    "ball beta binomial bits cauchy chisquare choice dirichlet double_sided_maxwell exponential f gamma "
    "generalized_normal geometric laplace loggamma logistic lognormal maxwell multinomial multivariate_normal "
    "orthogonal pareto poisson rademacher rayleigh t triangular truncated_normal wald weibull_min").split()

#: ``jax.random`` names with no node of their own: keys are made and split by compiled functions.
KEY_FUNCTIONS = ("PRNGKey", "key", "split", "fold_in", "clone", "key_data", "key_dtype", "key_impl",
                 "wrap_key_data")


#: Stands for the key when a call is bound to the distribution's signature: it becomes operand 0, which the
#: node's key input replaces.
_KEY = np.zeros(2, np.uint32)


def _keyed(key, *values, fn, salt, args, kwargs):
    return wrap.call(jax.random.fold_in(key, salt), *values, fn=fn, args=args, kwargs=kwargs)


def _distribution(name):
    fn = getattr(jax.random, name)
    spec = wrap.Spec(fn, name, "static", arrays=lambda parameter: parameter not in ("key", "shape", "dtype"))

    def op(*args, seed=None, **kwargs):
        graph = get_graph()
        operands, pos, kw = spec.split((_KEY, *args), kwargs)
        operands[0] = graph.random_key_node()
        node = apply(_keyed, operands,
                     {"fn": fn, "salt": _salt(graph, seed, name), "args": pos, "kwargs": kw}, name=name)
        return wrap.outputs(node)

    signature = inspect.signature(fn)
    signature = signature.replace(parameters=[
        *[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()
          if p.name not in ("key", "out_sharding")],
        inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, default=None)],
        return_annotation=inspect.Signature.empty)
    spec.qualified = f"T.random.{name}"
    spec.shown = signature
    op.__name__ = op.__qualname__ = name
    op.__module__ = __name__
    op.__doc__ = (f"{wrap.summary(fn, f'jax.random.{name}')[:-1]} without the key, which the compiled function "
                  "supplies; ``seed=`` gives the node a stream of its own.")
    op.__signature__ = signature
    return op


globals().update({name: _distribution(name) for name in DISTRIBUTIONS})

__all__ = ["normal", "uniform", "categorical", "bernoulli", "randint", "permutation", "shuffle", "gumbel", "randn",
           "rand", *DISTRIBUTIONS]
__getattr__ = renames.module_getattr("tensor.random")
