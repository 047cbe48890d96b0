"""``gradients()`` and ``jacobians()``: derivative nodes computed by JAX autodiff over the sub-graph.

A gradient node takes as inputs the nodes differentiated against and the leaves the cost depends on; its JAX
function re-runs the cost's sub-graph (the interpreter) as a function of the ``wrt`` values and hands it to
``jax.grad``. We write no derivative rules. Inside one jitted program XLA shares the forward computations
the cost and its gradient have in common. Gradients of gradients work, since the interpreter runs gradient
nodes like any other.

Disconnected inputs: asking for the gradient with respect to a node the cost does not depend on is usually a
bug (a wrong variable list), so it raises by default; ``disconnected="zero"`` returns zeros instead, as
``jax.grad`` would.
"""

import jax
import jax.numpy as jnp
import numpy as np

from symgraph.errors import GradientError, describe
from symgraph.interpreter import evaluate, topological_order
from symgraph.nodes import Tensor, apply, item


def _as_list(wrt, what):
    single = isinstance(wrt, Tensor)
    nodes = [wrt] if single else list(wrt)
    for node in nodes:
        if not isinstance(node, Tensor):
            raise GradientError(f"{what}: wrt must hold graph nodes (Variables, Placeholders or tensors), got "
                                f"{describe(node)}")
        if not jnp.issubdtype(node.dtype, jnp.inexact):
            raise GradientError(f"{what}: cannot differentiate with respect to {describe(node)}: it is not a "
                                "float tensor; cast it to float32 before using it")
    if len(set(nodes)) != len(nodes):
        raise GradientError(f"{what}: wrt lists a node twice; list each once")
    return nodes, single


def _subgraph(target, wrt, disconnected, what):
    """Interpreter order and given nodes of ``target`` with ``wrt`` treated as inputs."""
    wrt_set = set(wrt)
    order, given = topological_order([target], is_given=lambda n: n.is_leaf or n in wrt_set)
    reached = set(given)
    cut = [w for w in wrt if w not in reached]
    if cut and disconnected == "raise":
        raise GradientError(
            f"{what}: {describe(target)} does not depend on {describe(cut[0])}; remove it from wrt, or pass "
            "disconnected='zero' to get zeros for it")
    others = [n for n in given if n not in wrt_set]
    return order, others, [w for w in wrt if w in reached]


def _derivative_node(transform, target, wrt, disconnected, what):
    """One node computing ``transform(f)(*wrt_values)`` where f maps the wrt values to ``target``'s value."""
    if disconnected not in ("raise", "zero"):
        raise ValueError(f"disconnected must be 'raise' or 'zero', got {disconnected!r}")
    order, others, connected = _subgraph(target, wrt, disconnected, what)
    if not connected:
        return None, connected

    def derivative(*values, transform):
        wrt_values, other_values = values[:len(connected)], values[len(connected):]

        def as_function(*point):
            env = dict(zip(others, other_values))
            env.update(zip(connected, point))
            return evaluate(order, env)[target]

        return tuple(transform(as_function, argnums=tuple(range(len(connected))))(*wrt_values))

    node = apply(derivative, (*connected, *others), {"transform": transform}, name=what)

    def rebuild(clone):
        new_target, new_wrt = clone(target), [clone(w) for w in wrt]
        if new_target is target and all(a is b for a, b in zip(new_wrt, wrt)):
            return node
        return _derivative_node(transform, new_target, new_wrt, disconnected, what)[0]

    node.rebuild = rebuild
    return node, connected


def _assemble(node, connected, wrt, single, zero_like):
    from symgraph.tensor import zeros_like

    index = {w: i for i, w in enumerate(connected)}
    results = [item(node, index[w]) if w in index else zero_like(w, zeros_like) for w in wrt]
    return results[0] if single else results


def gradients(cost, wrt, disconnected="raise"):
    """Gradient nodes of a scalar float ``cost`` with respect to ``wrt``.

    Args:
        cost: a scalar float node.
        wrt: one node (returns one gradient) or a list of nodes (returns a list), each a Variable,
            Placeholder or intermediate tensor; for an intermediate node, other paths from its inputs to the
            cost are held fixed.
        disconnected: ``"raise"`` (default) or ``"zero"`` for wrt nodes the cost does not depend on.
    """
    if not isinstance(cost, Tensor) or cost.ndim != 0 or not jnp.issubdtype(cost.dtype, jnp.inexact):
        raise GradientError(f"gradients: the cost must be a scalar float tensor, got {describe(cost)}; reduce "
                            "it first (e.g. T.mean or T.sum), or use jacobians() for a non-scalar output")
    wrt, single = _as_list(wrt, "gradients")
    node, connected = _derivative_node(jax.grad, cost, wrt, disconnected, "gradients")
    return _assemble(node, connected, wrt, single, lambda w, zeros_like: zeros_like(w))


def jacobians(tensor, wrt, disconnected="raise"):
    """Jacobian nodes of ``tensor`` w.r.t. ``wrt``: each of shape ``tensor.shape + w.shape`` (reverse mode)."""
    if not isinstance(tensor, Tensor) or not jnp.issubdtype(tensor.dtype, jnp.inexact):
        raise GradientError(f"jacobians: the tensor must be a float tensor, got {describe(tensor)}")
    wrt, single = _as_list(wrt, "jacobians")
    node, connected = _derivative_node(jax.jacrev, tensor, wrt, disconnected, "jacobians")

    def zero_jacobian(w, zeros_like):
        from symgraph.tensor import zeros

        if None in tensor.shape or None in w.shape:
            raise GradientError(f"jacobians: cannot build the zero jacobian of {describe(tensor)} w.r.t. "
                                f"{describe(w)} with unknown dimensions; use disconnected='raise'")
        return zeros(tensor.shape + w.shape, dtype=np.result_type(tensor.dtype, w.dtype))

    return _assemble(node, connected, wrt, single, zero_jacobian)
