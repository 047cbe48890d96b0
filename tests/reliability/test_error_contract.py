"""The error contract of the public constructors and entry points, fed by hypothesis with 0, negatives, NaN,
infinities, 1e20, huge ints, strings, None, wrong shapes and dtypes: each call either works or raises a
symgraph error, a ``ValueError`` or a ``TypeError`` whose message names the argument, and never a JAX-internal
message. Anything else (``OverflowError``, ``ZeroDivisionError``, ``BadZipFile``, ``EOFError``, a bare
``KeyError``/``AttributeError``/``IndexError``, numpy's own "truth value of an array is ambiguous"...) fails.

Only construction is exercised, plus ``rl.run`` for a few steps of a random agent, ``rl.train`` with arguments
it must refuse before compiling anything, and ``rl.load`` on damaged paths. The learners' constructors have
their own suite (test_learner_arguments.py)."""

import math
import re
import zipfile

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from symgraph import rl
from symgraph.errors import SymgraphError
from symgraph.rl import bandits as B
from symgraph.rl import tabular as TB
from tests.rl.tabular.conftest import Chain

NUMBERS = [0, 1, -1, 2, 0.5, -0.5, 2.5, 1e20, -1e20, 10**30, -(10**30), math.nan, math.inf, -math.inf, True,
           False, np.float32(0.5), np.float64(math.nan), np.int64(3), np.int64(-2)]
OBJECTS = ["3", "", "nan", None, [1, 2], (), {}, np.zeros((2, 2)), np.zeros(0), np.array(["a"]), np.array(0.5),
           np.array([0.5, math.nan]), [[1, 2], [3]], 1j, object()]
#: Any argument value: the special cases above, any float, small ints (sizes stay cheap to allocate).
VALUES = st.one_of(st.sampled_from(NUMBERS + OBJECTS), st.floats(), st.integers(-3, 8))

JAX_INTERNAL = ("jax.", "jaxlib", "Traced", "Tracer", "XlaRuntimeError")
EXAMPLES = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_contract(call, *names):
    """``call()`` works, or raises a symgraph/ValueError/TypeError naming one of ``names`` (as a word)."""
    try:
        call()
    except (SymgraphError, ValueError, TypeError) as exc:
        message = str(exc)
        assert any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names), \
            f"{type(exc).__name__} does not name {names}: {message}"
        assert not any(t in message for t in JAX_INTERNAL), f"a JAX-internal message: {message}"
    except Exception as exc:  # noqa: BLE001 - the contract is about which exceptions escape
        pytest.fail(f"raised {type(exc).__name__} ({exc}), not a symgraph error, ValueError or TypeError")


def test_the_contract_check_can_fail():
    assert_contract(lambda: None, "x")
    assert_contract(lambda: B.UCB1(B.BernoulliMAB(seed=0), confidence=-1), "confidence")
    with pytest.raises(AssertionError, match="does not name"):
        assert_contract(lambda: float("abc"), "confidence")
    with pytest.raises(pytest.fail.Exception, match="raised OverflowError"):
        assert_contract(lambda: int(math.inf), "n")
    with pytest.raises(AssertionError, match="JAX-internal"):
        assert_contract(lambda: (_ for _ in ()).throw(TypeError("n: jax.Array expected")), "n")


# ---------------------------------------------------------------------------------------------------------
# Constructors: (label, factory(**kwargs), argument names)

MAB = B.BernoulliMAB(reward_probs=[0.3, 0.7], seed=0)
WHEEL = B.WheelBandit(seed=0)

