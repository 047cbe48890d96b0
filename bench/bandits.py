"""Bandit benchmark: the multi-armed agents on the 2-arm Bernoulli problem [0.9, 0.8], and the contextual
agents on the wheel bandit.

Multi-armed: Thompson sampling and UCB1 for 1e5 pulls over 5 seeds through ``compare_agents`` (MABTrainer),
their mean cumulative expected regret next to the reference simulations (Thompson about 13.7, UCB1 about
173; the Lai-Robbins asymptotic rate is 2.25 ln T), and the speed of the trainer against a bare inline loop
doing the same maths, measured in the same run.

Contextual: ``WheelBandit(delta)`` for delta in {0.5, 0.7, 0.9}, 5,000 pulls, 5 seeds, through DCBTrainer.
NeuralLinearPosterior, LinearPosterior, NeuralGreedy (epsilon 0) and Uniform; each run's cumulative
expected regret is normalised by the Uniform agent's on the same bandit seed (Uniform = 100, as in
Riquelme, Tucker & Snoek, 2018, "Deep Bayesian Bandits Showdown"), then averaged over seeds. The networks
train on the paper's schedule (every 50 pulls, 100 steps of 512 transitions). Reference (ANCHORS.md,
"Bandits"): NeuralLinear at 80,000 pulls reaches 0.95, 1.60, 4.65 for delta 0.5, 0.7, 0.9 (a 16 times
longer run, so the early exploration weighs less there).

The last line: ``RESULT ts_regret=... ucb_regret=... wheel05_neurallinear=... wheel05_linpos=...`` (the
wheel values normalised, Uniform = 100, delta 0.5).

Usage: python bench/bandits.py [--pulls 100000] [--seeds 5] [--wheel-pulls 5000] [--wheel-seeds 5]
       [--deltas 0.5 0.7 0.9]
"""

import argparse
import math
import time

import numpy as np

from symgraph.rl.bandits import (
    UCB1,
    BernoulliMAB,
    DCBTrainer,
    LinearPosterior,
    NeuralGreedy,
    NeuralLinearPosterior,
    ThompsonSampling,
    Uniform,
    WheelBandit,
    compare_agents,
)

PROBS = (0.9, 0.8)
REFERENCE_REGRET = {"Thompson": 13.7, "UCB1": 173.0}  # simulated, 1e5 pulls (ANCHORS.md, "Bandits")
WHEEL_AGENTS = {"NeuralLinear": NeuralLinearPosterior, "LinearPosterior": LinearPosterior,
                "NeuralGreedy": NeuralGreedy, "Uniform": Uniform}
# the paper's schedule: train the network every 50 pulls, 100 steps of 512 transitions
WHEEL_SCHEDULE = dict(update_interval=50, update_after=50, batch_size=512, train_epochs=100)
WHEEL_REFERENCE = {0.5: 0.95, 0.7: 1.60, 0.9: 4.65}  # NeuralLinear at 80,000 pulls (ANCHORS.md, "Bandits")


def lai_robbins_constant(probs):
    """sum over suboptimal arms of gap / KL(p_a, p*): regret >= constant * ln T asymptotically."""
    best = max(probs)

    def kl(p, q):
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    return sum((best - p) / kl(p, best) for p in probs if p < best)


def bare_loop(kind, pulls, seed):
    """The same algorithm written inline (no classes, no checks): the speed reference. Returns pulls/s."""
    rng = np.random.default_rng(seed)
    probs = list(PROBS)
    uniforms = rng.random(pulls).tolist()
    alpha, beta = [1.0, 1.0], [1.0, 1.0]
    counts, means = [0, 0], [0.0, 0.0]
    start = time.perf_counter()
    for t in range(pulls):
        if kind == "Thompson":
            draws = [rng.beta(alpha[0], beta[0]), rng.beta(alpha[1], beta[1])]
            a = 0 if draws[0] >= draws[1] else 1
        elif 0 in counts:
            a = counts.index(0)
        else:
            scale = math.sqrt(2.0 * math.log(t))
            a = 0 if means[0] + scale / math.sqrt(counts[0]) >= means[1] + scale / math.sqrt(counts[1]) else 1
        r = 1.0 if uniforms[t] < probs[a] else 0.0
        alpha[a] += r
        beta[a] += 1.0 - r
        counts[a] += 1
        means[a] += (r - means[a]) / counts[a]
    return pulls / (time.perf_counter() - start)


