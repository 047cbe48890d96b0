"""How JAX runs compiled calls on the CPU: synchronously, in the calling thread (symgraph's default).

JAX's CPU client dispatches asynchronously by default: a call returns at once and the computation runs on a
worker thread, so reading the result waits for that thread to be woken and to finish. For the small programs
of a Python-driven RL loop (one action for one state, a few hundred floats of network) that hand-off costs more
than the computation: acting with a 256-256 MLP takes about 35-70 us per call asynchronously and 13 us
synchronously on a 2-core CPU. An RL loop gains little from asynchrony anyway: the next action needs the
parameters the update is computing. Measured on whole runs (2-core CPU, the benchmarks' settings): PPO on
CartPole-v1 3.1 s per seed against 5.1 s, DQN on CartPole-v1 9.6 s against 11-12 s. The cost: XLA then runs
the independent branches of one computation one after the other, and TD3 with twin 400-300 critics on
Pendulum-v1 took 50-54 s against 44-47 s asynchronously in whole runs (its update alone takes the same time in
both modes, so where that difference comes from is not pinned down).

So importing symgraph switches JAX's ``jax_cpu_enable_async_dispatch`` flag off, which takes effect if no JAX
computation has run yet in the process (the flag is read when the CPU backend starts). It changes when the
CPU calls of the whole process return, never their results; it does not touch GPUs or TPUs, nor computations
spread over several devices. To keep JAX's asynchronous dispatch, set the environment variable
``SYMGRAPH_ASYNC_DISPATCH=1`` before importing symgraph.
"""

import os

import jax

#: The environment variable that keeps JAX's asynchronous CPU dispatch when ``1`` (or ``true``/``yes``).
ENV_VARIABLE = "SYMGRAPH_ASYNC_DISPATCH"


def configure_cpu_dispatch(environ=os.environ):
    """Switch JAX's CPU dispatch to synchronous unless ``SYMGRAPH_ASYNC_DISPATCH`` is ``1``/``true``/``yes``.

    Returns whether dispatch was set to synchronous. Raises a ValueError for any other value of the variable
    than those and ``0``/``false``/``no``/empty, so that a typo is not silently ignored."""
    value = environ.get(ENV_VARIABLE, "").strip().lower()
    if value in ("1", "true", "yes"):
        return False
    if value not in ("", "0", "false", "no"):
        raise ValueError(f"{ENV_VARIABLE} must be 1/true/yes (keep JAX's asynchronous CPU dispatch) or "
                         f"0/false/no/unset (symgraph's synchronous dispatch), got {environ[ENV_VARIABLE]!r}")
    jax.config.update("jax_cpu_enable_async_dispatch", False)
    return True


#: Whether importing symgraph set synchronous CPU dispatch (False when ``SYMGRAPH_ASYNC_DISPATCH=1``).
SYNCHRONOUS = configure_cpu_dispatch()
