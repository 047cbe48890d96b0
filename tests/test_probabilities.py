"""Tests of symgraph.probabilities against scipy.stats, closed forms and numerical integration.

Statistical checks use fixed seeds and tolerances of a few standard errors (computed from the samples or
from the known variance), so they are deterministic and still fail when a moment is off.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

import symgraph as sg
import symgraph.tensor as T
from symgraph import probabilities as P

Z = 5.0  # tolerance in standard errors for Monte-Carlo checks


@pytest.fixture(autouse=True)
def graph():
    with sg.Graph("probabilities") as g:
        yield g


def run(outputs, seed=0):
    """Compile once and evaluate (no inputs)."""
    return sg.function(outputs=outputs, seed=seed)()


def close(actual, expected, rtol=2e-5, atol=2e-5):
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol,
                               atol=atol)


def within_se(estimate, expected, se, z=Z):
    """|estimate - expected| <= z standard errors, entrywise."""
    estimate, expected, se = (np.asarray(v, np.float64) for v in (estimate, expected, se))
    assert np.all(np.abs(estimate - expected) <= z * se), (estimate, expected, se)


def log_sech2(u):
    """log(1 - tanh(u)^2) = log 4 - 2 log(e^u + e^-u), in float64 (independent of the library's formula)."""
    return np.log(4.0) - 2.0 * np.logaddexp(u, -u)


# ---------------------------------------------------------------------------------------------------------
# Normal / DiagNormal
# ---------------------------------------------------------------------------------------------------------

def test_normal_density_entropy_and_moments_match_scipy():
    mean = np.array([0.5, -1.0, 2.0], "float32")
    std = np.array([[0.5, 1.0, 2.0], [1.5, 0.3, 0.7]], "float32")
    x = np.random.default_rng(0).normal(size=(4, 2, 3)).astype("float32")
    by_std, by_log_std = P.Normal(mean, std=std), P.Normal(mean, log_std=np.log(std))
    diag = P.DiagNormal(mean, std=std)
    out = run([by_std.log_prob(x), by_log_std.log_prob(x), by_std.entropy(), by_log_std.entropy(),
               by_std.mean(), by_std.mode(), diag.log_prob(x), diag.entropy()])
    ref = stats.norm.logpdf(x, mean, std)
    ref_entropy = stats.norm.entropy(np.broadcast_to(mean, std.shape), std)
    close(out[0], ref)
    close(out[1], ref)
    close(out[2], ref_entropy)
    close(out[3], ref_entropy)
    close(out[4], np.broadcast_to(mean, std.shape), 0, 0)
    close(out[5], np.broadcast_to(mean, std.shape), 0, 0)
    close(out[6], ref.sum(-1), rtol=1e-5, atol=1e-4)
    close(out[7], ref_entropy.sum(-1), rtol=1e-5, atol=1e-4)
    assert (by_std.batch_shape, by_std.event_shape) == ((2, 3), ())
    assert (diag.batch_shape, diag.event_shape) == ((2,), (3,))
    assert out[6].shape == (4, 2)


def test_normal_kl_matches_closed_form_and_integration():
    mp, sp = np.array([0.0, 1.0, -2.0], "float32"), np.array([1.0, 0.5, 2.0], "float32")
    mq, sq = np.array([0.5, -1.0, -2.0], "float32"), np.array([2.0, 0.7, 0.4], "float32")
    p, q = P.Normal(mp, std=sp), P.Normal(mq, log_std=np.log(sq))
    out = run([P.kl(p, q), P.kl(P.DiagNormal(mp, sp), P.DiagNormal(mq, sq)), p.kl(p)])
    closed = np.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5
    integrated = [integrate.quad(lambda v, i=i: stats.norm.pdf(v, mp[i], sp[i])
                                 * (stats.norm.logpdf(v, mp[i], sp[i]) - stats.norm.logpdf(v, mq[i], sq[i])),
                                 -40, 40, limit=200)[0] for i in range(3)]
    close(out[0], closed)
    close(out[0], integrated, rtol=1e-5, atol=1e-5)
    close(out[1], closed.sum())
    close(out[2], np.zeros(3), 0, 1e-6)


def test_normal_sample_moments_within_standard_error():
    n = 200_000
    mean, std = np.array([0.3, -2.0], "float32"), np.array([0.5, 3.0], "float32")
    samples = run(P.Normal(mean, std=std).sample((n,)), seed=1)
    assert samples.shape == (n, 2)
    within_se(samples.mean(0), mean, std / np.sqrt(n))
    within_se(samples.var(0), std**2, std**2 * np.sqrt(2.0 / n))


def test_normal_reparameterised_gradient_matches_analytic():
    # d/dmu E[x^2] = 2 mu and d/dsigma E[x^2] = 2 sigma (E[x^2] = mu^2 + sigma^2). One independent draw per
    # entry of the parameters, so the per-entry gradients are i.i.d. and their standard error is known.
    n, mu, sigma = 100_000, 0.7, 1.3
    mean = sg.Variable(np.full(n, mu, "float32"))
    std = sg.Variable(np.full(n, sigma, "float32"))
    x = P.Normal(mean, std=std).sample(seed=3)
    g_mean, g_std = sg.gradients(T.sum(x**2), [mean, std])
    g_mean, g_std = run([g_mean, g_std])
    within_se(g_mean.mean(), 2 * mu, g_mean.std() / np.sqrt(n))
    within_se(g_std.mean(), 2 * sigma, g_std.std() / np.sqrt(n))


# ---------------------------------------------------------------------------------------------------------
# Randomness: seeds, keys, compiled-function keys, jit / vmap / scan
# ---------------------------------------------------------------------------------------------------------

def test_seeds_keys_and_function_keys():
    dist = P.Normal(np.zeros(3, "float32"), std=1.0)
    key = sg.Placeholder((2,), "uint32", name="key")
    nodes = [dist.sample((2,), seed=7), dist.sample((2,), seed=sg.key_from_seed(7)),
             dist.sample((2,), seed=jax.random.key(7)), dist.sample((2,), seed=key),
             dist.sample((2,)), dist.sample((2,))]
    f = sg.function(key, outputs=nodes, seed=11)
    first, second = f(np.asarray(sg.key_from_seed(7))), f(np.asarray(sg.key_from_seed(7)))
    for i in range(4):  # the same fixed draw, whatever the form of the seed, at every call
        close(first[i], first[0], 0, 0)
        close(second[i], first[0], 0, 0)
    assert not np.allclose(first[4], first[5])  # two graph-key nodes are independent
    assert not np.allclose(first[4], second[4])  # and draw afresh at each call
    again = sg.function(key, outputs=nodes, seed=11)(np.asarray(sg.key_from_seed(7)))
    close(again[4], first[4], 0, 0)  # a fixed function seed reproduces them


def test_samples_inside_jit_vmap_and_scan():
    mean = sg.Placeholder((None, 2), name="mean")
    dist = P.TanhNormal(mean, log_std=np.zeros(2, "float32"), event_ndims=1)
    y, log_prob = dist.sample_and_log_prob()
    f = sg.function(mean, outputs=[y, log_prob])
    data = np.zeros((3, 2), "float32")
    keys = jnp.stack([sg.key_from_seed(s) for s in range(4)])
    ys, lps = jax.jit(jax.vmap(lambda k: f.pure({f.key_name: k}, data)[0]))(keys)
    assert ys.shape == (4, 3, 2) and lps.shape == (4, 3)
    assert len({float(v) for v in ys[:, 0, 0]}) == 4  # one stream per key
    close(lps, stats.norm.logpdf(np.arctanh(np.asarray(ys, np.float64))).sum(-1)
          - np.log1p(-np.asarray(ys, np.float64) ** 2).sum(-1), rtol=1e-4, atol=1e-3)
    # a distribution built outside a scan body, sampled inside it: fresh draws per iteration
    outer = P.Normal(0.0, std=1.0)
    _, draws = T.scan(lambda carry, _: (carry, outer.sample((3,))), np.float32(0), length=5)
    # and one built inside a T.vmap body: independent draws per element
    mapped = T.vmap(lambda m: P.Normal(m, std=1.0).sample((2,)), np.zeros((4, 3), "float32"))
    draws, mapped = run([draws, mapped])
    assert draws.shape == (5, 3) and len(np.unique(draws)) == 15
    assert mapped.shape == (4, 2, 3) and len(np.unique(mapped)) == 24


def test_symbolic_parameters_keep_unknown_dimensions():
    mean = sg.Placeholder((None, 3), name="mean")
    std = sg.Placeholder((), name="std")
    dist = P.Normal(mean, std=std)  # symbolic std: not checked at build time (documented)
    assert dist.batch_shape == (None, 3)
    sample, log_prob = dist.sample((2,)), dist.log_prob(np.zeros(3, "float32"))
    assert sample.shape == (2, None, 3) and log_prob.shape == (None, 3)
    f = sg.function(mean, std, outputs=[sample, log_prob])
    s, lp = f(np.zeros((5, 3), "float32"), np.float32(2.0))
    assert s.shape == (2, 5, 3)
    close(lp, stats.norm.logpdf(0, 0, 2) * np.ones((5, 3)))
    _, bad = f(np.zeros((1, 3), "float32"), np.float32(-1.0))
    assert np.all(np.isnan(bad))  # what an unchecked invalid symbolic parameter gives


# ---------------------------------------------------------------------------------------------------------
# Categorical
# ---------------------------------------------------------------------------------------------------------

def test_categorical_matches_scipy():
    rng = np.random.default_rng(1)
    logits, other = rng.normal(size=(2, 4)).astype("float32"), rng.normal(size=(2, 4)).astype("float32")
    p, q = special.softmax(logits.astype(np.float64), -1), special.softmax(other.astype(np.float64), -1)
    x = np.array([[0, 3], [2, 1], [3, 3]])
    dist, dist_q = P.Categorical(logits=logits), P.Categorical(logits=other)
    by_probs = P.Categorical(probs=p.astype("float32"))
    out = run([dist.log_prob(x), by_probs.log_prob(x), dist.entropy(), by_probs.entropy(), dist.mean(),
               dist.mode(), P.kl(dist, dist_q), dist.probs, dist.log_prob(np.array([-1, 4]))])
    ref = np.stack([[stats.multinomial.logpmf(np.eye(4)[k], 1, p[j]) for j, k in enumerate(row)]
                    for row in x])
    close(out[0], ref)
    close(out[1], ref)
    close(out[2], stats.entropy(p, axis=-1))
    close(out[3], stats.entropy(p, axis=-1))
    close(out[4], p @ np.arange(4))
    assert out[5].dtype == np.int32 and np.array_equal(out[5], logits.argmax(-1))
    close(out[6], stats.entropy(p, q, axis=-1))
    close(out[7], p)
    assert np.all(np.isneginf(out[8]))


def test_categorical_with_zero_probabilities():
    p = np.array([0.0, 0.25, 0.75], "float32")
    q = np.array([0.5, 0.5, 0.0], "float32")
    dp, dq = P.Categorical(probs=p), P.Categorical(probs=q)
    out = run([dp.entropy(), dp.log_prob(np.array([0, 1, 2])), P.kl(dp, dq), P.kl(dq, dp),
               P.kl(dp, P.Categorical(probs=np.array([0.2, 0.3, 0.5], "float32")))])
    close(out[0], stats.entropy(p))
    assert np.isneginf(out[1][0]) and np.allclose(out[1][1:], np.log(p[1:]))
    assert np.isinf(out[2]) and np.isinf(out[3])  # q puts no mass where p does (both directions here)
    close(out[4], stats.entropy(p, [0.2, 0.3, 0.5]))


def test_categorical_masked_logits_keep_finite_values_and_gradients():
    # invalid-action masking sets logits to -inf: entropy, KL, log_prob and their gradients stay finite
    logits = sg.Variable(np.array([-np.inf, 0.0, 1.0], "float32"))
    dist, uniform = P.Categorical(logits=logits), P.Categorical(logits=np.zeros(3, "float32"))
    loss = T.sum(dist.entropy()) + T.sum(P.kl(dist, uniform)) + T.sum(dist.log_prob(np.array([1, 2])))
    entropy, divergence, grad = run([dist.entropy(), P.kl(dist, uniform), sg.gradients(loss, logits)])
    p = np.array([0.0, 1.0, np.e]) / (1 + np.e)
    close(entropy, stats.entropy(p))
    close(divergence, stats.entropy(p, np.full(3, 1 / 3)))
    # loss = H + (log 3 - H) + log p1 + log p2, so d loss / d logit_k = 1 - 2 p_k for the finite logits
    close(grad, [0.0, 1 - 2 * p[1], 1 - 2 * p[2]])


def test_categorical_event_ndims_sums_independent_choices():
    logits = np.log(np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]], "float32"))
    joint, single = P.Categorical(logits=logits, event_ndims=1), P.Categorical(logits=logits)
    other = P.Categorical(logits=np.zeros((3, 2), "float32"), event_ndims=1)
    x = np.array([1, 0, 1])
    out = run([joint.log_prob(x), joint.entropy(), P.kl(joint, other), joint.sample((4,))])
    p = np.exp(logits.astype(np.float64))
    close(out[0], np.log([0.8, 0.6, 0.5]).sum())
    close(out[1], stats.entropy(p, axis=-1).sum())
    close(out[2], stats.entropy(p, np.full((3, 2), 0.5), axis=-1).sum())
    assert out[3].shape == (4, 3) and (joint.batch_shape, joint.event_shape) == ((), (3,))
    assert (single.batch_shape, single.event_shape) == ((3,), ())


