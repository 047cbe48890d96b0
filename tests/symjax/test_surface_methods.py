"""Tensor methods mirror ``jax.Array``'s (each against the method of a JAX array as oracle), and SymJAX's graph
surface: ``T.Placeholder``, ``T.Variable``, ``current_graph()``, ``Graph.get(name)``, ``get_ops``, and the
rename table's messages."""

import jax.numpy as jnp
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor import methods, renames

R = np.random.default_rng(3)
M = R.normal(size=(4, 5)).astype("float32")
SQ = R.normal(size=(3, 3)).astype("float32")

# (method, args, kwargs, input): node.<method>(*args, **kwargs) against jax.Array.<method>
METHOD_CASES = [
    ("all", (), {"axis": 0}, M > -1), ("any", (), {}, M > 1), ("argmax", (1,), {}, M), ("argmin", (), {}, M),
    ("argpartition", (2,), {}, M), ("argsort", (), {"axis": 0}, M), ("choose", ([M[0], M[1]],), {"mode": "clip"},
                                                                        (M[0] > 0).astype("int32")),
    ("clip", (-0.5, 0.5), {}, M), ("compress", ([True, False, True, True],), {"axis": 0, "size": 3}, M),
    ("conj", (), {}, M), ("conjugate", (), {}, M), ("copy", (), {}, M), ("cumprod", (1,), {}, M),
    ("cumsum", (), {"axis": 0}, M), ("diagonal", (), {"offset": 1}, SQ), ("dot", (M.T,), {}, M),
    ("flatten", (), {}, M), ("nonzero", (), {"size": 5}, M > 0.5), ("prod", (), {"axis": 1}, M),
    ("ptp", (0,), {}, M), ("ravel", (), {}, M), ("repeat", (2,), {"axis": 1}, M), ("round", (1,), {}, M * 10),
    ("searchsorted", (0.1,), {}, np.sort(M[0])), ("sort", (), {"axis": 0}, M), ("squeeze", (), {}, M[None]),
    ("std", (), {"ddof": 1}, M), ("swapaxes", (0, 1), {}, M), ("take", ([0, 2],), {"axis": 1}, M),
    ("trace", (), {}, SQ), ("var", (1,), {"keepdims": True}, M), ("transpose", (1, 0), {}, M),
    ("transpose", ((1, 0),), {}, M), ("transpose", (), {}, M),
]


@pytest.mark.parametrize("name, args, kwargs, value", METHOD_CASES, ids=[c[0] for c in METHOD_CASES])
def test_method_matches_jax_array(name, args, kwargs, value):
    x = sg.Placeholder(value.shape, value.dtype)
    node = getattr(x, name)(*args, **kwargs)
    oracle_args = [jnp.asarray(a) if isinstance(a, list) and name not in ("choose",) else a for a in args]
    expected = getattr(jnp.asarray(value), name)(*oracle_args, **kwargs)
    got = sg.function(x, outputs=list(node) if isinstance(node, tuple) else node)(value)
    for g, e in zip(got if isinstance(node, tuple) else [got], expected if isinstance(node, tuple) else [expected]):
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-5, atol=1e-6)


def test_every_method_has_a_case():
    assert set(methods.METHODS) | {"transpose", "compress"} == {c[0] for c in METHOD_CASES}


def test_properties_and_indexed_updates():
    x = sg.Placeholder((4, 5), "float32")
    feed = {x: M}
    assert x.size == 20 and sg.Placeholder((None, 2)).size is None
    np.testing.assert_allclose(x.mT.get(feed), M.T)
    np.testing.assert_allclose(x.real.get(feed), M)
    np.testing.assert_allclose(x.imag.get(feed), 0 * M)
    i = sg.Placeholder((), "int32")
    updates = [x.at[1].set(0.0), x.at[:, i].add(1.0), x.at[0, 1:3].multiply(2.0), x.at[i].min(0.0),
               x.at[[0, 0]].add(1.0), x.at[i].get(), x.at[2].divide(2.0), x.at[3].power(2.0), x.at[0].max(0.5)]
    got = sg.function(x, i, outputs=updates)(M, np.int32(2))
    a = jnp.asarray(M)
    expected = [a.at[1].set(0.0), a.at[:, 2].add(1.0), a.at[0, 1:3].multiply(2.0), a.at[2].min(0.0),
                a.at[jnp.array([0, 0])].add(1.0), a.at[2].get(), a.at[2].divide(2.0), a.at[3].power(2.0),
                a.at[0].max(0.5)]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-6)


def test_clone_replaces_inputs_as_symjax_did():
    x = sg.Placeholder((3,), "float32")
    y = (x * 2).sum()
    replaced = y.clone({x: T.ones(3)})
    assert replaced.get() == 6.0
    assert y.clone().get({x: np.ones(3, "float32")}) == 6.0


def test_a_failing_property_raises_its_own_error():
    """Tensor.__getattr__ does not hide the AttributeError a property raised (nor turn it into a method)."""
    node = T.linalg.qr(T.ones((3, 3)))[0]
    assert node.shape == (3, 3)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_method'"):
        node.no_such_method  # noqa: B018


def test_symjax_names_on_tensors_name_the_symgraph_spelling():
    x = sg.Placeholder((3,), "float32")
    with pytest.raises(AttributeError, match=r"SymJAX's eval is spelled node.get\(feed_dict\)"):
        x.eval  # noqa: B018
    with pytest.raises(AttributeError, match="symbolic tensor has no attribute 'nope'$"):
        x.nope  # noqa: B018
    assert not hasattr(x, "__array__") and not hasattr(x, "__jax_array__")


def test_the_rename_table_drives_the_messages():
    for key, (spelling, note) in renames.RENAMES.items():
        assert spelling and note, key
        owner, _, name = key.partition("(")[0].rpartition(".")
        if "(" in key or owner == "Tensor":
            continue
        module = {"tensor": T, "tensor.random": T.random}[owner]
        with pytest.raises(AttributeError, match=f"SymJAX's {name} is spelled"):
            getattr(module, name)


def test_placeholder_and_variable_in_tensor_namespace():
    with sg.Graph() as graph:
        x = T.Placeholder((None, 2), "float32", name="x")
        w = T.Variable(np.ones((2, 1), "float32"), name="w")
        assert sg.current_graph() is graph and sg.get_graph() is graph
        with sg.Scope("net"):
            y = T.matmul(x, w)
            z = T.relu(y)
        assert graph.get("x") is x and graph.get("w") is w and graph.get(y.name) is y
        assert sg.get_ops() == [y, z]
        assert sg.get_ops("net/*") == [y, z] and sg.get_ops("*relu*") == [z] and sg.get_ops(scope="other") == []
        with pytest.raises(KeyError, match=r"no node named 'net/matmull'; close names: \['net/matmul'\]"):
            graph.get("net/matmull")
        with pytest.raises(TypeError, match="get_ops: name must be a string"):
            sg.get_ops(3)
    assert sg.get_ops(graph=graph) == [y, z]
