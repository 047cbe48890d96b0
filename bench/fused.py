"""Fused-loop benchmark: env steps per second of PPO on gymnax CartPole-v1 trained by ``rl.train`` against a
minimal hand-written pure-JAX + optax PPO with identical settings, measured in the same run.

Settings (PureJaxRL's public CartPole-v1 PPO): 4 envs, 128 steps per rollout, 4 epochs of 4 minibatches, Adam
(eps 1e-5) at 2.5e-4 annealed linearly to 0, global-norm clip 0.5, gamma 0.99, GAE lambda 0.95, clip 0.2 (value
loss clipped too), entropy 0.01, value coefficient 0.5, separate 64-64 tanh actor and critic (orthogonal init,
gain sqrt(2), heads 0.01 and 1). ``--steps`` is rounded down to whole updates (5e5 -> 976 updates of 512 steps,
as PureJaxRL floors it). Both programs are compiled first (compile time printed separately) and then timed on
the compiled call alone, the best of ``--repeats`` alternating runs (other processes share small machines); the
seeds of a row are trained by one ``jax.vmap``-ed program. The hand-written baseline is written out below
(rollout, GAE, epochs and minibatches in ``lax.scan``), PureJaxRL-style, with the same algorithm as
``rl.train``'s PPO: GAE bootstraps a time-limit truncation from V of the pre-reset observation (PureJaxRL treats
it as a termination, which skips one critic pass over the rollout's next observations, about 2% of an update);
like ``rl.train`` it draws its initial parameters in a program of their own.

References on a 2-core CPU machine of the CI class: PureJaxRL runs 1 seed at about 141k steps/s and 8 seeds at
about 192k steps/s. The ratio printed is ours / hand-written (higher is better; target >= 1.0).

Usage: python bench/fused.py [--steps 500000] [--seeds-many 8] [--repeats 3]
Last line: ``RESULT sps_1seed=... sps_8seeds=... ratio_1seed=... ratio_8seeds=... mean_return_8seeds=...``
"""

import argparse
import time

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from symgraph import rl

NUM_ENVS, NUM_STEPS, EPOCHS, MINIBATCHES = 4, 128, 4, 4
LR, GAMMA, LAM, CLIP, ENT, VF, MAX_NORM = 2.5e-4, 0.99, 0.95, 0.2, 0.01, 0.5, 0.5
HIDDEN = 64


# ---------------------------------------------------------------------------------------------------------
# The hand-written baseline


def _dense(key, n_in, n_out, gain):
    return {"w": jax.nn.initializers.orthogonal(gain)(key, (n_in, n_out), jnp.float32),
            "b": jnp.zeros(n_out, jnp.float32)}


def _mlp_init(key, n_in, n_out, head_gain):
    k1, k2, k3 = jax.random.split(key, 3)
    return [_dense(k1, n_in, HIDDEN, np.sqrt(2)), _dense(k2, HIDDEN, HIDDEN, np.sqrt(2)),
            _dense(k3, HIDDEN, n_out, head_gain)]


def _mlp(params, x):
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def hand_written_init(env, env_params, key):
    """Initial parameters of one seed (drawn in a program of their own and seed after seed with ``lax.map``, as
    ``rl.train`` does: a vmapped orthogonal initializer is a batched QR decomposition, whose CPU kernel can
    deadlock XLA's thread pool on small machines)."""
    n_actions = env.action_space(env_params).n
    obs_dim = env.observation_space(env_params).shape[0]
    k_actor, k_critic = jax.random.split(key)
    return {"actor": _mlp_init(k_actor, obs_dim, n_actions, 0.01), "critic": _mlp_init(k_critic, obs_dim, 1, 1.0)}


