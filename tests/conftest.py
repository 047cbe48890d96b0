"""Shared fixtures: every test builds into its own fresh graph, so graphs never grow across tests."""

import os

# The suite runs one pytest worker per core: a multi-threaded BLAS in each worker would only fight the other.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import symgraph as sg  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_graph():
    with sg.Graph("test") as graph:
        yield graph


@pytest.fixture
def rng():
    return np.random.default_rng(0)
