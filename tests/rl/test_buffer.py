"""Tests of symgraph.rl.buffer.Buffer: finish_path against symgraph.rl.returns, prioritised sampling against
its formulas (chi-square frequencies, importance weights), wrap-around, vector envs and every error path."""

import warnings

import numpy as np
import pytest
from scipy import stats

from symgraph.rl import returns
from symgraph.rl.buffer import Buffer

GAMMA, LAM = 0.9, 0.8


def _oracle(rewards, values, terminal, last_val, gamma=GAMMA, lam=LAM):
    """reward-to-go, advantage and TD-error of one path by symgraph.rl.returns."""
    discounts = gamma * (1.0 - np.asarray(terminal, dtype=float))
    v = np.append(values, last_val)
    return (np.asarray(returns.discounted_returns(rewards, discounts, last_val)),
            np.asarray(returns.gae(rewards, v, discounts, lam)),
            np.asarray(returns.td_errors(rewards, v, discounts)))


def _push_path(buffer, rewards, values, terminal, start=0):
    for t, (r, v, d) in enumerate(zip(rewards, values, terminal, strict=True)):
        buffer.push({"state": np.full(2, start + t, np.float32), "reward": r, "V": v, "terminal": d})


def _check(buffer, positions, expected):
    for key, exp in zip(("reward-to-go", "advantage", "TD-error"), expected, strict=True):
        np.testing.assert_allclose(buffer[key][positions], exp, rtol=1e-5, atol=1e-5, err_msg=key)


# ---------------------------------------------------------------------------------------------------------
# finish_path


@pytest.mark.parametrize("terminal_end", [True, False])
def test_finish_path_equals_returns_gae(terminal_end):
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=13), rng.normal(size=13)
    term = np.zeros(13, bool)
    term[-1] = terminal_end
    buffer = Buffer(100, gamma=GAMMA, lam=LAM)
    _push_path(buffer, r, v, term)
    buffer.finish_path(last_val=2.5)
    _check(buffer, slice(None), _oracle(r, v, term, 2.5))
    if not terminal_end:  # truncation: the bootstrap enters every step, discounted
        no_bootstrap = _oracle(r, v, term, 0.0)[0]
        bootstrap = 2.5 * GAMMA ** np.arange(1, 14)[::-1]
        np.testing.assert_allclose(buffer["reward-to-go"] - no_bootstrap, bootstrap, rtol=1e-5)


def test_termination_ignores_last_val():
    rng = np.random.default_rng(1)
    r, v = rng.normal(size=6), rng.normal(size=6)
    term = [False] * 5 + [True]
    results = []
    for last_val in (0.0, 123.0):
        buffer = Buffer(10, gamma=GAMMA, lam=LAM)
        _push_path(buffer, r, v, term)
        buffer.finish_path(last_val)
        results.append({k: buffer[k].copy() for k in ("reward-to-go", "advantage", "TD-error")})
    for k in results[0]:
        np.testing.assert_array_equal(results[0][k], results[1][k])


def test_gamma_and_lambda_are_not_confused():
    """SymJAX passed gamma * lam as the discount of the TD errors; check against a plain loop."""
    r, v = np.array([1.0, 0.0, 2.0]), np.array([0.5, 1.0, -1.0])
    buffer = Buffer(10, gamma=0.5, lam=0.5)
    _push_path(buffer, r, v, [False, False, False])
    buffer.finish_path(last_val=4.0)
    vv = np.append(v, 4.0)
    delta = r + 0.5 * vv[1:] - vv[:-1]
    adv = np.zeros(3)
    acc = 0.0
    for t in (2, 1, 0):
        acc = delta[t] + 0.25 * acc
        adv[t] = acc
    np.testing.assert_allclose(buffer["advantage"], adv, rtol=1e-6)
    np.testing.assert_allclose(buffer["TD-error"], delta, rtol=1e-6)


