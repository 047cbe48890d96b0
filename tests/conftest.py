"""Shared fixtures: every test builds into its own fresh graph, so graphs never grow across tests."""

import numpy as np
import pytest

import symgraph as sg


@pytest.fixture(autouse=True)
def fresh_graph():
    with sg.Graph("test") as graph:
        yield graph


@pytest.fixture
def rng():
    return np.random.default_rng(0)
