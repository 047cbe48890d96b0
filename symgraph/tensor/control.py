"""Control flow whose bodies are Python functions of symbolic tensors: scan, map, cond, while_loop, vmap.

Each body is traced once into a sub-graph (``interpreter.Closure``) and run by the matching ``jax.lax``
primitive, so loops compile to one XLA loop and gradients flow through them. Bodies may read any outer
tensor, variable or placeholder; random ops inside a loop body draw fresh numbers at every iteration.
"""

import jax
import jax.numpy as jnp

from symgraph.errors import ShapeError, describe, format_shape
from symgraph.graph import get_graph
from symgraph.interpreter import Closure
from symgraph.nodes import Tensor, apply, as_tensor, item


def _flatten(tree, what):
    leaves, treedef = jax.tree_util.tree_flatten(tree, is_leaf=lambda v: isinstance(v, Tensor))
    return [as_tensor(leaf) for leaf in leaves], treedef


def _aval(node, drop_leading=False):
    shape = node.aval.shape[1:] if drop_leading else node.aval.shape
    return jax.ShapeDtypeStruct(shape, node.aval.dtype)


def _closure_inputs(closure):
    """Inputs of a control-flow node for its body's free nodes and (if used) the enclosing random key."""
    key = [get_graph().random_key_node()] if closure.key is not None else []
    return [*closure.free, *key]


def _split(values, closure):
    n_free = len(closure.free)
    free = values[:n_free]
    key = values[n_free] if closure.key is not None else None
    return free, key, values[n_free + (closure.key is not None):]


def _check_carry(what, expected, got):
    for index, (want, have) in enumerate(zip(expected, got)):
        if want.shape != have.shape or want.dtype != have.dtype:
            raise ShapeError(
                f"{what}: carry entry {index} enters the body as shape {format_shape(want.shape)} {want.dtype} "
                f"but the body returns {describe(have)}; return a value of the same shape and dtype (cast "
                "the initial value or the body's result)")


def _outputs(node, count):
    return [item(node, i) for i in range(count)]


def _symjax_style(what, fn, xs, sequences, non_sequences):
    """``(fn, xs)`` for jax.lax's one-argument style, from SymJAX's ``sequences=``/``non_sequences=`` (each
    sequence's slice, then each non-sequence, passed as its own argument); a list given positionally is
    refused, since SymJAX unpacks it and jax.lax does not."""
    if sequences is None and non_sequences is None:
        if isinstance(xs, list):
            raise TypeError(
                f"T.{what}: xs is a list, which SymJAX's {what} unpacks into one argument per sequence and "
                f"jax.lax.{what} passes as one argument; say which: sequences=[...] (and non_sequences=[...]) "
                f"for fn({'carry, ' if what == 'scan' else ''}*slices, *non_sequences) as in SymJAX, or a tuple "
                f"(or dict) for jax.lax's fn({'carry, ' if what == 'scan' else ''}xs) with outer tensors read as "
                "a closure")
        return fn, xs
    if xs is not None:
        raise TypeError(f"T.{what}: give xs (jax.lax style) or sequences= (SymJAX style), not both")
    sequences = tuple(sequences or ())
    constants = tuple(as_tensor(v) for v in (non_sequences or ()))
    if what == "scan":
        return (lambda carry, x: fn(carry, *x, *constants)), (sequences or None)
    return (lambda x: fn(*x, *constants)), sequences