def test_categorical_sample_frequencies_within_standard_error():
    n, p = 100_000, np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    samples = run(P.Categorical(logits=np.log(p).astype("float32")).sample((n,)), seed=2)
    assert samples.shape == (n, 2) and samples.dtype == np.int32
    for j in range(2):
        freq = np.bincount(samples[:, j], minlength=3) / n
        within_se(freq, p[j], np.sqrt(p[j] * (1 - p[j]) / n))


# ---------------------------------------------------------------------------------------------------------
# Bernoulli
# ---------------------------------------------------------------------------------------------------------

def test_bernoulli_matches_scipy():
    p = np.array([0.0, 0.1, 0.5, 0.8, 1.0], "float32")
    q = np.array([0.3, 0.3, 0.4, 0.9, 0.6], "float32")
    inner = p[1:4]
    by_probs, by_logits = P.Bernoulli(probs=p), P.Bernoulli(logits=special.logit(inner).astype("float32"))
    ones, zeros = np.ones(5, "float32"), np.zeros(5, "float32")
    out = run([by_probs.log_prob(ones), by_probs.log_prob(zeros), by_probs.entropy(), by_probs.mean(),
               by_probs.mode(), by_logits.log_prob(ones[:3]), by_logits.log_prob(zeros[:3]),
               by_logits.entropy(), P.kl(by_probs, P.Bernoulli(probs=q)),
               P.kl(by_logits, P.Bernoulli(logits=special.logit(q[1:4]))),
               P.Bernoulli(probs=inner, event_ndims=1).entropy(), by_logits.probs, by_probs.logits,
               by_probs.log_prob(np.full(5, 0.5, "float32"))])
    with np.errstate(divide="ignore"):
        close(out[0], stats.bernoulli.logpmf(1, p))
        close(out[1], stats.bernoulli.logpmf(0, p))
    close(out[2], stats.bernoulli.entropy(p))
    close(out[3], p, 0, 0)
    assert np.array_equal(out[4], [0, 0, 0, 1, 1])
    close(out[5], stats.bernoulli.logpmf(1, inner))
    close(out[6], stats.bernoulli.logpmf(0, inner))
    close(out[7], stats.bernoulli.entropy(inner))
    kl_ref = [stats.entropy([a, 1 - a], [b, 1 - b]) for a, b in zip(p.astype(np.float64), q, strict=True)]
    close(out[8], kl_ref)
    close(out[9], kl_ref[1:4])
    close(out[10], stats.bernoulli.entropy(inner).sum())
    close(out[11], inner)
    close(out[12][1:4], special.logit(inner))
    assert np.all(np.isneginf(out[13]))


