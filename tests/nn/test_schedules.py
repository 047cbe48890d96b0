"""Schedules: values against closed forms and optax's, as nodes of a step Variable, and as learning rates."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.nn import schedules
from symgraph.nn.optimizers import SGD, Adam

STEPS = np.arange(0, 30)


def closed_linear(t, init, final, steps, begin=0):
    return init + (final - init) * min(max((t - begin) / steps, 0.0), 1.0)


def closed_cosine(t, init, steps, final=0.0, begin=0):
    return final + (init - final) * 0.5 * (1 + math.cos(math.pi * min(max(t - begin, 0), steps) / steps))


def closed_exponential(t, init, rate, steps, begin=0, staircase=False, final=None):
    exponent = max(t - begin, 0) / steps
    value = init * rate ** (math.floor(exponent) if staircase else exponent)
    if final is not None:
        value = max(value, final) if rate < 1 else min(value, final)
    return value


def closed_piecewise(t, boundaries, values):
    return values[sum(t >= b for b in boundaries)]


CASES = {
    "constant": (schedules.constant(0.3), lambda t: 0.3, optax.constant_schedule(0.3)),
    "linear": (schedules.linear(1.0, 0.1, steps=20), lambda t: closed_linear(t, 1.0, 0.1, 20),
               optax.linear_schedule(1.0, 0.1, 20)),
    "linear_begin_increasing": (schedules.linear(0.0, 2.0, steps=7, begin=5),
                                lambda t: closed_linear(t, 0.0, 2.0, 7, 5),
                                optax.linear_schedule(0.0, 2.0, 7, 5)),
    "cosine": (schedules.cosine(1e-2, steps=25, final=1e-3), lambda t: closed_cosine(t, 1e-2, 25, 1e-3),
               optax.cosine_decay_schedule(1e-2, 25, alpha=0.1)),
    "cosine_begin": (schedules.cosine(2.0, steps=10, begin=4), lambda t: closed_cosine(t, 2.0, 10, 0.0, 4),
                     None),
    "exponential": (schedules.exponential(1.0, 0.5, steps=4), lambda t: closed_exponential(t, 1.0, 0.5, 4),
                    optax.exponential_decay(1.0, 4, 0.5)),
    "exponential_staircase_final": (
        schedules.exponential(1.0, 0.5, steps=4, begin=2, staircase=True, final=0.05),
        lambda t: closed_exponential(t, 1.0, 0.5, 4, 2, True, 0.05),
        optax.exponential_decay(1.0, 4, 0.5, transition_begin=2, staircase=True, end_value=0.05)),
    "exponential_growth_capped": (schedules.exponential(0.1, 2.0, steps=3, final=1.0),
                                  lambda t: closed_exponential(t, 0.1, 2.0, 3, final=1.0), None),
    "piecewise_constant": (schedules.piecewise_constant([5, 12, 20], [1.0, 0.5, 0.0, 0.25]),
                           lambda t: closed_piecewise(t, [5, 12, 20], [1.0, 0.5, 0.0, 0.25]), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_values_over_steps_match_closed_forms_and_optax(case):
    schedule, closed, reference = CASES[case]
    got = np.array([schedule(int(t)) for t in STEPS])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [closed(int(t)) for t in STEPS], rtol=1e-6, atol=1e-7)
    vectorised = jax.jit(schedule)(jnp.asarray(STEPS, jnp.int32))  # optax-style: traced int32 counts
    np.testing.assert_allclose(vectorised, got, rtol=1e-6, atol=1e-7)
    if reference is not None:
        np.testing.assert_allclose(got, [reference(int(t)) for t in STEPS], rtol=1e-5, atol=1e-7)


def test_the_closed_forms_are_not_all_alike():
    """Guard: the cases really vary over the steps, so matching them is not vacuous."""
    for case, (_, closed, _) in CASES.items():
        if case != "constant":
            assert len({round(closed(int(t)), 9) for t in STEPS}) > 2, case


@pytest.mark.parametrize("case", ["linear", "cosine", "piecewise_constant"])
def test_schedule_of_a_step_variable_is_a_node(case):
    schedule, closed, _ = CASES[case]
    with sg.Graph():
        step = sg.Variable(np.int32(0), name="step", trainable=False)
        value = schedule(step)
        assert isinstance(value, sg.Tensor) and value.shape == () and value.dtype == np.float32
        tick = sg.function(outputs=value, updates={step: step + 1})
        np.testing.assert_allclose([tick() for _ in STEPS], [closed(int(t)) for t in STEPS], rtol=1e-6,
                                   atol=1e-7)
        assert step.value == len(STEPS)


def test_schedule_drives_the_applied_sgd_step():
    """On loss = sum(c * w) the gradient is c, so each SGD step moves w by exactly -lr_t * c."""
    c = np.array([1.0, -2.0, 0.5], np.float32)
    schedule = schedules.linear(0.1, 0.0, steps=5)
    with sg.Graph():
        w = sg.Variable(np.zeros(3, np.float32), name="w")
        opt = SGD(T.sum(w * c), lr=schedule)
        train = sg.function(outputs=opt.lr, updates=opt.updates)
        for t in range(8):
            before = w.value
            lr = train()
            expected_lr = closed_linear(t, 0.1, 0.0, 5)
            np.testing.assert_allclose(lr, expected_lr, atol=1e-8)
            np.testing.assert_allclose(w.value - before, -expected_lr * c, rtol=1e-5, atol=1e-8)
        total = sum(closed_linear(t, 0.1, 0.0, 5) for t in range(8))
        np.testing.assert_allclose(w.value, -total * c, rtol=1e-5)
        assert opt.step.value == 8


def test_piecewise_schedule_drives_adam_like_optax():
    schedule = schedules.piecewise_constant([3, 6], [1e-2, 1e-3, 0.0])
    reference = optax.piecewise_constant_schedule(1e-2, {3: 0.1, 6: 0.0})
    target = np.array([1.0, -1.0], np.float32)
    with sg.Graph():
        w = sg.Variable(np.array([0.3, 0.2], np.float32), name="w")
        opt = Adam(T.sum((w - target) ** 2), lr=schedule)
        train = sg.function(outputs=opt.lr, updates=opt.updates)
        params = jnp.array([0.3, 0.2])
        transform = optax.adam(reference)
        state = transform.init(params)
        for t in range(9):
            lr = train()
            np.testing.assert_allclose(lr, float(reference(t)), rtol=1e-6)
            grads = jax.grad(lambda p: jnp.sum((p - target) ** 2))(params)
            updates, state = transform.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            np.testing.assert_allclose(w.value, params, atol=1e-6)
        frozen = w.value
        train()
        np.testing.assert_array_equal(w.value, frozen)  # lr 0 from step 6 on: nothing moves


@pytest.mark.parametrize("make, error, message", [
    (lambda: schedules.linear(1.0, 0.0, steps=0), ValueError, r"linear: steps must be an int >= 1, got 0"),
    (lambda: schedules.linear(1.0, 0.0, steps=2.5), TypeError, r"linear: steps must be an int .*float 2.5"),
    (lambda: schedules.linear("a", 0.0, steps=2), TypeError, r"linear: init must be a real number, got str"),
    (lambda: schedules.cosine(1.0, steps=10, begin=-1), ValueError, r"cosine: begin must be an int >= 0"),
    (lambda: schedules.cosine(float("inf"), steps=10), ValueError, r"cosine: init must be a finite number"),
    (lambda: schedules.exponential(1.0, 0.0, steps=10), ValueError,
     r"exponential: rate must be a finite number > 0.0, got 0.0; rate < 1 decays"),
    (lambda: schedules.piecewise_constant([5, 10], [1.0, 0.5]), ValueError,
     r"values must hold one more entry than boundaries .* got 2 boundaries and 2 values"),
    (lambda: schedules.piecewise_constant([10, 5], [1.0, 0.5, 0.1]), ValueError,
     r"boundaries must be strictly increasing, got \[10, 5\]"),
    (lambda: schedules.piecewise_constant(5, [1.0]), TypeError, r"boundaries and values must be sequences"),
])
def test_invalid_schedule_arguments_are_rejected(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_non_numeric_step_node_is_rejected():
    with sg.Graph():
        flag = sg.Variable(np.bool_(True), name="flag", trainable=False)
        with pytest.raises(sg.DTypeError, match=r"schedule 'linear': the step count must be an integer"):
            schedules.linear(1.0, 0.0, steps=3)(flag)
