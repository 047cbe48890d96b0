"""The generic wrapper that turns a ``jax.numpy`` function into a symbolic op, driven by the tables of
``symgraph.tensor.numpy_table``.

A wrapped call binds its arguments to the JAX function's signature (read once, at the first call), then
splits them: nodes and arrays become the node's operands, everything else (axes, shapes, dtypes, flags,
Python numbers) stays a static parameter. The parameters the table names as arrays also turn lists into
arrays (``T.take(x, [0, 2])``); those it names as sequences (``T.concatenate([a, b])``) take a list of
operands. The node computes ``fn(*args, **kwargs)`` with the operands' values put back in place, through
``symgraph.nodes.apply`` like every other op, so shapes, dtypes and errors are known when it is built.
Functions that return several arrays (``T.linalg.svd``) return a tuple of nodes of the same kind.
"""

import inspect
import re

import jax
import numpy as np

from symgraph.nodes import Tensor, apply, canonical_dtype, item
from symgraph.tensor import numpy_table

_ROLE = re.compile(r":[\w:]+:`~?([^`<]+?)\s*(?:<[^>]*>)?`")
_TICK = re.compile(r"(?<!`)`([^`]+)`(?!`)")


class _Operand:
    """Where an operand's value goes back: its index among the node's inputs."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"operand[{self.index}]"

    def __eq__(self, other):
        return isinstance(other, _Operand) and other.index == self.index

    def __hash__(self):
        return hash(("operand", self.index))


def _is_array(value):
    return isinstance(value, Tensor | np.ndarray | jax.Array)


def _static(value):
    """A static parameter: lists become tuples (hashable, as JAX's static arguments must be)."""
    if isinstance(value, list | tuple):
        return tuple(_static(v) for v in value)
    return value


class _Sequence(tuple):
    """A sequence of operands and static values, given back to the JAX function as a list."""

    __slots__ = ()


class Spec:
    """How one JAX function is wrapped: its name and its ``split`` (``"array"``, ``"sequence"`` or
    ``"static"``: what its first parameter is; see ``symgraph.tensor.numpy_table``); ``arrays``, if given,
    tells from a parameter's name whether it is an array (instead of ``numpy_table.ARRAY_NAMES``)."""

    def __init__(self, fn, name, split, arrays=None):
        self.fn = fn
        self.arrays = arrays
        self.name = name
        self.split_kind = split
        self.qualified = name
        self.shown = None
        self._signature = None

    def signature(self):
        if self._signature is None:
            try:
                self._signature = inspect.signature(self.fn)
            except (TypeError, ValueError):  # ufuncs: positional operands, keyword options
                self._signature = False
        return self._signature

    def _roles(self, signature, args, kwargs):
        """``(named arguments, kinds, array parameter names, sequence parameter names)``."""
        if not signature:  # a ufunc: its first ``nin`` positional arguments are arrays
            named = [(f"x{i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
            kinds = {f"x{i + 1}": inspect.Parameter.POSITIONAL_ONLY for i in range(len(args))}
            return named, kinds, {f"x{i + 1}" for i in range(getattr(self.fn, "nin", len(args)))}, set()
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            from symgraph.tensor.renames import keyword_hint

            raise TypeError(f"{self.qualified}: {error}{keyword_hint(self.qualified, kwargs)}; its signature "
                            f"is {self.name}{self.shown or plain(signature)}") from None
        names = list(signature.parameters)
        first = names[:1]
        arrays = {n for n in names if (self.arrays(n) if self.arrays else n in numpy_table.ARRAY_NAMES)}
        sequences = {n for n in names if n in numpy_table.SEQUENCE_NAMES}
        if self.split_kind == "array":
            arrays.update(first)
        elif self.split_kind == "sequence":
            sequences.update(first)
        else:
            arrays.difference_update(first)
        kinds = _kinds(signature)
        given = list(bound.arguments.items())
        for name, _ in given[:len(args)]:
            if kinds[name] == inspect.Parameter.POSITIONAL_OR_KEYWORD:
                kinds[name] = inspect.Parameter.POSITIONAL_ONLY  # given by position: passed on by position
        return given, kinds, arrays, sequences

    def split(self, args, kwargs):
        """``(operands, args_template, kwargs_template)`` for a call, or a TypeError naming the function."""
        named, kinds, arrays, sequences = self._roles(self.signature(), args, kwargs)
        operands, pos, kw = [], [], {}

        def operand(value):
            operands.append(value)
            return _Operand(len(operands) - 1)

        def element(value):
            if _is_array(value):
                return operand(value)
            if isinstance(value, list | tuple):
                if any(_is_array(v) for v in jax.tree_util.tree_leaves(value)):
                    return _Sequence(element(v) for v in value)
                return operand(np.asarray(value))
            return value

        def convert(name, value):
            if _is_array(value):
                return operand(value)
            if name in sequences or kinds.get(name) == inspect.Parameter.VAR_POSITIONAL:
                return _Sequence(element(v) for v in value)
            if name in arrays and isinstance(value, list | tuple):
                return element(value)
            if isinstance(value, list | tuple) and any(_is_array(v) for v in jax.tree_util.tree_leaves(value)):
                return _Sequence(element(v) for v in value)
            if name == "dtype" and value is not None:
                return canonical_dtype(value)
            return _static(value)

        for name, value in named:
            kind = kinds.get(name, inspect.Parameter.KEYWORD_ONLY)
            value = convert(name, value)
            if kind == inspect.Parameter.VAR_POSITIONAL:
                pos.extend(value)
            elif kind == inspect.Parameter.VAR_KEYWORD:
                kw.update(value if isinstance(value, dict) else {})
            elif kind == inspect.Parameter.POSITIONAL_ONLY:
                pos.append(value)
            else:
                kw[name] = value
        return operands, tuple(pos), tuple(sorted(kw.items()))


def plain(signature):
    """``signature`` without annotations, as error messages show it."""
    return signature.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                         for p in signature.parameters.values()],
                             return_annotation=inspect.Signature.empty)


def _kinds(signature):
    """Each parameter's kind, where a parameter before ``*args`` counts as positional-only (it can only be
    passed by position once ``*args`` are given); the others are passed by keyword."""
    parameters = list(signature.parameters.values())
    star = next((i for i, p in enumerate(parameters) if p.kind == inspect.Parameter.VAR_POSITIONAL), -1)
    return {p.name: inspect.Parameter.POSITIONAL_ONLY if i < star or p.kind == inspect.Parameter.POSITIONAL_ONLY
            else p.kind for i, p in enumerate(parameters)}


def _fill(template, values):
    if isinstance(template, _Operand):
        return values[template.index]
    if isinstance(template, _Sequence):
        return [_fill(t, values) for t in template]
    return template


def call(*values, fn, args, kwargs):
    """The node's JAX function: ``fn`` called with the operands' values put back where they were given."""
    return _tuples(fn(*[_fill(a, values) for a in args], **{k: _fill(v, values) for k, v in kwargs}))


def _tuples(out):
    """Lists of outputs as tuples (a node holds one array or a tuple of them), at every level."""
    if isinstance(out, list) or type(out) is tuple:
        return tuple(_tuples(o) for o in out)
    return out


def outputs(node):
    """The node itself, or for several outputs a tuple of their nodes (of JAX's kind: ``SVDResult``...)."""
    if not isinstance(node.aval, tuple):
        return node
    items = tuple(outputs(item(node, i)) for i in range(len(node.aval)))
    return type(node.aval)._make(items) if hasattr(node.aval, "_make") else items


def summary(fn, qualified):
    """One line of documentation for a wrapped function, from the first line of JAX's own docstring."""
    lines = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    first = lines[0].strip() if lines else ""
    first = _TICK.sub(r"``\1``", _ROLE.sub(r"``\1``", first)).rstrip(".")
    return f"{first or 'The JAX function'} (``{qualified}`` on nodes; same signature)."


def wrap(spec, qualified):
    """The symbolic op for ``spec``: same name and signature as the JAX function, returns a node (or a tuple
    of nodes for several outputs)."""

    def op(*args, **kwargs):
        operands, pos, kw = spec.split(args, kwargs)
        return outputs(apply(call, operands, {"fn": spec.fn, "args": pos, "kwargs": kw}, name=spec.name))

    spec.qualified = qualified
    op.__name__ = op.__qualname__ = spec.name
    op.__module__ = qualified.rsplit(".", 1)[0].replace("jax.numpy", "symgraph.tensor")
    op.__doc__ = summary(spec.fn, qualified)
    op.__wrapped__ = spec.fn
    return op


def build(module, table, qualified_prefix, skip=()):
    """``{name: op}`` for every function of ``table`` (a text of ``numpy_table``) not in ``skip``."""
    ops = {}
    for name, split in numpy_table.parse(table).items():
        if name not in skip:
            ops[name] = wrap(Spec(getattr(module, name), name, split), f"{qualified_prefix}.{name}")
    return ops


__all__ = ["Spec", "call", "wrap", "build", "summary", "plain", "outputs"]