def scan(fn, init, xs=None, length=None, reverse=False, sequences=None, non_sequences=None):
    """Loop ``carry, y = fn(carry, x)`` over the leading axis of ``xs``, as ``jax.lax.scan``.

    Args:
        fn: Python function of tensors ``(carry, x) -> (new_carry, y)``; carry, x and y are pytrees.
        init: the initial carry (pytree of tensors/arrays/numbers).
        xs: pytree of tensors scanned along their leading axis, or None (then ``length`` is required). A list
            is refused as ambiguous (SymJAX unpacks it): use a tuple, or ``sequences=``.
        length: number of iterations when ``xs`` is None.
        reverse: iterate from the end.
        sequences, non_sequences: SymJAX's style, instead of ``xs``: ``fn(carry, *slices, *non_sequences)``
            gets one slice of each tensor of ``sequences`` and each of ``non_sequences`` as its own argument.

    Returns:
        ``(final_carry, ys)`` where ``ys`` stacks the per-iteration ``y`` along a new leading axis.
    """
    fn, xs = _symjax_style("scan", fn, xs, sequences, non_sequences)
    init_nodes, init_tree = _flatten(init, "init")
    xs_nodes, xs_tree = _flatten(xs, "xs")
    if xs is None and length is None:
        raise ValueError("T.scan: give xs, or length= when there is nothing to scan over")
    for node in xs_nodes:
        if node.ndim == 0:
            raise ShapeError(f"T.scan: xs entry {describe(node)} has no leading axis to scan over")
    carry_avals = jax.tree_util.tree_unflatten(init_tree, [_aval(n) for n in init_nodes])
    x_avals = jax.tree_util.tree_unflatten(xs_tree, [_aval(n, True) for n in xs_nodes])
    closure = Closure(fn, (carry_avals, x_avals))
    leaves = closure.outputs
    try:
        carry_out, y_out = jax.tree_util.tree_unflatten(closure.out_tree, leaves)
    except (TypeError, ValueError):
        raise ShapeError("T.scan: fn must return a pair (new_carry, y); return (carry, None) when there is "
                         "no per-step output") from None
    carry_leaves, carry_tree = _flatten(carry_out, "carry")
    if carry_tree != init_tree:
        raise ShapeError(f"T.scan: fn returned a carry structured as {carry_tree}, but init is {init_tree}")
    _check_carry("T.scan", init_nodes, carry_leaves)
    n_carry = len(init_nodes)

    def run(*values, closure, n_carry, length, reverse):
        free, key, rest = _split(values, closure)
        init_values, xs_values = rest[:n_carry], rest[n_carry:]

        def body(state, x):
            carry, step = state
            out = closure(free, None if key is None else jax.random.fold_in(key, step), [*carry, *x])
            return (out[:n_carry], step + 1), out[n_carry:]

        (carry, _), ys = jax.lax.scan(body, (list(init_values), jnp.int32(0)), list(xs_values),
                                      length=length, reverse=reverse)
        return (*carry, *ys)

    node = apply(run, (*_closure_inputs(closure), *init_nodes, *xs_nodes),
                 {"closure": closure, "n_carry": n_carry, "length": length, "reverse": reverse}, name="scan")
    outs = _outputs(node, len(leaves))
    y_tree = jax.tree_util.tree_structure(y_out, is_leaf=lambda v: isinstance(v, Tensor))
    return (jax.tree_util.tree_unflatten(init_tree, outs[:n_carry]),
            jax.tree_util.tree_unflatten(y_tree, outs[n_carry:]))


def map(fn, xs=None, sequences=None, non_sequences=None):
    """``fn`` applied to each slice of ``xs`` along its leading axis, results stacked (a loop, not vmap), as
    ``jax.lax.map``: ``fn(x)`` gets the slice of the whole pytree ``xs``. SymJAX's style instead:
    ``map(fn, sequences=[a, b], non_sequences=[w])`` calls ``fn(a_t, b_t, w)``. A list given as ``xs`` is
    refused as ambiguous (SymJAX unpacks it, jax.lax does not): use a tuple, or ``sequences=``."""
    fn, xs = _symjax_style("map", fn, xs, sequences, non_sequences)
    _, ys = scan(lambda carry, x: (carry, fn(x)), (), xs)
    return ys


def cond(pred, true_fn, false_fn, *operands):
    """``true_fn(*operands)`` if the scalar ``pred`` holds, else ``false_fn(*operands)`` (``jax.lax.cond``).

    Both branches must return the same structure, shapes and dtypes.
    """
    pred = as_tensor(pred)
    if pred.ndim != 0:
        raise ShapeError(f"T.cond: pred must be a scalar, got {describe(pred)}")
    op_nodes, op_tree = _flatten(list(operands), "operands")
    avals = tuple(jax.tree_util.tree_unflatten(op_tree, [_aval(n) for n in op_nodes]))
    branches = [Closure(true_fn, avals), Closure(false_fn, avals)]
    if branches[0].out_tree != branches[1].out_tree:
        raise ShapeError(f"T.cond: the branches return different structures: {branches[0].out_tree} vs "
                         f"{branches[1].out_tree}")
    _check_carry("T.cond (true branch vs false branch)", branches[0].outputs, branches[1].outputs)
    true_inputs, false_inputs = _closure_inputs(branches[0]), _closure_inputs(branches[1])

    def run(pred, *values, branches, n_true, n_false):
        true_values, false_values = values[:n_true], values[n_true:n_true + n_false]
        operand_values = list(values[n_true + n_false:])

        def branch(closure, captured):
            def call(ops):
                free, key, _ = _split(list(captured), closure)
                return tuple(closure(free, key, ops))
            return call

        return jax.lax.cond(pred, branch(branches[0], true_values), branch(branches[1], false_values),
                            operand_values)

    node = apply(run, (pred, *true_inputs, *false_inputs, *op_nodes),
                 {"branches": branches, "n_true": len(true_inputs), "n_false": len(false_inputs)}, name="cond")
    return branches[0].unflatten(_outputs(node, len(branches[0].outputs)))


