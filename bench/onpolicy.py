"""On-policy benchmark: PPO, ActorCritic (A2C) and REINFORCE on CartPole-v1.

PPO uses rl-baselines3-zoo's tuned CartPole-v1 settings (8 envs, n_steps 32, batch 256, gamma 0.98, GAE
lambda 0.8, 20 epochs, lr 1e-3 linear, clip 0.2 linear, no entropy bonus): for each seed it trains for
``--steps`` env steps through ``rl.run`` (wall-clock from building the learner to the end of training,
compilation included) and evaluates the greedy policy on 10 episodes. If stable-baselines3 is importable
(torch on the CPU, one thread, as the reference measurement), SB3's PPO runs with the same settings on the same
seeds in the same process, interleaved with ours, and the time ratio is printed (target: >= 5x at eval >= 475).

The same PPO also runs through the fused loop, ``rl.train``, on gymnax's CartPole-v1 (the same dynamics,
written in JAX): every seed in one compiled program (``jax.vmap``), timed from building the learner to the
end (compilation included) and divided by the number of seeds; its eval is the greedy policy's mean return
over 10 episodes of the gymnax env. One-time costs of the process (JAX's first compilations, torch's start-up)
are paid before the timings by a short warm-up of each library.

REINFORCE and A2C: the env steps until a 10-episode greedy evaluation (run every few training episodes)
first reaches 475, per seed (nan if not within ``--max-steps``), with the settings of the tests. Reference
points: rl-baselines3-zoo's tuned A2C reaches 500 within its 5e5-step budget (8 envs, SB3 defaults); GenRL's
VPG reached a mean return of 177 after 389k steps.

Usage: python bench/onpolicy.py [--seeds 3] [--steps 100000] [--max-steps 200000] [--no-sb3] [--no-fused]
Last line: ``RESULT ppo_eval=... ppo_seconds=... sb3_seconds=... speedup=... a2c_steps_to_475=...
reinforce_steps_to_475=... fused_eval=... fused_seconds=... fused_speedup=...`` (fused: nan without gymnax).
"""

import argparse
import math
import statistics
import time

import gymnasium
import numpy as np

from symgraph import rl
from symgraph.rl import envs, zoo
from symgraph.rl.buffer import Buffer
from symgraph.rl.learners import PPO, REINFORCE, ActorCritic
from symgraph.rl.run import run

SB3_CI_SECONDS = 27.7  # SB3 2.9 PPO, same settings, 1e5 steps, 2-core CI-class machine (ANCHORS.md)


def evaluate(act, seed, episodes=10):
    """Mean return of ``act(obs) -> action`` over greedy episodes of CartPole-v1."""
    env = gymnasium.make("CartPole-v1")
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=10_000 + 100 * seed + i)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


#: rl-zoo's PPO settings for CartPole-v1 in our arguments (symgraph.rl.zoo translates them: SB3's vf_coef 0.5
#: is our 1.0, whose value loss carries a factor 1/2).
ZOO_PPO = dict(zoo.get("ppo", "CartPole-v1").learner)


def ours_ppo(seed, steps):
    start = time.perf_counter()
    env = envs.make_env("CartPole-v1", n_envs=8)
    agent = PPO.from_env(env, total_steps=steps, seed=seed, **ZOO_PPO)
    run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=steps, max_episodes=None,
        eval_every=0, seed=seed)
    seconds = time.perf_counter() - start
    return evaluate(lambda obs: agent.act(obs, deterministic=True), seed), seconds


def fused_ppo(seeds, steps):
    """``(mean greedy return over seeds, wall-clock seconds per seed)`` of ``rl.train`` on gymnax's
    CartPole-v1, all seeds in one program; ``steps`` rounded down to whole rollouts of 8 x 32 steps."""
    import gymnax

    start = time.perf_counter()
    env = gymnax.make("CartPole-v1")
    steps = steps // (8 * 32) * (8 * 32)
    agent = PPO.from_env(env, n_envs=8, total_steps=steps, seed=seeds[0], **ZOO_PPO)
    result = rl.train(env, agent, steps, seeds=list(seeds), progress=False)
    return float(np.mean(result.final_returns)), (time.perf_counter() - start) / len(seeds)


def warm_up(have_sb3):
    """Pay the process's one-time costs (JAX's first compilations, torch's start-up) outside the timings,
    with networks and rollouts of other sizes than the measured ones."""
    env = envs.make_env("CartPole-v1", n_envs=2)
    agent = PPO.from_env(env, batch_size=16, n_steps=8, K_epochs=1, hidden=(8,), seed=0)
    run(env, agent, Buffer(agent.rollout_size), update_every=agent.rollout_size, max_steps=32, max_episodes=None,
        eval_every=0, seed=0)
    if have_sb3:
        from stable_baselines3 import PPO as SB3PPO
        SB3PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, n_epochs=1, device="cpu").learn(32)


