"""Learners: one module per algorithm, on the shared ``Learner`` base."""

from symgraph.rl.learners.base import Learner

__all__ = ["Learner"]
