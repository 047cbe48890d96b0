"""symgraph: declare placeholders and variables, build expressions, compile them into fast JAX functions."""

# isort: off
from symgraph import dispatch  # first, before any JAX computation: synchronous CPU dispatch (see the module)
# isort: on
from symgraph import data
from symgraph.clone import clone
from symgraph.errors import (
                             DTypeError,
                             GradientError,
                             InputError,
                             SaveLoadError,
                             ScopeError,
                             ShapeError,
                             SymgraphError,
                             UpdateError,
)
from symgraph.function import Function, function
from symgraph.gradients import gradients, jacobians
from symgraph.graph import (
                             Graph,
                             Scope,
                             current_graph,
                             get_graph,
                             get_ops,
                             get_placeholders,
                             get_updates,
                             get_variables,
                             reset_default_graph,
                             set_seed,
)
from symgraph.io import load_variables, reset_variables, save_variables
from symgraph.nodes import Placeholder, Tensor, Variable, constant
from symgraph.rng import key_from_seed
from symgraph.shared_jit import clear_caches, set_cache_size
from symgraph.state import initial_state

__version__ = "0.1.0"

__all__ = [
    "clone", "DTypeError", "GradientError", "InputError", "SaveLoadError", "ScopeError", "ShapeError",
    "SymgraphError", "UpdateError", "Function", "function", "gradients", "jacobians", "Graph", "Scope",
    "get_graph", "current_graph", "get_ops", "get_placeholders", "get_updates", "get_variables",
    "reset_default_graph", "set_seed",
    "load_variables", "reset_variables", "save_variables", "Placeholder", "Tensor", "Variable", "constant",
    "key_from_seed", "initial_state", "clear_caches", "set_cache_size", "data", "dispatch", "__version__",
]
