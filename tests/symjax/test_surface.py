"""``symgraph.tensor`` mirrors ``jax.numpy``, ``jax.numpy.linalg`` and ``jax.numpy.fft``: the coverage of their
public namespaces, and every generated op against its ``jax.numpy`` oracle (inputs drawn per signature class,
arrays fed through placeholders of a compiled function, build-time shapes and dtypes checked)."""

import inspect
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor import numpy_table

R = np.random.default_rng(7)
M = R.normal(size=(4, 5)).astype("float32")
P = (R.uniform(size=(4, 5)) + 0.1).astype("float32")
U = R.uniform(-0.9, 0.9, size=(4, 5)).astype("float32")
G = (R.uniform(size=(4, 5)) + 1.1).astype("float32")
K = R.integers(1, 10, size=(4, 5)).astype("int32")
J = R.integers(0, 4, size=(4, 5)).astype("int32")
BOOL = M > 0
V = R.normal(size=5).astype("float32")
W = R.normal(size=5).astype("float32")
SQ = (R.normal(size=(3, 3)) + 3 * np.eye(3)).astype("float32")
SPD = (SQ @ SQ.T).astype("float32")
SYM = (SQ + SQ.T).astype("float32")
V3 = R.normal(size=(4, 3)).astype("float32")
IDX = np.array([0, 2, 3], "int32")


def _cases(names, *args, **kwargs):
    return [(name, args, kwargs) for name in names.split()]


