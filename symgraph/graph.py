"""Graph bookkeeping: the Graph that owns nodes and variables, name scopes, and registry queries.

A default graph always exists; ``with Graph("name"):`` builds into an isolated one. Each graph keeps a
``networkx.DiGraph`` of its nodes (edges go from an input to its user) for inspection and drawing, and
registries of its placeholders, variables and declared updates: BatchNorm's running statistics, an
optimizer's parameters and state, a moving average's shadows; ``function(..., updates=sg.get_updates())``
applies them all.

Scopes prefix names: inside ``with Scope("actor"):`` a variable named ``w`` is called ``actor/w``. Names are
unique within a graph: a second ``w`` becomes ``w_1``, and entering ``Scope("actor")`` a second time opens
``actor_1``, so the variables of two networks never mix. To share variables, reuse the objects that own them
(the same layer applied twice), not their names. Queries by scope match whole path components: scope
``"actor"`` matches ``actor/w`` and ``actor/pi/b`` but never ``actor_1/w``.

Queries also take a name pattern as first argument (SymJAX's ``get_variables("*")``): a pattern with a
wildcard (``*``, ``?``, ``[``) is matched against the full names with :func:`fnmatch.fnmatchcase` (``*``
matches ``/`` too: ``"*"`` is everything, ``"actor/*"`` the actor's, ``"*/b"`` every ``b``); a pattern without
one is a scope as above, so ``get_variables("actor")`` is ``get_variables(scope="actor")``. A leading ``/``
(SymJAX's root scope, ``"/"``) is ignored.
"""

import difflib
import fnmatch
import itertools

import networkx
import numpy as np

from symgraph.errors import ScopeError, UpdateError

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
        self._update_owners = {}
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

    def get(self, name):
        """The node of this graph (op, variable, placeholder or constant) whose full, scoped name is ``name``,
        as SymJAX's ``current_graph().get(name)``; a KeyError lists close names."""
        for node in self.nx.nodes:
            if node.name == name:
                return node
        close = difflib.get_close_matches(name, [node.name for node in self.nx.nodes], n=3)
        raise KeyError(f"graph {self.name!r} has no node named {name!r}"
                       + (f"; close names: {close}" if close else "; names are scoped, e.g. 'actor/w'"))

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

    def add_updates(self, updates, owner=None):
        """Register ``{variable: new_value}`` updates for :func:`get_updates` (a layer's running statistics,
        an optimizer's parameters and state, a moving average's shadows).

        ``owner`` is the object registering them (a layer, an optimizer); a second registration of a variable
        by the same owner replaces its first (a BatchNorm called again keeps its latest updates). Two owners
        registering different values of one variable (two optimizers over the same parameter) are a conflict
        that :func:`get_updates` reports instead of choosing one.
        """
        from symgraph.nodes import Variable, as_tensor

        label = "an anonymous registration" if owner is None else repr(owner)
        for variable, value in dict(updates).items():
            if not isinstance(variable, Variable):
                raise ScopeError(f"add_updates keys must be Variables, got {variable!r}")
            value = as_tensor(value, self)
            self.updates[variable] = value
            # the entry holds the owner itself, so its id stays unique while registered
            self._update_owners.setdefault(variable, {})[id(owner)] = (owner, label, value)

    def registered_updates(self, variables):
        """``{variable: new_value}`` registered for ``variables`` (those without a registration are left out).

        Raises:
            UpdateError: a variable has different values registered by different owners; the message names
                them and how to choose.
        """
        result = {}
        for variable in variables:
            owners = self._update_owners.get(variable)
            if not owners:
                continue
            values = {id(value): value for _, _, value in owners.values()}
            if len(values) > 1:
                labels = "; ".join(label for _, label, _ in owners.values())
                raise UpdateError(
                    f"get_updates: the Variable {variable.name!r} has {len(values)} different registered "
                    f"updates, from: {labels}. Pass the updates you mean explicitly (e.g. "
                    f"function(..., updates=opt.updates)), or select with get_updates(scope=...)")
            result[variable] = next(iter(values.values()))
        return result


_graph_stack = [Graph("default")]


def get_graph():
    """The graph new nodes are built into: the innermost ``with Graph(...)``, or the default graph."""
    return _graph_stack[-1]


