"""``T.random``: every ``jax.random`` distribution against ``jax.random`` itself with the same key, SymJAX's
``randn``/``rand`` spellings, per-node ``seed=`` (adding a random node does not shift later draws), and
``randint``'s argument checks (trap 8: ``randint(0, 10, (10,))`` used to return ``[]``, ``randint((10,), 5, 2)``
fives)."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import symgraph as sg
import symgraph.tensor as T
from symgraph.rng import key_from_seed
from symgraph.tensor import random as random_module

FUNCTION_SEED = 11
NODE_SEED = 5


def _node_key(function_seed=FUNCTION_SEED, node_seed=NODE_SEED):
    """The key a node with ``seed=node_seed`` draws from at the first call of ``function(seed=function_seed)``:
    the call's key (the second half of the split state key) folded with the node's own salt."""
    call_key = jax.random.split(key_from_seed(function_seed))[1]
    return jax.random.fold_in(call_key, random_module.SEED_LIMIT + node_seed)


P3 = np.array([0.2, 0.3, 0.5], "float32")

# (name, args, kwargs) for T.random.<name>(*args, **kwargs, seed=NODE_SEED) vs jax.random.<name>(key, ...)
DISTRIBUTION_CASES = [
    ("ball", (3,), {"shape": (4,)}), ("beta", (2.0, 3.0), {"shape": (5,)}),
    ("binomial", (10.0, 0.3), {"shape": (5,)}), ("bits", ((4,),), {}), ("cauchy", ((5,),), {}),
    ("chisquare", (3.0,), {"shape": (5,)}), ("choice", (5, (3,)), {"replace": False}),
    ("dirichlet", (P3 * 4,), {"shape": (2,)}), ("double_sided_maxwell", (0.0, 1.0, (5,)), {}),
    ("exponential", ((5,),), {}), ("f", (3.0, 4.0), {"shape": (5,)}), ("gamma", (2.0,), {"shape": (5,)}),
    ("generalized_normal", (1.5, (5,)), {}), ("geometric", (0.3,), {"shape": (5,)}), ("laplace", ((5,),), {}),
    ("loggamma", (2.0,), {"shape": (5,)}), ("logistic", ((5,),), {}), ("lognormal", (0.5, (5,)), {}),
    ("maxwell", ((5,),), {}), ("multinomial", (10.0, P3), {"shape": (2, 3)}),
    ("multivariate_normal", (np.zeros(2, "float32"), np.eye(2, dtype="float32"), (3,)), {}),
    ("orthogonal", (3,), {}), ("pareto", (3.0,), {"shape": (5,)}), ("poisson", (4.0,), {"shape": (5,)}),
    ("rademacher", ((5,),), {}), ("rayleigh", (1.0,), {"shape": (5,)}), ("t", (4.0,), {"shape": (5,)}),
    ("triangular", (0.0, 0.3, 1.0), {"shape": (5,)}), ("truncated_normal", (-1.0, 2.0, (5,)), {}),
    ("wald", (1.0,), {"shape": (5,)}), ("weibull_min", (1.0, 2.0, (5,)), {}),
]

# The hand-written draws: (name, symbolic call, oracle of the node's key)
HAND_WRITTEN_CASES = [
    ("normal", lambda s: T.random.normal((4,), 1.0, 2.0, seed=s),
     lambda k: 1.0 + 2.0 * jax.random.normal(k, (4,))),
    ("uniform", lambda s: T.random.uniform((4,), -1.0, 3.0, seed=s),
     lambda k: jax.random.uniform(k, (4,), jnp.float32, -1.0, 3.0)),
    ("categorical", lambda s: T.random.categorical(jnp.log(P3), shape=(6,), seed=s),
     lambda k: jax.random.categorical(k, jnp.log(P3), shape=(6,))),
    ("bernoulli", lambda s: T.random.bernoulli(0.3, (6,), seed=s), lambda k: jax.random.bernoulli(k, 0.3, (6,))),
    ("randint", lambda s: T.random.randint((6,), 0, 10, seed=s), lambda k: jax.random.randint(k, (6,), 0, 10)),
    ("permutation", lambda s: T.random.permutation(6, seed=s), lambda k: jax.random.permutation(k, 6)),
    ("shuffle", lambda s: T.random.shuffle(jnp.arange(6), seed=s), lambda k: jax.random.permutation(k, 6)),
    ("gumbel", lambda s: T.random.gumbel((4,), seed=s), lambda k: jax.random.gumbel(k, (4,))),
    ("randn", lambda s: T.random.randn(2, 3, seed=s), lambda k: jax.random.normal(k, (2, 3))),
    ("rand", lambda s: T.random.rand((2, 3), seed=s), lambda k: jax.random.uniform(k, (2, 3))),
]


def _draw(node):
    return sg.function(outputs=node, seed=FUNCTION_SEED)()


@pytest.mark.parametrize("name, args, kwargs", DISTRIBUTION_CASES, ids=[c[0] for c in DISTRIBUTION_CASES])
def test_distribution_matches_jax_random_with_the_same_key(name, args, kwargs):
    with sg.Graph():
        node = getattr(T.random, name)(*args, **kwargs, seed=NODE_SEED)
        got = _draw(node)
    expected = np.asarray(getattr(jax.random, name)(_node_key(), *args, **kwargs))
    assert node.shape == expected.shape and node.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, op, oracle", HAND_WRITTEN_CASES, ids=[c[0] for c in HAND_WRITTEN_CASES])
def test_hand_written_draw_matches_jax_random_with_the_same_key(name, op, oracle):
    with sg.Graph():
        got = _draw(op(NODE_SEED))
    np.testing.assert_allclose(got, np.asarray(oracle(_node_key())), rtol=1e-5, atol=1e-6)


def test_every_jax_random_distribution_is_available_and_tested():
    public = [n for n in dir(jax.random) if not n.startswith("_") and inspect.isfunction(getattr(jax.random, n))]
    missing = [n for n in public if not hasattr(T.random, n)]
    assert sorted(missing) == sorted(random_module.KEY_FUNCTIONS)
    assert sorted(c[0] for c in DISTRIBUTION_CASES) == sorted(random_module.DISTRIBUTIONS)


def test_distributions_agree_with_scipy():
    """A statistical check of the parameterisations (Kolmogorov-Smirnov against scipy.stats)."""
    with sg.Graph():
        draws = _draw([T.random.truncated_normal(-1.0, 2.0, (4000,)), T.random.beta(2.0, 5.0, (4000,)),
                       T.random.gamma(3.0, (4000,)), T.random.t(5.0, (4000,))])
    for sample, law in zip(draws, [stats.truncnorm(-1, 2), stats.beta(2, 5), stats.gamma(3), stats.t(5)]):
        assert stats.kstest(sample, law.cdf).pvalue > 1e-3


def test_a_seeded_node_is_not_shifted_by_nodes_built_before_it():
    with sg.Graph():
        alone = _draw(T.random.normal((3,), seed=7))
    with sg.Graph():
        T.random.uniform((2,))
        T.random.beta(1.0, 2.0, (2,))
        shifted = _draw(T.random.normal((3,), seed=7))
    np.testing.assert_array_equal(alone, shifted)
    with sg.Graph():
        other = _draw(T.random.normal((3,), seed=8))
    assert not np.allclose(alone, other)


def test_unseeded_nodes_keep_their_index_salts_and_differ_from_seeded_ones():
    with sg.Graph():
        a, b = T.random.normal((3,)), T.random.normal((3,), seed=1)
        c = T.random.normal((3,))
        first = _draw([a, b, c])
    with sg.Graph():
        a, c = T.random.normal((3,)), T.random.normal((3,))
        second = _draw([a, c])
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[2], second[1])  # the seeded node took no index
    assert not np.allclose(first[0], first[1])


def test_a_seeded_node_draws_anew_at_each_call_and_each_loop_step():
    with sg.Graph():
        f = sg.function(outputs=T.random.normal((3,), seed=2), seed=0)
        assert not np.allclose(f(), f())
        _, steps = T.scan(lambda c, _: (c, T.random.normal((2,), seed=2)), np.float32(0), length=3)
        draws = sg.function(outputs=steps, seed=0)()
    assert not np.allclose(draws[0], draws[1])


@pytest.mark.parametrize("seed", [-1, 2**31, 1.5, True, "3"])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match=r"T.random.normal: seed must be an int in \[0, 2\*\*31\)"):
        T.random.normal((2,), seed=seed)
    with pytest.raises(ValueError, match=r"T.random.beta: seed must be"):
        T.random.beta(1.0, 1.0, seed=seed)


def test_randint_accepts_numpy_order_and_checks_its_bounds():
    with sg.Graph():
        numpy_order = _draw(T.random.randint(0, 10, (10,)))
        assert numpy_order.shape == (10,) and ((0 <= numpy_order) & (numpy_order < 10)).all()
        assert len(set(numpy_order.tolist())) > 1
        jax_order = T.random.randint((10,), 0, 10)
        assert jax_order.shape == (10,)
    with pytest.raises(ValueError, match=r"low must be below high .* got low=5, high=2"):
        T.random.randint((10,), 5, 2)
    with pytest.raises(TypeError, match=r"shape must be a tuple of ints \(e.g. \(10,\)\) or a node, got 10"):
        T.random.randint(10, 0, 5)
    with pytest.raises(TypeError, match=r"SymJAX's minval= is spelled T.random.randint\(low=\)"):
        T.random.randint((3,), minval=0, maxval=4)
    with sg.Graph():
        low = sg.Placeholder((), "int32")
        bounded = sg.function(low, outputs=T.random.randint((50,), low, low + 3), seed=1)(np.int32(7))
    assert ((7 <= bounded) & (bounded < 10)).all()


def test_symjax_spellings_and_keywords():
    assert T.random.randn(4, 2).shape == (4, 2) and T.random.randn((4, 2)).shape == (4, 2)
    assert T.random.rand(3).shape == (3,)
    with pytest.raises(TypeError, match=r"SymJAX's minval= is spelled T.random.uniform\(low=\)"):
        T.random.uniform((2,), minval=0.0)
    with pytest.raises(TypeError, match=r"T.random.beta: missing a required argument: 'b'; its signature is "
                                        r"beta\(a, b, shape=None, dtype=None, \*, seed=None\)"):
        T.random.beta(1.0)
    with pytest.raises(AttributeError, match="threefry_2x32 is spelled symgraph.key_from_seed"):
        T.random.threefry_2x32  # noqa: B018
