"""Tabular agents on FrozenLake-v1 4x4 slippery (100-step limit): value iteration's success probability,
Q-learning's and Dyna-Q's episodes to a 0.70-success greedy policy, and the speed of 3,000 Q-learning
episodes.

Greedy policies are scored exactly (policy evaluation on the environment's known model over the 100-step
limit), so the episode counts carry no evaluation noise. Reference published figure: the optimal policy
succeeds with probability 0.7402 (value iteration, gamma 0.99). The speed is compared with the same number
of bare environment steps (random actions) measured in this run.

Usage: python bench/tabular.py [--seeds 5] [--episodes 3000]
"""

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np

from symgraph.rl.tabular import DynaQ, LinearDecay, QLearning, Trainer, ValueIteration, evaluate_policy

TARGET = 0.70
EVERY = 25  # evaluation period (episodes)


def exact_success(mdp, policy):
    return float(evaluate_policy(mdp, policy, 1.0, horizon=100, reward="success") @ mdp.initial_distribution)


def episodes_to_target(agent, env, seed, episodes):
    trainer = Trainer(agent, env, n_episodes=episodes, evaluate_frequency=EVERY, evaluation="exact",
                      target_success=TARGET, seed=seed, progress=False)
    trainer.train()
    hit = [e["episode"] for e in trainer.evaluations if e["success_rate"] >= TARGET]
    return hit[0] if hit else None


def bare_env_seconds(env, steps, seed):
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.random() * 4))
        if terminated or truncated:
            env.reset()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=3000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    env = gym.make("FrozenLake-v1")

    vi = ValueIteration(env, gamma=0.99, tol=1e-10).solve()
    vi_success = exact_success(vi.mdp, vi.greedy_policy())
    print(f"value iteration (gamma 0.99): {vi.iterations} sweeps, exact success {vi_success:.4f} "
          f"(published 0.7402, ratio {vi_success / 0.7402:.4f})")

    q_success, q_to, dyna_to, seconds, ratios = [], [], [], [], []
    for seed in range(args.seeds):
        schedule = LinearDecay(1.0, 0.01, 2000)
        agent = QLearning(env, epsilon=schedule, gamma=0.99, lr=0.1, seed=seed)
        trainer = Trainer(agent, env, n_episodes=args.episodes, seed=seed, progress=False)
        start = time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - start
        bare = bare_env_seconds(gym.make("FrozenLake-v1"), trainer.total_steps, seed)
        seconds.append(elapsed)
        ratios.append(elapsed / bare)
        q_success.append(exact_success(vi.mdp, agent.greedy_policy()))
        q_to.append(episodes_to_target(QLearning(env, epsilon=schedule, seed=seed), env, seed, args.episodes))
        dyna = DynaQ(env, epsilon=schedule, planning_steps=10, seed=seed)
        dyna_to.append(episodes_to_target(dyna, env, seed, args.episodes))
        print(f"seed {seed}: Q-learning {args.episodes} episodes ({trainer.total_steps} steps) in "
              f"{elapsed:.2f} s = {elapsed / trainer.total_steps * 1e6:.1f} us/step, "
              f"{elapsed / bare:.2f}x the bare env steps; "
              f"final greedy success {q_success[-1]:.4f}; episodes to {TARGET}: Q-learning {q_to[-1]}, "
              f"Dyna-Q(10) {dyna_to[-1]}")

    def median(values):
        found = [v for v in values if v is not None]
        return statistics.median(found) if len(found) == len(values) else None

    q_med, dyna_med = median(q_to), median(dyna_to)
    if q_med and dyna_med:
        print(f"medians over {args.seeds} seeds: Dyna-Q needs {dyna_med / q_med:.2f}x the real episodes of "
              f"Q-learning; Q-learning runs at {statistics.median(ratios):.2f}x the bare environment's time")
    print(f"RESULT vi_success={vi_success:.4f} q_success={statistics.median(q_success):.4f} "
          f"q_episodes_to_070={q_med} dyna_episodes_to_070={dyna_med} "
          f"q_seconds_3000={statistics.median(seconds):.2f}")


if __name__ == "__main__":
    main()
