"""SymJAX names that symgraph spells differently: one table drives the error messages and the migration docs.

``RENAMES`` maps a SymJAX spelling to ``(symgraph spelling, note)``. Keys are paths below ``symjax``:
``"tensor.index_update"`` is the attribute ``symjax.tensor.index_update``, ``"Tensor.eval"`` a method of a
tensor, and ``"tensor.random.uniform(minval=)"`` a keyword argument. An ``AttributeError`` on such an
attribute, or a ``TypeError`` on such a keyword, names the symgraph spelling.
"""

import functools

RENAMES = {
    "tensor.index_update": ("T.set_at(x, indices, values) or x.at[indices].set(values)",
                            "functional update of a copy, as JAX's"),
    "tensor.index_add": ("T.add_at(x, indices, values) or x.at[indices].add(values)",
                         "repeated indices accumulate"),
    "tensor.index_min": ("x.at[indices].min(values)", "the ``at`` property of nodes"),
    "tensor.index_max": ("x.at[indices].max(values)", "the ``at`` property of nodes"),
    "tensor.index_mul": ("x.at[indices].multiply(values)", "the ``at`` property of nodes"),
    "tensor.dynamic_slice_in_dim": ("T.dynamic_slice(x, start_indices, sizes)", "one start and size per axis"),
    "tensor.log_1_minus_sigmoid": ("-T.softplus(x)", "log(1 - sigmoid(x)) = -softplus(x)"),
    "tensor.fori_loop": ("T.scan(fn, init, length=n) or T.while_loop(cond_fn, body_fn, init)",
                         "carry the index in the carry"),
    "tensor.Op": ("symgraph.nodes.apply(fn, args, params)", "every op is built by apply"),
    "tensor.Tensor": ("symgraph.Tensor", "the node class lives at the top level"),
    "tensor.function": ("symgraph.function(*inputs, outputs=..., updates=...)", "at the top level"),
    "tensor.random.threefry_2x32": ("symgraph.key_from_seed(seed) and the function's seed=",
                                    "keys are managed by compiled functions"),
    "tensor.random.uniform(minval=)": ("T.random.uniform(low=)", "numpy's names for the bounds"),
    "tensor.random.uniform(maxval=)": ("T.random.uniform(high=)", "numpy's names for the bounds"),
    "tensor.random.randint(minval=)": ("T.random.randint(low=)", "numpy's names for the bounds"),
    "tensor.random.randint(maxval=)": ("T.random.randint(high=)", "numpy's names for the bounds"),
    "tensor.random.normal(loc=)": ("T.random.normal(mean=)", "the mean of the Gaussian"),
    "tensor.random.normal(scale=)": ("T.random.normal(std=)", "the standard deviation of the Gaussian"),
    "Tensor.eval": ("node.get(feed_dict)", "evaluates now with the variables' current values"),
    "Tensor.get_value": ("variable.value", "a Variable's current value (numpy)"),
    "Tensor.set_value": ("variable.update(new_value)", "same shape; dtype cast within its kind"),
}


def attribute_error(owner, name):
    """The AttributeError for ``owner.name`` (``owner``: ``"tensor"``, ``"tensor.random"``, ``"Tensor"``...),
    naming the symgraph spelling when ``name`` is a SymJAX name from :data:`RENAMES`."""
    entry = RENAMES.get(f"{owner}.{name}")
    where = {"tensor": "symgraph.tensor", "Tensor": "symbolic tensor"}.get(owner, f"symgraph.{owner}")
    if entry is None:
        return AttributeError(f"{where} has no attribute {name!r}")
    spelling, note = entry
    return AttributeError(f"{where} has no attribute {name!r}: SymJAX's {name} is spelled {spelling} in "
                          f"symgraph ({note})")


def keyword_hint(qualified, kwargs):
    """``"; ..."`` naming the symgraph spelling of a SymJAX keyword among ``kwargs`` passed to ``qualified``
    (e.g. ``"T.random.uniform"``), or ``""``."""
    owner = qualified.replace("symgraph.", "").replace("T.", "tensor.", 1)
    for keyword in kwargs:
        entry = RENAMES.get(f"{owner}({keyword}=)")
        if entry is not None:
            return f"; SymJAX's {keyword}= is spelled {entry[0]} ({entry[1]})"
    return ""


def symjax_keywords(qualified):
    """Decorator: a call of the decorated function with a SymJAX keyword of :data:`RENAMES` (e.g.
    ``minval=``) raises a TypeError naming the symgraph spelling."""

    def decorate(fn):
        @functools.wraps(fn)
        def checked(*args, **kwargs):
            hint = keyword_hint(qualified, kwargs)
            if hint:
                raise TypeError(f"{qualified}() got an unexpected keyword argument{hint}")
            return fn(*args, **kwargs)

        return checked

    return decorate


def module_getattr(owner):
    """A module ``__getattr__`` that raises :func:`attribute_error` for unknown names."""

    def __getattr__(name):
        raise attribute_error(owner, name)

    return __getattr__