# (name, args, kwargs): the op T.<name> (or T.linalg/T.fft for "linalg.x"/"fft.x") against jnp's <name>.
NUMPY_CASES = [
    *_cases("abs absolute angle arctan atan arcsinh asinh cbrt conj conjugate deg2rad degrees exp2 fabs imag isinf "
            "isneginf isposinf isreal iscomplex positive rad2deg radians real rint signbit sinc sinh cosh spacing "
            "trunc nan_to_num around frexp modf i0 atleast_1d atleast_2d atleast_3d copy ravel fliplr flipud "
            "matrix_transpose diff ediff1d gradient trapezoid unwrap sort_complex cumprod amax amin average median "
            "ptp nanargmax nanargmin nancumprod nancumsum nanmax nanmean "
            "nanmedian nanmin nanprod nanstd nansum nanvar count_nonzero argsort sort empty_like", M),
    *_cases("cumulative_prod cumulative_sum", M, axis=1),
    *_cases("acos arccos asin arcsin atanh", U), *_cases("acosh arccosh log10 log2", G),
    *_cases("bitwise_count bitwise_invert bitwise_not invert", K),
    *_cases("add arctan2 atan2 copysign fmax fmin fmod heaviside hypot logaddexp logaddexp2 nextafter "
            "remainder true_divide divmod allclose array_equal array_equiv isclose", M, P),
    *_cases("float_power pow", P, M),
    *_cases("bitwise_and bitwise_or bitwise_xor gcd lcm bitwise_left_shift bitwise_right_shift left_shift "
            "right_shift", K, J),
    ("ldexp", (M, J), {}), ("logical_xor", (BOOL, M < 0.5), {}), ("isin", (K, np.array([1, 2, 3], "int32")), {}),
    *_cases("inner kron vdot vecdot convolve correlate polyadd polysub polymul polyval", V, W),
    ("polydiv", (V, W[:2]), {}), ("polyder", (V,), {}), ("polyint", (V,), {}), ("poly", (V,), {}),
    ("polyfit", (V, W, 2), {}), ("roots", (V,), {"strip_zeros": False}), ("vander", (V,), {"N": 3}),
    ("matvec", (M, V), {}), ("vecmat", (V3[:, 0], V3), {}), ("cross", (V3, V3[::-1]), {}),
    *_cases("cov corrcoef", M), ("interp", (V, np.sort(W), W), {}), ("digitize", (V, np.sort(W)), {}),
    ("searchsorted", (np.sort(V), W), {}), ("bincount", (K[0],), {"length": 10}),
    ("histogram", (V,), {"bins": 4}), ("histogram_bin_edges", (V,), {"bins": 3}),
    ("histogram2d", (V, W), {"bins": 3}), ("histogramdd", (V3,), {"bins": 2}),
    *_cases("percentile nanpercentile", M, 30.0, axis=1),
    *_cases("quantile nanquantile", M, np.array([0.2, 0.7], "float32"), axis=0),
    *_cases("partition argpartition", V, 2),
    *_cases("argwhere nonzero flatnonzero", M > 0.5, size=6), ("extract", (M > 0, M), {"size": 4}),
    ("compress", (np.array([True, False, True, False]), M), {"axis": 0, "size": 2}),
    *_cases("unique unique_values", K, size=5), *_cases("unique_all unique_counts unique_inverse", K[0], size=5),
    *_cases("setdiff1d setxor1d union1d intersect1d", K[0], K[1], size=3),
    ("lexsort", ([K[0], K[1]],), {}), ("array", (M,), {}), ("asarray", ([1.0, 2.0],), {}),
    ("astype", (M, "int32"), {}), ("resize", (M, (3, 3)), {}), ("moveaxis", (M, 0, 1), {}),
    ("rollaxis", (M, 1), {}), ("permute_dims", (M, (1, 0)), {}), ("roll", (M, 2), {"axis": 1}),
    ("rot90", (M,), {}), ("unstack", (M,), {}), ("split", (M, 2), {}), ("array_split", (V, 3), {}),
    ("hsplit", (M[:, :4], 2), {}), ("vsplit", (M, [1, 3]), {}), ("dsplit", (M[None], [2]), {}),
    ("append", (V, W[:2]), {}), ("insert", (V, 1, 9.0), {}), ("delete", (V, IDX), {"assume_unique_indices": True}),
    ("pad", (M, ((1, 0), (0, 2))), {}), ("diag", (V,), {"k": 1}), ("diagflat", (V[:3],), {}),
    ("diag_indices_from", (SQ,), {}), ("tril", (SQ,), {}), ("triu", (SQ,), {"k": 1}),
    ("tril_indices_from", (SQ,), {}), ("triu_indices_from", (SQ,), {}), ("trace", (SQ,), {}),
    ("choose", (J[0], [M[0], M[1], M[2], M[3]]), {"mode": "clip"}),
    ("put", (V, IDX, W[:3]), {"inplace": False, "mode": "clip"}),
    ("put_along_axis", (M, J[:, :1], 0.0, 1), {"inplace": False}),
    ("place", (V, V > 0, W), {"inplace": False}), ("fill_diagonal", (SQ, 0.0), {"inplace": False}),
    ("packbits", (M > 0,), {}), ("unpackbits", (K.astype("uint8"),), {}),
    ("piecewise", (V, [V < 0, V >= 0], [-1.0, 1.0]), {}), ("unravel_index", (IDX, (2, 2)), {}),
    ("broadcast_arrays", (M, V), {}), ("ix_", (IDX, IDX[:2]), {}), ("meshgrid", (V, W[:3]), {}),
    ("apply_along_axis", (jnp.sum, 1, M), {}), ("apply_over_axes", (jnp.sum, M, (0,)), {}),
    *_cases("block column_stack concat dstack hstack vstack", [M, P]),
    ("select", ([M < 0, M > 1], [M, P]), {"default": 0.5}),
    ("ravel_multi_index", ([IDX, IDX], (4, 4)), {"mode": "clip"}),
    *_cases("bartlett blackman hamming hanning", 5), ("kaiser", (5, 2.0), {}), ("empty", ((2, 2),), {}),
    ("identity", (3,), {}), ("tri", (3, 4), {"k": 1}), ("tril_indices", (3,), {}), ("triu_indices", (3,), {}),
    ("diag_indices", (3,), {}), ("indices", ((2, 3),), {}), ("mask_indices", (3, jnp.triu), {"size": 6}),
    ("geomspace", (1.0, 100.0, 5), {}), ("logspace", (0.0, 2.0, 4), {}),
    ("fromfunction", (lambda i, j: i + j, (2, 3)), {"dtype": "float32"}),
    *_cases("linalg.cholesky", SPD), *_cases("linalg.eigh linalg.eigvalsh", SYM),
    *_cases("linalg.cond linalg.det linalg.inv linalg.matrix_norm linalg.matrix_rank linalg.matrix_transpose "
            "linalg.pinv linalg.qr linalg.slogdet linalg.svd linalg.svdvals linalg.diagonal linalg.trace "
            "linalg.norm linalg.vector_norm", SQ),
    *_cases("linalg.eig linalg.eigvals", SPD), ("linalg.matrix_power", (SQ, 3), {}),
    *_cases("linalg.solve linalg.lstsq linalg.matmul", SQ, SPD), ("linalg.tensorsolve", (SPD, V[:3]), {}),
    ("linalg.tensorinv", (SQ.reshape(3, 3),), {"ind": 1}), ("linalg.cross", (V3, V3[::-1]), {}),
    *_cases("linalg.outer linalg.vecdot", V, W), ("linalg.tensordot", (M, M.T), {"axes": 1}),
    ("linalg.multi_dot", ([SQ, SPD, SQ],), {}),
    *_cases("fft.fft fft.ifft fft.rfft fft.ihfft fft.fftshift fft.ifftshift fft.fft2 fft.ifft2 fft.fftn fft.ifftn "
            "fft.rfft2 fft.rfftn", M),
    *_cases("fft.irfft fft.hfft", M, n=6), *_cases("fft.irfft2 fft.irfftn", M, s=(4, 6)),
    *_cases("fft.fftfreq fft.rfftfreq", 8, 0.5),
]

