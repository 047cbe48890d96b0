"""Saving and loading tabular agents: one ``.npz`` file, in the format of :mod:`symgraph.rl.checkpoint`.

The file's JSON document holds, under ``"tabular"``, the agent's class, its settings (spaces, γ, step size,
trace settings, planning steps, whether ε follows a schedule) and its state: every data attribute (the Q
table and SARSA's traces as arrays, the episode and step counters, the ε in force, the action SARSA has
drawn for the next step, the numpy Generator) and, for Dyna-Q, its model's observed outcomes, their counts
and the model's Generator. Schedules are code, not data: an agent loads into an agent built with the same
settings and schedules, and then acts and learns exactly as the saved one would have.
"""

from symgraph.errors import SaveLoadError
from symgraph.rl import checkpoint

#: Attributes that must be equal in the file and in the agent it is loaded into (the agent's settings).
SETTINGS = ("n_states", "n_actions", "_s0", "_a0", "gamma", "lr", "epsilon_unit", "lmbda", "trace",
            "planning_steps")
_PREFIX = "agent/"


def save(agent, path):
    """Write ``agent`` (a :class:`~symgraph.rl.tabular.TabularAgent`) to ``path``; returns ``path``."""
    arrays = {}
    state = checkpoint.object_state(agent, arrays, _PREFIX, exclude={*SETTINGS, *agent.not_saved})
    if hasattr(agent, "model"):
        state["model"] = model_state(agent.model)
    meta = {"module": type(agent).__module__, "class": type(agent).__qualname__, "settings": settings(agent),
            "state": state}
    return checkpoint.write(path, {"tabular": meta}, arrays)


def load(agent, path):
    """Load the file at ``path`` into ``agent``, all or nothing; returns ``agent``. A damaged or altered file
    raises :class:`~symgraph.SaveLoadError` naming it."""
    owner = f"{type(agent).__name__}.load"
    meta, arrays = checkpoint.read(path, owner)
    with checkpoint.reading(owner, path):
        if "tabular" not in meta:
            raise SaveLoadError(f"{owner}: {path} holds a deep learner, not a tabular agent; load it with "
                                f"symgraph.rl.load(path)")
        meta = meta["tabular"]
        if (meta["module"], meta["class"]) != (type(agent).__module__, type(agent).__qualname__):
            raise SaveLoadError(f"{owner}: {path} holds a {meta['class']} agent, not a {type(agent).__name__}; "
                                f"build a {meta['class']} with the same settings and call its load(path)")
        differ = checkpoint.setting_differences(meta["settings"], settings(agent))
        if differ:
            listed = checkpoint.describe_differences(differ)
            raise SaveLoadError(f"{owner}: {path} was saved by an agent with other settings ({listed}); build the "
                                f"agent the same way (same environment spaces and arguments), then load; nothing "
                                f"was changed")
        state = dict(meta["state"])
        model = state.pop("model", None)
        checkpoint.restore_object_state(agent, state, arrays)
        if model is not None:
            restore_model(agent.model, model)
    return agent


def settings(agent):
    """The settings of ``agent`` that a file must share to load into it (see :data:`SETTINGS`)."""
    found = {name: checkpoint.pack(getattr(agent, name)) for name in SETTINGS if hasattr(agent, name)}
    found["epsilon_schedule"] = agent._schedule is not None
    return found


def model_state(model):
    """A JSON-able copy of a :class:`~symgraph.rl.tabular.TabularModel`: observed pairs in their order, the
    outcomes ``[next state, reward, terminated]`` of each with their counts, and its Generator's state."""
    entries = [model._table[pair] for pair in model._pairs]
    return {"pairs": [list(pair) for pair in model._pairs],
            "outcomes": [[list(outcome) for outcome in entry[0]] for entry in entries],
            "counts": [list(entry[1]) for entry in entries],
            "rng": checkpoint.generator_state(model._rng)}


def restore_model(model, state):
    """Put ``model`` (in place) in the state :func:`model_state` recorded."""
    model._pairs = [tuple(pair) for pair in state["pairs"]]
    model._table = {}
    for pair, outcomes, counts in zip(model._pairs, state["outcomes"], state["counts"], strict=True):
        outcomes = [(int(s), float(r), bool(t)) for s, r, t in outcomes]
        model._table[pair] = [outcomes, list(counts), sum(counts), {o: i for i, o in enumerate(outcomes)}]
    checkpoint.set_generator_state(model._rng, state["rng"])