def test_consecutive_episodes_are_independent_and_unfinished_steps_are_nan():
    rng = np.random.default_rng(2)
    buffer = Buffer(100, gamma=GAMMA, lam=LAM)
    lengths, expected, start = [5, 9, 3], [], 0
    for n in lengths:
        r, v = rng.normal(size=n), rng.normal(size=n)
        term = [False] * (n - 1) + [True]
        _push_path(buffer, r, v, term, start)
        buffer.finish_path(rng.normal())
        expected.append((slice(start, start + n), _oracle(r, v, term, 0.0)))
        start += n
    for positions, exp in expected:
        _check(buffer, positions, exp)
    _push_path(buffer, [1.0, 2.0], [0.0, 0.0], [False, False], start)
    assert np.isnan(buffer["advantage"][-2:]).all() and not np.isnan(buffer["advantage"][:-2]).any()


def test_reward_to_go_only_without_values():
    buffer = Buffer(10, gamma=0.5)
    for r in (1.0, 1.0, 1.0):
        buffer.push({"reward": r, "terminal": False})
    buffer.finish_path(8.0)
    np.testing.assert_allclose(buffer["reward-to-go"], [1.75 + 1.0, 1.5 + 2.0, 1.0 + 4.0])
    assert "advantage" not in buffer.fields
    with pytest.raises(KeyError, match="'advantage'.*computed by finish_path"):
        buffer.sample(2, keys=["advantage"])


def test_vector_env_interleaved_paths():
    """Three environments whose episodes end at different steps, finished one by one (some terminated, some
    truncated with a bootstrap), then all at once at the end of the rollout."""
    rng = np.random.default_rng(3)
    n_envs, steps = 3, 40
    buffer = Buffer(1000, gamma=GAMMA, lam=LAM, n_envs=n_envs)
    episodes = [[] for _ in range(n_envs)]   # per env: list of (rows, rewards, values, terminal, last_val)
    current = [dict(rows=[], r=[], v=[], d=[]) for _ in range(n_envs)]
    for t in range(steps):
        r, v = rng.normal(size=n_envs), rng.normal(size=n_envs)
        ends = rng.random(n_envs) < 0.15
        terminal = ends & (rng.random(n_envs) < 0.5)
        buffer.push({"state": rng.normal(size=(n_envs, 2)), "reward": r, "V": v, "terminal": terminal})
        for e in range(n_envs):
            cur = current[e]
            cur["rows"].append(t)
            cur["r"].append(r[e])
            cur["v"].append(v[e])
            cur["d"].append(terminal[e])
            if ends[e]:
                last = 0.0 if terminal[e] else rng.normal()
                buffer.finish_path(last, env_index=e)
                episodes[e].append((cur["rows"], cur["r"], cur["v"], cur["d"], last))
                current[e] = dict(rows=[], r=[], v=[], d=[])
    lasts = rng.normal(size=n_envs)
    buffer.finish_path(lasts)
    for e in range(n_envs):
        if current[e]["rows"]:
            cur = current[e]
            episodes[e].append((cur["rows"], cur["r"], cur["v"], cur["d"], lasts[e]))
    assert sum(len(ep) for ep in episodes) > n_envs   # the paths really interleave
    rollout = buffer.rollout(["reward-to-go", "advantage", "TD-error"])
    for e in range(n_envs):
        for rows, r, v, d, last in episodes[e]:
            expected = _oracle(np.array(r), np.array(v), d, last)
            for key, exp in zip(("reward-to-go", "advantage", "TD-error"), expected, strict=True):
                np.testing.assert_allclose(rollout[key][rows, e], exp, rtol=1e-5, atol=1e-5)


def test_path_longer_than_the_buffer_uses_its_stored_steps():
    rng = np.random.default_rng(4)
    r, v = rng.normal(size=20), rng.normal(size=20)
    buffer = Buffer(8, gamma=GAMMA, lam=LAM)
    _push_path(buffer, r, v, [False] * 20)
    buffer.finish_path(1.0)
    _check(buffer, slice(None), _oracle(r[-8:], v[-8:], [False] * 8, 1.0))


