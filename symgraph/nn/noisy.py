r"""Noisy linear layers for exploration (NoisyNet; Fortunato et al. 2018, "Noisy Networks for Exploration",
ICLR 2018), with factorised Gaussian noise.

A :class:`NoisyDense` layer of ``p`` inputs and ``q`` outputs learns a mean and a scale for every weight and
bias and perturbs them with fresh noise at each call of the compiled function:

.. math::

    y = (\mu^w + \sigma^w \odot \varepsilon^w)\, x + \mu^b + \sigma^b \odot \varepsilon^b,
    \qquad \varepsilon^w_{ij} = f(\varepsilon_i) f(\varepsilon_j), \quad \varepsilon^b_j = f(\varepsilon_j),
    \qquad f(x) = \operatorname{sgn}(x) \sqrt{|x|},

with :math:`\varepsilon_i` (``p`` of them) and :math:`\varepsilon_j` (``q``) independent standard normals
(the *factorised* noise of the paper's section 3.2: ``p + q`` draws instead of ``p q``). The product is
computed without forming the noisy weight matrix, as
:math:`\mu^w x + f(\varepsilon_j) \odot (\sigma^w (f(\varepsilon_i) \odot x))`. Initialisation (section 3.2):
:math:`\mu \sim \mathcal U[-1/\sqrt p, 1/\sqrt p]` and :math:`\sigma = \sigma_0 / \sqrt p`, with
:math:`\sigma_0 = 0.5`.

The noise comes from ``symgraph.tensor.random``: one draw per call of the compiled function (and per step
of a ``jax.lax.scan`` over its ``.pure`` view), the same draw for every row of the batch, reproducible with
``function(seed=...)``. Clones of a network (``Critic.apply``, ``copy``) share the draw of the original
within one call; :func:`resample_noise` gives a clone its own draw (e.g. a target network, as in the paper),
and :func:`without_noise` gives the noise-free network :math:`\mu^w x + \mu^b` (greedy evaluation).

:class:`NoisyDense` has the signature of :class:`symgraph.nn.Dense` (``units, activation, init=...,
name=...``), so it can be passed as ``dense=`` to the ready-made networks of :mod:`symgraph.rl.networks`.
"""

import math

import jax
import jax.numpy as jnp

import symgraph.tensor as T
from symgraph.clone import clone
from symgraph.interpreter import topological_order
from symgraph.nn import activations
from symgraph.nn.layers.base import Layer, float_dtype, positive_int
from symgraph.nodes import Tensor, apply

__all__ = ["NoisyDense", "noise_nodes", "without_noise", "resample_noise"]


def _factorised(eps):
    """The paper's ``f(x) = sgn(x) sqrt(|x|)``; its output marks a NoisyNet noise node."""
    return jnp.sign(eps) * jnp.sqrt(jnp.abs(eps))


def _noise(size, dtype):
    """A node of ``size`` factorised standard-normal draws (one new draw per compiled call)."""
    return apply(_factorised, (T.random.normal((size,), dtype=dtype),), name="noise")


def _fortunato_uniform(fan_in):
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype="float32"):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _constant(value):
    def init(key, shape, dtype="float32"):
        return jnp.full(shape, value, dtype)

    return init


def _noisy_linear(x, mu_w, sigma_w, eps_in, eps_out):
    return x @ mu_w + ((x * eps_in) @ sigma_w) * eps_out


