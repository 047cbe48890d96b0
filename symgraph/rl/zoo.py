r"""Tuned hyperparameters: the registry of settings that make each learner learn each classic environment.

An entry (:class:`Tuned`) belongs to one ``(algorithm, env id)`` pair and holds two dicts:

- ``learner``: keyword arguments of the learner's ``from_env`` (of the constructor for tabular agents), passed
  as they are by :func:`make_learner`;
- ``run``: the settings of the training harness (``symgraph-rl train``): sub-environments, step or episode
  budget, replay buffer, update schedule, exploration noise and schedule, evaluation (see :data:`RUN_KEYS`).

Deep-RL entries are rl-baselines3-zoo's tuned settings (A. Raffin, "RL Baselines3 Zoo", 2020,
https://github.com/DLR-RM/rl-baselines3-zoo, ``hyperparams/<algo>.yml``). They are written below in the zoo's
own vocabulary, so that each can be checked against its file line by line, on top of Stable-Baselines3's
defaults (the values the zoo tuned with, :data:`SB3_DEFAULTS`), and translated to our arguments:

====================================  ===========================================================================
zoo / SB3 name                        ours
====================================  ===========================================================================
``n_timesteps``, ``n_envs``           run ``total_steps``, ``n_envs``
``learning_rate``                     ``lr``; PPO's ``lin_x``: ``lr=x, anneal_lr=True``
``clip_range``                        PPO ``eps_clip``; ``lin_x``: ``eps_clip=x, anneal_clip=True``
``n_epochs``, ``gae_lambda``          PPO ``K_epochs``, ``lam``
``batch_size`` (PPO)                  ``batch_size``, at most ``n_steps * n_envs`` (SB3 then trains on the whole
                                      rollout as one minibatch)
``ent_coef``                          ``entropy_beta`` (SAC: ``alpha``; ``"auto"`` learned)
``vf_coef`` (PPO)                     ``vf_coef`` times 2: our value loss carries the factor 1/2
``use_rms_prop`` (A2C)                ``optimizer="rmsprop"``; ``train_v_iters=1`` (one gradient step per rollout)
``buffer_size``                       run ``buffer_size`` (the learner's replay capacity)
``learning_starts``                   run ``update_after`` (the learner's); continuous actions: also
                                      ``random_steps`` (SB3 acts uniformly at random until then)
``train_freq``                        run ``update_every`` (the learner's: env steps between updates)
``gradient_steps``                    ``gradient_steps`` (``-1``: ``train_freq``, one per env step collected)
``target_update_interval`` (DQN)      ``target_update_period`` in gradient steps: ``gradient_steps`` when the
                                      interval is below ``train_freq`` (one copy per update), else
                                      ``interval * gradient_steps / train_freq``
``exploration_*`` (DQN)               run ``exploration_initial``, ``exploration_final``, ``exploration_fraction``
``target_policy_noise``, ``..clip``   TD3 ``target_noise``, ``noise_clip``
``noise_type``, ``noise_std``         run ``noise`` (``"gaussian"`` or ``"ou"``) and ``noise_sigma`` (in the
                                      policy's ``[-1, 1]`` units, as SB3's)
``net_arch``                          ``hidden``
====================================  ===========================================================================

Zoo knobs we do not have are left out, and the entry's ``notes`` say which: observation/reward normalisation
(``normalize``: its running statistics would not travel with the checkpoint), generalised state-dependent
exploration (``use_sde``, ``sde_sample_freq``, and the ``log_std_init`` that goes with it: our Gaussian
policies explore with a state-independent log-std), ``ortho_init`` and A2C's annealed learning rate.

REINFORCE and the tabular agents have no zoo entry: theirs are the settings this project measured (see
``bench/onpolicy.py`` and ``bench/tabular.py``), and their ``source`` says so. LunarLander-v3 entries are
registered only when ``Box2D`` is importable (``pip install "gymnasium[box2d]"``).

Example:
    >>> from symgraph.rl import zoo
    >>> entry = zoo.get("ppo", "CartPole-v1")
    >>> entry.learner["K_epochs"], entry.learner["anneal_lr"], entry.run["n_envs"], entry.run["total_steps"]
    (20, True, 8, 100000)
"""

import importlib.util
import inspect
import math
import types
from dataclasses import dataclass