CONSTRUCTORS = [
    ("Buffer", lambda **k: rl.Buffer(**{"maxlen": 10, **k}),
     ["maxlen", "gamma", "lam", "alpha", "beta", "n_envs", "eps", "seed"]),
    ("BernoulliMAB", B.BernoulliMAB, ["bandits", "arms", "reward_probs", "context_type", "seed"]),
    ("GaussianMAB", B.GaussianMAB, ["bandits", "arms", "reward_means", "reward_std", "context_type"]),
    ("WheelBandit", B.WheelBandit, ["delta", "mean_v", "std_v", "mu_large", "std_large", "seed", "block"]),
    ("ClassificationBandit",
     lambda **k: B.ClassificationBandit(**{"X": np.ones((4, 2)), "y": np.array([0, 1, 0, 1]), **k}),
     ["X", "y", "n_actions", "seed"]),
    ("EpsilonGreedy", lambda **k: B.EpsilonGreedy(MAB, **k), ["epsilon", "seed"]),
    ("UCB1", lambda **k: B.UCB1(MAB, **k), ["confidence"]),
    ("BayesianUCB", lambda **k: B.BayesianUCB(MAB, **k), ["alpha", "beta", "c", "horizon"]),
    ("ThompsonSampling", lambda **k: B.ThompsonSampling(MAB, **k), ["alpha", "beta"]),
    ("GaussianThompsonSampling", lambda **k: B.GaussianThompsonSampling(MAB, **k),
     ["prior_mean", "prior_std", "noise_std"]),
    ("GradientBandit", lambda **k: B.GradientBandit(MAB, **k), ["alpha"]),
    ("MABTrainer", lambda **k: B.MABTrainer(B.UCB1(MAB), MAB, **k), ["window", "log_every"]),
    ("LinearPosterior", lambda **k: B.LinearPosterior(WHEEL, **k),
     ["lambda_prior", "a0", "b0", "init_pulls", "seed"]),
    ("Fixed", lambda **k: B.Fixed(WHEEL, **({"arm": 0} if "probs" not in k else {}), **k), ["arm", "probs"]),
    ("NeuralGreedy", lambda **k: B.NeuralGreedy(WHEEL, **k),
     ["epsilon", "hidden", "lr", "max_grad_norm", "init_scale"]),
    ("NeuralLinearPosterior", lambda **k: B.NeuralLinearPosterior(WHEEL, **k), ["lambda_prior", "a0", "b0"]),
    ("NeuralNoiseSampling", lambda **k: B.NeuralNoiseSampling(WHEEL, **k),
     ["noise_std", "eps", "eps_decay", "noise_factor", "kl_samples"]),
    ("Bootstrap", lambda **k: B.Bootstrap(WHEEL, **k), ["n_models", "add_prob"]),
    ("Variational", lambda **k: B.Variational(WHEEL, **k), ["prior_std", "noise_std", "rho_init", "mean_init_std"]),
    ("DCBTrainer", lambda **k: B.DCBTrainer(B.Uniform(WHEEL), WHEEL, **k), ["window", "log_every"]),
    ("QLearning", lambda **k: TB.QLearning(Chain(2), **k),
     ["epsilon", "gamma", "lr", "epsilon_unit", "initial_q", "seed"]),
    ("SARSA", lambda **k: TB.SARSA(Chain(2), **k), ["lmbda", "trace"]),
    ("ExpectedSARSA", lambda **k: TB.ExpectedSARSA(Chain(2), **k), ["epsilon", "gamma", "lr"]),
    ("DynaQ", lambda **k: TB.DynaQ(Chain(2), **k), ["planning_steps"]),
    ("ValueIteration", lambda **k: TB.ValueIteration(Chain(2), **k), ["gamma", "tol", "max_iterations"]),
    ("PolicyIteration", lambda **k: TB.PolicyIteration(Chain(2), **k), ["evaluation", "max_iterations"]),
    ("LinearDecay", TB.LinearDecay, ["start", "end", "duration"]),
    ("ExponentialDecay", TB.ExponentialDecay, ["start", "end", "rate"]),
    ("Trainer", lambda **k: TB.Trainer(TB.QLearning(Chain(2)), Chain(2), **k),
     ["mode", "n_episodes", "start_steps", "evaluate_frequency", "evaluate_episodes", "evaluation",
      "target_success", "planning_steps", "max_episode_steps", "seed"]),
]
CASES = [pytest.param(make, name, id=f"{label}-{name}") for label, make, names in CONSTRUCTORS for name in names]


@pytest.mark.slow
@pytest.mark.parametrize("make, name", CASES)
@EXAMPLES
@given(value=VALUES)
def test_constructors_work_or_name_the_argument(make, name, value):
    assert_contract(lambda: make(**{name: value}), name)


@EXAMPLES
@given(X=st.sampled_from([np.ones(4), np.ones((4, 0)), np.full((4, 2), np.nan), np.array([["a", "b"]] * 4),
                          np.ones((4, 2), complex), [[1, 2], [3]], None, "X"]),
       y=st.sampled_from([np.array([0, 1, 0, 1]), np.array([0.5, 1, 0, 1]), np.array([0, 1]), np.array([-1, 1, 0, 1]),
                          np.array([[0, 1, 0, 1]]), np.array(["a"] * 4), None]))
def test_classification_bandit_data_of_wrong_shapes_and_dtypes(X, y):
    assert_contract(lambda: B.ClassificationBandit(X, y), "X", "y", "dataset")


# ---------------------------------------------------------------------------------------------------------
# rl.run, rl.train, rl.load, rl.envs.make_env


class RandomAgent:
    """The protocol's least: random actions, no learning."""

    def __init__(self, env):
        self.space = env.action_space

    def act(self, states, deterministic=False):
        return self.space.sample()

    def update(self, buffer):
        return None


RUN_ARGUMENTS = ["max_episode_steps", "max_episodes", "update_every", "update_after", "skip_frames", "eval_every",
                 "eval_max_episode_steps", "eval_max_episodes", "max_steps", "checkpoint_every", "seed"]


