"""``function()``: compile a sub-graph into a jitted JAX function with state write-back, and its ``.pure`` view.

The sub-graph from the inputs to the outputs and update expressions is walked once; the interpreter loop
becomes one pure function ``(variable_values, key, inputs) -> (outputs, new_values, new_key)`` compiled once
per input shape signature, and once per process for identical functions (:class:`~symgraph.shared_jit.SharedJit`:
the learners of several seeds compile their acting functions once). Variables are jit arguments, so updating
them never recompiles. A call gathers the variables' current device arrays, runs the executable, writes the
updated ones back and returns numpy outputs; ``.pure(state, *inputs)`` is the same executable with the state
passed in and out explicitly, for use inside ``jax.jit``, ``jax.vmap`` and ``jax.lax.scan``.
"""

import itertools

import jax
import numpy as np

from symgraph import rng
from symgraph.errors import InputError, UpdateError, describe, format_shape
from symgraph.interpreter import evaluate, topological_order
from symgraph.nodes import Placeholder, RandomKey, Tensor, Variable, as_tensor, is_numeric
from symgraph.shared_jit import SharedJit

_function_ids = itertools.count()
_ARRAY_TYPES = (np.ndarray, np.generic, jax.Array)
_FAST_TYPES = (np.ndarray, np.float32, np.int32, np.bool_, type(jax.numpy.zeros(())))


def _normalize_outputs(outputs):
    """Flat list of output nodes and a function rebuilding the user's form (one, list or dict)."""
    if outputs is None:
        return [], lambda values: None
    if isinstance(outputs, dict):
        keys = list(outputs)
        return [as_tensor(outputs[k]) for k in keys], lambda values: dict(zip(keys, values))
    if isinstance(outputs, list | tuple):
        return [as_tensor(o) for o in outputs], list
    return [as_tensor(outputs)], lambda values: values[0]


def _normalize_updates(updates):
    if updates is None:
        return {}
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates)
    pairs = [p for entry in pairs for p in (entry.items() if isinstance(entry, dict) else [entry])]
    result = {}
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise UpdateError(f"updates must be a dict {{variable: new_value}} or a list of (variable, "
                              f"new_value) pairs (and dicts); got the entry {pair!r}")
        variable, value = pair
        if not isinstance(variable, Variable):
            raise UpdateError(f"updates keys must be Variables, got {describe(variable)}: only Variables hold "
                              "state; to change a computed value, update the Variable it derives from")
        value = as_tensor(value, variable.graph)
        if variable in result:
            if result[variable] is value:  # the same update listed twice (opt.updates and get_updates())
                continue
            raise UpdateError(f"Variable {variable.name!r} is updated twice, to different values; give one new "
                              "value per variable")
        if value.shape != variable.shape or value.dtype != variable.dtype:
            raise UpdateError(
                f"update of Variable {variable.name!r} has shape {format_shape(value.shape)} and dtype "
                f"{value.dtype}, but the variable has shape {format_shape(variable.shape)} and dtype "
                f"{variable.dtype}; reshape/cast the new value (e.g. T.cast) to match")
        result[variable] = value
    return result