def hand_written_train(env, env_params, total_steps):
    """``train(key, params) -> (params, mean over envs of the return of their last finished episode)``."""
    num_updates = total_steps // (NUM_STEPS * NUM_ENVS)
    batch = NUM_STEPS * NUM_ENVS
    minibatch = batch // MINIBATCHES

    def lr_schedule(count):
        return LR * (1.0 - (count // (MINIBATCHES * EPOCHS)) / num_updates)

    optimizer = optax.chain(optax.clip_by_global_norm(MAX_NORM), optax.adam(lr_schedule, eps=1e-5))

    def policy(params, obs):
        return _mlp(params["actor"], obs), _mlp(params["critic"], obs)[..., 0]

    def loss_fn(params, data):
        obs, action, old_logp, old_value, advantage, target = data
        logits, value = policy(params, obs)
        logp_all = jax.nn.log_softmax(logits)
        logp = jnp.take_along_axis(logp_all, action[:, None], axis=1)[:, 0]
        value_clipped = old_value + jnp.clip(value - old_value, -CLIP, CLIP)
        value_loss = 0.5 * jnp.maximum((value - target) ** 2, (value_clipped - target) ** 2).mean()
        ratio = jnp.exp(logp - old_logp)
        adv = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        actor_loss = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - CLIP, 1 + CLIP) * adv).mean()
        entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
        return actor_loss + VF * value_loss - ENT * entropy

    def train(key, params):
        key, k_reset = jax.random.split(key)
        opt_state = optimizer.init(params)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, NUM_ENVS), env_params)
        running = jnp.zeros(NUM_ENVS)

        def env_step(carry, _):
            params, obs, env_state, running, last, key = carry
            key, k_act, k_env = jax.random.split(key, 3)
            logits, value = policy(params, obs)
            action = jax.random.categorical(k_act, logits)
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=1)[:, 0]
            obs2, env_state, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_env, NUM_ENVS), env_state, action, env_params)
            done = terminated | truncated
            running = running + reward
            last = jnp.where(done, running, last)
            running = jnp.where(done, 0.0, running)
            step = (obs, action, logp, value, reward, terminated.astype(jnp.float32),
                    truncated.astype(jnp.float32), info["final_observation"])
            return (params, obs2, env_state, running, last, key), step

        def update(carry, _):
            params, opt_state, obs, env_state, running, last, key = carry
            (params, obs, env_state, running, last, key), traj = jax.lax.scan(
                env_step, (params, obs, env_state, running, last, key), None, NUM_STEPS)
            t_obs, t_action, t_logp, t_value, t_reward, t_terminated, t_truncated, t_next_obs = traj
            # GAE bootstrapping from V of each transition's true next observation: a time limit (truncation)
            # bootstraps, a termination does not (the same returns as rl.train's learners)
            _, next_values = policy(params, t_next_obs)

            def gae(advantage, step):
                terminated, truncated, value, next_value, reward = step
                delta = reward + GAMMA * next_value * (1 - terminated) - value
                advantage = delta + GAMMA * LAM * (1 - terminated) * (1 - truncated) * advantage
                return advantage, advantage

            _, advantages = jax.lax.scan(gae, jnp.zeros(NUM_ENVS), (t_terminated, t_truncated, t_value, next_values,
                                                                     t_reward), reverse=True)
            targets = advantages + t_value

            def epoch(carry, _):
                params, opt_state, key = carry
                key, k_perm = jax.random.split(key)
                data = jax.tree_util.tree_map(lambda x: x.reshape((batch, *x.shape[2:])),
                                              (t_obs, t_action, t_logp, t_value, advantages, targets))
                order = jax.random.permutation(k_perm, batch)
                data = jax.tree_util.tree_map(
                    lambda x: x[order].reshape((MINIBATCHES, minibatch, *x.shape[1:])), data)

                def minibatch_step(carry, mb):
                    params, opt_state = carry
                    grads = jax.grad(loss_fn)(params, mb)
                    updates, opt_state = optimizer.update(grads, opt_state, params)
                    return (optax.apply_updates(params, updates), opt_state), None

                (params, opt_state), _ = jax.lax.scan(minibatch_step, (params, opt_state), data)
                return (params, opt_state, key), None

            (params, opt_state, key), _ = jax.lax.scan(epoch, (params, opt_state, key), None, EPOCHS)
            return (params, opt_state, obs, env_state, running, last, key), jnp.mean(last)

        carry = (params, opt_state, obs, env_state, running, running, key)
        carry, returns = jax.lax.scan(update, carry, None, num_updates)
        return carry[0], returns[-1]

    return train


