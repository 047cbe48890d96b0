"""Graph bookkeeping: the Graph that owns nodes and variables, name scopes, and registry queries.

A default graph always exists; ``with Graph("name"):`` builds into an isolated one. Each graph keeps a
``networkx.DiGraph`` of its nodes (edges go from an input to its user) for inspection and drawing, and
registries of its placeholders, variables and layer-declared updates (e.g. BatchNorm running statistics).

Scopes prefix names: inside ``with Scope("actor"):`` a variable named ``w`` is called ``actor/w``. Names are
unique within a graph: a second ``w`` becomes ``w_1``, and entering ``Scope("actor")`` a second time opens
``actor_1``, so the variables of two networks never mix. To share variables, reuse the objects that own them
(the same layer applied twice), not their names. Queries by scope match whole path components: scope
``"actor"`` matches ``actor/w`` and ``actor/pi/b`` but never ``actor_1/w``.
"""

import itertools

import networkx

from symgraph.errors import ScopeError

_uids = itertools.count()


def next_uid():
    """A process-wide increasing id: node identity order, and the boundary of traced sub-graphs."""
    return next(_uids)


class Graph:
    """A container of nodes, variables and placeholders; use as a context manager to build into it.

    Args:
        name: a label for messages and drawings.
        seed: integer seed of the keys that variables made from an initializer are drawn with (each
            variable folds its own unique name into it, so values do not depend on creation order).
    """

    def __init__(self, name="graph", seed=0):
        self.name = name
        self.seed = seed
        self.nx = networkx.DiGraph()
        self.variables = {}
        self.placeholders = {}
        self.updates = {}
        self._name_counts = {}
        self._scopes = []
        self._key_nodes = []
        self._random_nodes = 0
        self._eager_functions = {}

    def __enter__(self):
        _graph_stack.append(self)
        return self

    def __exit__(self, *exc):
        _graph_stack.pop()

    def __repr__(self):
        return (f"Graph({self.name!r}: {self.nx.number_of_nodes()} nodes, {len(self.variables)} variables, "
                f"{len(self.placeholders)} placeholders)")

    @property
    def prefix(self):
        """The current scope path followed by ``/`` (empty at top level)."""
        return self._scopes[-1] + "/" if self._scopes else ""

    def unique_name(self, base):
        """``base`` under the current scope, suffixed with ``_1``, ``_2``... if already taken."""
        full = self.prefix + base
        count = self._name_counts.get(full)
        if count is None:
            self._name_counts[full] = 0
            return full
        while True:
            count += 1
            candidate = f"{full}_{count}"
            if candidate not in self._name_counts:
                self._name_counts[full] = count
                self._name_counts[candidate] = 0
                return candidate

    def add_node(self, node):
        self.nx.add_node(node)
        for parent in node.inputs:
            self.nx.add_edge(parent, node)

    def random_key_node(self):
        """The key node that random ops built now draw from (the innermost traced sub-graph's, if any)."""
        if not self._key_nodes:
            from symgraph.nodes import RandomKey

            self._key_nodes.append(RandomKey(self))
        return self._key_nodes[-1]

    def next_random_salt(self):
        """The salt of the next random node: its index among this graph's random nodes, so rebuilding the
        same graph (in a fresh Graph) with the same function seed reproduces the same numbers."""
        self._random_nodes += 1
        return self._random_nodes

    def add_updates(self, updates):
        """Register ``{variable: new_value}`` updates (e.g. a layer's running statistics) for get_updates."""
        from symgraph.nodes import Variable, as_tensor

        for variable, value in dict(updates).items():
            if not isinstance(variable, Variable):
                raise ScopeError(f"add_updates keys must be Variables, got {variable!r}")
            self.updates[variable] = as_tensor(value, self)


_graph_stack = [Graph("default")]


def get_graph():
    """The graph new nodes are built into: the innermost ``with Graph(...)``, or the default graph."""
    return _graph_stack[-1]


def reset_default_graph(seed=0):
    """Replace the default graph by an empty one (nodes built before stay usable in the old one)."""
    if len(_graph_stack) > 1:
        raise ScopeError("reset_default_graph() cannot run inside a 'with Graph(...)' block; leave it first")
    _graph_stack[0] = Graph("default", seed=seed)
    return _graph_stack[0]


def clear_eager_functions():
    """Forget the compiled functions behind ``Tensor.get`` of the graphs in use (the default graph and those
    entered with ``with Graph(...)``); they are built again when next needed."""
    for graph in _graph_stack:
        graph._eager_functions.clear()


def set_seed(seed):
    """Set the seed that variables created from now on in the current graph are initialised with."""
    get_graph().seed = seed


class Scope:
    """A name scope: ``with Scope("actor"): ...`` prefixes every name created inside with ``actor/``.

    Scopes nest (``actor/pi/w``). Entering a scope whose name was already used in this graph opens a fresh
    one (``actor_1``), so two networks built from the same code keep separate variables.

    ``Scope(path, reopen=True)`` re-enters an existing full path (e.g. a layer's ``"net/dense"``) from
    anywhere, so objects that own variables can add more of them to their own scope later.
    """

    def __init__(self, name, reopen=False):
        if not isinstance(name, str) or not name or (not reopen and "/" in name):
            raise ScopeError(f"Scope name must be a non-empty string without '/', got {name!r} (to re-enter a "
                             "full path, pass reopen=True)")
        self.name = name
        self.reopen = reopen
        self.path = None
        self._graph = None

    def __enter__(self):
        self._graph = get_graph()
        if self.reopen:
            if self.name.rstrip("/") not in self._graph._name_counts:
                raise ScopeError(f"Scope({self.name!r}, reopen=True): no such scope in graph "
                                 f"{self._graph.name!r}; open it once with Scope(name) first")
            self.path = self.name.rstrip("/")
        else:
            self.path = self._graph.unique_name(self.name)
        self._graph._scopes.append(self.path)
        return self

    def __exit__(self, *exc):
        self._graph._scopes.pop()


def in_scope(name, scope):
    """Whether ``name`` lies inside ``scope`` (whole path components: ``actor`` holds ``actor/w``)."""
    if scope is None:
        return True
    scope = scope.rstrip("/")
    return name == scope or name.startswith(scope + "/")


def get_variables(scope=None, trainable=None, graph=None):
    """Variables of the graph (current one by default) inside ``scope``, optionally filtered by trainable."""
    graph = graph or get_graph()
    return [v for name, v in graph.variables.items()
            if in_scope(name, scope) and (trainable is None or v.trainable == trainable)]


def get_placeholders(scope=None, graph=None):
    """Placeholders of the graph (current one by default) inside ``scope``."""
    graph = graph or get_graph()
    return [p for name, p in graph.placeholders.items() if in_scope(name, scope)]


def get_updates(scope=None, graph=None):
    """Registered ``{variable: new_value}`` updates whose variable lies inside ``scope``."""
    graph = graph or get_graph()
    return {v: u for v, u in graph.updates.items() if in_scope(v.name, scope)}
