"""symgraph.dispatch: synchronous CPU dispatch unless SYMGRAPH_ASYNC_DISPATCH asks otherwise."""

import jax
import pytest

import symgraph  # noqa: F401  (importing it configures the dispatch)
from symgraph import dispatch


def test_importing_symgraph_made_cpu_dispatch_synchronous():
    assert dispatch.SYNCHRONOUS is True
    assert jax.config.values["jax_cpu_enable_async_dispatch"] is False


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_environment_variable_keeps_asynchronous_dispatch(value, monkeypatch):
    monkeypatch.setattr(jax.config, "update", lambda *args: pytest.fail("the flag must not be changed"))
    assert dispatch.configure_cpu_dispatch({"SYMGRAPH_ASYNC_DISPATCH": value}) is False


@pytest.mark.parametrize("value", ["", "0", "false", "No"])
def test_other_documented_values_set_synchronous_dispatch(value):
    assert dispatch.configure_cpu_dispatch({"SYMGRAPH_ASYNC_DISPATCH": value}) is True
    assert jax.config.values["jax_cpu_enable_async_dispatch"] is False


def test_an_unknown_value_is_an_error_naming_the_variable():
    with pytest.raises(ValueError, match="SYMGRAPH_ASYNC_DISPATCH must be 1/true/yes .* got 'sometimes'"):
        dispatch.configure_cpu_dispatch({"SYMGRAPH_ASYNC_DISPATCH": "sometimes"})
