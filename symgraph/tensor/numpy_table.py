"""The table that mirrors ``jax.numpy``, ``jax.numpy.linalg`` and ``jax.numpy.fft`` in ``symgraph.tensor``.

Each line of a table is ``split: name name ...``: every listed JAX function becomes the op of the same name
(``symgraph.tensor.wrap``), and ``split`` says how its arguments divide into operands and static
parameters:

- ``array``: the first parameter is an array (a node, an array, a list of numbers or a number);
- ``sequence``: the first parameter is a sequence of arrays (``concatenate([a, b])``);
- ``static``: no parameter is an array unless given one (creation: ``zeros(shape)``, ``arange(n)``).

In every case, any argument given as a node or an array is an operand; parameters named in
``ARRAY_NAMES`` also turn a list into an array (``take(x, indices=[0, 2])``), those in ``SEQUENCE_NAMES``
hold a sequence of operands, and ``*args`` parameters hold operands; all other arguments (axes, shapes,
dtypes, flags, Python numbers) are static. Ops written by hand in ``symgraph.tensor`` (``sum``, ``clip``,
``flatten``...) keep their own signature and are not generated; ``EXCLUDED`` lists, with the reason, the
public functions of ``jax.numpy`` that have no symbolic counterpart.
"""

#: Parameter names that are arrays when given a list (besides the first parameter of ``array`` lines).
ARRAY_NAMES = frozenset(
    "a b x y x1 x2 a1 a2 ar ar1 ar2 arr ary array m v val vals values condition indices ind mask weights xp fp "
    "bins q p z element test_elements f filt fill_value prepend append to_end to_begin w fweights aweights "
    "initial where dx sample".split())

#: Parameter names that hold a sequence of arrays.
SEQUENCE_NAMES = frozenset("arrays tup condlist choicelist choices keys multi_index".split())

NUMPY = """
array: absolute acos acosh angle arccos arccosh arcsin arcsinh arctan asin asinh atan atanh
array: bitwise_count bitwise_invert bitwise_not cbrt conj conjugate deg2rad degrees exp2 fabs frexp i0 imag
array: invert iscomplex isinf isneginf isposinf isreal log10 log2 modf positive rad2deg radians real rint
array: signbit sinc sinh cosh spacing trunc nan_to_num around
array: atan2 bitwise_and bitwise_left_shift bitwise_or bitwise_right_shift bitwise_xor copysign
array: divmod fmax fmin fmod float_power gcd heaviside hypot lcm ldexp left_shift logaddexp logaddexp2
array: logical_xor nextafter pow remainder right_shift true_divide
array: allclose array_equal array_equiv isclose isin
array: amax amin average count_nonzero cumprod cumulative_prod cumulative_sum median nanargmax nanargmin
array: nancumprod nancumsum nanmax nanmean nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum
array: nanvar percentile ptp quantile
array: argpartition argsort argwhere lexsort nonzero flatnonzero partition searchsorted sort sort_complex
array: unique unique_all unique_counts unique_inverse unique_values setdiff1d setxor1d union1d intersect1d
array: extract compress digitize bincount histogram histogram_bin_edges histogramdd histogram2d
array: array asarray astype copy atleast_1d atleast_2d atleast_3d ravel resize moveaxis rollaxis
array: permute_dims matrix_transpose roll rot90 fliplr flipud unstack split array_split hsplit vsplit
array: dsplit append insert delete pad diag diagflat diag_indices_from tril triu tril_indices_from
array: triu_indices_from trace choose put put_along_axis place fill_diagonal diff ediff1d gradient
array: trapezoid convolve correlate cross inner kron vdot vecdot matvec vecmat cov corrcoef interp
array: unwrap vander packbits unpackbits poly polyadd polyder polydiv polyfit polyint polymul polysub
array: polyval roots piecewise empty_like unravel_index broadcast_arrays ix_ meshgrid
array: apply_along_axis apply_over_axes
sequence: block column_stack concat dstack hstack vstack select ravel_multi_index
static: bartlett blackman hamming hanning kaiser empty identity tri tril_indices triu_indices
static: diag_indices indices mask_indices geomspace logspace fromfunction
"""

LINALG = """
array: cholesky cond cross det diagonal eig eigh eigvals eigvalsh inv lstsq matmul matrix_norm matrix_power
array: matrix_rank matrix_transpose norm outer pinv qr slogdet solve svd svdvals tensordot tensorinv
array: tensorsolve trace vecdot vector_norm
sequence: multi_dot
"""

FFT = """
array: fft fft2 fftn fftshift hfft ifft ifft2 ifftn ifftshift ihfft irfft irfft2 irfftn rfft rfft2 rfftn
static: fftfreq rfftfreq
"""

#: Public functions of ``jax.numpy`` with no symbolic counterpart, and why.
EXCLUDED = {
    "load": "reads a file into an array: load the data with numpy and feed it (a Placeholder or constant)",
    "save": "writes a file: evaluate the node (node.get() or a compiled function) and save the array",
    "savez": "writes a file: evaluate the nodes and save the arrays",
    "fromfile": "reads a file: load it with numpy and feed it",
    "frombuffer": "reads a host buffer: make the array with numpy and feed it",
    "fromiter": "consumes a Python iterator: make the array with numpy and feed it",
    "fromstring": "parses text: make the array with numpy and feed it",
    "from_dlpack": "imports another library's device buffer: make it a constant with symgraph.constant",
    "frompyfunc": "makes a numpy ufunc of a Python function; use T.vectorize for a function of nodes",
    "array_repr": "formats an array as text: evaluate the node first",
    "array_str": "formats an array as text: evaluate the node first",
    "get_printoptions": "numpy's printing settings, not a computation",
    "set_printoptions": "numpy's printing settings, not a computation",
    "printoptions": "numpy's printing settings, not a computation",
    "einsum_path": "plans a contraction on concrete arrays; T.einsum plans its own when it is compiled",
    "trim_zeros": "its output size depends on the values and it has no size= argument (JAX cannot trace it); "
                  "slice with indices computed from the values instead",
}

def parse(text):
    """``{name: split}`` of a table's text."""
    table = {}
    for line in text.strip().splitlines():
        split, names = line.split(":", 1)
        for name in names.split():
            table[name] = split.strip()
    return table