def wheel_table(deltas, seeds, pulls):
    """``{delta: {agent: (normalised regrets per seed, seconds per run)}}`` on the wheel bandit."""
    table = {}
    for delta in deltas:
        regrets = {name: [] for name in WHEEL_AGENTS}
        seconds = {name: [] for name in WHEEL_AGENTS}
        for seed in range(seeds):
            for name, agent_class in WHEEL_AGENTS.items():
                bandit_seed, agent_seed = np.random.SeedSequence(seed).spawn(2)
                bandit = WheelBandit(delta=delta, seed=bandit_seed)
                agent = agent_class(bandit, seed=agent_seed)
                result = DCBTrainer(agent, bandit, progress=False).train(pulls, **WHEEL_SCHEDULE)
                regrets[name].append(result.cumulative_regret[-1])
                seconds[name].append(result.seconds)
        uniform = np.array(regrets["Uniform"])
        table[delta] = {name: (100.0 * np.array(values) / uniform, float(np.mean(seconds[name])))
                        for name, values in regrets.items()}
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pulls", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--wheel-pulls", type=int, default=5000)
    parser.add_argument("--wheel-seeds", type=int, default=5)
    parser.add_argument("--deltas", type=float, nargs="+", default=[0.5, 0.7, 0.9])
    args = parser.parse_args()
    start, cpu_start = time.perf_counter(), time.process_time()

    def bandit(seed):
        return BernoulliMAB(reward_probs=PROBS, seed=seed)

    agents = {"Thompson": ThompsonSampling, "UCB1": UCB1}
    summaries = compare_agents(agents, bandit, args.pulls, seeds=args.seeds)
    lai_robbins = lai_robbins_constant(PROBS) * math.log(args.pulls)

    print(f"2-arm Bernoulli {list(PROBS)}, {args.pulls} pulls, {args.seeds} seeds: cumulative expected "
          "regret")
    print(f"Lai-Robbins asymptotic rate: {lai_robbins_constant(PROBS):.3f} ln T = {lai_robbins:.1f}")
    header = (f"{'agent':<10} {'mean':>8} {'std':>7} {'sem':>6} {'min':>7} {'max':>7} {'reference':>9} "
              f"{'ratio':>6} {'pulls/s':>9} {'bare/s':>9} {'speed':>6}")
    print(header)
    print("-" * len(header))
    for name, summary in summaries.items():
        seconds = np.mean([r.seconds for r in summary.results])
        rate = args.pulls / seconds
        bare = bare_loop(name, args.pulls, seed=0)
        reference = REFERENCE_REGRET[name]
        print(f"{name:<10} {summary.final_mean:8.1f} {summary.final_std:7.1f} {summary.final_sem:6.1f} "
              f"{summary.final.min():7.1f} {summary.final.max():7.1f} {reference:9.1f} "
              f"{summary.final_mean / reference:6.2f} {rate:9.0f} {bare:9.0f} {rate / bare:6.2f}")
    print("ratio: mean regret / reference simulation; speed: trainer pulls/s / bare inline loop pulls/s")
    ts, ucb = summaries["Thompson"].final_mean, summaries["UCB1"].final_mean

    wheel_start = time.perf_counter()
    table = wheel_table(args.deltas, args.wheel_seeds, args.wheel_pulls)
    print()
    print(f"Wheel bandit, {args.wheel_pulls} pulls, {args.wheel_seeds} seeds: cumulative expected regret "
          "normalised by Uniform's on the same seed (Uniform = 100), mean +- std over seeds [min, max]")
    header = f"{'agent':<16}" + "".join(f"{f'delta {d:g}':>31}" for d in args.deltas) + f"{'s/run':>8}"
    print(header)
    print("-" * len(header))
    for name in WHEEL_AGENTS:
        cells = "".join(f"{v.mean():9.2f} +- {v.std(ddof=1) if len(v) > 1 else 0.0:5.2f} "
                        f"[{v.min():.1f}, {v.max():.1f}]".rjust(31)
                        for v in (table[d][name][0] for d in args.deltas))
        run_seconds = np.mean([table[d][name][1] for d in args.deltas])
        print(f"{name:<16}{cells}{run_seconds:8.2f}")
    wins = {d: int(np.sum(table[d]["NeuralLinear"][0] < table[d]["LinearPosterior"][0])) for d in args.deltas}
    print("seeds where NeuralLinear < LinearPosterior: "
          + ", ".join(f"delta {d:g}: {w}/{args.wheel_seeds}" for d, w in wins.items()))
    print("reference, NeuralLinear at 80,000 pulls: "
          + ", ".join(f"delta {d:g}: {WHEEL_REFERENCE[d]}" for d in args.deltas if d in WHEEL_REFERENCE))
    print(f"wheel part {time.perf_counter() - wheel_start:.0f} s; whole benchmark "
          f"{time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu_start:.0f} s CPU")
    nl = lp = float("nan")
    if 0.5 in table:
        nl, lp = table[0.5]["NeuralLinear"][0].mean(), table[0.5]["LinearPosterior"][0].mean()
    print(f"RESULT ts_regret={ts:.2f} ucb_regret={ucb:.2f} wheel05_neurallinear={nl:.2f} wheel05_linpos={lp:.2f}")


if __name__ == "__main__":
    main()
