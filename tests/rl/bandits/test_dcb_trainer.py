"""DCBTrainer: the loop (select, regret, step, store, learn on schedule), its result, logging, progress bar
and errors."""

import logging

import numpy as np
import pytest

from symgraph.rl.bandits import (
    BanditResult,
    DCBTrainer,
    Fixed,
    GaussianMAB,
    LinearPosterior,
    Uniform,
    WheelBandit,
    plot_regret,
)


class Recorder:
    """A contextual agent that records every protocol call and pulls arms round robin."""

    def __init__(self, bandit):
        self.n_actions, self.context_dim = bandit.n_actions, bandit.context_dim
        self.stored, self.learned, self.selected = [], [], 0

    def select_action(self, context):
        self.selected += 1
        return (self.selected - 1) % self.n_actions

    def update_db(self, context, action, reward):
        self.stored.append((np.array(context), action, reward))

    def update_params(self, action=None, batch_size=64, train_epochs=20):
        self.learned.append((len(self.stored), action, batch_size, train_epochs))


def test_learning_schedule_and_stored_transitions():
    bandit = GaussianMAB(bandits=2, arms=3, seed=0)
    agent = Recorder(bandit)
    contexts = []
    original_step = bandit.step

    def step(action):  # the context each action was chosen in, to compare with what was stored
        contexts.append(np.array(bandit._context()))
        return original_step(action)

    bandit.step = step
    result = DCBTrainer(agent, bandit, progress=False).train(30, update_interval=4, update_after=10,
                                                             batch_size=7, train_epochs=3)
    # learning after the 12th, 16th, ... 28th stored transition: stored >= 10 and stored % 4 == 0
    assert agent.learned == [(n, None, 7, 3) for n in (12, 16, 20, 24, 28)]
    assert agent.selected == 30 and len(agent.stored) == 30
    for (context, action, reward), seen, a, r in zip(agent.stored, contexts, result.actions, result.reward,
                                                      strict=True):
        np.testing.assert_array_equal(context, seen)
        assert action == a and reward == r


def test_result_is_the_mab_result_with_expected_regret():
    bandit = WheelBandit(delta=0.5, seed=3)
    result = DCBTrainer(Fixed(bandit, arm=0), bandit, window=10, progress=False).train(2000)
    assert isinstance(result, BanditResult)
    assert (result.agent, result.bandit, result.window, result.timesteps) == ("Fixed", "WheelBandit", 10, 2000)
    # arm 0 is best inside the radius (regret 0) and 50 - 1.2 = 48.8 short outside, where 75% of contexts are
    assert set(np.round(result.regret, 9)) == {0.0, 48.8}
    assert abs(np.mean(result.regret > 0) - 0.75) < 0.03
    np.testing.assert_allclose(result.cumulative_regret, np.cumsum(result.regret))
    np.testing.assert_allclose(result.cumulative_reward, np.cumsum(result.reward))
    np.testing.assert_allclose(result["regret_moving_average"][9], result.regret[:10].mean())
    np.testing.assert_allclose(result.reward_moving_average[-1], result.reward[-10:].mean())
    assert abs(result.reward.mean() - 1.2) < 0.01  # arm 0 pays N(1.2, 0.01^2) everywhere
    assert plot_regret({"fixed arm 0": result}).axes[0].get_lines()


@pytest.mark.learning
@pytest.mark.parametrize("seed", [0, 1])
def test_a_learning_agent_beats_uniform(seed):
    def regret(agent_class):
        bandit = GaussianMAB(bandits=3, arms=4, seed=seed)
        trainer = DCBTrainer(agent_class(bandit, seed=seed), bandit, progress=False)
        return trainer.train(600, update_after=0).cumulative_regret[-1]

    assert regret(LinearPosterior) < 0.3 * regret(Uniform)


def test_logging_and_progress(caplog, capsys):
    bandit = WheelBandit(delta=0.5, seed=0)
    with caplog.at_level(logging.INFO, logger="symgraph.rl.bandits.dcb_trainer"):
        DCBTrainer(Uniform(bandit, seed=0), bandit, progress=False, log_every=25).train(100)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("training Uniform on WheelBandit for 100 pulls")
    assert sum(m.startswith("pull ") for m in messages) == 4 and messages[-1].startswith("done in")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # logging only, no print, no bar
    DCBTrainer(Uniform(bandit, seed=0), bandit, progress=True).train(50)
    captured = capsys.readouterr()
    assert captured.out == "" and "50/50" in captured.err


class MABLike:
    """A multi-armed agent: no update_db."""

    def select_action(self, context):
        return 0

    def update_params(self, context, action, reward):
        pass


def test_errors():
    bandit = WheelBandit(delta=0.5, seed=0)
    with pytest.raises(TypeError, match=r"needs an agent with select_action, update_db and update_params .*"
                                        r"MABLike has no update_db"):
        DCBTrainer(MABLike(), bandit)
    with pytest.raises(ValueError, match=r"the agent has context_dim=2 but the bandit has context_dim=3"):
        DCBTrainer(Uniform(bandit), GaussianMAB(bandits=3, arms=5, seed=0))
    with pytest.raises(ValueError, match=r"the agent has n_actions=5 but the bandit has n_actions=3"):
        DCBTrainer(Uniform(bandit), GaussianMAB(bandits=2, arms=3, seed=0))
    trainer = DCBTrainer(Uniform(bandit), bandit, progress=False)
    with pytest.raises(ValueError, match=r"timesteps must be an integer >= 1, got 0"):
        trainer.train(0)
    with pytest.raises(ValueError, match=r"update_interval must be an integer >= 1"):
        trainer.train(10, update_interval=0)
    with pytest.raises(ValueError, match=r"update_after must be an integer >= 0"):
        trainer.train(10, update_after=-1)
    wild = MABLike()  # no sizes to compare: the bandit's own check catches the action
    wild.select_action = lambda context: 7
    wild.update_db = wild.update_params = lambda *args, **kwargs: None
    with pytest.raises(ValueError, match=r"action 7 is out of range for WheelBandit: valid actions are 0 to 4"):
        DCBTrainer(wild, bandit, progress=False).train(3)