def hand_written_program(env, env_params, total_steps, n_seeds):
    """``(run, compile seconds)``: ``run() -> (seconds, mean final return)`` runs the compiled hand-written PPO
    on ``n_seeds`` seeds."""
    keys = jax.random.split(jax.random.PRNGKey(0), n_seeds)
    start = time.perf_counter()
    init = jax.jit(lambda keys: jax.lax.map(lambda key: hand_written_init(env, env_params, key), keys))
    params = init(jax.random.split(keys[0], n_seeds))
    compiled = jax.jit(jax.vmap(hand_written_train(env, env_params, total_steps))).lower(keys, params).compile()
    compile_seconds = time.perf_counter() - start

    def run():
        start = time.perf_counter()
        _, returns = jax.block_until_ready(compiled(keys, params))
        return time.perf_counter() - start, float(np.mean(returns))

    return run, compile_seconds


# ---------------------------------------------------------------------------------------------------------
# Ours


def ours_program(env, total_steps, n_seeds):
    """``run() -> (seconds, mean final training return, compile seconds)``: one ``rl.train`` call (each compiles
    its program again, which its timing excludes), without the final greedy evaluation, which the hand-written
    program does not have."""
    learner = rl.PPO.from_env(env, n_envs=NUM_ENVS, n_steps=NUM_STEPS, batch_size=NUM_STEPS * NUM_ENVS // MINIBATCHES,
                              K_epochs=EPOCHS, lr=LR, gamma=GAMMA, lam=LAM, eps_clip=CLIP, entropy_beta=ENT,
                              vf_coef=VF, clip_vf=CLIP, max_grad_norm=MAX_NORM, anneal_lr=True,
                              total_steps=total_steps, seed=0)

    def run():
        result = rl.train(env, learner, total_steps, seeds=n_seeds, progress=False, eval_episodes=0)
        return result.seconds, float(np.mean(result.episode_returns[:, -1])), result.compile_seconds

    return run


def measure(env, env_params, total_steps, n_seeds, repeats):
    """``((steps/s, compile s, final return) ours, (steps/s, compile s, final return) hand-written)``: the best
    of ``repeats`` runs of each, the two alternating (so a busy moment of the machine hits both alike)."""
    hand_run, hand_compile = hand_written_program(env, env_params, total_steps, n_seeds)
    ours_run = ours_program((env, env_params), total_steps, n_seeds)
    hand, ours = [], []
    for _ in range(repeats):
        hand.append(hand_run())
        ours.append(ours_run())
    steps = total_steps * n_seeds
    best_hand, best_ours = min(hand), min(ours)
    return ((steps / best_ours[0], min(o[2] for o in ours), best_ours[1]),
            (steps / best_hand[0], hand_compile, best_hand[1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--seeds-many", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each program; the best is kept")
    args = parser.parse_args()
    env, env_params = gymnax.make("CartPole-v1")
    total_steps = args.steps // (NUM_STEPS * NUM_ENVS) * (NUM_STEPS * NUM_ENVS)
    print(f"PPO on gymnax CartPole-v1, {total_steps} env steps per seed ({total_steps // (NUM_STEPS * NUM_ENVS)} "
          f"updates), {jax.device_count()} {jax.default_backend()} device(s)")
    rows = {}
    for n_seeds in (1, args.seeds_many):
        ours, hand = measure(env, env_params, total_steps, n_seeds, args.repeats)
        rows[n_seeds] = (ours, hand)
        print(f"{n_seeds} seed(s): ours {ours[0]:,.0f} steps/s (compile {ours[1]:.1f} s, final training return "
              f"{ours[2]:.1f}); hand-written {hand[0]:,.0f} steps/s (compile "
              f"{hand[1]:.1f} s, final training return {hand[2]:.1f}); ratio {ours[0] / hand[0]:.2f}")
    (one, hand_one), (many, hand_many) = rows[1], rows[args.seeds_many]
    print(f"RESULT sps_1seed={one[0]:.0f} sps_{args.seeds_many}seeds={many[0]:.0f} "
          f"ratio_1seed={one[0] / hand_one[0]:.3f} ratio_{args.seeds_many}seeds={many[0] / hand_many[0]:.3f} "
          f"mean_return_{args.seeds_many}seeds={many[2]:.1f}")


if __name__ == "__main__":
    main()