@pytest.mark.parametrize("name", RUN_ARGUMENTS)
@EXAMPLES
@given(value=VALUES)
@example(value=-1)
def test_run_works_or_names_the_argument(name, value, tmp_path_factory):
    env = gym.make("CartPole-v1")
    # two bounds (steps and episodes) so that a huge value of one of them still ends the run at once
    options = dict(max_episodes=1, max_episode_steps=3, max_steps=5, eval_every=0, eval_max_episodes=1,
                   eval_max_episode_steps=2)
    options[name] = value
    if name == "checkpoint_every":
        options["checkpoint_path"] = tmp_path_factory.mktemp("run") / "checkpoint.npz"
    assert_contract(lambda: rl.run(env, RandomAgent(env), rl.Buffer(10), **options), name)
    env.close()


@pytest.fixture(scope="module")
def fused():
    import gymnax

    env = gymnax.make("CartPole-v1")
    return env, rl.ActorCritic.from_env(env, n_envs=2, n_steps=8, hidden=(4,), seed=0)


@pytest.mark.parametrize("name, values", [
    ("total_steps", [0, -1, 1e20, math.nan, math.inf, "16", None, 2.5, [16], np.zeros((2, 2))]),
    ("seeds", [0, -1, math.nan, 1e20, "2", None, [], [1, 1], [-1], 2.5, [0.5], np.zeros((2, 2))]),
])
def test_train_names_the_argument_it_refuses(fused, name, values):
    env, learner = fused
    def call(options):
        return lambda: rl.train(env, learner, options["total_steps"], seeds=options["seeds"], progress=False)

    for value in values:  # each refused before anything is compiled
        assert_contract(call({"total_steps": 16, "seeds": 1, name: value}), name, name.rstrip("s"))


@pytest.mark.parametrize("content", [None, b"", b"PK\x03\x04 truncated", b"\x00" * 64, b"not a zip at all",
                                     "truncated", "directory"])
def test_load_of_a_damaged_or_missing_path_names_it(tmp_path, content):
    path = tmp_path / "checkpoint.npz"
    if content == "directory":
        path.mkdir()
    elif content == "truncated":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}" * 100)
        path.write_bytes(path.read_bytes()[:-30])
    elif content is not None:
        path.write_bytes(content)
    try:
        rl.load(path)
    except FileNotFoundError as exc:  # a missing file (or a folder in its place): the builtin users expect
        assert content in (None, "directory") and str(path) in str(exc), exc
    except (SymgraphError, ValueError, TypeError) as exc:
        assert str(path) in str(exc) and "allow_pickle" not in str(exc), exc
    else:
        pytest.fail(f"rl.load of {content!r} returned")


MAKE_ENV_VALUES = st.one_of(st.sampled_from(NUMBERS + OBJECTS), st.floats(), st.integers(-3, 4))


@pytest.mark.parametrize("name", ["n_envs", "max_episode_steps", "gamma", "seed", "frame_stack", "validate"])
@settings(max_examples=10, deadline=None, derandomize=True)
@given(value=MAKE_ENV_VALUES)
@example(value=-1)
@example(value=2.5)
@example(value=1e20)
@example(value=10**30)
@example(value=np.zeros((2, 2)))
def test_make_env_works_or_names_the_argument(name, value):
    def make():
        rl.envs.make_env("CartPole-v1", **{name: value}).close()

    assert_contract(make, name)


@pytest.mark.parametrize("env_id", ["", " ", "nope-v0", "cartpole-v1", "CartPole-v9", "CartPole", "Nope/CartPole-v1",
                                    "CartPole-v1 "])
def test_make_env_names_an_unknown_env_id(env_id):
    assert_contract(lambda: rl.envs.make_env(env_id).close(), "env_or_id")


def test_cli_refuses_a_buffer_too_large_to_allocate_in_one_line(tmp_path, monkeypatch, capsys):
    """The replay buffer's storage is allocated at its first push, inside the run: the CLI still exits with
    status 2 and one line, and leaves no log directory."""
    from symgraph.rl import buffer as buffer_module
    from symgraph.rl.cli import main

    class Numpy:  # numpy whose zeros() cannot allocate the replay buffer (whatever the machine's memory)
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def zeros(shape, *args, **kwargs):
            if math.prod(shape) > 10**8:
                raise MemoryError(f"Unable to allocate an array with shape {shape}")
            return np.zeros(shape, *args, **kwargs)

    monkeypatch.setattr(buffer_module, "np", Numpy())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "dqn", "CartPole-v1", "--steps", "100", "--set", "buffer_size=2000000000", "evaluations=0",
              "--no-progress", "--logdir", "run"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.startswith("usage:"), error  # argparse: the usage, then one line
    line = error.strip().splitlines()[-1]
    assert line.startswith("symgraph-rl train: error: --set buffer_size: a replay buffer of 2,000,000,000 "
                           "transitions cannot be allocated"), line
    assert "lower buffer_size" in line, line
    assert not (tmp_path / "run").exists()