from symgraph.nn import schedules
from symgraph.rl.learners import DDPG, DQN, PPO, QRDQN, REINFORCE, SAC, TD3, ActorCritic
from symgraph.rl.tabular import SARSA, DynaQ, ExpectedSARSA, LinearDecay, QLearning

__all__ = ["Tuned", "ALGORITHMS", "FAMILIES", "RUN_KEYS", "SB3_DEFAULTS", "get", "entries", "family",
           "learner_class", "learner_parameters", "run_defaults", "settings", "make_learner"]

#: The learners by the name the command line uses.
ALGORITHMS = types.MappingProxyType({
    "ppo": PPO, "a2c": ActorCritic, "reinforce": REINFORCE, "dqn": DQN, "qrdqn": QRDQN, "ddpg": DDPG, "td3": TD3,
    "sac": SAC,
    "q-learning": QLearning, "sarsa": SARSA, "expected-sarsa": ExpectedSARSA, "dyna-q": DynaQ,
})

#: The family of each algorithm: how it is trained.
FAMILIES = types.MappingProxyType({
    "ppo": "on-policy", "a2c": "on-policy", "reinforce": "on-policy", "dqn": "off-policy", "qrdqn": "off-policy",
    "ddpg": "off-policy", "td3": "off-policy", "sac": "off-policy", "q-learning": "tabular", "sarsa": "tabular",
    "expected-sarsa": "tabular", "dyna-q": "tabular",
})

#: The run settings of each family, with their defaults (an entry overrides some):
#:
#: - ``n_envs``: sub-environments (a vector env when more than 1); ``total_steps``: the env-step budget;
#: - ``buffer_size``: replay capacity; ``update_every``/``update_after``: env steps between updates / before
#:   the first (the off-policy learner's arguments of the same names, which :func:`make_learner` gives it:
#:   its ``schedule`` and ``make_storage``);
#: - ``noise``/``noise_sigma``: exploration noise of DDPG and TD3 (``"gaussian"``, ``"ou"`` or None) and its
#:   standard deviation in the policy's ``[-1, 1]`` units;
#: - ``exploration_initial``/``_final``/``_fraction``: epsilon decays linearly from the first to the second
#:   over that fraction of the budget (env steps for DQN, episodes for tabular agents), then holds;
#: - ``n_episodes``: the episode budget of tabular agents;
#: - ``evaluations``: greedy evaluations during the run, evenly spaced over the budget (0: none; the final
#:   evaluation is always made); ``eval_episodes``: episodes of each.
RUN_KEYS = types.MappingProxyType({
    "on-policy": types.MappingProxyType({"n_envs": 1, "total_steps": 100_000, "evaluations": 10,
                                         "eval_episodes": 10}),
    "off-policy": types.MappingProxyType({"n_envs": 1, "total_steps": 100_000, "buffer_size": 1_000_000,
                                          "update_every": 1, "update_after": 100, "evaluations": 10,
                                          "eval_episodes": 10}),
    "tabular": types.MappingProxyType({"n_episodes": 1000, "exploration_initial": 0.1, "exploration_final": 0.1,
                                       "exploration_fraction": 1.0, "evaluations": 10, "eval_episodes": 100}),
})
_DQN_RUN = {"exploration_initial": 1.0, "exploration_final": 0.05, "exploration_fraction": 0.1}
_NOISE_RUN = {"noise": "gaussian", "noise_sigma": 0.1}

