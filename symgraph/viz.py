"""Drawing a graph: nodes laid out by depth (inputs left, outputs right), labelled with op, shape and dtype."""

import networkx

from symgraph.errors import format_shape
from symgraph.interpreter import topological_order
from symgraph.nodes import Constant, Placeholder, RandomKey, Variable

_COLORS = {Placeholder: "#8ecae6", Variable: "#ffb703", Constant: "#dddddd", RandomKey: "#c77dff"}


def _label(node):
    name = node.name.rsplit("/", 1)[-1]
    if isinstance(node.aval, tuple):
        return f"{name}\n{len(node.aval)} outputs"
    return f"{name}\n{format_shape(node.shape)} {node.dtype}"


def to_networkx(outputs):
    """The sub-graph computing ``outputs`` as a ``networkx.DiGraph`` (node attributes: label, depth)."""
    outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    order, leaves = topological_order(outputs)
    graph = networkx.DiGraph()
    depth = {}
    for node in leaves + order:
        depth[node] = 1 + max((depth[p] for p in node.inputs), default=-1)
        graph.add_node(node, label=_label(node), depth=depth[node])
        graph.add_edges_from((parent, node) for parent in node.inputs)
    return graph


def draw(outputs, path=None, figsize=None):
    """Draw the sub-graph computing ``outputs``; save it to ``path`` (PNG, SVG, PDF...) if given.

    Returns the matplotlib figure. Colours: placeholders blue, variables orange, constants grey, random keys
    purple, operations white.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    graph = to_networkx(outputs)
    positions = networkx.multipartite_layout(graph, subset_key="depth")
    depth = max(networkx.get_node_attributes(graph, "depth").values()) + 1
    width = max(len([n for n, d in graph.nodes(data="depth") if d == k]) for k in range(depth))
    figure, axes = plt.subplots(figsize=figsize or (2.4 * depth + 2, 1.2 * width + 2))
    colors = [_COLORS.get(type(n), "white") for n in graph.nodes]
    networkx.draw_networkx(graph, positions, ax=axes, labels=networkx.get_node_attributes(graph, "label"),
                           node_color=colors, edgecolors="black", node_size=2600, font_size=7, arrowsize=12)
    axes.set_axis_off()
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
