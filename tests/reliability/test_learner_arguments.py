"""The learners' arguments follow one set of rules: ``max_grad_norm`` 0 or None means no clipping for every
learner, every ``from_env`` takes an env id, and a meaningless number (0, negative, NaN, inf, 1e20, a string,
None where they make no sense) is a ValueError/TypeError naming the argument, never a JAX-internal message, an
OverflowError, or a learner built silently. Build only: nothing is trained here."""

import math

import gymnasium
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from symgraph import rl

CARTPOLE, PENDULUM = gymnasium.make("CartPole-v1"), gymnasium.make("Pendulum-v1")
SMALL = {"hidden": (4,), "seed": 0}


def ppo(env=CARTPOLE, **kw):
    return rl.PPO.from_env(env, **{"n_steps": 8, "batch_size": 8, **SMALL, **kw})


def a2c(env=CARTPOLE, **kw):
    return rl.ActorCritic.from_env(env, **{"n_steps": 8, **SMALL, **kw})


def reinforce(env=CARTPOLE, **kw):
    return rl.REINFORCE.from_env(env, **{"episode_length": 10, **SMALL, **kw})


def dqn(env=CARTPOLE, **kw):
    return rl.DQN.from_env(env, **{**SMALL, **kw})


def td3(env=PENDULUM, **kw):
    return rl.TD3.from_env(env, **{**SMALL, **kw})


def ddpg(env=PENDULUM, **kw):
    return rl.DDPG.from_env(env, **{**SMALL, **kw})


def sac(env=PENDULUM, **kw):
    return rl.SAC.from_env(env, **{**SMALL, **kw})


LEARNERS = [ppo, a2c, reinforce, dqn, td3, ddpg, sac]


@pytest.mark.parametrize("make", LEARNERS, ids=lambda make: make.__name__)
def test_max_grad_norm_zero_or_none_means_no_clipping_for_every_learner(make):
    for value in (0, 0.0, None):
        learner = make(max_grad_norm=value)
        assert learner.max_grad_norm is None if hasattr(learner, "max_grad_norm") else True
    with pytest.raises(ValueError, match=r"max_grad_norm must be a finite number >= 0.*0 or None: no clipping"):
        make(max_grad_norm=-1.0)


@pytest.mark.parametrize("make", LEARNERS, ids=lambda make: make.__name__)
def test_every_from_env_takes_an_env_id(make):
    learner = make("Pendulum-v1" if make in (td3, ddpg, sac) else "CartPole-v1")
    assert learner.state_shape == ((3,) if make in (td3, ddpg, sac) else (4,))


BAD = [0, -1, math.nan, math.inf, 1e20, 1e39, "x", None]