#: Stable-Baselines3's defaults (each algorithm's ``__init__``, v2), under the zoo's names: the base of every
#: zoo entry.
SB3_DEFAULTS = types.MappingProxyType({
    "ppo": dict(n_envs=1, learning_rate=3e-4, n_steps=2048, batch_size=64, n_epochs=10, gamma=0.99, gae_lambda=0.95,
                clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=True),
    "a2c": dict(n_envs=1, learning_rate=7e-4, n_steps=5, gamma=0.99, gae_lambda=1.0, ent_coef=0.0, vf_coef=0.5,
                max_grad_norm=0.5, use_rms_prop=True, normalize_advantage=False),
    "dqn": dict(learning_rate=1e-4, buffer_size=1_000_000, learning_starts=100, batch_size=32, tau=1.0,
                gamma=0.99, train_freq=4, gradient_steps=1, target_update_interval=10_000, exploration_fraction=0.1,
                exploration_initial_eps=1.0, exploration_final_eps=0.05, max_grad_norm=10.0, net_arch=(64, 64)),
    "qrdqn": dict(learning_rate=5e-5, buffer_size=1_000_000, learning_starts=100, batch_size=32, tau=1.0,
                  gamma=0.99, train_freq=4, gradient_steps=1, target_update_interval=10_000,
                  exploration_fraction=0.005, exploration_initial_eps=1.0, exploration_final_eps=0.01,
                  max_grad_norm=None, net_arch=(64, 64), n_quantiles=200),
    "td3": dict(learning_rate=1e-3, buffer_size=1_000_000, learning_starts=100, batch_size=256, tau=0.005,
                gamma=0.99, train_freq=1, gradient_steps=1, policy_delay=2, target_policy_noise=0.2,
                target_noise_clip=0.5, net_arch=(400, 300), noise_type=None, noise_std=0.1),
    "ddpg": dict(learning_rate=1e-3, buffer_size=1_000_000, learning_starts=100, batch_size=256, tau=0.005,
                 gamma=0.99, train_freq=1, gradient_steps=1, net_arch=(400, 300), noise_type=None, noise_std=0.1),
    "sac": dict(learning_rate=3e-4, buffer_size=1_000_000, learning_starts=100, batch_size=256, tau=0.005,
                gamma=0.99, train_freq=1, gradient_steps=1, ent_coef="auto", target_update_interval=1,
                target_entropy="auto", net_arch=(256, 256)),
})

_ZOO = "rl-baselines3-zoo, hyperparams/{algo}.yml ({env})"
_UNSUPPORTED = {
    "normalize": "observation/reward normalisation (VecNormalize) left out: its running statistics would not "
                 "travel with the checkpoint",
    "use_sde": "gSDE (use_sde) left out: not implemented; the policy explores with a state-independent log-std",
    "sde_sample_freq": "sde_sample_freq left out (no gSDE)",
    "log_std_init": "log_std_init left out: it is gSDE's initial log-std",
    "ortho_init": "ortho_init=False left out: our networks keep their own initialisation",
}


@dataclass(frozen=True)
class Tuned:
    """One registry entry.

    Attributes:
        algo: the algorithm's name (a key of :data:`ALGORITHMS`).
        env_id: the gymnasium id.
        learner: ``{argument: value}`` for the learner's ``from_env`` (tabular agents: the constructor).
        run: ``{setting: value}``, a subset of the family's :data:`RUN_KEYS`.
        source: where the values come from.
        zoo: the zoo's hyperparameters as its file lists them (empty for entries not from the zoo).
        notes: what was left out or adapted, one line each.
    """

    algo: str
    env_id: str
    learner: types.MappingProxyType
    run: types.MappingProxyType
    source: str
    zoo: types.MappingProxyType
    notes: tuple


def _linear(value):
    """``(number, annealed)`` from a zoo value: a number, or ``"lin_x"`` (linear decay to 0 from x)."""
    if isinstance(value, str) and value.startswith("lin_"):
        return float(value[4:]), True
    return value, False


def _on_policy(algo, hp, notes):
    n_envs, n_steps = hp.pop("n_envs"), hp.pop("n_steps")
    lr, anneal_lr = _linear(hp.pop("learning_rate"))
    learner = {"lr": lr, "n_steps": n_steps, "gamma": hp.pop("gamma"), "lam": hp.pop("gae_lambda"),
               "entropy_beta": hp.pop("ent_coef"), "max_grad_norm": hp.pop("max_grad_norm"),
               "normalize_advantage": hp.pop("normalize_advantage")}
    learner["max_grad_norm"] = float(learner["max_grad_norm"])
    vf_coef = hp.pop("vf_coef")
    if algo == "ppo":
        eps_clip, anneal_clip = _linear(hp.pop("clip_range"))
        batch = hp.pop("batch_size")
        if batch > n_steps * n_envs:
            notes.append(f"batch_size {batch} is more than the rollout of {n_steps * n_envs} transitions: one "
                         f"minibatch of the whole rollout, as SB3 does")
            batch = n_steps * n_envs
        learner.update(batch_size=batch, K_epochs=hp.pop("n_epochs"), eps_clip=eps_clip, vf_coef=2 * vf_coef,
                       anneal_lr=anneal_lr, anneal_clip=anneal_clip)
    else:
        if anneal_lr:
            notes.append(f"learning_rate lin_{lr} is constant here: ActorCritic has no annealing switch")
        if vf_coef != SB3_DEFAULTS["a2c"]["vf_coef"]:
            notes.append(f"vf_coef {vf_coef} has no counterpart: the critic has its own optimizer")
        learner.update(optimizer="rmsprop" if hp.pop("use_rms_prop") else "adam", train_v_iters=1)
    return learner, {"n_envs": n_envs}