def current_graph():
    """SymJAX's name of :func:`get_graph`: the graph new nodes are built into."""
    return get_graph()


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
    """Whether ``name`` lies inside ``scope`` (whole path components: ``actor`` holds ``actor/w``); the root
    scope (None, ``""`` or ``"/"``) holds every name."""
    if scope is None:
        return True
    scope = scope.strip("/")
    return not scope or name == scope or name.startswith(scope + "/")


def _check_pattern(value, argument, query):
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{query}: {argument} must be a string (a name pattern such as '*' or 'actor/*', or a "
                        f"scope such as 'actor') or None, got {type(value).__name__} {value!r}")


def has_wildcard(pattern):
    """Whether ``pattern`` is a name pattern with a wildcard (``*``, ``?`` or ``[``), not a plain name."""
    return isinstance(pattern, str) and any(c in pattern for c in "*?[")


def name_matches(name, pattern=None, scope=None):
    """Whether the full name ``name`` matches the query ``pattern`` and lies in ``scope`` (see the module
    doc: a wildcard pattern is matched with fnmatch, a plain one is a scope; None matches everything)."""
    if pattern is not None:
        if has_wildcard(pattern):
            if not fnmatch.fnmatchcase(name, pattern.lstrip("/")):
                return False
        elif not in_scope(name, pattern):
            return False
    return in_scope(name, scope)


def get_variables(name=None, trainable=None, graph=None, *, scope=None):
    """Variables of the graph (current one by default) matching ``name`` and inside ``scope``.

    Args:
        name: a name pattern (``"*"``, ``"actor/*"``, ``"*/W"``: fnmatch over full names) or a plain name,
            which selects that scope (``"actor"``: ``actor/w``, ``actor/pi/b``...); None: all. SymJAX's
            ``get_variables("*")`` reads the same.
        trainable: True or False to keep only the (non-)trainable variables; None: both. Unlike SymJAX,
            whose default was True, the default keeps both.
        graph: the graph to query (the current one by default); a learner's variables live in
            ``learner.graph``.
        scope: a scope path, matched by whole components (``"actor"`` never matches ``actor_1/w``).

    Raises:
        TypeError: ``trainable`` is not a bool or None (e.g. ``"yes"``), or ``name``/``scope`` not a string.
    """
    _check_pattern(name, "name", "get_variables")
    _check_pattern(scope, "scope", "get_variables")
    if trainable is not None and not isinstance(trainable, bool | np.bool_):
        raise TypeError(f"get_variables: trainable must be True, False or None (both), got "
                        f"{type(trainable).__name__} {trainable!r}")
    graph = graph or get_graph()
    return [v for full, v in graph.variables.items()
            if name_matches(full, name, scope) and (trainable is None or v.trainable == bool(trainable))]


def get_placeholders(name=None, graph=None, *, scope=None):
    """Placeholders of the graph (current one by default) matching ``name`` and inside ``scope`` (as
    :func:`get_variables`)."""
    _check_pattern(name, "name", "get_placeholders")
    _check_pattern(scope, "scope", "get_placeholders")
    graph = graph or get_graph()
    return [p for full, p in graph.placeholders.items() if name_matches(full, name, scope)]


def get_updates(name=None, graph=None, *, scope=None):
    """Registered ``{variable: new_value}`` updates whose variable matches ``name`` and lies inside ``scope``
    (as :func:`get_variables`): those of BatchNorm layers, optimizers and moving averages, so
    ``function(..., updates=sg.get_updates())`` trains and tracks everything built (SymJAX's pattern).

    Raises:
        UpdateError: two owners (e.g. two optimizers over one parameter) registered different updates of a
            selected variable; pass the updates you mean explicitly, or narrow the selection.
    """
    _check_pattern(name, "name", "get_updates")
    _check_pattern(scope, "scope", "get_updates")
    graph = graph or get_graph()
    return graph.registered_updates([v for v in graph.updates if name_matches(v.name, name, scope)])


def get_ops(name=None, graph=None, *, scope=None):
    """The op nodes (computed from inputs: not variables, placeholders or constants) of the graph (current one
    by default) whose name matches ``name`` and lies inside ``scope`` (as :func:`get_variables`), in the order
    they were built: SymJAX's ``get_ops``."""
    _check_pattern(name, "name", "get_ops")
    _check_pattern(scope, "scope", "get_ops")
    graph = graph or get_graph()
    return [node for node in graph.nx.nodes if node.fn is not None and name_matches(node.name, name, scope)]