def sb3_ppo(seed, steps):
    import torch
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    start = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = SB3PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                   ent_coef=0.0, learning_rate=lambda progress: 1e-3 * progress,
                   clip_range=lambda progress: 0.2 * progress, seed=seed, device="cpu", verbose=0)
    model.learn(steps)
    seconds = time.perf_counter() - start
    return evaluate(lambda obs: model.predict(obs, deterministic=True)[0], seed), seconds


def steps_to(make, seed, max_steps, threshold=475.0, eval_every=10):
    """Env steps until a greedy evaluation (10 episodes, every ``eval_every`` training episodes) first
    reaches ``threshold``; nan if it does not within ``max_steps``."""
    env = envs.make_env("CartPole-v1")
    agent = make(env, seed)
    reached = []

    def check(info):
        evals = info["result"].eval_returns
        if evals and evals[-1][1] >= threshold and not reached:
            reached.append(evals[-1][0])
        return not reached

    run(env, agent, Buffer(agent.rollout_size), max_steps=max_steps, max_episodes=None, eval_every=eval_every,
        eval_max_episodes=10, seed=seed, callbacks=check, wait_end_path=True)
    return float(reached[0]) if reached else math.nan


def make_a2c(env, seed):
    return ActorCritic.from_env(env, n_episodes=2, lr=3e-3, lam=0.95, train_v_iters=10, normalize_advantage=True,
                                seed=seed)


def make_reinforce(env, seed):
    return REINFORCE.from_env(env, n_episodes=4, lr=1e-2, seed=seed)


def median(values):
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if len(finite) == len(values) else math.nan


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--max-steps", type=int, default=200_000, help="budget of the steps-to-475 runs")
    parser.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3 even if installed")
    parser.add_argument("--no-fused", action="store_true", help="skip the fused loop (rl.train on gymnax)")
    args = parser.parse_args()
    seeds = list(range(args.seeds))

    try:
        if args.no_sb3:
            raise ImportError
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
        have_sb3 = True
    except ImportError:
        have_sb3 = False

    warm_up(have_sb3)
    print(f"PPO CartPole-v1, rl-zoo settings, {args.steps} steps, seeds {seeds}"
          f"{' (and SB3, interleaved)' if have_sb3 else ' (stable-baselines3 not installed: no comparison)'}")
    ours, sb3 = [], []
    for seed in seeds:
        ours.append(ours_ppo(seed, args.steps))
        print(f"  seed {seed}: symgraph eval {ours[-1][0]:6.1f}  {ours[-1][1]:6.2f} s", end="", flush=True)
        if have_sb3:
            sb3.append(sb3_ppo(seed, args.steps))
            print(f" | SB3 eval {sb3[-1][0]:6.1f}  {sb3[-1][1]:6.2f} s", end="")
        print()
    ppo_eval = float(np.mean([e for e, _ in ours]))
    ppo_seconds = float(np.mean([s for _, s in ours]))
    sb3_seconds = float(np.mean([s for _, s in sb3])) if sb3 else math.nan
    speedup = sb3_seconds / ppo_seconds if sb3 else math.nan
    print(f"  mean: symgraph eval {ppo_eval:.1f} in {ppo_seconds:.2f} s ({args.steps / ppo_seconds:,.0f} steps/s)")
    if sb3:
        print(f"  mean: SB3 eval {np.mean([e for e, _ in sb3]):.1f} in {sb3_seconds:.2f} s; speedup "
              f"{speedup:.2f}x (target >= 5x)")
    print(f"  reference: SB3 took {SB3_CI_SECONDS} s on a 2-core CI-class machine "
          f"({SB3_CI_SECONDS / ppo_seconds:.2f}x our time here)")
    fused_eval = fused_seconds = fused_speedup = math.nan
    if not args.no_fused:
        try:
            fused_eval, fused_seconds = fused_ppo(seeds, args.steps)
        except ImportError:
            print("  fused loop: gymnax is not installed (pip install symgraph[fused])")
        else:
            fused_speedup = sb3_seconds / fused_seconds if sb3 else math.nan
            print(f"  fused (rl.train, gymnax CartPole-v1, {len(seeds)} seeds in one program): eval {fused_eval:.1f}, "
                  f"{fused_seconds:.2f} s per seed with compilation; speedup over SB3 {fused_speedup:.2f}x")

    results = {}
    for name, make in (("a2c", make_a2c), ("reinforce", make_reinforce)):
        found = [steps_to(make, seed, args.max_steps) for seed in seeds]
        results[name] = median(found)
        print(f"{name}: env steps to a greedy eval >= 475 per seed: {found}; median {results[name]}")
    print("  reference: rl-zoo A2C reaches 500 within 5e5 steps; GenRL's VPG: 177 after 389k steps")
    print(f"RESULT ppo_eval={ppo_eval:.1f} ppo_seconds={ppo_seconds:.2f} sb3_seconds={sb3_seconds:.2f} "
          f"speedup={speedup:.2f} a2c_steps_to_475={results['a2c']} reinforce_steps_to_475={results['reinforce']} "
          f"fused_eval={fused_eval:.1f} fused_seconds={fused_seconds:.2f} fused_speedup={fused_speedup:.2f}")


if __name__ == "__main__":
    main()
