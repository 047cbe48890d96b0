"""The interpreter: run a sub-graph as JAX code, and trace Python functions of tensors into sub-graphs.

``evaluate`` is the whole interpreter: walk nodes in topological order and call each node's JAX function on
its inputs' values. Run under ``jax.jit``/``grad``/``vmap``/``scan`` tracing, it emits one JAX program; the
Python loop costs nothing at call time.

``Closure`` traces a Python function of symbolic tensors (a scan body, a cond branch...) into a sub-graph
with its own argument nodes and its own random key, so random ops inside a loop body draw fresh numbers at
every iteration. Nodes the body uses but did not create (outer tensors, variables, placeholders) are its
``free`` nodes: the enclosing op takes them as inputs, so dependency tracking and ``clone`` see them.
"""

import jax

from symgraph.errors import ShapeError, SymgraphError, format_shape
from symgraph.graph import get_graph, next_uid
from symgraph.nodes import Argument, RandomKey, Tensor, as_tensor


def topological_order(outputs, is_given=lambda node: node.is_leaf):
    """Nodes needed for ``outputs``, inputs first. Returns ``(order, given)``.

    ``given`` lists, in first-visit order, the nodes for which ``is_given`` holds: their values must be
    supplied, and their inputs are not visited. Every other node is in ``order``.
    """
    order, given, seen = [], [], set()
    stack = [(node, False) for node in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        if is_given(node):
            given.append(node)
            continue
        stack.append((node, True))
        stack.extend((parent, False) for parent in reversed(node.inputs) if parent not in seen)
    return order, given


def evaluate(order, env):
    """Compute every node of ``order`` into ``env`` (a dict node -> value already holding the given ones).

    A node that fails on the actual values (e.g. two ``None`` dimensions that turn out to differ) raises a
    ShapeError naming it and its inputs' actual shapes; this runs at trace time only, never per call.
    """
    for node in order:
        if node not in env:
            values = [env[parent] for parent in node.inputs]
            try:
                env[node] = node.compute(values)
            except SymgraphError:
                raise
            except (TypeError, ValueError, IndexError) as error:
                shapes = ", ".join(f"{p.name!r} {format_shape(getattr(v, 'shape', ()))}"
                                   for p, v in zip(node.inputs, values))
                raise ShapeError(f"{node.name}: failed on the call's values ({shapes or 'no inputs'}): "
                                 f"{str(error).splitlines()[0].rstrip('.')}. Sizes declared None must agree at call "
                                 "time.") from error
    return env


class Closure:
    """A Python function of tensors traced once into a sub-graph, callable on JAX values.

    Args:
        fn: called once with Argument nodes shaped like ``arg_avals`` (a pytree of ShapeDtypeStruct).
        arg_avals: the abstract values of the arguments (as a tuple: one entry per positional argument).

    After tracing: ``arguments`` (flat), ``outputs`` (flat nodes) with ``out_tree``, ``free`` nodes the body
    reads from outside, and ``key``, this body's own random key node when it draws random numbers (else None).
    """

    def __init__(self, fn, arg_avals):
        graph = get_graph()
        start = next_uid()
        flat_avals, arg_tree = jax.tree_util.tree_flatten(arg_avals)
        self.arguments = [Argument(jax.ShapeDtypeStruct(a.shape, a.dtype), "argument", graph) for a in flat_avals]
        key = RandomKey(graph)
        graph._key_nodes.append(key)
        try:
            result = fn(*jax.tree_util.tree_unflatten(arg_tree, self.arguments))
        finally:
            graph._key_nodes.pop()
        leaves, self.out_tree = jax.tree_util.tree_flatten(result, is_leaf=lambda v: isinstance(v, Tensor))
        self.outputs = [as_tensor(leaf, graph) for leaf in leaves]
        inner = set(self.arguments) | {key}
        self.order, given = topological_order(
            self.outputs, is_given=lambda node: node.uid < start or node.is_leaf or node in inner)
        self.free = [node for node in given if node not in inner]
        self.key = key if key in given else None

    def __call__(self, free_values, key_value, arg_values):
        env = dict(zip(self.free, free_values))
        env.update(zip(self.arguments, arg_values))
        if self.key is not None:
            env[self.key] = key_value
        evaluate(self.order, env)
        return [env[node] for node in self.outputs]

    def unflatten(self, values):
        return jax.tree_util.tree_unflatten(self.out_tree, values)