def test_bernoulli_extreme_logits_stay_finite():
    logits = sg.Variable(np.array([-100.0, 100.0], "float32"))
    dist = P.Bernoulli(logits=logits)
    entropy = dist.entropy()
    grad = sg.gradients(T.sum(entropy) + T.sum(dist.log_prob(np.array([1.0, 0.0]))), logits)
    lp, h, g = run([dist.log_prob(np.array([1, 0])), entropy, grad])
    close(lp, [-100.0, -100.0])
    assert np.all(np.isfinite(h)) and np.all(h >= 0) and np.all(np.isfinite(g))


def test_bernoulli_sample_frequencies_within_standard_error():
    n, p = 100_000, np.array([0.05, 0.5, 0.9])
    samples = run(P.Bernoulli(probs=p.astype("float32")).sample((n,)), seed=4)
    assert samples.dtype == np.int32 and set(np.unique(samples)) <= {0, 1}
    within_se(samples.mean(0), p, np.sqrt(p * (1 - p) / n))


# ---------------------------------------------------------------------------------------------------------
# Beta
# ---------------------------------------------------------------------------------------------------------

def test_beta_matches_scipy():
    a = np.array([2.0, 0.5, 1.0, 5.0, 3.0], "float32")
    b = np.array([3.0, 0.5, 4.0, 1.5, 0.8], "float32")
    x = np.array([[0.3, 0.2, 0.0, 0.9, 0.6], [0.7, 0.99, 0.5, 0.1, 0.2]], "float32")
    dist = P.Beta(a, b)
    out = run([dist.log_prob(x), dist.entropy(), dist.mean(), dist.mode(),
               dist.log_prob(np.array([-0.1, 1.5, 0.5, 0.5, 0.5], "float32")),
               P.Beta(a, b, event_ndims=1).log_prob(x)])
    close(out[0], stats.beta.logpdf(x, a, b), rtol=1e-5, atol=1e-4)
    close(out[1], stats.beta.entropy(a, b), rtol=1e-5, atol=1e-4)
    close(out[2], stats.beta.mean(a, b))
    close(out[3][[0, 2, 3, 4]], [1 / 3, 0.0, 4 / 4.5, 1.0])
    assert np.isnan(out[3][1])  # a, b <= 1: no unique mode
    assert np.isneginf(out[4][0]) and np.isneginf(out[4][1])
    close(out[5], stats.beta.logpdf(x, a, b).sum(-1), rtol=1e-5, atol=1e-4)