def while_loop(cond_fn, body_fn, init):
    """Repeat ``carry = body_fn(carry)`` while ``cond_fn(carry)`` holds (``jax.lax.while_loop``).

    Not reverse-differentiable (as in JAX); use ``scan`` with a fixed length when gradients are needed.
    """
    init_nodes, init_tree = _flatten(init, "init")
    avals = (jax.tree_util.tree_unflatten(init_tree, [_aval(n) for n in init_nodes]),)
    test, body = Closure(cond_fn, avals), Closure(body_fn, avals)
    if len(test.outputs) != 1 or test.outputs[0].ndim != 0:
        raise ShapeError("T.while_loop: cond_fn must return one scalar boolean tensor")
    if body.out_tree != init_tree:
        raise ShapeError(f"T.while_loop: body_fn returned {body.out_tree}, but init is {init_tree}")
    _check_carry("T.while_loop", init_nodes, body.outputs)
    test_inputs, body_inputs = _closure_inputs(test), _closure_inputs(body)

    def run(*values, test, body, n_test, n_body):
        test_values, body_values = values[:n_test], values[n_test:n_test + n_body]
        t_free, t_key, _ = _split(list(test_values), test)
        b_free, b_key, _ = _split(list(body_values), body)

        def keep_going(state):
            carry, step = state
            return test(t_free, None if t_key is None else jax.random.fold_in(t_key, step), carry)[0]

        def advance(state):
            carry, step = state
            return body(b_free, None if b_key is None else jax.random.fold_in(b_key, step), carry), step + 1

        carry, _ = jax.lax.while_loop(keep_going, advance, (list(values[n_test + n_body:]), jnp.int32(0)))
        return tuple(carry)

    node = apply(run, (*test_inputs, *body_inputs, *init_nodes),
                 {"test": test, "body": body, "n_test": len(test_inputs), "n_body": len(body_inputs)},
                 name="while_loop")
    return jax.tree_util.tree_unflatten(init_tree, _outputs(node, len(init_nodes)))


def vmap(fn, *args, in_axes=0):
    """``fn`` vectorised over an axis of its arguments (``jax.vmap``); outputs batched on axis 0.

    ``in_axes`` is an int (every argument) or a tuple with one int or None per argument. Random ops inside
    ``fn`` draw independently for each batch element.
    """
    axes = in_axes if isinstance(in_axes, tuple | list) else (in_axes,) * len(args)
    if len(axes) != len(args):
        raise ValueError(f"T.vmap: in_axes has {len(axes)} entries for {len(args)} arguments")
    nodes = [as_tensor(a) for a in args]
    avals, sizes = [], set()
    for node, axis in zip(nodes, axes):
        if axis is None:
            avals.append(_aval(node))
            continue
        shape = list(node.aval.shape)
        sizes.add(shape.pop(axis))
        avals.append(jax.ShapeDtypeStruct(tuple(shape), node.aval.dtype))
    if not sizes:
        raise ValueError("T.vmap: at least one argument must have a mapped axis (in_axes not None)")
    closure = Closure(fn, tuple(avals))

    def run(*values, closure, axes):
        free, key, arg_values = _split(values, closure)
        size = next(v.shape[a] for v, a in zip(arg_values, axes) if a is not None)
        keys = None if key is None else jax.random.split(key, size)

        def one(k, *xs):
            return tuple(closure(free, k, list(xs)))

        return jax.vmap(one, in_axes=(None if keys is None else 0, *axes))(keys, *arg_values)

    node = apply(run, (*_closure_inputs(closure), *nodes), {"closure": closure, "axes": tuple(axes)}, name="vmap")
    return closure.unflatten(_outputs(node, len(closure.outputs)))