def _steps_per_update(hp):
    train_freq = hp.pop("train_freq")
    gradient_steps = hp.pop("gradient_steps")
    return train_freq, train_freq if gradient_steps == -1 else gradient_steps


def _epsilon_greedy(algo):
    """Whether ``algo`` is an off-policy learner of discrete actions (DQN, QR-DQN): epsilon-greedy, with the
    zoo's ``exploration_*`` settings and a target network updated every ``target_update_interval``."""
    return FAMILIES.get(algo) == "off-policy" and ALGORITHMS[algo].discrete


def _off_policy(algo, hp, notes):
    train_freq, gradient_steps = _steps_per_update(hp)
    lr, annealed = _linear(hp.pop("learning_rate"))
    if annealed:
        notes.append(f"learning_rate lin_{lr} is constant here")
    learner = {"lr": lr, "batch_size": hp.pop("batch_size"), "gamma": hp.pop("gamma"), "tau": hp.pop("tau"),
               "gradient_steps": gradient_steps, "hidden": tuple(hp.pop("net_arch"))}
    starts = hp.pop("learning_starts")
    run = {"buffer_size": int(hp.pop("buffer_size")), "update_every": train_freq, "update_after": starts}
    if _epsilon_greedy(algo):
        interval = hp.pop("target_update_interval")
        learner["target_update_period"] = (gradient_steps if interval < train_freq
                                           else max(1, round(interval * gradient_steps / train_freq)))
        learner["max_grad_norm"] = hp.pop("max_grad_norm")
        if "n_quantiles" in hp:
            learner["n_quantiles"] = hp.pop("n_quantiles")
        run.update(exploration_initial=hp.pop("exploration_initial_eps"),
                   exploration_final=hp.pop("exploration_final_eps"),
                   exploration_fraction=hp.pop("exploration_fraction"))
        return learner, run
    learner["random_steps"] = starts
    if algo == "sac":
        alpha = hp.pop("ent_coef")
        if isinstance(alpha, str) and alpha.startswith("auto_"):
            learner.update(alpha="auto", alpha_init=float(alpha[5:]))
        else:
            learner["alpha"] = alpha
        learner.update(target_update_period=hp.pop("target_update_interval"), target_entropy=hp.pop("target_entropy"))
        return learner, run
    if algo == "td3":
        learner.update(policy_delay=hp.pop("policy_delay"), target_noise=hp.pop("target_policy_noise"),
                       noise_clip=hp.pop("target_noise_clip"))
    noise = hp.pop("noise_type")
    run.update(noise={"normal": "gaussian", "ornstein-uhlenbeck": "ou", None: None}[noise],
               noise_sigma=hp.pop("noise_std"))
    return learner, run


def _zoo(algo, env_id, note=None, **hyperparameters):
    """A :class:`Tuned` entry from the zoo's hyperparameters for ``algo`` on ``env_id`` (its names; nested
    ``policy_kwargs`` flattened), translated as the module docstring says; ``note``: one more note."""
    hp = dict(SB3_DEFAULTS[algo])
    hp.update(hyperparameters)
    hp.pop("policy", None)
    total = int(hp.pop("n_timesteps"))
    notes = [_UNSUPPORTED[key] for key in _UNSUPPORTED if key in hp and hp.pop(key) is not None]
    if algo in ("ppo", "a2c"):
        learner, run = _on_policy(algo, hp, notes)
    else:
        learner, run = _off_policy(algo, hp, notes)
    if hp:
        raise ValueError(f"zoo entry {algo} {env_id}: no translation for {sorted(hp)}")
    if note:
        notes.append(note)
    run["total_steps"] = total
    zoo = dict(hyperparameters)
    return Tuned(algo, env_id, types.MappingProxyType(learner), types.MappingProxyType(run),
                 _ZOO.format(algo=algo, env=env_id), types.MappingProxyType(zoo), tuple(notes))


