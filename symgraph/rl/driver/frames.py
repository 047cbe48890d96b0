"""Action repeat as a gymnasium wrapper: what ``run(..., skip_frames=k)`` and
``evaluate(..., skip_frames=k)`` put around a single env."""

import gymnasium

__all__ = ["SkipFrames"]


class SkipFrames(gymnasium.Wrapper):
    """Apply each action for ``skip`` env frames (``env.step`` calls), summing the rewards and stopping early
    when the episode ends (terminated or truncated); one ``step`` returns the last frame's observation, the
    summed reward, the last frame's flags and info.

    Attributes:
        skip: the frames per action.
        frames: the ``env.step`` calls made through this wrapper so far.

    Args:
        env: a single gymnasium env (for a vector env, wrap each sub-environment).
        skip: an int >= 1.
    """

    def __init__(self, env, skip):
        super().__init__(env)
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 1:
            raise ValueError(f"SkipFrames: skip must be an int >= 1 (the env frames each action is repeated "
                             f"for), got {skip!r}")
        self.skip = skip
        self.frames = 0

    def step(self, action):
        """Up to ``skip`` frames of ``action``; returns ``(obs, summed reward, terminated, truncated, info)``."""
        step, total = self.env.step, 0.0
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = step(action)
            self.frames += 1
            total += reward
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info