def test_beta_kl_matches_integration():
    pairs = [((2.0, 3.0), (1.5, 4.0)), ((5.0, 1.5), (3.0, 3.0)), ((1.0, 1.0), (2.0, 2.0))]
    nodes = [P.kl(P.Beta(*p), P.Beta(*q)) for p, q in pairs]
    out = run(nodes)
    for value, (p, q) in zip(out, pairs, strict=True):
        ref = integrate.quad(lambda v, p=p, q=q: stats.beta.pdf(v, *p)
                             * (stats.beta.logpdf(v, *p) - stats.beta.logpdf(v, *q)), 0, 1)[0]
        close(value, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_beta_samples_and_implicit_reparameterisation():
    n, a0, b0 = 100_000, 2.0, 3.0
    a = sg.Variable(np.full(n, a0, "float32"))
    x = P.Beta(a, b0).sample(seed=5)
    samples, grads = run([x, sg.gradients(T.sum(x), a)])
    var = a0 * b0 / ((a0 + b0) ** 2 * (a0 + b0 + 1))
    within_se(samples.mean(), a0 / (a0 + b0), np.sqrt(var / n))
    within_se(samples.var(), var, samples.var() * np.sqrt(2.0 / n) * 2)  # loose: Beta kurtosis < Gaussian x 4
    assert samples.min() >= 0 and samples.max() <= 1
    within_se(grads.mean(), b0 / (a0 + b0) ** 2, grads.std() / np.sqrt(n))  # d/da E[x] = b / (a + b)^2


# ---------------------------------------------------------------------------------------------------------
# MultivariateNormal
# ---------------------------------------------------------------------------------------------------------

def _spd(rng, d):
    m = rng.normal(size=(d, d))
    return (m @ m.T + d * np.eye(d)).astype("float32")


def test_multivariate_normal_matches_scipy():
    rng = np.random.default_rng(2)
    mean = np.array([0.5, -1.0, 2.0], "float32")
    cov = np.stack([_spd(rng, 3), _spd(rng, 3)])
    x = rng.normal(size=(5, 2, 3)).astype("float32")
    by_cov = P.MultivariateNormal(mean, covariance=cov)
    tril = np.linalg.cholesky(cov.astype(np.float64)).astype("float32")
    by_tril = P.MultivariateNormal(mean, scale_tril=tril)
    out = run([by_cov.log_prob(x), by_tril.log_prob(x), by_cov.entropy(), by_tril.entropy(), by_cov.mean(),
               by_tril.mode(), by_tril.covariance()])
    ref = np.stack([stats.multivariate_normal.logpdf(x[:, j], mean, cov[j]) for j in range(2)], -1)
    close(out[0], ref, rtol=1e-5, atol=1e-4)
    close(out[1], ref, rtol=1e-5, atol=1e-4)
    ref_entropy = [stats.multivariate_normal.entropy(mean, cov[j]) for j in range(2)]
    close(out[2], ref_entropy)
    close(out[3], ref_entropy)
    close(out[4], np.broadcast_to(mean, (2, 3)), 0, 0)
    close(out[5], np.broadcast_to(mean, (2, 3)), 0, 0)
    close(out[6], cov, rtol=1e-5, atol=1e-4)
    assert (by_cov.batch_shape, by_cov.event_shape) == ((2,), (3,))


def test_multivariate_normal_kl_matches_closed_form():
    rng = np.random.default_rng(3)
    mp, mq = rng.normal(size=3).astype("float32"), rng.normal(size=3).astype("float32")
    sp, sq = _spd(rng, 3), _spd(rng, 3)
    p, q = P.MultivariateNormal(mp, covariance=sp), P.MultivariateNormal(mq, covariance=sq)
    out = run([P.kl(p, q), P.kl(p, p)])
    sp64, sq64, diff = sp.astype(np.float64), sq.astype(np.float64), (mq - mp).astype(np.float64)
    inv = np.linalg.inv(sq64)
    ref = 0.5 * (np.trace(inv @ sp64) + diff @ inv @ diff - 3 + np.linalg.slogdet(sq64)[1]
                 - np.linalg.slogdet(sp64)[1])
    close(out[0], ref, rtol=1e-5, atol=1e-5)
    close(out[1], 0.0, 0, 1e-5)


def test_multivariate_normal_samples_and_reparameterisation():
    n = 200_000
    mean = sg.Variable(np.zeros(2, "float32"))
    tril = sg.Variable(np.array([[1.0, 0.0], [0.6, 0.8]], "float32"))
    x = P.MultivariateNormal(mean, scale_tril=tril).sample((n,), seed=6)
    g_mean, g_tril = sg.gradients(T.mean(T.sum(x**2, axis=-1)), [mean, tril])
    samples, g_mean, g_tril = run([x, g_mean, g_tril])
    cov = np.array([[1.0, 0.6], [0.6, 1.0]])
    within_se(samples.mean(0), np.zeros(2), np.sqrt(np.diag(cov) / n))
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    within_se(np.cov(samples.T), cov, se_cov)
    # E|x|^2 = |mu|^2 + tr(L L^T): gradients 2 mu and 2 L (lower part). Per-sample gradients
    # 2 x_j eps_k have variance <= 4 sqrt(E x_j^4 E eps_k^4) = 12 Sigma_jj at mu = 0.
    within_se(g_mean, np.zeros(2), 2 * np.sqrt(np.diag(cov) / n))
    tril_mask = np.tril(np.ones((2, 2)))
    within_se(g_tril * tril_mask, 2 * np.array([[1.0, 0.0], [0.6, 0.8]]),
              np.sqrt(12 * cov.diagonal().max() / n))


# ---------------------------------------------------------------------------------------------------------
# TanhNormal
# ---------------------------------------------------------------------------------------------------------

def test_tanh_normal_log_prob_is_the_change_of_variables():
    mean, std = np.array([0.2, -0.5, 1.0], "float32"), np.array([0.5, 1.0, 2.0], "float32")
    y = np.array([[-0.9, 0.0, 0.5], [0.3, -0.999, 0.9999]], "float32")
    dist = P.TanhNormal(mean, std=std)
    out = run([dist.log_prob(y), P.TanhNormal(mean, log_std=np.log(std), event_ndims=1).log_prob(y)])
    y64 = y.astype(np.float64)
    ref = stats.norm.logpdf(np.arctanh(y64), mean, std) - np.log1p(-y64**2)
    close(out[0], ref, rtol=1e-4, atol=2e-3)  # float32 artanh near +-1
    close(out[1], ref.sum(-1), rtol=1e-4, atol=5e-3)
    # the reference is a density: it integrates to one
    total = integrate.quad(lambda v: np.exp(stats.norm.logpdf(np.arctanh(v), 0.2, 0.5) - np.log1p(-v * v)),
                           -1, 1)[0]
    close(total, 1.0, 0, 1e-6)


def test_tanh_normal_sample_and_log_prob_exact_and_finite_near_the_bounds():
    n = 2_000
    mean = sg.Variable(np.array([0.1, 9.0, -12.0], "float32"))
    log_std = sg.Variable(np.log(np.array([0.5, 0.5, 1.0], "float32")))
    dist = P.TanhNormal(mean, log_std=log_std)
    y, log_prob = dist.sample_and_log_prob((n,), seed=8)
    u = dist.base.sample((n,), seed=8)  # the same key and shape: the pre-tanh draw behind y
    on_boundary = dist.log_prob(np.array([1.0, 1.0, -1.0], "float32"))
    grads = sg.gradients(T.sum(log_prob) + T.sum(on_boundary), [mean, log_std])
    y, log_prob, u, on_boundary, g_mean, g_log_std = run([y, log_prob, u, on_boundary, *grads])
    assert np.mean(np.abs(y[:, 1:]) == 1.0) > 0.5  # mostly saturated in float32
    u64 = u.astype(np.float64)
    ref = stats.norm.logpdf(u64, [0.1, 9.0, -12.0], [0.5, 0.5, 1.0]) - log_sech2(u64)
    close(log_prob, ref, rtol=1e-5, atol=1e-3)
    assert np.all(np.isfinite(on_boundary))
    assert np.all(np.isfinite(g_mean)) and np.all(np.isfinite(g_log_std))
    close(y[:, 0], np.tanh(u[:, 0]), 0, 1e-6)


def test_tanh_normal_mean_and_entropy_match_integration():
    params = [(0.3, 0.5), (1.0, 2.0), (-2.0, 5.0), (0.0, 0.05)]
    mean = np.array([m for m, _ in params], "float32")
    std = np.array([s for _, s in params], "float32")
    dist = P.TanhNormal(mean, std=std)
    joint = P.TanhNormal(mean, std=std, event_ndims=1)
    out = run([dist.mean(), dist.entropy(), dist.median(), joint.entropy()])
    ref_mean, ref_entropy = [], []
    for m, s in params:
        lo, hi = m - 8 * s, m + 8 * s
        ref_mean.append(integrate.quad(lambda u, m=m, s=s: np.tanh(u) * stats.norm.pdf(u, m, s), lo, hi,
                                       points=[m], limit=200)[0])
        log_det = integrate.quad(lambda u, m=m, s=s: log_sech2(u) * stats.norm.pdf(u, m, s), lo, hi,
                                 points=[m], limit=200)[0]
        ref_entropy.append(stats.norm.entropy(m, s) + log_det)
    close(out[0], ref_mean, 0, 1e-5)
    close(out[1], ref_entropy, 1e-5, 1e-5)
    close(out[2], np.tanh(mean), 0, 1e-6)
    close(out[3], np.sum(ref_entropy), 1e-5, 1e-4)


def _tanh_normal_mode_reference(m, s):
    """The density maximiser in float64: root of (m - u) / s^2 + 2 tanh(u) on the side of m's sign."""
    a, var = abs(m), s * s
    slope = lambda u: (a - u) / var + 2 * np.tanh(u)  # noqa: E731
    if slope(1e-12) <= 0:
        return 0.0
    return np.sign(m or 1.0) * np.tanh(optimize.brentq(slope, 1e-12, a + 2 * var, xtol=1e-14))


def test_tanh_normal_mode_maximises_the_density_and_has_the_implicit_gradient():
    params = [(0.5, 0.3), (1.0, 1.5), (0.0, 1.5), (0.0, 0.5), (-1.0, 1.0), (2.0, 0.2)]
    mean = sg.Variable(np.array([m for m, _ in params], "float32"))
    std = np.array([s for _, s in params], "float32")
    mode = P.TanhNormal(mean, std=std).mode()
    mode, grad = run([mode, sg.gradients(T.sum(mode), mean)])
    grid = np.linspace(-1 + 1e-9, 1 - 1e-9, 400_001)
    for i, (m, s) in enumerate(params):
        ref = _tanh_normal_mode_reference(m, s)
        close(mode[i], ref, 0, 2e-6)
        density = stats.norm.logpdf(np.arctanh(grid), m, s) - np.log1p(-grid**2)
        at_mode = stats.norm.logpdf(np.arctanh(float(mode[i])), m, s) - np.log1p(-float(mode[i]) ** 2)
        assert at_mode >= density.max() - 1e-5
        h = 1e-6
        fd = (_tanh_normal_mode_reference(m + h, s) - _tanh_normal_mode_reference(m - h, s)) / (2 * h)
        if m != 0.0:  # at m = 0 the mode is not differentiable (a kink, or two modes)
            close(grad[i], fd, 1e-3, 1e-4)
    assert mode[2] > 0 and mode[4] < 0  # two modes at m = 0, std^2 > 1/2: the positive one


def test_tanh_normal_samples_kl_and_reparameterisation():
    n, mu, sigma = 100_000, 0.4, 0.8
    mean = sg.Variable(np.full(n, mu, "float32"))
    dist = P.TanhNormal(mean, std=sigma)
    y = dist.sample(seed=9)
    quad_mean = P.TanhNormal(mean[:1], std=sigma).mean()
    p, q = P.TanhNormal(0.3, std=0.5), P.TanhNormal(-1.0, log_std=0.2)
    out = run([y, sg.gradients(T.sum(y), mean), quad_mean, sg.gradients(T.sum(quad_mean), mean),
               P.kl(p, q), P.kl(p.base, q.base)])
    samples, per_sample_grad, exact_mean, exact_grad = out[0], out[1], out[2][0], out[3][0]
    within_se(samples.mean(), exact_mean, samples.std() / np.sqrt(n))
    # d/dmu E[tanh(u)]: Monte-Carlo pathwise gradient vs the gradient of the quadrature mean
    within_se(per_sample_grad.mean(), exact_grad, per_sample_grad.std() / np.sqrt(n))
    analytic = integrate.quad(lambda u: (1 - np.tanh(u) ** 2) * stats.norm.pdf(u, mu, sigma), -8, 8)[0]
    close(exact_grad, analytic, 0, 1e-5)
    close(out[4], out[5], 0, 0)
    close(out[4], np.log(np.exp(0.2) / 0.5) + (0.25 + 1.3**2) / (2 * np.exp(0.4)) - 0.5)


# ---------------------------------------------------------------------------------------------------------
# Deterministic
# ---------------------------------------------------------------------------------------------------------

def test_deterministic():
    value = sg.Variable(np.array([1.0, -2.0], "float32"))
    dist = P.Deterministic(value)
    vector = P.Deterministic(np.array([1.0, 2.0], "float32"), event_ndims=1, atol=0.1)
    sample = dist.sample((3,))
    out = run([sample, dist.log_prob(np.array([1.0, 0.0], "float32")), dist.entropy(), dist.mean(),
               dist.mode(), vector.log_prob(np.array([[1.05, 2.0], [1.0, 2.5]], "float32")), vector.entropy(),
               sg.gradients(T.sum(sample), value)])
    close(out[0], np.tile([1.0, -2.0], (3, 1)), 0, 0)
    assert out[1][0] == 0 and np.isneginf(out[1][1])
    close(out[2], [0.0, 0.0], 0, 0)
    close(out[3], [1.0, -2.0], 0, 0)
    close(out[4], [1.0, -2.0], 0, 0)
    assert out[5][0] == 0 and np.isneginf(out[5][1])
    assert out[6].shape == ()
    close(out[7], [3.0, 3.0], 0, 0)


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------

_ONE = np.ones(3, "float32")


_BAD_PARAMETERS = [
    (lambda: P.Categorical(logits=1.0), sg.ShapeError,
     r"Categorical: logits must have rank >= 1.*shape \(\)"),
    (lambda: P.Categorical(probs=np.float32(1.0)), sg.ShapeError, r"probs must have rank >= 1"),
    (lambda: P.Categorical(), ValueError,
     r"Categorical: pass exactly one of logits= or probs=, got neither"),
    (lambda: P.Categorical(logits=_ONE, probs=_ONE / 3), ValueError,
     r"exactly one of logits= or probs=, got both"),
    (lambda: P.Categorical(probs=[0.2, 0.3]), ValueError,
     r"probs must sum to 1 along the last axis, got sums \[0\.5"),
    (lambda: P.Categorical(probs=[-0.5, 1.5]), ValueError, r"probs must be finite and >= 0"),
    (lambda: P.Categorical(logits=_ONE, event_ndims=1), sg.ShapeError,
     r"Categorical: event_ndims=1 but the parameters only have rank 0"),
    (lambda: P.Bernoulli(), ValueError, r"Bernoulli: pass exactly one of logits= or probs="),
    (lambda: P.Bernoulli(probs=1.5), ValueError, r"Bernoulli: probs must lie in \[0, 1\], got \[1\.5\]"),
    (lambda: P.Normal(0.0, std=-1.0), ValueError, r"Normal: std must be > 0 everywhere, got \[-1\.0\]"),
    (lambda: P.Normal(0.0, std=0.0), ValueError, r"Normal: std must be > 0"),
    (lambda: P.Normal(0.0, std=sg.constant(np.array([1.0, -2.0]))), ValueError, r"std must be > 0.*-2\.0"),
    (lambda: P.TanhNormal(0.0, std=[1.0, -0.1]), ValueError, r"TanhNormal: std must be > 0"),
    (lambda: P.Normal(0.0), ValueError, r"Normal: pass exactly one of std= or log_std=, got neither"),
    (lambda: P.Normal(0.0, std=1.0, log_std=0.0), ValueError, r"exactly one of std= or log_std=, got both"),
    (lambda: P.Normal(_ONE, std=np.ones(4)), sg.ShapeError, r"Normal: the parameter shapes do not broadcast"),
    (lambda: P.Normal(0.0, std=1.0, event_ndims=1), sg.ShapeError,
     r"event_ndims=1 but the parameters only have rank 0"),
    (lambda: P.Normal(_ONE, std=1.0, event_ndims=-1), ValueError, r"event_ndims must be a non-negative int"),
    (lambda: P.Normal("abc", std=1.0), TypeError,
     r"Normal: mean must be a number, an array or a graph tensor"),
    (lambda: P.TanhNormal(0.0, std=1.0).mean(num_points=2), ValueError,
     r"TanhNormal\.mean: num_points must be an int >= 3, got 2"),
    (lambda: P.TanhNormal(0.0, std=1.0).mode(iterations=0.5), ValueError, r"iterations must be an int >= 1"),
    (lambda: P.Beta(0.0, 1.0), ValueError, r"Beta: a must be > 0"),
    (lambda: P.Beta(1.0, [1.0, -1.0]), ValueError, r"Beta: b must be > 0"),
    (lambda: P.MultivariateNormal(_ONE, covariance=np.diag([1.0, -1.0, 1.0])), ValueError,
     r"covariance must be positive definite, but its smallest eigenvalue is -1"),
    (lambda: P.MultivariateNormal(_ONE, covariance=np.triu(np.ones((3, 3))) + np.eye(3)), ValueError,
     r"covariance must be symmetric"),
    (lambda: P.MultivariateNormal(_ONE, scale_tril=np.ones((3, 3))), ValueError,
     r"scale_tril must be lower triangular"),
    (lambda: P.MultivariateNormal(_ONE, scale_tril=-np.eye(3)), ValueError, r"positive diagonal"),
    (lambda: P.MultivariateNormal(1.0, covariance=np.eye(3)), sg.ShapeError, r"mean must have rank >= 1"),
    (lambda: P.MultivariateNormal(_ONE, covariance=_ONE), sg.ShapeError, r"covariance must have rank >= 2"),
    (lambda: P.MultivariateNormal(_ONE, covariance=np.eye(2)), sg.ShapeError,
     r"mean has 3 entries on its last axis but covariance is 2 x 2"),
    (lambda: P.MultivariateNormal(_ONE), ValueError, r"exactly one of covariance= or scale_tril="),
    (lambda: P.Deterministic(1.0, atol=-1), ValueError, r"atol must be a non-negative number"),
]


@pytest.mark.parametrize("build, error, match", _BAD_PARAMETERS)
def test_bad_parameters_raise_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sample_shape": (-1,)}, ValueError,
     r"Normal\.sample: sample_shape must be a tuple of non-negative ints"),
    ({"sample_shape": 2.5}, TypeError, r"sample_shape must be a tuple of non-negative ints, got 2\.5"),
    ({"seed": "abc"}, TypeError, r"Normal\.sample: seed must be None, an int, or a PRNG key"),
    ({"seed": np.zeros(3, "uint32")}, TypeError, r"seed must be .* got dtype uint32, shape \(3,\)"),
    ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\)"),
])
def test_bad_sample_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        P.Normal(0.0, std=1.0).sample(**kwargs)