class NoisyDense(Layer):
    """A fully connected layer with factorised Gaussian parameter noise (see the module docstring).

    Args:
        units: output size ``q``.
        activation: a name (see ``nn.activations``), a callable or None (identity).
        init: initializer of the weight means ``mu_w`` ``(p, q)``; default (None) the paper's
            ``U[-1/sqrt(p), 1/sqrt(p)]``.
        bias_init: initializer of the bias means ``mu_b``; default (None) the same uniform.
        sigma0: the noise scale's initial value is ``sigma0 / sqrt(p)`` (0.5 in the paper).
        use_bias: whether to add the (noisy) bias.
        in_features: the input size, to create the variables now (default: on the first call).
        dtype: dtype of the variables.
        name: scope name.

    Variables ``mu_w``, ``sigma_w`` (and ``mu_b``, ``sigma_b``), all trainable. Input ``(..., p)``, output
    ``(..., q)``.
    """

    def __init__(self, units, activation=None, init=None, bias_init=None, sigma0=0.5, use_bias=True,
                 in_features=None, dtype="float32", name="noisy_dense"):
        super().__init__(name)
        self.units = positive_int(units, "units", self)
        self.activation = activations.get(activation)
        self.init = None if init is None else self.initializer(init)
        self.bias_init = None if bias_init is None else self.initializer(bias_init, "bias_init")
        if isinstance(sigma0, bool) or not isinstance(sigma0, int | float) or not sigma0 >= 0:
            raise ValueError(f"{self}: sigma0 must be a number >= 0 (0.5 in Fortunato et al. 2018), got "
                             f"{sigma0!r}")
        self.sigma0 = float(sigma0)
        self.use_bias, self.dtype = bool(use_bias), dtype
        self.mu_w = self.sigma_w = self.mu_b = self.sigma_b = None
        if in_features is not None:
            self.ensure_built(positive_int(in_features, "in_features", self))

    def build(self, in_features):
        uniform = _fortunato_uniform(in_features)
        sigma = _constant(self.sigma0 / math.sqrt(in_features))
        self.mu_w = self.add_variable("mu_w", self.init or uniform, (in_features, self.units), dtype=self.dtype)
        self.sigma_w = self.add_variable("sigma_w", sigma, (in_features, self.units), dtype=self.dtype)
        if self.use_bias:
            self.mu_b = self.add_variable("mu_b", self.bias_init or uniform, (self.units,), dtype=self.dtype,
                                          argument="bias_init")
            self.sigma_b = self.add_variable("sigma_b", sigma, (self.units,), dtype=self.dtype)

    def __call__(self, x):
        x = self.input(x, min_rank=1, layout="(..., features)")
        p = self.features(x)
        self.ensure_built(p)
        with self.name_scope():
            dtype = float_dtype(x)
            if x.dtype != dtype:
                x = T.cast(x, dtype)
            eps_in, eps_out = _noise(p, dtype), _noise(self.units, dtype)
            y = apply(_noisy_linear, (x, self.mu_w, self.sigma_w, eps_in, eps_out), name="noisy_linear")
            if self.use_bias:
                y = y + self.mu_b + self.sigma_b * eps_out
            return self.activation(y)


def _flat(outputs):
    if isinstance(outputs, dict):
        return list(outputs.values())
    if isinstance(outputs, list | tuple):
        return list(outputs)
    return [outputs]


def noise_nodes(outputs):
    """The NoisyNet noise nodes (made by :class:`NoisyDense`) that ``outputs`` depend on, in graph order."""
    order, _ = topological_order([o for o in _flat(outputs) if isinstance(o, Tensor)])
    return [node for node in order if node.fn is _factorised]


def without_noise(outputs):
    """``outputs`` (a node, or a list/tuple/dict of nodes) rebuilt with every NoisyNet noise set to zero:
    the network of the means, :math:`\\mu^w x + \\mu^b`, over the same Variables."""
    nodes = noise_nodes(outputs)
    if not nodes:
        return outputs
    return clone(outputs, {n: T.zeros(n.shape, n.dtype) for n in nodes})


def resample_noise(outputs):
    """``outputs`` rebuilt with fresh NoisyNet noise nodes: the same network with a draw of its own,
    independent of the original's within a compiled call."""
    nodes = noise_nodes(outputs)
    if not nodes:
        return outputs
    graph = nodes[0].graph
    with graph:
        fresh = {n: _noise(n.shape[0], n.dtype) for n in nodes}
    return clone(outputs, fresh)