# jnp functions whose results are not comparable elementwise between two runs (placeholders for memory).
UNDEFINED_VALUES = {"empty", "empty_like"}


def _resolve(name, where):
    module, _, short = name.rpartition(".")
    return getattr(getattr(where, module) if module else where, short)


def _placeholders(value, inputs, placeholders):
    """``value`` with every numpy array replaced by a placeholder (recorded with its array)."""
    if isinstance(value, np.ndarray):
        node = sg.Placeholder(value.shape, value.dtype)
        inputs.append(value)
        placeholders.append(node)
        return node
    if isinstance(value, list):
        return [_placeholders(v, inputs, placeholders) for v in value]
    return value


@pytest.mark.parametrize("name, args, kwargs", NUMPY_CASES, ids=[c[0] for c in NUMPY_CASES])
def test_generated_op_matches_its_jax_oracle(name, args, kwargs):
    expected = _resolve(name, jnp)(*args, **kwargs)
    inputs, placeholders = [], []
    with sg.Graph():
        symbolic_args = [_placeholders(a, inputs, placeholders) for a in args]
        out = _resolve(name, T)(*symbolic_args, **kwargs)
        outputs = jax.tree_util.tree_leaves(out)
        got = sg.function(*placeholders, outputs=outputs, on_unused_input="ignore")(*inputs)
    expected = jax.tree_util.tree_leaves(expected)
    assert len(got) == len(expected), name
    for node, value, oracle in zip(outputs, got, expected):
        oracle = np.asarray(oracle)
        assert node.shape == oracle.shape and node.dtype == oracle.dtype, (name, node, oracle.shape, oracle.dtype)
        if name not in UNDEFINED_VALUES:
            np.testing.assert_allclose(value, oracle, rtol=2e-5, atol=2e-5, err_msg=name)


def _tested(prefix, table):
    names = {n for n, _, _ in NUMPY_CASES}
    return [n for n in numpy_table.parse(table) if f"{prefix}{n}" not in names]


def test_every_generated_op_has_an_oracle_case():
    assert _tested("", numpy_table.NUMPY) == []
    assert _tested("linalg.", numpy_table.LINALG) == []
    assert _tested("fft.", numpy_table.FFT) == []


def _public_functions(module):
    return sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))
                  and not isinstance(getattr(module, n), type | types.ModuleType))


COVERAGE = [(jnp, T, numpy_table.EXCLUDED), (jnp.linalg, T.linalg, {}), (jnp.fft, T.fft, {})]


@pytest.mark.parametrize("jax_module, module, excluded", COVERAGE, ids=["numpy", "linalg", "fft"])
def test_coverage_of_the_jax_namespace(jax_module, module, excluded):
    """At least 95% of the public functions are available (with jax's signature), and each missing one is
    excluded with a reason."""
    names = _public_functions(jax_module)
    missing = [n for n in names if not callable(getattr(module, n, None))]
    assert sorted(missing) == sorted(excluded), "a missing function needs a reason in numpy_table.EXCLUDED"
    assert all(reason for reason in excluded.values())
    assert (len(names) - len(missing)) / len(names) >= 0.95