def _ours(algo, env_id, source, learner, run):
    return Tuned(algo, env_id, types.MappingProxyType(dict(learner)), types.MappingProxyType(dict(run)), source,
                 types.MappingProxyType({}), ())


def _registry():
    entries = [
        # ppo.yml
        _zoo("ppo", "CartPole-v1", n_envs=8, n_timesteps=1e5, n_steps=32, batch_size=256, gae_lambda=0.8,
             gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2"),
        _zoo("ppo", "Acrobot-v1", normalize=True, n_envs=16, n_timesteps=1e6, n_steps=256, gae_lambda=0.94,
             gamma=0.99, n_epochs=4, ent_coef=0.0),
        _zoo("ppo", "MountainCar-v0", normalize=True, n_envs=16, n_timesteps=1e6, n_steps=16, gae_lambda=0.98,
             gamma=0.99, n_epochs=4, ent_coef=0.0),
        _zoo("ppo", "Pendulum-v1", n_envs=4, n_timesteps=1e5, n_steps=1024, gae_lambda=0.95, gamma=0.9,
             n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4),
        _zoo("ppo", "MountainCarContinuous-v0", normalize=True, n_envs=1, n_timesteps=20_000, batch_size=256,
             n_steps=8, gamma=0.9999, learning_rate=7.77e-05, ent_coef=0.00429, clip_range=0.1, n_epochs=10,
             gae_lambda=0.9, max_grad_norm=5, vf_coef=0.19, use_sde=True, log_std_init=-3.29, ortho_init=False),
        # a2c.yml
        _zoo("a2c", "CartPole-v1", n_envs=8, n_timesteps=5e5, ent_coef=0.0),
        _zoo("a2c", "Acrobot-v1", normalize=True, n_envs=16, n_timesteps=5e5, ent_coef=0.0),
        _zoo("a2c", "MountainCar-v0", normalize=True, n_envs=16, n_timesteps=1e6, ent_coef=0.0),
        _zoo("a2c", "Pendulum-v1", normalize=True, n_envs=8, n_timesteps=1e6, ent_coef=0.0, max_grad_norm=0.5,
             n_steps=8, gae_lambda=0.9, vf_coef=0.4, gamma=0.9, use_rms_prop=True, normalize_advantage=False,
             learning_rate="lin_7e-4", use_sde=True, log_std_init=-2, ortho_init=False),
        _zoo("a2c", "MountainCarContinuous-v0", normalize=True, n_envs=4, n_steps=100, n_timesteps=1e5,
             ent_coef=0.0, use_sde=True, sde_sample_freq=16, log_std_init=0.0, ortho_init=False),
        # dqn.yml
        _zoo("dqn", "CartPole-v1", n_timesteps=5e4, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
             learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
             exploration_fraction=0.16, exploration_final_eps=0.04, net_arch=(256, 256),
             note="the zoo marks this entry 'almost tuned': with it DQN reaches a greedy 500 (seeds 0-2 here) and "
                  "may collapse afterwards, SB3's too (the evaluations in progress.csv show the best point)"),
        # qrdqn.yml
        _zoo("qrdqn", "CartPole-v1", n_timesteps=5e4, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
             learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
             exploration_fraction=0.16, exploration_final_eps=0.04, net_arch=(256, 256), n_quantiles=10),
        _zoo("dqn", "MountainCar-v0", n_timesteps=1.2e5, learning_rate=4e-3, batch_size=128, buffer_size=10_000,
             learning_starts=1000, gamma=0.98, target_update_interval=600, train_freq=16, gradient_steps=8,
             exploration_fraction=0.2, exploration_final_eps=0.07, net_arch=(256, 256)),
        _zoo("dqn", "Acrobot-v1", n_timesteps=1e5, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000,
             learning_starts=0, gamma=0.99, target_update_interval=250, train_freq=4, gradient_steps=-1,
             exploration_fraction=0.12, exploration_final_eps=0.1, net_arch=(256, 256)),
        # sac.yml, td3.yml, ddpg.yml
        _zoo("sac", "Pendulum-v1", n_timesteps=20_000, learning_rate=1e-3),
        _zoo("sac", "MountainCarContinuous-v0", n_timesteps=50_000, learning_rate=3e-4, buffer_size=50_000,
             batch_size=512, ent_coef=0.1, train_freq=32, gradient_steps=32, gamma=0.9999, tau=0.01,
             learning_starts=0, use_sde=True, log_std_init=-3.67, net_arch=(64, 64)),
    ]
    for algo in ("td3", "ddpg"):
        entries += [
            _zoo(algo, "Pendulum-v1", n_timesteps=20_000, gamma=0.98, buffer_size=200_000, learning_starts=10_000,
                 noise_type="normal", noise_std=0.1, train_freq=1, gradient_steps=1, learning_rate=1e-3,
                 net_arch=(400, 300)),
            _zoo(algo, "MountainCarContinuous-v0", n_timesteps=300_000, noise_type="ornstein-uhlenbeck",
                 noise_std=0.5),
        ]
    if importlib.util.find_spec("Box2D") is not None:
        entries += [
            _zoo("ppo", "LunarLander-v3", n_envs=16, n_timesteps=1e6, n_steps=1024, batch_size=64, gae_lambda=0.98,
                 gamma=0.999, n_epochs=4, ent_coef=0.01),
            _zoo("a2c", "LunarLander-v3", n_envs=8, n_timesteps=2e5, gamma=0.995, n_steps=5,
                 learning_rate="lin_0.00083", ent_coef=0.00001),
            _zoo("dqn", "LunarLander-v3", n_timesteps=1e5, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000,
                 learning_starts=0, gamma=0.99, target_update_interval=250, train_freq=4, gradient_steps=-1,
                 exploration_fraction=0.12, exploration_final_eps=0.1, net_arch=(256, 256)),
        ]
    entries.append(_ours("reinforce", "CartPole-v1", "measured here: bench/onpolicy.py (greedy evaluation 475 "
                         "within 6k-24k env steps)", {"n_episodes": 4, "lr": 1e-2}, {"total_steps": 50_000}))
    frozen = {"n_episodes": 3000, "exploration_initial": 1.0, "exploration_final": 0.01, "exploration_fraction": 2 / 3}
    taxi = {"n_episodes": 2000, "exploration_initial": 0.1, "exploration_final": 0.0, "exploration_fraction": 1.0}
    for algo, extra in (("q-learning", {}), ("sarsa", {"lmbda": 0.0}), ("expected-sarsa", {}),
                        ("dyna-q", {"planning_steps": 10})):
        entries.append(_ours(algo, "FrozenLake-v1", "measured here, as bench/tabular.py: greedy success 0.73-0.74 "
                             "on 3 seeds (optimum 0.74)", {"gamma": 0.99, "lr": 0.1, **extra}, frozen))
        entries.append(_ours(algo, "Taxi-v4", "measured here: greedy success 0.99-1.0 on 3 seeds (mean return "
                             "6.3-7.9, optimum 7.9)", {"gamma": 0.99, "lr": 0.5, **extra}, taxi))
    return types.MappingProxyType({(e.algo, e.env_id): e for e in entries})


_REGISTRY = _registry()


def get(algo, env_id):
    """The :class:`Tuned` entry of ``algo`` on ``env_id``, or None when there is none."""
    return _REGISTRY.get((algo, env_id))


def entries():
    """Every registry entry, as a read-only ``{(algo, env_id): Tuned}``."""
    return _REGISTRY


def family(algo):
    """``"on-policy"``, ``"off-policy"`` or ``"tabular"``; a ValueError listing the algorithms otherwise."""
    try:
        return FAMILIES[algo]
    except KeyError:
        raise ValueError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGORITHMS)}") from None


