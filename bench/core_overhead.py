"""Per-call cost of a compiled symgraph function against the same computation hand-written with jax.jit.

Two workloads, each measured both ways in this one run (interleaved repeats, median of per-call times):
- a small MLP (64 -> 64 -> 64 -> 1, tanh) forward + backward + Adam-like update on a batch of 64,
  with parameters and moments kept between calls (symgraph: Variables + updates; by hand: pytrees);
- a tiny scalar function ``sin(x) ** 2 + x * 0.5``.
Both sides return numpy outputs (a host copy per call), as a user reading a loss would.

Prints the per-call times and their ratios (symgraph / hand-written; lower is better, target <= 1.10) and
the ratio of first-call (trace + compile) times. Last line: ``RESULT mlp_ratio=... scalar_ratio=...
compile_ratio=...``.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

import symgraph as sg
import symgraph.tensor as T

SIZES = (64, 64, 64, 1)
BATCH = 64
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def initial_params(seed=0):
    rng = np.random.default_rng(seed)
    return {f"{kind}{i}": (rng.normal(size=(m, n)) / np.sqrt(m) if kind == "w" else np.zeros(n)).astype("float32")
            for i, (m, n) in enumerate(zip(SIZES[:-1], SIZES[1:])) for kind in ("w", "b")}


def mlp_loss(params, x, y):
    h = x
    for i in range(len(SIZES) - 1):
        h = h @ params[f"w{i}"] + params[f"b{i}"]
        if i < len(SIZES) - 2:
            h = jnp.tanh(h)
    return jnp.mean((h[:, 0] - y) ** 2)


def adam_like(param, grad, m, v, t, sqrt=jnp.sqrt):
    m = B1 * m + (1 - B1) * grad
    v = B2 * v + (1 - B2) * grad ** 2
    step = LR * sqrt(1 - B2 ** t) / (1 - B1 ** t)
    return param - step * m / (sqrt(v) + EPS), m, v


def hand_mlp():
    @jax.jit
    def step(params, moments, t, x, y):
        loss, grads = jax.value_and_grad(mlp_loss)(params, x, y)
        t = t + 1
        new_params, new_moments = {}, {}
        for name in params:
            m, v = moments[name]
            new_params[name], m, v = adam_like(params[name], grads[name], m, v, t)
            new_moments[name] = (m, v)
        return loss, new_params, new_moments, t

    state = {"params": {k: jnp.asarray(v) for k, v in initial_params().items()}}
    state["moments"] = {k: (jnp.zeros_like(v), jnp.zeros_like(v)) for k, v in state["params"].items()}
    state["t"] = jnp.float32(0)

    def call(x, y):
        loss, state["params"], state["moments"], state["t"] = step(state["params"], state["moments"], state["t"],
                                                                   x, y)
        return np.asarray(loss)

    return call


def symgraph_mlp():
    with sg.Graph("bench-mlp"):
        x = sg.Placeholder((None, SIZES[0]), "float32", name="x")
        y = sg.Placeholder((None,), "float32", name="y")
        params = {k: sg.Variable(v, name=k) for k, v in initial_params().items()}
        h = x
        for i in range(len(SIZES) - 1):
            h = h @ params[f"w{i}"] + params[f"b{i}"]
            if i < len(SIZES) - 2:
                h = T.tanh(h)
        loss = T.mean((h[:, 0] - y) ** 2)
        names = list(params)
        grads = sg.gradients(loss, [params[k] for k in names])
        t = sg.Variable(np.float32(0), name="t", trainable=False)
        t_next = t + 1
        updates = {t: t_next}
        for name, grad in zip(names, grads):
            p = params[name]
            m = sg.Variable(np.zeros(p.shape, "float32"), name=f"m_{name}", trainable=False)
            v = sg.Variable(np.zeros(p.shape, "float32"), name=f"v_{name}", trainable=False)
            updates[p], updates[m], updates[v] = adam_like(p, grad, m, v, t_next, T.sqrt)
        return sg.function(x, y, outputs=loss, updates=updates)


def hand_scalar():
    f = jax.jit(lambda x: jnp.sin(x) ** 2 + x * 0.5)
    return lambda x: np.asarray(f(x))


def symgraph_scalar():
    with sg.Graph("bench-scalar"):
        x = sg.Placeholder((), "float32", name="x")
        return sg.function(x, outputs=T.sin(x) ** 2 + x * 0.5)


def first_call_seconds(make, args):
    start = time.perf_counter()
    fn = make()
    fn(*args)
    return fn, time.perf_counter() - start


def per_call_seconds(fn, args, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - start) / calls


def compare(name, make_hand, make_ours, args, calls, repeats=7):
    hand, hand_compile = first_call_seconds(make_hand, args)
    ours, ours_compile = first_call_seconds(make_ours, args)
    for fn in (hand, ours):
        per_call_seconds(fn, args, calls)  # warm-up
    hand_times, our_times = [], []
    for _ in range(repeats):
        hand_times.append(per_call_seconds(hand, args, calls))
        our_times.append(per_call_seconds(ours, args, calls))
    hand_t, our_t = np.median(hand_times), np.median(our_times)
    print(f"{name:>7}: hand-written {hand_t * 1e6:8.2f} us/call, symgraph {our_t * 1e6:8.2f} us/call, "
          f"ratio {our_t / hand_t:.3f}; first call {hand_compile:.3f} s vs {ours_compile:.3f} s")
    return our_t / hand_t, ours_compile / hand_compile


def main():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(BATCH, SIZES[0])).astype("float32")
    y = rng.normal(size=BATCH).astype("float32")
    mlp_ratio, mlp_compile = compare("mlp", hand_mlp, symgraph_mlp, (x, y), calls=300)
    scalar_ratio, scalar_compile = compare("scalar", hand_scalar, symgraph_scalar, (np.float32(0.3),),
                                           calls=3000)
    compile_ratio = float(np.sqrt(mlp_compile * scalar_compile))
    print(f"compile-time ratio (geometric mean of both workloads): {compile_ratio:.3f}")
    print(f"RESULT mlp_ratio={mlp_ratio:.3f} scalar_ratio={scalar_ratio:.3f} compile_ratio={compile_ratio:.3f}")


if __name__ == "__main__":
    main()
