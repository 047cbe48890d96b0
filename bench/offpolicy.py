"""Off-policy learners against Stable-Baselines3 with the same settings, measured in the same run.

- DQN on CartPole-v1, 5e4 steps, rl-baselines3-zoo's tuned settings (lr 2.3e-3, batch 64, buffer 1e5,
  learning_starts 1000, gamma 0.99, target update every 10 env steps, train_freq 256, gradient_steps 128,
  exploration over 16% of the run to 0.04, net [256, 256]).
- SAC on Pendulum-v1, 2e4 steps, rl-zoo's settings (lr 1e-3, the rest SB3's defaults: batch 256, buffer 1e6,
  learning_starts 100, tau 0.005, gamma 0.99, entropy "auto", net [256, 256], one gradient step per step).
- TD3 and DDPG on Pendulum-v1, 2e4 steps, rl-zoo's settings (gamma 0.98, buffer 2e5, learning_starts 1e4,
  Gaussian action noise sigma 0.1, one gradient step per step, lr 1e-3, net [400, 300], batch 256; DDPG with
  SB3's tau 0.005).

Each run is timed from building the learner to the end of training (compilation included), then its
deterministic policy is evaluated on 10 episodes of a separate env. Our networks use PyTorch's default
initialisation, as SB3's, so that the two differ in the implementation only. SB3 runs when it is importable
(``pip install stable-baselines3`` with a CPU torch). Prints one line per run, a table, and last::

    RESULT dqn_eval=... sac_eval=... td3_eval=... ddpg_eval=... dqn_speedup=... sac_speedup=... td3_speedup=...

(evaluation returns: means over seeds of our runs; speedups: SB3's mean time / ours, nan without SB3).

Usage: ``python bench/offpolicy.py [--seeds 3] [--sb3-seeds 3] [--algos dqn,sac,td3,ddpg] [--steps-scale 1.0]``
"""

import argparse
import functools
import time

import gymnasium
import numpy as np

from symgraph import rl
from symgraph.nn import initializers, schedules
from symgraph.rl.learners.dqn import DQN
from symgraph.rl.learners.sac import SAC
from symgraph.rl.learners.td3 import DDPG, TD3
from symgraph.rl.run import run

STEPS = {"dqn": 50_000, "sac": 20_000, "td3": 20_000, "ddpg": 20_000}
ENVS = {"dqn": "CartPole-v1", "sac": "Pendulum-v1", "td3": "Pendulum-v1", "ddpg": "Pendulum-v1"}
EVAL_EPISODES = 10
TORCH_INIT = initializers.variance_scaling(1 / 3, "fan_in", "uniform")  # PyTorch's nn.Linear default


def torch_like(cls, hidden):
    return functools.partial(cls, hidden=hidden, activation="relu", init=TORCH_INIT, head_init=TORCH_INIT)


def evaluate(act, env_id, seed):
    env = gymnasium.make(env_id)
    total = []
    obs, _ = env.reset(seed=seed + 10_000)
    for _ in range(EVAL_EPISODES):
        done, ret = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            ret += reward
            done = terminated or truncated
        total.append(ret)
        obs, _ = env.reset()
    return float(np.mean(total))


# ---------------------------------------------------------------------------------------------------------
# Ours


def ours(algo, seed, steps):
    env = gymnasium.make(ENVS[algo])
    start = time.perf_counter()
    noise, update_after = None, 100
    if algo == "dqn":
        agent = DQN.from_env(env, batch_size=64, critic=torch_like(rl.MLPCritic, (256, 256)), lr=2.3e-3,
                             gradient_steps=128, target_update_period=128,
                             epsilon=schedules.linear(1.0, 0.04, int(0.16 * steps)), seed=seed)
        buffer, update_every, update_after = rl.Buffer(100_000, seed=seed), 256, 1000
    elif algo == "sac":
        agent = SAC.from_env(env, batch_size=256, lr=1e-3, actor=torch_like(rl.MLPActor, (256, 256)),
                             critic=torch_like(rl.MLPCritic, (256, 256)), random_steps=100, seed=seed)
        buffer, update_every = rl.Buffer(1_000_000, seed=seed), 1
    else:
        cls, tau = (TD3, 0.005) if algo == "td3" else (DDPG, 0.005)
        agent = cls.from_env(env, batch_size=256, lr=1e-3, gamma=0.98, tau=tau,
                             actor=torch_like(rl.MLPActor, (400, 300)), critic=torch_like(rl.MLPCritic, (400, 300)),
                             random_steps=10_000, seed=seed)
        buffer, update_every, update_after = rl.Buffer(200_000, seed=seed), 1, 10_000
        noise = agent.make_noise(0.1)
    run(env, agent, buffer, noise=noise, update_every=update_every, update_after=update_after, max_steps=steps,
        max_episodes=None, eval_every=0, seed=seed)
    seconds = time.perf_counter() - start
    return seconds, evaluate(lambda s: agent.act(s, deterministic=True), ENVS[algo], seed)