def test_kl_errors():
    normal, categorical = P.Normal(0.0, std=1.0), P.Categorical(logits=_ONE)
    with pytest.raises(NotImplementedError,
                       match=r"no closed form registered for KL\(Normal \|\| Categorical\)"):
        P.kl(normal, categorical)
    with pytest.raises(NotImplementedError, match=r"KL\(TanhNormal \|\| Normal\)"):
        P.kl(P.TanhNormal(0.0, std=1.0), normal)
    with pytest.raises(ValueError, match=r"same event_ndims, got 0 for Normal and 1 for DiagNormal"):
        P.kl(P.Normal(_ONE, std=1.0), P.DiagNormal(_ONE, std=1.0))
    with pytest.raises(TypeError, match=r"kl: q must be a Distribution, got int 3"):
        P.kl(normal, 3)


def test_register_kl_extends_the_registry():
    class Shifted(P.Normal):
        pass

    @P.register_kl(Shifted, P.Categorical)
    def _(p, q):
        return T.zeros(())

    try:
        assert run(P.kl(Shifted(0.0, std=1.0), P.Categorical(logits=_ONE))) == 0
        assert run(P.kl(Shifted(0.0, std=1.0), P.Normal(1.0, std=1.0))) == pytest.approx(0.5)  # via Normal
    finally:
        del P._KL_REGISTRY[(Shifted, P.Categorical)]


def test_a_subclass_missing_a_method_says_which():
    class Incomplete(P.Distribution):
        pass

    for method, args in [("sample", ()), ("log_prob", (0.0,)), ("entropy", ()), ("mean", ()), ("mode", ())]:
        with pytest.raises(NotImplementedError, match=rf"Incomplete does not implement {method}\(\)"):
            getattr(Incomplete(), method)(*args)