def test_generated_ops_keep_jax_signatures_and_docstrings():
    for name, op in T.GENERATED.items():
        if not isinstance(getattr(jnp, name), jnp.ufunc):
            assert inspect.signature(op) == inspect.signature(getattr(jnp, name)), name
        assert op.__doc__ and f"jax.numpy.{name}" in op.__doc__


def test_build_time_functions_answer_python_values():
    x = sg.Placeholder((None, 3), "float32")
    assert T.shape(x) == (None, 3) and T.ndim(x) == 2 and T.size(x) is None and T.size(x, 1) == 3
    assert T.isscalar(T.sum(x)) and not T.isscalar(x) and T.iterable(x) and not T.iterable(T.sum(x))
    assert not T.iscomplexobj(x) and T.isrealobj(x) and T.iscomplexobj(T.fft.fft(x))
    assert T.result_type(x, T.ones(2, "int32")) == jnp.float32 and T.can_cast(x, "float64")
    assert T.promote_types(x, "int8") == jnp.float32 and T.issubdtype(x, jnp.floating)
    assert T.isdtype(x, "real floating") and T.broadcast_shapes((3, 1), T.ones((1, 4))) == (3, 4)
    square = T.vectorize(lambda row: jnp.dot(row, row), signature="(n)->()")
    np.testing.assert_allclose(square(x).get({x: M[:, :3]}), np.sum(M[:, :3] ** 2, axis=1), rtol=1e-5)


def test_arguments_split_into_operands_and_static_parameters():
    x = sg.Placeholder((4, 5), "float32")
    mask = sg.Placeholder((4, 5), "bool")
    # a node given where jnp expects a static value or a where= mask becomes an operand
    total = T.nansum(x, axis=1, where=mask)
    np.testing.assert_allclose(total.get({x: M, mask: BOOL}), np.sum(np.where(BOOL, M, 0), axis=1), rtol=1e-5)
    # lists of numbers in an array parameter are arrays; in a shape parameter, tuples
    np.testing.assert_allclose(T.take(x, [0, 2], axis=1).get({x: M}), M[:, [0, 2]])
    assert T.pad(x, [[1, 0], [0, 2]]).shape == (5, 7)
    # several outputs come back as a tuple of nodes of JAX's kind (named fields kept)
    svd = T.linalg.svd(SQ)
    assert svd.S.shape == (3,) and isinstance(svd, tuple)
    # a bad call names the function and its signature
    with pytest.raises(TypeError, match=r"jax.numpy.roll: .*signature is roll\(a, shift"):
        T.roll(x)
    with pytest.raises(sg.ShapeError, match="solve: cannot be applied"):
        T.linalg.solve(x, T.ones(3))


def test_unknown_dimensions_flow_through_generated_ops():
    x = sg.Placeholder((None, 5), "float32")
    assert T.cumprod(x, axis=1).shape == (None, 5)
    assert T.nanmean(x, axis=0).shape == (5,)
    assert T.vstack([x, x]).shape == (None, 5)
    assert T.fft.rfft(x).shape == (None, 3)


def test_excluded_and_symjax_names_raise_with_the_way():
    with pytest.raises(AttributeError, match="no attribute 'load'"):
        T.load  # noqa: B018
    with pytest.raises(AttributeError, match=r"index_update is spelled T.set_at"):
        T.index_update  # noqa: B018
    with pytest.raises(AttributeError, match=r"symgraph.tensor.linalg has no attribute 'nope'"):
        T.linalg.nope  # noqa: B018


def test_the_api_reference_lists_every_generated_op():
    page = (Path(__file__).resolve().parents[2] / "docs" / "api" / "tensor.rst").read_text()
    listed = {line.strip() for line in page.splitlines() if line.startswith("   ")}
    assert sorted(set(T.GENERATED) - listed) == []
    assert all(f"``{name}``" in page for name in numpy_table.EXCLUDED)


def test_building_the_table_is_cheap():
    """Wrappers are made without inspecting signatures (that happens at an op's first call): import stays fast."""
    import time

    from symgraph.tensor import wrap

    start = time.perf_counter()
    wrap.build(jnp, numpy_table.NUMPY, "jax.numpy")
    assert time.perf_counter() - start < 0.2