# ---------------------------------------------------------------------------------------------------------
# Stable-Baselines3


def sb3(algo, seed, steps):
    import stable_baselines3 as sb
    from stable_baselines3.common.noise import NormalActionNoise

    start = time.perf_counter()
    if algo == "dqn":
        model = sb.DQN("MlpPolicy", "CartPole-v1", learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                       learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
                       gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
                       policy_kwargs={"net_arch": [256, 256]}, seed=seed)
    elif algo == "sac":
        model = sb.SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, seed=seed)
    else:
        cls = sb.TD3 if algo == "td3" else sb.DDPG
        model = cls("MlpPolicy", "Pendulum-v1", gamma=0.98, buffer_size=200_000, learning_starts=10_000,
                    action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)), train_freq=1, gradient_steps=1,
                    learning_rate=1e-3, policy_kwargs={"net_arch": [400, 300]}, seed=seed)
    model.learn(steps)
    seconds = time.perf_counter() - start
    return seconds, evaluate(lambda s: model.predict(s, deterministic=True)[0], ENVS[algo], seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sb3-seeds", type=int, default=3, help="SB3 runs per algorithm (its timing reference)")
    parser.add_argument("--algos", default="dqn,sac,td3,ddpg")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="shorter runs for a quick check")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch's intra-op threads (1: no oversubscription on small networks, as rl-zoo runs)")
    args = parser.parse_args()
    try:
        import stable_baselines3  # noqa: F401
        import torch
        torch.set_num_threads(args.torch_threads)
        have_sb3 = True
        print(f"stable-baselines3 {stable_baselines3.__version__}, torch {torch.__version__} "
              f"({torch.get_num_threads()} threads)")
    except ImportError:
        have_sb3 = False
        print("stable-baselines3 is not installed: SB3 columns are nan")
    algos = [a for a in args.algos.split(",") if a]
    # One-time costs out of the timings: JAX's first compilations, torch's start-up.
    DQN((4,), 2, 8, hidden=(8,), seed=0).act(np.zeros(4, np.float32))
    if have_sb3:
        import stable_baselines3 as sb
        sb.DQN("MlpPolicy", "CartPole-v1", learning_starts=0).learn(64)
    rows = {}
    for algo in algos:
        steps = int(STEPS[algo] * args.steps_scale)
        mine, theirs = [], []
        for seed in range(args.seeds):  # alternate ours and SB3 so that both see the same machine load
            mine.append(ours(algo, seed, steps))
            print(f"{algo} seed {seed} ours: {mine[-1][0]:.1f} s, eval {mine[-1][1]:.1f}", flush=True)
            if have_sb3 and seed < args.sb3_seeds:
                theirs.append(sb3(algo, seed, steps))
                print(f"{algo} seed {seed} sb3:  {theirs[-1][0]:.1f} s, eval {theirs[-1][1]:.1f}", flush=True)
        rows[algo] = (mine, theirs)

    def mean(runs, i):
        return float(np.mean([r[i] for r in runs])) if runs else float("nan")

    print(f"\n{'algo':6} {'steps':>7} {'ours s':>8} {'ours eval':>10} {'sb3 s':>8} {'sb3 eval':>9} {'speedup':>8}")
    result = {}
    for algo, (mine, theirs) in rows.items():
        speedup = mean(theirs, 0) / mean(mine, 0)
        result[algo] = (mean(mine, 1), speedup)
        print(f"{algo:6} {int(STEPS[algo] * args.steps_scale):7d} {mean(mine, 0):8.1f} {mean(mine, 1):10.1f} "
              f"{mean(theirs, 0):8.1f} {mean(theirs, 1):9.1f} {speedup:8.2f}")
        print(f"       per seed: ours {[round(r[1], 1) for r in mine]}, sb3 {[round(r[1], 1) for r in theirs]}")

    def get(algo, i):
        return result.get(algo, (float("nan"), float("nan")))[i]

    print(f"RESULT dqn_eval={get('dqn', 0):.1f} sac_eval={get('sac', 0):.1f} td3_eval={get('td3', 0):.1f} "
          f"ddpg_eval={get('ddpg', 0):.1f} dqn_speedup={get('dqn', 1):.2f} sac_speedup={get('sac', 1):.2f} "
          f"td3_speedup={get('td3', 1):.2f}")


if __name__ == "__main__":
    main()
