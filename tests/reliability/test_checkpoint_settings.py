"""Loading a checkpoint into a learner of other settings is refused, listing them, unless the change is
accepted explicitly (``allow_changes``); so is resuming a run with such a learner."""

import numpy as np
import pytest

from symgraph import rl
from symgraph.errors import SaveLoadError


def _dqn(**kwargs):
    return rl.DQN.from_env("CartPole-v1", batch_size=8, hidden=(8,), seed=0, **kwargs)


def _params(learner):
    return {name: v.value for name, v in learner.graph.variables.items()}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint of a DQN with gamma 0.99 and lr 1e-3 (the defaults, not given: from_env records only what
    it is given), after some training, so that its variables differ from a new learner's."""
    learner = _dqn()
    rl.run("CartPole-v1", learner, rl.Buffer(500), max_steps=64, max_episodes=None, update_after=16,
           eval_every=0, seed=0)
    path = tmp_path_factory.mktemp("settings") / "checkpoint.npz"
    learner.save(path)
    return learner, path


def test_other_settings_are_refused_and_listed(saved):
    _, path = saved
    other = _dqn(gamma=0.5, lr=0.5)
    before = _params(other)
    with pytest.raises(SaveLoadError, match=r"other settings \(gamma: 0.99 in the file, 0.5 here; lr: 0.001 in the "
                                            r"file, 0.5 here\); nothing was changed.*allow_changes=\('gamma', 'lr'\)"):
        other.load(path)
    with pytest.raises(SaveLoadError, match=r"other settings \(gamma: 0.99 in the file, 0.5 here\)"):
        other.load(path, allow_changes=("lr",))
    for name, value in _params(other).items():
        np.testing.assert_array_equal(value, before[name])


def test_the_same_settings_given_explicitly_load(saved):
    learner, path = saved
    same = _dqn(gamma=0.99, lr=1e-3)  # the defaults the file's learner had without naming them
    same.load(path)
    for name, value in _params(learner).items():
        np.testing.assert_array_equal(_params(same)[name], value)


@pytest.mark.parametrize("allow", [("gamma", "lr"), True])
def test_accepted_changes_load_and_keep_this_learner_s_hyperparameter_variables(saved, allow):
    learner, path = saved
    other = _dqn(gamma=0.5, lr=0.5)
    held = other.graph.variables["gradient_step"]  # stands for a variable holding lr
    other.hyperparameter_variables = lambda: {"lr": [held]}
    mine = held.value.copy()
    other.load(path, allow_changes=allow)
    np.testing.assert_array_equal(held.value, mine)
    for name, value in _params(learner).items():
        if name != "gradient_step":
            np.testing.assert_array_equal(_params(other)[name], value)
    assert not np.array_equal(learner.graph.variables["gradient_step"].value, mine)


def test_true_accepts_numeric_settings_only_and_names_are_checked(saved):
    _, path = saved
    with pytest.raises(SaveLoadError, match=r"other settings \(double: False in the file, True here\)"):
        _dqn(double=True).load(path, allow_changes=True)
    _dqn(double=True).load(path, allow_changes=("double",))
    with pytest.raises(SaveLoadError, match=r"allow_changes names \['lrr'\], not settings of a DQN"):
        _dqn().load(path, allow_changes=("lrr",))
    with pytest.raises(TypeError, match="allow_changes must be a tuple of setting names"):
        _dqn().load(path, allow_changes="lr")
    with pytest.raises(TypeError, match="allow_changes applies to learner.load"):
        rl.DQN.load(path, allow_changes=("lr",))


def test_a_learner_built_for_another_env_is_refused(saved, tmp_path):
    _, path = saved
    import gymnasium

    env = gymnasium.make("CartPole-v1", max_episode_steps=100)
    with pytest.raises(SaveLoadError, match=r"env.max_episode_steps: 500 in the file, 100 here"):
        _dqn_env(env).load(path)
    _dqn_env(env).load(path, allow_changes=("env",))


def _dqn_env(env):
    return rl.DQN.from_env(env, batch_size=8, hidden=(8,), seed=0)


def test_resuming_a_run_with_a_learner_of_other_settings_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    options = dict(max_steps=150, max_episodes=None, update_after=16, eval_every=0, seed=0, checkpoint_every=20,
                   checkpoint_path=path)
    rl.run("CartPole-v1", _dqn(), rl.Buffer(500), **options)
    with pytest.raises(SaveLoadError, match=r"run\(resume=True\): .* other settings \(lr: 0.001 in the file, 0.01 "
                                            r"here\).*build the agent with the checkpoint's settings"):
        rl.run("CartPole-v1", _dqn(lr=0.01), rl.Buffer(500), resume=True, **{**options, "max_steps": 200})
    result = rl.run("CartPole-v1", _dqn(), rl.Buffer(500), resume=True, **{**options, "max_steps": 200})
    assert result.total_steps == 200