class Function:
    """A compiled graph function. Call it like a Python function; see ``function()``."""

    def __init__(self, inputs, outputs=None, updates=None, seed=None, name=None, on_unused_input="raise"):
        self.inputs = list(inputs)
        _check_inputs_declared(self.inputs)
        self.name = name or f"function_{next(_function_ids)}"
        self._output_nodes, self._format = _normalize_outputs(outputs)
        self._updates = _normalize_updates(updates)
        targets = self._output_nodes + list(self._updates.values())
        order, leaves = topological_order(targets)
        self._order = order
        self._check_leaves(leaves, on_unused_input)
        self._key_node = next((leaf for leaf in leaves if isinstance(leaf, RandomKey)), None)
        read = [leaf for leaf in leaves if isinstance(leaf, Variable)]
        self._state_vars = read + [v for v in self._updates if v not in set(read)]
        self._updated_vars = list(self._updates)
        self._update_nodes = list(self._updates.values())
        self._state_names = [v.name for v in self._state_vars]
        self._updated_names = [v.name for v in self._updated_vars]
        self.key_name = f"{self.name}/rng" if self._key_node is not None else None
        self._key = rng.key_from_seed(seed) if self._key_node is not None else None
        self._input_specs = [(p, p.shape, p.dtype) for p in self.inputs]
        self._single_output = outputs is not None and not isinstance(outputs, dict | list | tuple)
        # Direct calls share executables with identical functions of the process (another learner of the same
        # architecture, another seed: compiled once); ``pure`` runs ``self._jitted`` inside the caller's trace.
        self._shared = SharedJit(self._run)
        self._jitted = self._shared.jitted
        self._call = self._make_call()

    def _check_leaves(self, leaves, on_unused_input):
        if on_unused_input not in ("raise", "ignore"):
            raise ValueError(f"on_unused_input must be 'raise' or 'ignore', got {on_unused_input!r}")
        declared = set(self.inputs)
        needed = [leaf for leaf in leaves if isinstance(leaf, Placeholder)]
        missing = [p for p in needed if p not in declared]
        if missing:
            names = [p.name for p in self.inputs]
            raise InputError(
                f"function {self.name!r} needs placeholder {describe(missing[0])} to compute its outputs/"
                f"updates, but it is not among the inputs {names}; add it: function(..., "
                f"{missing[0].name}, outputs=...)")
        unused = [p for p in self.inputs if p not in set(needed)]
        if unused and on_unused_input == "raise":
            raise InputError(
                f"input {describe(unused[0])} of function {self.name!r} is not used by any output or update; "
                "remove it from the inputs, or pass on_unused_input='ignore'")

    def _run(self, *flat):
        """The pure function that is jitted: flat ``(*variable_values, [key], *inputs)`` in, flat
        ``(*outputs, *new_variable_values, [new_key])`` out (flat arguments take jit's fastest call path).

        Inputs are checked against their placeholders here, at trace time: jit traces once per new input
        shape/dtype signature, so a wrong input is caught before it runs and a right one costs nothing."""
        n_state, n_key = len(self._state_vars), self._key_node is not None
        env = dict(zip(self._state_vars, flat[:n_state]))
        env.update(zip(self.inputs, [self._conform(i, x) for i, x in enumerate(flat[n_state + n_key:])]))
        new_key = ()
        if n_key:
            key, env[self._key_node] = jax.random.split(flat[n_state])
            new_key = (key,)
        evaluate(self._order, env)
        return (*[env[n] for n in self._output_nodes], *[env[n] for n in self._update_nodes], *new_key)

    def _conform(self, index, value):
        """``value`` (a traced input) checked against its placeholder's shape, and cast within its dtype kind."""
        placeholder, shape, dtype = self._input_specs[index]
        got = value.shape
        if len(got) != len(shape) or any(d is not None and d != g for d, g in zip(shape, got)):
            raise InputError(f"input {index} ({placeholder.name!r}) of {self.name!r} expects shape "
                             f"{format_shape(shape)}, got {format_shape(got)} (None: any size)")
        if value.dtype != dtype:
            if not np.can_cast(value.dtype, dtype, "same_kind"):
                raise InputError(f"input {index} ({placeholder.name!r}) of {self.name!r} expects dtype {dtype}, "
                                 f"got {value.dtype}; it cannot be cast safely, convert it explicitly")
            value = value.astype(dtype)
        return value

    def _check_args(self, args):
        """Arity check, and anything not already an array (numbers, lists) made a numpy array of numbers."""
        if len(args) != len(self.inputs):
            names = [p.name for p in self.inputs]
            raise InputError(f"{self.name!r} takes {len(self.inputs)} input(s) {names}, got {len(args)}")
        return [self._as_input(index, value) for index, value in enumerate(args)]

    def _as_input(self, index, value):
        """``value`` as an array for input ``index``, or an InputError naming the input if it holds no numbers
        (None, strings, objects, ragged lists)."""
        placeholder, shape, dtype = self._input_specs[index]
        try:
            array = value if isinstance(value, _ARRAY_TYPES) else np.asarray(value)
        except (TypeError, ValueError):
            array = None
        if array is None or not is_numeric(array.dtype):
            got = "None" if value is None else describe(value)
            raise InputError(f"input {index} ({placeholder.name!r}) of {self.name!r} got {got}; expected an array "
                             f"of shape {format_shape(shape)} and dtype {dtype} (None: any size)")
        return array

    def _check_call_args(self, args):
        """:meth:`_check_args` for a direct call, which cannot run on traced values."""
        if any(isinstance(a, jax.core.Tracer) for a in args):
            raise InputError(f"{self.name!r} was called on traced values (inside jax.jit, vmap, grad or scan); a "
                             f"call returns numpy arrays and writes its variables back, which a trace cannot do. "
                             f"Inside JAX transformations use {self.name}.pure(state, *inputs) with "
                             f"state = {self.name}.state")
        return self._check_args(args)

    def _split_results(self, results):
        n_out, n_upd = len(self._output_nodes), len(self._update_nodes)
        key = results[n_out + n_upd] if self._key_node is not None else None
        return results[:n_out], results[n_out:n_out + n_upd], key

    def __call__(self, *args):
        return self._call(args)

    def _make_call(self):
        """The per-call path, specialised once with everything it needs bound as local names (it is the hot
        loop of every learner: inputs of the right type, dtype and static shape pass through unconverted)."""
        jitted, fast_types = self._shared, _FAST_TYPES
        state_vars, updated_vars = self._state_vars, self._updated_vars
        n_inputs, n_out, has_key, single, form = (len(self.inputs), len(self._output_nodes), self._key_node is not None,
                                                  self._single_output, self._format)
        check = self._check_call_args
        asarray = np.asarray
        stateless = not state_vars and not has_key

        def call(args):
            if len(args) != n_inputs:
                args = check(args)
            else:
                for value in args:
                    if type(value) not in fast_types:
                        args = check(args)
                        break
            try:
                if stateless:
                    results = jitted(*args)
                elif has_key:
                    results = jitted(*[v._value for v in state_vars], self._key, *args)
                else:
                    results = jitted(*[v._value for v in state_vars], *args)
            except TypeError:
                check(args)  # an array of strings or objects took the fast path: name the input
                raise
            if has_key:
                self._key = results[-1]
            if not stateless:
                for variable, value in zip(updated_vars, results[n_out:]):
                    variable._value = value
            if single:
                return asarray(results[0])
            return form([asarray(o) for o in results[:n_out]])

        return call

    @property
    def state(self):
        """``{variable name: device array}`` of every variable read or updated, plus this function's key."""
        state = {v.name: v._value for v in self._state_vars}
        if self.key_name is not None:
            state[self.key_name] = self._key
        return state

    def pure(self, state, *inputs):
        """``(outputs, new_state)`` without touching any Variable: jit/vmap/scan-able.

        ``state`` maps names to values and may hold more entries than this function uses (the merged states
        of several functions); the returned state has the same keys, with updated entries replaced.
        """
        missing = [n for n in self._state_names + [self.key_name] if n is not None and n not in state]
        if missing:
            raise InputError(f"{self.name!r}.pure: state lacks {missing}; start from function.state "
                             "(merge several with dict.update)")
        key = (state[self.key_name],) if self.key_name is not None else ()
        outputs, new_values, key = self._split_results(
            self._jitted(*[state[n] for n in self._state_names], *key, *self._check_args(inputs)))
        new_state = dict(state)
        new_state.update(zip(self._updated_names, new_values))
        if self.key_name is not None:
            new_state[self.key_name] = key
        return self._format(outputs), new_state

    @property
    def compile_count(self):
        """How many executables direct calls needed (one per distinct input shape/dtype signature; an identical
        function of the process may have compiled them)."""
        return self._shared.cache_size()

    def __repr__(self):
        return f"<Function {self.name!r}: inputs {[p.name for p in self.inputs]}>"