def learner_class(algo):
    """The learner (or tabular agent) class of ``algo``."""
    family(algo)
    return ALGORITHMS[algo]


# Arguments the harness sets itself (from the env, the seed and the run settings), never from the registry.
_HARNESS = {"self", "env", "state_shape", "actions_shape", "actor", "critic", "seed", "n_envs", "action_bounds",
            "action_start", "state_dtype", "action_low", "action_high", "model"}
_DERIVED = {"ppo": {"total_steps"}, "epsilon-greedy": {"epsilon"},
            "off-policy": {"update_every", "update_after", "buffer_size"},
            "tabular": {"epsilon", "epsilon_unit"}}


def learner_parameters(algo):
    """``{argument: default}`` of what an entry (or ``--set``) may give the learner of ``algo``: the
    arguments of its ``from_env`` and constructor (``from_env``'s default first; ``inspect.Parameter.empty``
    for a required one), less those the harness derives (the env's spaces, the seed, ``n_envs``; PPO's
    ``total_steps`` from the budget; the epsilon schedules from the ``exploration_*`` run settings; an
    off-policy learner's ``update_every``, ``update_after`` and ``buffer_size`` from the run settings of
    those names)."""
    cls = learner_class(algo)
    skip = _HARNESS | _DERIVED.get(algo, set()) | _DERIVED.get(family(algo), set())
    if _epsilon_greedy(algo):
        skip |= _DERIVED["epsilon-greedy"]
    out = {}
    methods = [cls.from_env, cls.__init__] if hasattr(cls, "from_env") else [cls.__init__]
    for method in methods:
        for name, parameter in inspect.signature(method).parameters.items():
            if name not in skip and name not in out and parameter.kind not in (inspect.Parameter.VAR_KEYWORD,
                                                                               inspect.Parameter.VAR_POSITIONAL):
                out[name] = parameter.default
    return out