def test_truncation_inside_a_path_is_cut_with_a_warning():
    buffer = Buffer(10, gamma=GAMMA, lam=LAM)
    for t in range(4):
        buffer.push({"reward": 1.0, "V": 0.5, "terminal": False, "truncated": t == 1})
    with pytest.warns(UserWarning, match="truncated .* before its end"):
        buffer.finish_path(0.0)
    first = _oracle(np.ones(2), np.full(2, 0.5), [False, True], 0.0)
    second = _oracle(np.ones(2), np.full(2, 0.5), [False, False], 0.0)
    np.testing.assert_allclose(buffer["advantage"], np.concatenate([first[1], second[1]]), rtol=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Storage, wrap-around, reading


def test_wrap_around_keeps_fields_paired():
    buffer = Buffer(7, seed=0)
    for t in range(20):
        buffer.push({"state": np.array([t, -t]), "next-state": np.array([t + 1, -t - 1]), "reward": float(t),
                     "action": t % 3})
    assert len(buffer) == 7 and buffer.length == 7
    np.testing.assert_array_equal(buffer["state"][:, 0], np.arange(13, 20))
    np.testing.assert_array_equal(buffer["next-state"], buffer["state"] + [1, -1])
    np.testing.assert_array_equal(buffer["action"], np.arange(13, 20) % 3)
    batch = buffer.sample(7)
    np.testing.assert_array_equal(batch["next-state"], batch["state"] + [1, -1])
    np.testing.assert_array_equal(batch["reward"], batch["state"][:, 0])
    np.testing.assert_array_equal(buffer.rollout(["reward"])["reward"][:, 0], np.arange(13, 20))


def test_wrap_around_vector_env():
    buffer = Buffer(6, n_envs=2)   # 3 rows of 2 environments
    for t in range(5):
        buffer.push({"state": np.array([[t, 0], [t, 1]]), "reward": np.array([t, 10 + t], float)})
    assert len(buffer) == 6 and buffer.capacity == 6 and buffer.n_envs == 2
    np.testing.assert_array_equal(buffer["state"], [[2, 0], [2, 1], [3, 0], [3, 1], [4, 0], [4, 1]])
    np.testing.assert_array_equal(buffer["reward"], [2, 12, 3, 13, 4, 14])
    rollout = buffer.rollout(length=2)
    assert rollout["state"].shape == (2, 2, 2)
    np.testing.assert_array_equal(rollout["reward"], [[3, 13], [4, 14]])
    batch = buffer.sample(6)
    np.testing.assert_array_equal(batch["reward"], batch["state"][:, 0] + 10 * batch["state"][:, 1])


def test_getitem_is_a_read_only_view_before_wrapping():
    buffer = Buffer(10)
    for t in range(4):
        buffer.push({"state": np.full(3, t, np.float32), "reward": 0.0})
    view = buffer["state"]
    assert view.shape == (4, 3) and view.dtype == np.float32
    assert np.shares_memory(view, buffer.ring.data["state"])
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 1


def test_n_envs_inference_and_single_env_forms():
    buffer = Buffer(10)
    buffer.push({"state": np.zeros((4, 3)), "reward": np.zeros(4)})
    assert buffer.n_envs == 4
    single = Buffer(10)
    single.push({"state": np.zeros(3), "reward": np.array([1.0]), "V": np.array([0.5])})   # (1,) scalars
    single.push({"state": np.zeros(3), "reward": 2.0, "V": 0.5})
    assert single.n_envs == 1 and single["reward"].tolist() == [1.0, 2.0]
    one_env_vector = Buffer(10)
    one_env_vector.push({"state": np.zeros((1, 3)), "reward": np.array([1.0])})
    assert one_env_vector["state"].shape == (1, 3)


def test_clear_resets_and_allows_new_fields():
    buffer = Buffer(5, True, seed=0)
    for _ in range(5):
        buffer.push({"state": np.zeros(2), "reward": 1.0})
    buffer.update_priorities([0], [100.0])
    buffer.clear()
    assert len(buffer) == 0 and buffer.fields == ()
    buffer.push({"obs": np.zeros(4), "reward": 1.0})
    assert buffer.fields == ("obs", "reward") and buffer.priorities.sum() == pytest.approx(1.0)
    buffer.reset()   # SymJAX's name
    assert len(buffer) == 0


def test_sample_returns_requested_keys_and_is_seeded():
    def filled(seed):
        buffer = Buffer(50, seed=seed)
        for t in range(30):
            buffer.push({"state": np.full(2, t), "reward": float(t), "terminal": False})
        return buffer

    a, b = filled(7).sample(16, keys=["state", "reward"]), filled(7).sample(16, keys=["state", "reward"])
    assert set(a.keys()) == {"state", "reward"} and a["state"].shape == (16, 2)
    np.testing.assert_array_equal(a["state"], b["state"])
    assert set(filled(0).sample(3).keys()) == {"state", "reward", "terminal"}
    np.testing.assert_array_equal(filled(0).sample(np.array([0, 5]))["reward"], [0.0, 5.0])


# ---------------------------------------------------------------------------------------------------------
# Prioritised sampling


def _prioritised(n, td, alpha=0.6, beta=0.4, **kwargs):
    buffer = Buffer(n, True, alpha=alpha, beta=beta, seed=0, **kwargs)
    for t in range(n):
        buffer.push({"state": np.array([t]), "reward": 0.0})
    buffer.update_priorities(np.arange(n), td)
    return buffer


@pytest.mark.parametrize("stratified", [True, False])
def test_priorities_sample_with_the_right_frequencies(stratified):
    td = np.array([0.1, 0.5, 1.0, 2.0, 4.0, 0.0, 3.0, 0.2, 1.5, 0.7])
    buffer = _prioritised(10, td, alpha=0.7, stratified=stratified)
    counts = np.zeros(10)
    for _ in range(2000):
        batch = buffer.sample(10)
        np.testing.assert_array_equal(batch["state"][:, 0], batch["indices"])
        counts += np.bincount(batch["indices"], minlength=10)
    p = (np.abs(td) + buffer.eps) ** 0.7
    expected = counts.sum() * p / p.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    # and a clearly wrong distribution (alpha = 1) is rejected
    wrong = np.abs(td) + buffer.eps
    assert stats.chisquare(counts, counts.sum() * wrong / wrong.sum()).pvalue < 1e-6


def test_alpha_zero_is_uniform():
    buffer = _prioritised(8, np.arange(8.0) * 10, alpha=0.0)
    counts = np.bincount(np.concatenate([buffer.sample(8)["indices"] for _ in range(800)]), minlength=8)
    assert stats.chisquare(counts).pvalue > 1e-3
    np.testing.assert_allclose(buffer.sample(8)["weights"], 1.0)


def test_importance_weights_match_the_formula():
    rng = np.random.default_rng(5)
    td = rng.normal(size=20) * 3
    buffer = _prioritised(20, td, alpha=0.6, beta=0.5)
    batch = buffer.sample(20)
    p = (np.abs(td) + buffer.eps) ** 0.6
    prob = p / p.sum()
    w_all = (20 * prob) ** -0.5
    np.testing.assert_allclose(batch["weights"], w_all[batch["indices"]] / w_all.max(), rtol=1e-5)
    assert batch["weights"].dtype == np.float32 and batch["weights"].max() <= 1.0


def test_beta_setter_and_schedule():
    buffer = _prioritised(5, [1.0, 2.0, 3.0, 4.0, 5.0], beta=0.4)
    assert buffer.beta == 0.4
    buffer.beta = 1.0
    p = (np.arange(1.0, 6.0) + buffer.eps) ** 0.6
    batch = buffer.sample(5)
    np.testing.assert_allclose(batch["weights"], p.min() / p[batch["indices"]], rtol=1e-5)
    buffer.beta = lambda t: min(1.0, 0.5 + 0.1 * t)   # a schedule of the number of sample() calls
    seen = []
    for _ in range(3):
        seen.append(buffer.beta)
        buffer.sample(2)
    assert seen == pytest.approx([0.6, 0.7, 0.8])   # one sample() call was made above


def test_new_items_get_the_max_priority():
    buffer = Buffer(4, True, alpha=0.5, seed=0)
    buffer.push({"reward": 0.0})
    assert buffer.priorities[0] == pytest.approx(1.0)   # the initial max priority
    buffer.update_priorities([0], [8.0])
    buffer.push({"reward": 0.0})
    assert buffer.priorities[1] == pytest.approx((8.0 + buffer.eps) ** 0.5)
    buffer.update_priorities([0, 1], [0.1, 0.1])
    buffer.push({"reward": 0.0})   # the max seen stays the max
    assert buffer.priorities[2] == pytest.approx((8.0 + buffer.eps) ** 0.5)


def test_overwritten_slots_get_fresh_priorities_vector_env():
    buffer = Buffer(4, True, n_envs=2, seed=0)   # 2 rows of 2
    for t in range(2):
        buffer.push({"state": np.array([[t], [t]]), "reward": np.zeros(2)})
    buffer.update_priorities([0, 1, 2, 3], [0.0, 0.0, 0.0, 50.0])
    buffer.push({"state": np.array([[9], [9]]), "reward": np.zeros(2)})   # overwrites slots 0 and 1
    high = (50.0 + buffer.eps) ** 0.6
    np.testing.assert_allclose(buffer.priorities[np.arange(4)], [high, high, buffer.eps ** 0.6, high])
    batch = buffer.sample(4)
    np.testing.assert_array_equal(batch["state"][:, 0], np.where(batch["indices"] < 2, 9, 1))


# ---------------------------------------------------------------------------------------------------------
# Bad input


def _filled(n=3):
    buffer = Buffer(10)
    for _ in range(n):
        buffer.push({"state": np.zeros(4), "reward": 1.0, "terminal": False})
    return buffer


def test_sample_more_than_stored():
    with pytest.raises(ValueError, match=r"holds 3 items, fewer than the batch of 32.*len\(buffer\) >= "):
        _filled(3).sample(32)
    with pytest.raises(ValueError, match="holds 0 items"):
        Buffer(10, True).sample(1)


def test_nan_reward_names_the_step():
    buffer = _filled(5)
    with pytest.raises(ValueError, match=r"'reward' at step 5 is nan.*finite"):
        buffer.push({"state": np.zeros(4), "reward": float("nan"), "terminal": False})
    vec = Buffer(10)
    vec.push({"reward": np.zeros(3)})
    with pytest.raises(ValueError, match=r"step 1 \(env 2\) is inf"):
        vec.push({"reward": np.array([0.0, 1.0, np.inf])})


def test_shape_mismatch_names_field_and_shapes():
    with pytest.raises(ValueError, match=r"field 'state': expected shape \(4,\).* got \(3,\).*clear\(\)"):
        _filled().push({"state": np.zeros(3), "reward": 1.0, "terminal": False})
    vec = Buffer(10, n_envs=2)
    vec.push({"state": np.zeros((2, 4)), "reward": np.zeros(2)})
    with pytest.raises(ValueError, match=r"'state': expected shape \(2, 4\) \(2 environments"):
        vec.push({"state": np.zeros(4), "reward": np.zeros(2)})
    with pytest.raises(ValueError, match=r"'reward' has shape \(3,\) but the buffer was built for n_envs=2"):
        Buffer(10, n_envs=2).push({"reward": np.zeros(3)})
    with pytest.raises(ValueError, match="'V' must hold one number per step"):
        Buffer(10).push({"reward": 0.0, "V": np.zeros(2)})


def test_fields_must_stay_the_same():
    with pytest.raises(KeyError, match=r"field 'terminal' is missing.*push every field"):
        _filled().push({"state": np.zeros(4), "reward": 1.0})
    with pytest.raises(KeyError, match="field 'V' was not in the first push"):
        _filled().push({"state": np.zeros(4), "reward": 1.0, "terminal": False, "V": 0.0})
    with pytest.raises(KeyError, match="'advantage' is computed by finish_path"):
        Buffer(10).push({"reward": 1.0, "advantage": 0.0})
    buffer = Buffer(10)
    buffer.push({"action": 1, "reward": 0.0})
    with pytest.raises(TypeError, match="cannot store a float64 value in a int64 field"):
        buffer.push({"action": 0.5, "reward": 0.0})
    with pytest.raises(TypeError, match="expected a dict of fields"):
        buffer.push([1, 2])


def test_unknown_key_in_sample():
    with pytest.raises(KeyError, match=r"unknown field 'next_state'; stored fields: \['state', 'reward'"):
        _filled().sample(2, keys=["state", "next_state"])
    with pytest.raises(KeyError, match="unknown field 'Q'"):
        _filled()["Q"]


def test_update_priorities_errors():
    buffer = _prioritised(5, np.ones(5))
    with pytest.raises(ValueError, match="got 2 indices and 3 TD errors"):
        buffer.update_priorities([0, 1], [1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match=r"slots in 0\.\.4"):
        buffer.update_priorities([7], [1.0])
    with pytest.raises(ValueError, match="TD error of index 1 is nan"):
        buffer.update_priorities([0, 1], [1.0, np.nan])
    with pytest.raises(ValueError, match="samples uniformly"):
        _filled().update_priorities([0], [1.0])


def test_finish_path_errors():
    vec = Buffer(10, n_envs=2)
    vec.push({"reward": np.zeros(2), "V": np.zeros(2)})
    with pytest.raises(ValueError, match=r"env_index must be .* 0\.\.1"):
        vec.finish_path(0.0, env_index=2)
    with pytest.raises(ValueError, match=r"last_val must be a number or have one value per .*\(2,\)"):
        vec.finish_path(np.zeros(3))
    with pytest.raises(ValueError, match="last_val must be finite"):
        vec.finish_path(np.nan)
    with pytest.raises(KeyError, match="no 'reward' field"):
        no_reward = Buffer(10)
        no_reward.push({"state": np.zeros(2)})
        no_reward.finish_path()
    nan_v = Buffer(10)
    nan_v.push({"reward": 0.0, "V": 0.0})
    nan_v.push({"reward": 0.0, "V": np.nan})
    with pytest.raises(ValueError, match=r"'V' at step 1 \(env 0\) is nan"):
        nan_v.finish_path()


@pytest.mark.parametrize("kwargs, match", [
    (dict(maxlen=0), "maxlen must be a positive int"),
    (dict(maxlen=10, gamma=1.5), "gamma must be a number in"),
    (dict(maxlen=10, beta=-1), "beta must be a number >= 0"),
    (dict(maxlen=10, n_envs=0), "n_envs must be a positive int"),
    (dict(maxlen=10, eps=0), "eps must be a positive number"),
])
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Buffer(**kwargs)


def test_rollout_length_error():
    with pytest.raises(ValueError, match="last 5 rows but the buffer holds 3"):
        _filled(3).rollout(length=5)


def test_no_warning_when_paths_are_finished():
    buffer = Buffer(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t in range(3):
            buffer.push({"reward": 1.0, "V": 0.0, "terminal": False, "truncated": t == 2})
        buffer.finish_path(0.3)