def _check_inputs_declared(inputs):
    seen = set()
    for index, item in enumerate(inputs):
        if not isinstance(item, Placeholder):
            raise InputError(f"function inputs must be Placeholders; input {index} is {describe(item)}"
                             if isinstance(item, Tensor) else
                             f"function inputs must be Placeholders; input {index} is {describe(item)}. "
                             "Pass outputs= and updates= as keyword arguments")
        if item in seen:
            raise InputError(f"placeholder {item.name!r} is listed twice among the inputs; list it once")
        seen.add(item)


def function(*inputs, outputs=None, updates=None, seed=None, name=None, on_unused_input="raise"):
    """Compile the graph from ``inputs`` to ``outputs`` and ``updates`` into a callable.

    Args:
        *inputs: Placeholders, in the order the call takes their values.
        outputs: a node (the call returns one array), a list/tuple (a list) or a dict (a dict), or None.
        updates: ``{variable: new_value}`` applied after each call, all computed from pre-call values; or a
            list of such dicts and ``(variable, new_value)`` pairs (e.g. ``[opt.updates, sg.get_updates()]``),
            where an update listed twice (the same node) applies once and two different values of one
            variable are an error.
        seed: seed of the function's PRNG key (random ops); None draws a fresh 64-bit seed.
        name: name of the function (its key appears in ``state`` as ``name/rng``).
        on_unused_input: ``"raise"`` (default) or ``"ignore"`` for inputs no output or update uses.

    Returns:
        A ``Function``; ``f(*values)`` returns numpy arrays, ``f.pure(state, *values)`` JAX values.
    """
    return Function(inputs, outputs=outputs, updates=updates, seed=seed, name=name,
                    on_unused_input=on_unused_input)


def evaluate_now(node, feed_dict):
    """Value of ``node`` with the current variable values (the engine behind ``Tensor.get``)."""
    placeholders = list(feed_dict)
    for p in placeholders:
        if not isinstance(p, Placeholder):
            raise InputError(f"feed_dict keys must be Placeholders, got {describe(p)}")
    cache_key = (node, tuple(placeholders))
    compiled = node.graph._eager_functions.get(cache_key)
    if compiled is None:
        compiled = Function(placeholders, outputs=node, on_unused_input="ignore", name=f"get_{node.name}")
        node.graph._eager_functions[cache_key] = compiled
    return compiled(*[feed_dict[p] for p in placeholders])