def run_defaults(algo):
    """The default run settings of ``algo`` (its family's :data:`RUN_KEYS`, plus epsilon for DQN and noise for
    DDPG and TD3)."""
    out = dict(RUN_KEYS[family(algo)])
    if _epsilon_greedy(algo):
        out.update(_DQN_RUN)
    elif algo in ("ddpg", "td3"):
        out.update(_NOISE_RUN)
    return out


def settings(algo, env_id):
    """``(learner kwargs, run settings, entry)`` for ``algo`` on ``env_id``: the entry's values over the run
    defaults (learner defaults apply to what the entry leaves out), or the defaults alone and ``None`` when
    the pair has no entry."""
    entry = get(algo, env_id)
    run = run_defaults(algo)
    if entry is None:
        return {}, run, None
    run.update(entry.run)
    return dict(entry.learner), run, entry


def _epsilon(run, budget):
    start, end, fraction = run["exploration_initial"], run["exploration_final"], run["exploration_fraction"]
    steps = math.ceil(fraction * budget)
    if start == end or steps < 1:
        return end
    return start, end, steps


def make_learner(algo, env, learner, run, seed):
    """Build the learner of ``algo`` for ``env`` (a gymnasium env or vector env) from an entry's (or the
    user's) ``learner`` kwargs and ``run`` settings, with ``seed``.

    The run settings that shape the learner: PPO's annealing spans ``total_steps``; an off-policy learner's
    schedule and replay are ``update_every`` (SB3's ``train_freq``), ``update_after`` (``learning_starts``)
    and ``buffer_size``; DQN's epsilon decays over ``exploration_fraction * total_steps`` exploring actions
    (a ``symgraph.nn.schedules.linear``); a tabular agent's over ``exploration_fraction * n_episodes``
    episodes (a ``LinearDecay``).

    Raises:
        ValueError, TypeError: what the learner raises for a bad value (the message names the argument).
    """
    cls = learner_class(algo)
    kwargs = dict(learner)
    if family(algo) == "tabular":
        epsilon = _epsilon(run, run["n_episodes"])
        kwargs["epsilon"] = LinearDecay(*epsilon) if isinstance(epsilon, tuple) else epsilon
        return cls(env, seed=seed, **kwargs)
    if algo == "ppo" and (kwargs.get("anneal_lr") or kwargs.get("anneal_clip")):
        kwargs["total_steps"] = run["total_steps"]
    if family(algo) == "off-policy":
        kwargs.update(update_every=run["update_every"], update_after=run["update_after"],
                      buffer_size=run["buffer_size"])
    if _epsilon_greedy(algo):
        epsilon = _epsilon(run, run["total_steps"])
        kwargs["epsilon"] = schedules.linear(*epsilon) if isinstance(epsilon, tuple) else epsilon
    return cls.from_env(env, seed=seed, **kwargs)