#: The numeric arguments of each learner, and the bad values that are meaningful for it (accepted).
ARGUMENTS = {
    ppo: {"batch_size": (), "lr": (0, 1e20), "K_epochs": (), "eps_clip": (0, 1e20), "gamma": (0,),
          "entropy_beta": (0, 1e20), "n_steps": (), "lam": (0,), "vf_coef": (0, 1e20), "clip_vf": (0, 1e20, None),
          "max_grad_norm": (0, 1e20, None), "total_steps": (None,), "seed": (0, None),
          "log_std_init": (0, -1, 1e20)},
    a2c: {"n_steps": (None,), "lr": (0, 1e20), "gamma": (0,), "train_v_iters": (), "lam": (0,),
          "critic_lr": (0, 1e20, None), "entropy_beta": (0, 1e20), "max_grad_norm": (0, 1e20, None),
          "seed": (0, None)},
    reinforce: {"n_episodes": (), "episode_length": (None,), "lr": (0, 1e20), "gamma": (0,),
                "entropy_beta": (0, 1e20), "max_grad_norm": (0, 1e20, None), "seed": (0, None)},
    dqn: {"batch_size": (), "lr": (0, 1e20), "gamma": (0,), "v_min": (0, -1), "v_max": (0, -1, 1e20), "tau": (),
          "target_update_period": (), "epsilon": (0, None), "max_grad_norm": (0, 1e20, None),
          "gradient_steps": (), "n_step": (), "noisy_sigma0": (0, 1e20), "seed": (0, None)},
    td3: {"batch_size": (), "lr": (0, 1e20), "gamma": (0,), "tau": (), "policy_delay": (),
          "target_noise": (0, 1e20), "noise_clip": (0, 1e20), "n_critics": (), "actor_lr": (0, 1e20, None),
          "critic_lr": (0, 1e20, None), "random_steps": (0,), "gradient_steps": (), "n_step": (),
          "max_grad_norm": (0, 1e20, None), "seed": (0, None)},
    ddpg: {"batch_size": (), "lr": (0, 1e20), "gamma": (0,), "tau": (), "actor_lr": (0, 1e20, None),
           "critic_lr": (0, 1e20, None), "random_steps": (0,), "max_grad_norm": (0, 1e20, None),
           "seed": (0, None)},
    sac: {"batch_size": (), "lr": (0, 1e20), "gamma": (0,), "tau": (), "alpha": (1e20,),
          "target_entropy": (0, -1, 1e20), "alpha_init": (1e20,), "actor_lr": (0, 1e20, None),
          "critic_lr": (0, 1e20, None), "alpha_lr": (0, 1e20, None), "n_critics": (),
          "target_update_period": (), "random_steps": (0,), "max_grad_norm": (0, 1e20, None),
          "seed": (0, None)},
}
#: Arguments checked in a configuration that uses them.
CONTEXT = {"v_min": {"categorical": True}, "v_max": {"categorical": True}, "noisy_sigma0": {"noisy": True},
           "alpha_lr": {"alpha": 0.2}}
CASES = [(make, name, bad) for make, arguments in ARGUMENTS.items() for name in arguments for bad in BAD]


def accepted(make, name, value):
    return any(value is ok or (type(value) is type(ok) and value == ok) for ok in ARGUMENTS[make][name])


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(CASES))
@example((ppo, "seed", math.inf))                  # was an OverflowError
@example((dqn, "seed", "x"))                       # was int()'s message, not naming seed
@example((a2c, "critic_lr", -1))                   # was reported as "lr"
@example((td3, "actor_lr", math.nan))              # was reported as Adam's "lr"
@example((sac, "alpha", math.nan))                 # was accepted
@example((sac, "target_entropy", math.inf))        # was accepted
@example((dqn, "v_max", math.inf))                 # was accepted (a NaN support)
@example((dqn, "noisy_sigma0", "x"))               # was accepted
@example((td3, "noise_clip", math.inf))            # was accepted
@example((ppo, "entropy_beta", -1))                # was accepted (an entropy penalty)
@example((ppo, "log_std_init", None))              # was float()'s message
@example((reinforce, "lr", 1e39))                  # was accepted (inf once held in float32)
@example((dqn, "max_grad_norm", 0))                # was rejected while PPO accepts it
def test_bad_numbers_are_errors_naming_the_argument(case):
    make, name, value = case
    kwargs = {**CONTEXT.get(name, {}), name: value}
    if make is a2c and name == "n_steps" and value is None:
        kwargs.update(n_episodes=2, episode_length=10)
    if accepted(make, name, value):
        make(**kwargs)
        return
    with pytest.raises((ValueError, TypeError)) as raised:
        make(**kwargs)
    message = str(raised.value)
    assert name in message, f"{make.__name__}({name}={value!r}): {type(raised.value).__name__}: {message}"
    assert not isinstance(raised.value, OverflowError)


@pytest.mark.parametrize("make, names", [
    (lambda: rl.PPO.from_env("CartPole-v1", n_steps=10**9, n_envs=8), "n_steps x n_envs"),
    (lambda: rl.ActorCritic.from_env("CartPole-v1", n_steps=10**9, n_envs=8), "n_steps x n_envs"),
    (lambda: rl.REINFORCE.from_env("CartPole-v1", n_episodes=10**6, episode_length=10**5),
     "n_episodes x episode_length"),
], ids=["ppo", "a2c", "reinforce"])
def test_a_rollout_beyond_int32_names_its_factors(make, names):
    with pytest.raises(ValueError, match=f"a rollout of {names} = .* is beyond the 2147483647"):
        make()
