"""``clone()``: copy a sub-graph with some nodes replaced (Theano's givens)."""

from symgraph.interpreter import topological_order
from symgraph.nodes import Tensor, apply, as_tensor


def clone(outputs, replace):
    """The nodes of ``outputs`` rebuilt with each key of ``replace`` swapped for its value.

    Args:
        outputs: a node, or a list/tuple/dict of nodes (the same form is returned).
        replace: ``{old_node: new_node_or_value}``; shapes are re-inferred, so replacing a (None, 3) input with
            a (5, 3) one is allowed and errors appear at once.

    Unchanged parts of the graph are shared, not copied. Gradient nodes are rebuilt by differentiating the
    cloned cost. A control-flow body keeps its own inner nodes: replace the outer nodes it reads instead.
    """
    mapping = {old: as_tensor(new) for old, new in replace.items()}
    for old in mapping:
        if not isinstance(old, Tensor):
            raise TypeError(f"clone: replace keys must be graph nodes, got {old!r}")

    def rebuilt(node):
        if node in mapping:
            return mapping[node]
        order, _ = topological_order([node], is_given=lambda n: n in mapping or n.is_leaf)
        for original in order:
            if original in mapping:
                continue
            if original.rebuild is not None:
                mapping[original] = original.rebuild(rebuilt)
                continue
            inputs = [mapping.get(parent, parent) for parent in original.inputs]
            if all(a is b for a, b in zip(inputs, original.inputs)):
                mapping[original] = original
            else:
                mapping[original] = apply(original.fn, inputs, original.params, name=original.name.split("/")[-1])
        return mapping.get(node, node)

    if isinstance(outputs, dict):
        return {k: rebuilt(v) for k, v in outputs.items()}
    if isinstance(outputs, list | tuple):
        return type(outputs)(rebuilt(o) for o in outputs)
    return rebuilt(outputs)
