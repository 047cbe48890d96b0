"""Checkpoints: what a learner (or run) checkpoint holds, how it is written and how it is read back.

A checkpoint is **one** ``.npz`` file (numpy's zip of arrays), written atomically (a temporary file beside
it renamed over it, :func:`symgraph.io.atomic_write`: an interrupted save leaves the previous file whole)
at exactly the path given (no suffix is added), and read with ``allow_pickle=False``: it holds data only,
never code. Its entries:

- ``"checkpoint"``: a JSON document (a 0-d string array) with the format name and version and, under
  ``"learner"``: the learner's class, its constructor config (below), its seed, the state of its numpy
  Generator ``rng`` (host-side randomness: minibatch order, exploration coins) and the position of the
  seed sequence its compiled functions' seeds come from; under ``"run"`` (a checkpoint of
  :func:`symgraph.rl.run`): the run's own state (counters, results so far, the buffer, the noise process
  and the environments' random generators).
- ``"learner/variables/<name>"``: every variable of the learner's graph (networks, optimizer moments and step
  counts, target networks, counters), by its unique name.
- ``"learner/keys/<name>"``: the PRNG key of each of its compiled functions, as they are now (so sampling
  continues exactly where it was).
- ``"run/<n>"``: the arrays of the run's state (the buffer's storage...).

Config. A learner records how it was built: the arguments of its constructor, or those of ``from_env``
(the outermost call wins) with the environment replaced by a description of its spaces (observation shape
and dtype, action space, number of sub-environments, id and time limit). Arguments that are data (numbers,
strings, tuples, arrays, None, and the schedules of :mod:`symgraph.nn.schedules`, stored as their factory
and its arguments) are stored; arguments that are code or objects (a network factory, an ``Actor``
instance, a schedule made from a function) cannot be, and a learner built with one cannot be rebuilt from its
checkpoint: ``Class.load(path)`` and :func:`load` then raise an error that says so; construct the learner
the same way and call ``learner.load(path)`` on the instance.
"""

import json
import numbers
import os
import types

import gymnasium
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space

from symgraph.errors import SaveLoadError, format_shape
from symgraph.io import atomic_write
from symgraph.nn import schedules
from symgraph.rl.envs import make_env, space_info

__all__ = ["FORMAT", "VERSION", "load", "load_new", "load_into", "save_learner", "rebuild", "read", "write",
           "learner_entries", "restore_learner", "describe_call", "describe_env", "stand_in_env", "NotData",
           "pack", "unpack", "object_state", "restore_object_state", "generator_state", "set_generator_state",
           "env_state", "restore_env_state"]

#: The format name stored in every checkpoint.
FORMAT = "symgraph.rl checkpoint"
#: The version of the layout described in the module docstring.
VERSION = 1

_META = "checkpoint"
_VARIABLES = "learner/variables/"
_KEYS = "learner/keys/"


class NotData(TypeError):
    """A value that a checkpoint cannot store as data (code, or an object of an unknown kind)."""


# ---------------------------------------------------------------------------------------------------------
# Values as JSON (arrays apart)


def pack(value, arrays=None, prefix="run/"):
    """``value`` as a JSON-able tree: numbers, strings, None and lists as themselves, and one-key objects for
    the rest: ``{"tuple": [...]}``, ``{"dict": {...}}`` (string keys), ``{"dtype": "float32"}``,
    ``{"generator": state}`` (a numpy Generator's bit-generator state) and ``{"array": ...}``. Arrays go
    into ``arrays`` (a dict, entry ``prefix + n``) and the tree holds their entry name; with ``arrays=None``
    they are written inline (``{"array": nested lists, "dtype": ...}``). Raises :class:`NotData` for
    anything else (a callable, an object)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list):
        return [pack(v, arrays, prefix) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [pack(v, arrays, prefix) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotData(f"a dict with non-string keys ({list(value)[:5]})")
        return {"dict": {k: pack(v, arrays, prefix) for k, v in value.items()}}
    if isinstance(value, np.dtype):
        return {"dtype": value.str}
    if isinstance(value, np.random.Generator):
        return {"generator": value.bit_generator.state}
    if isinstance(value, schedules.Schedule):
        if value.arguments is None:
            raise NotData(f"a schedule built from a function ({value!r}); use a factory of symgraph.nn.schedules")
        return {"schedule": {"factory": value.name, "arguments": pack(value.arguments, arrays, prefix)}}
    if isinstance(value, np.ndarray) or (hasattr(value, "__array__") and hasattr(value, "dtype")
                                         and not callable(value)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise NotData(f"an array of dtype {array.dtype}")
        if arrays is None:
            return {"array": array.tolist(), "dtype": array.dtype.str}
        name = f"{prefix}{len(arrays)}"
        arrays[name] = array
        return {"array": name}
    raise NotData(f"{type(value).__name__} {value!r}"[:120])


def unpack(tree, arrays=None):
    """The value :func:`pack` turned into ``tree`` (``arrays``: the file's arrays, for named entries)."""
    if isinstance(tree, list):
        return [unpack(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "array" in tree:
        content = tree["array"]
        return np.array(arrays[content]) if isinstance(content, str) else np.asarray(content, tree["dtype"])
    (tag, content), = tree.items()
    if tag == "tuple":
        return tuple(unpack(v, arrays) for v in content)
    if tag == "dict":
        return {k: unpack(v, arrays) for k, v in content.items()}
    if tag == "dtype":
        return np.dtype(content)
    if tag == "schedule":
        return getattr(schedules, content["factory"])(**unpack(content["arguments"], arrays))
    if tag == "generator":
        generator = np.random.Generator(getattr(np.random, content["bit_generator"])())
        generator.bit_generator.state = content
        return generator
    raise SaveLoadError(f"unknown entry {tag!r} in a checkpoint; it was written by another program")


def generator_state(generator):
    """The JSON-able state of a numpy Generator."""
    return generator.bit_generator.state


def set_generator_state(generator, state):
    """Put ``generator`` (in place, so objects sharing it stay in step) in the ``state`` of
    :func:`generator_state`."""
    generator.bit_generator.state = state


def object_state(obj, arrays, prefix="run/", exclude=()):
    """The data attributes of ``obj`` (``vars(obj)``) packed with :func:`pack`, recursing into the objects of
    symgraph's own classes (e.g. a buffer's sum tree). Callable attributes (e.g. a schedule of a buffer's
    ``beta``) are configuration, not state: they are left out, and the object rebuilt before
    :func:`restore_object_state` must be given the same ones; so are the attributes named in ``exclude``.
    Any other object raises :class:`NotData` naming the attribute."""
    out = {}
    for name, value in vars(obj).items():
        if callable(value) or name in exclude:
            continue
        if _own_object(value):
            out[name] = {"object": f"{type(value).__module__}:{type(value).__qualname__}",
                         "state": object_state(value, arrays, prefix)}
            continue
        try:
            out[name] = pack(value, arrays, prefix)
        except NotData as exc:
            raise NotData(f"{type(obj).__name__}.{name} holds {exc}, which a checkpoint cannot store") from None
    return out


def restore_object_state(obj, state, arrays):
    """Set the attributes of ``obj`` from :func:`object_state` (Generators in place)."""
    for name, tree in state.items():
        current = getattr(obj, name, None)
        if isinstance(tree, dict) and "object" in tree:
            module, qualname = tree["object"].split(":")
            if current is None or f"{type(current).__module__}:{type(current).__qualname__}" != tree["object"]:
                cls = _own_class(module, qualname)
                current = cls.__new__(cls)
            restore_object_state(current, tree["state"], arrays)
            setattr(obj, name, current)
        elif isinstance(tree, dict) and "generator" in tree and isinstance(current, np.random.Generator):
            set_generator_state(current, tree["generator"])
        else:
            setattr(obj, name, unpack(tree, arrays))


def _own_object(value):
    module = type(value).__module__ or ""
    return module.startswith("symgraph.") and hasattr(value, "__dict__") and not callable(value)


def _own_class(module, qualname):
    import importlib

    if not module.startswith("symgraph."):
        raise SaveLoadError(f"the checkpoint holds an object of {module}.{qualname}, not one of symgraph's "
                            f"classes; it was not written by symgraph")
    return getattr(importlib.import_module(module), qualname)


# ---------------------------------------------------------------------------------------------------------
# Environments described by their spaces


def _env_id(env):
    spec = getattr(env, "spec", None)
    if spec is None and hasattr(getattr(env, "unwrapped", None), "envs"):
        spec = getattr(env.unwrapped.envs[0], "spec", None)
    return getattr(spec, "id", None)


def describe_env(env):
    """What ``from_env`` reads of ``env`` (an env, a vector env or an id), as JSON-able data: the spaces as
    :func:`~symgraph.rl.envs.space_info` sees them, the number of sub-environments, the id and the
    registered time limit."""
    from symgraph.rl.learners.on_policy import episode_limit

    made = make_env(env, record_stats=False, validate=0) if isinstance(env, str) else env
    try:
        info = space_info(made)
        env_id, limit = _env_id(made), episode_limit(made)
    finally:
        if made is not env:
            made.close()
    action = {"discrete": info.discrete, "shape": list(info.action_shape), "dtype": info.action_dtype.str}
    if info.discrete:
        action.update(n=info.n_actions, start=info.action_start)
    else:
        action.update(low=info.action_low.tolist(), high=info.action_high.tolist())
    return {"id": env_id, "max_episode_steps": limit, "n_envs": info.n_envs,
            "observation": {"shape": list(info.obs_shape), "dtype": info.obs_dtype.str, "n": info.n_states},
            "action": action}


class _SpacesEnv(gymnasium.Env):
    """A stand-in env that only has spaces and a spec (what ``from_env`` reads); it cannot be stepped."""

    def __init__(self, observation_space, action_space, spec):
        self.observation_space, self.action_space, self.spec = observation_space, action_space, spec


class _SpacesVectorEnv(VectorEnv):
    """The vector-env stand-in of :class:`_SpacesEnv`."""

    def __init__(self, observation_space, action_space, n_envs, spec):
        self.num_envs = n_envs
        self.single_observation_space, self.single_action_space = observation_space, action_space
        self.observation_space = batch_space(observation_space, n_envs)
        self.action_space = batch_space(action_space, n_envs)
        self.spec = spec


def stand_in_env(description):
    """An object with the spaces, number of sub-environments, id and time limit of :func:`describe_env`'s
    ``description``, for ``from_env`` to build a learner from (it cannot be stepped)."""
    obs = description["observation"]
    shape, dtype = tuple(obs["shape"]), np.dtype(obs["dtype"])
    if obs["n"] is not None:
        observation_space = spaces.Discrete(obs["n"])
    elif dtype.kind in "iu":
        observation_space = spaces.Box(np.iinfo(dtype).min, np.iinfo(dtype).max, shape, dtype)
    else:
        observation_space = spaces.Box(-np.inf, np.inf, shape, dtype)
    act = description["action"]
    if act["discrete"]:
        action_space = spaces.Discrete(act["n"], start=act["start"])
    else:
        action_space = spaces.Box(np.asarray(act["low"], act["dtype"]), np.asarray(act["high"], act["dtype"]),
                                  tuple(act["shape"]), np.dtype(act["dtype"]))
    spec = types.SimpleNamespace(id=description["id"], max_episode_steps=description["max_episode_steps"])
    if description["n_envs"] > 1:
        return _SpacesVectorEnv(observation_space, action_space, description["n_envs"], spec)
    return _SpacesEnv(observation_space, action_space, spec)


# ---------------------------------------------------------------------------------------------------------
# Configs


def describe_call(build, arguments, seed):
    """The config of a learner built by ``build`` (``"init"`` or ``"from_env"``) with ``arguments`` (a dict
    of the call's arguments, defaults applied; ``seed`` replaced by the seed actually used)."""
    arguments = dict(arguments)
    config = {"build": build, "arguments": {}, "code": {}}
    if build == "from_env":
        config["env"] = describe_env(arguments.pop("env"))
    arguments["seed"] = seed
    for name, value in arguments.items():
        try:
            config["arguments"][name] = pack(value)
        except NotData:
            config["code"][name] = type(value).__name__
    return config


# ---------------------------------------------------------------------------------------------------------
# Learner entries


def learner_entries(learner):
    """``(metadata, arrays)`` of ``learner``'s checkpoint (the ``"learner"`` part of the module docstring)."""
    arrays = {_VARIABLES + name: v.value for name, v in learner.graph.variables.items()}
    for name, key in _random_keys(learner).items():
        arrays[_KEYS + name] = np.asarray(key)
    cls = type(learner)
    meta = {"class": cls.__qualname__, "module": cls.__module__, "config": getattr(learner, "config", None),
            "seed": learner.seed, "rng": generator_state(learner.rng),
            "function_seeds": learner._function_seeds.state}
    return meta, arrays


def _functions(learner):
    """The compiled functions among ``learner``'s attributes that hold a PRNG key."""
    from symgraph.function import Function

    found = []
    for value in vars(learner).values():
        items = value if isinstance(value, list | tuple) else (value,)
        found += [f for f in items if isinstance(f, Function) and f.key_name is not None]
    return found


def _random_keys(learner):
    """``{key name: key}``: the keys of the learner's compiled functions, overridden by the non-variable
    entries of its :attr:`state` where it has one (a learner may keep the keys its pure update threads)."""
    keys = {}
    for fn in _functions(learner):
        if fn.key_name in keys and fn is not keys[fn.key_name][0]:
            raise SaveLoadError(f"{type(learner).__name__}: two compiled functions share the name "
                                f"{fn.key_name.rsplit('/', 1)[0]!r}; give them distinct names to checkpoint them")
        keys[fn.key_name] = (fn, fn._key)
    keys = {name: key for name, (_, key) in keys.items()}
    state = getattr(type(learner), "state", None)
    if isinstance(state, property):
        variables = learner.graph.variables
        keys.update({name: value for name, value in learner.state.items() if name not in variables})
    return keys


def restore_learner(learner, meta, arrays, path):
    """Load the learner part of a checkpoint into ``learner``: everything is checked before anything is
    written."""
    owner = type(learner).__name__
    if meta["class"] != type(learner).__qualname__ or meta["module"] != type(learner).__module__:
        raise SaveLoadError(f"{owner}.load: {path} holds a {meta['class']} learner ({meta['module']}), not a "
                            f"{owner}; load it with symgraph.rl.load(path) or {meta['class']}.load(path)")
    variables = learner.graph.variables
    stored = {k[len(_VARIABLES):]: v for k, v in arrays.items() if k.startswith(_VARIABLES)}
    missing = [name for name in variables if name not in stored]
    extra = [name for name in stored if name not in variables]
    wrong = [f"{name}: file {format_shape(stored[name].shape)} {stored[name].dtype}, learner "
             f"{format_shape(v.aval.shape)} {np.dtype(v.aval.dtype)}" for name, v in variables.items()
             if name in stored and (stored[name].shape != tuple(v.aval.shape)
                                    or stored[name].dtype != np.dtype(v.aval.dtype))]
    keys = _random_keys(learner)
    stored_keys = {k[len(_KEYS):]: v for k, v in arrays.items() if k.startswith(_KEYS)}
    missing_keys = [name for name in keys if name not in stored_keys]
    extra_keys = [name for name in stored_keys if name not in keys]
    if missing or extra or wrong or missing_keys or extra_keys:
        raise SaveLoadError(f"{owner}.load: {path} does not fit this learner, nothing was changed. Variables "
                            f"missing from the file: {missing}; in the file but not in the learner: {extra}; "
                            f"of another shape or dtype: {wrong}; random keys missing: {missing_keys}, extra: "
                            f"{extra_keys}. Build the "
                            f"learner with the same architecture (or rebuild it with {owner}.load(path))")
    for name, variable in variables.items():
        variable.update(stored[name])
    for fn in _functions(learner):
        fn._key = jnp.asarray(stored_keys[fn.key_name])
    if isinstance(getattr(type(learner), "state", None), property):
        state = learner.state
        state.update({name: jnp.asarray(stored_keys[name]) for name in keys if name in state})
        learner.set_state(state)
    learner.seed = int(meta["seed"])
    set_generator_state(learner.rng, meta["rng"])
    learner._function_seeds = np.random.SeedSequence(**meta["function_seeds"])


# ---------------------------------------------------------------------------------------------------------
# Files


def write(path, meta, arrays):
    """Write ``meta`` (JSON-able) and ``arrays`` atomically to ``path`` (exactly that path)."""
    entries = dict(arrays)
    entries[_META] = np.array(json.dumps({"format": FORMAT, "version": VERSION, **meta}))
    atomic_write(path, lambda stream: np.savez(stream, **entries))
    return path


def read(path, owner="symgraph.rl.load"):
    """``(metadata, arrays)`` of the checkpoint at ``path``; a clear error if there is none or it is not one."""
    if not os.path.isfile(os.fspath(path)):
        raise FileNotFoundError(f"{owner}: no checkpoint at {os.fspath(path)!r}; pass the path that "
                                f"learner.save(path) or run(..., checkpoint_path=path) wrote")
    try:
        with np.load(os.fspath(path), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (ValueError, OSError) as exc:
        raise SaveLoadError(f"{owner}: {os.fspath(path)!r} is not a symgraph.rl checkpoint (an .npz file): "
                            f"{exc}") from None
    meta = json.loads(str(arrays.pop(_META))) if _META in arrays else None
    if meta is None or meta.get("format") != FORMAT:
        raise SaveLoadError(f"{owner}: {os.fspath(path)!r} is an .npz file but not a symgraph.rl checkpoint (no "
                            f"{_META!r} entry); a file of symgraph.save_variables loads with "
                            f"symgraph.load_variables(path, graph=learner.graph)")
    if meta["version"] > VERSION:
        raise SaveLoadError(f"{owner}: {os.fspath(path)!r} has checkpoint version {meta['version']}, newer "
                            f"than this symgraph's {VERSION}; upgrade symgraph to load it")
    return meta, arrays


def save_learner(learner, path):
    """Write ``learner``'s checkpoint to ``path`` (see the module docstring); returns ``path``."""
    meta, arrays = learner_entries(learner)
    return write(path, {"learner": meta}, arrays)


def _learner_meta(meta, path, owner):
    """The ``"learner"`` part of a checkpoint's metadata; a clear error for the file of a tabular agent."""
    if "learner" not in meta:
        raise SaveLoadError(f"{owner}: {path} holds a tabular agent, not a learner; build the agent the same "
                            f"way (e.g. QLearning(env, ...)) and call agent.load(path)")
    return meta["learner"]


def load_into(learner, path):
    """Load the checkpoint at ``path`` (of a learner or of a run) into ``learner``, all or nothing."""
    owner = f"{type(learner).__name__}.load"
    meta, arrays = read(path, owner)
    restore_learner(learner, _learner_meta(meta, path, owner), arrays, path)
    return learner


def _learner_class(meta, path):
    from symgraph.rl.learners.base import Learner

    pending, found = [Learner], {}
    while pending:
        cls = pending.pop()
        found[(cls.__module__, cls.__qualname__)] = cls
        pending.extend(cls.__subclasses__())
    cls = found.get((meta["module"], meta["class"]))
    if cls is None:
        raise SaveLoadError(f"symgraph.rl.load: {path} holds a {meta['module']}.{meta['class']} learner, a "
                            f"class this program does not define; import the module that defines it first")
    return cls


def rebuild(cls, meta, path):
    """A new ``cls`` learner built from the config in ``meta`` (not yet loaded)."""
    config = meta["config"]
    owner = f"{cls.__name__}.load"
    if config is None:
        raise SaveLoadError(f"{owner}: {path} records no config ({cls.__name__}'s constructor does not record "
                            f"one), so the learner cannot be rebuilt from it; construct the learner the same "
                            f"way and call learner.load(path) on it")
    if config["code"]:
        code = ", ".join(f"{name} (a {kind})" for name, kind in config["code"].items())
        raise SaveLoadError(f"{owner}: the learner in {path} was built with {code}, code or objects that a "
                            f"checkpoint does not store (it holds data only); construct the learner the same "
                            f"way and call learner.load(path) on it")
    arguments = {name: unpack(value) for name, value in config["arguments"].items()}
    if config["build"] == "from_env":
        return cls.from_env(stand_in_env(config["env"]), **arguments)
    return cls(**arguments)


def load_new(cls, path):
    """``cls.load(path)``: a new ``cls`` learner rebuilt from the checkpoint's config, with its state."""
    meta, arrays = read(path, f"{cls.__name__}.load")
    learner_meta = _learner_meta(meta, path, f"{cls.__name__}.load")
    if (learner_meta["module"], learner_meta["class"]) != (cls.__module__, cls.__qualname__):
        raise SaveLoadError(f"{cls.__name__}.load: {path} holds a {learner_meta['class']} learner, not a "
                            f"{cls.__name__}; load it with symgraph.rl.load(path) or "
                            f"{learner_meta['class']}.load(path)")
    learner = rebuild(cls, learner_meta, path)
    restore_learner(learner, learner_meta, arrays, path)
    return learner


def load(path):
    """The learner saved at ``path`` (by ``learner.save(path)`` or in a checkpoint of
    :func:`symgraph.rl.run`), rebuilt from its stored config with all its state restored: its ``act`` gives
    the actions the saved learner would have given.

    Raises:
        FileNotFoundError: nothing at ``path``.
        SaveLoadError: ``path`` is not a checkpoint, or the learner cannot be rebuilt from its config (it was
            built with code, e.g. an actor factory: construct it the same way and call
            ``learner.load(path)``).
    """
    meta, arrays = read(path)
    learner_meta = _learner_meta(meta, path, "symgraph.rl.load")
    cls = _learner_class(learner_meta, path)
    learner = rebuild(cls, learner_meta, path)
    restore_learner(learner, learner_meta, arrays, path)
    return learner


# ---------------------------------------------------------------------------------------------------------
# Environments' state between episodes


def _layers(env):
    layers = [env]
    while hasattr(layers[-1], "env"):
        layers.append(layers[-1].env)
    return layers


def _statistics(layer, arrays, prefix):
    """A wrapper's running statistics: its numpy arrays and gymnasium ``RunningMeanStd`` attributes."""
    from gymnasium.wrappers.utils import RunningMeanStd

    out = {}
    for name, value in vars(layer).items():
        if isinstance(value, RunningMeanStd):
            out[name] = {"rms": pack([value.mean, value.var, value.count], arrays, prefix)}
        elif isinstance(value, np.ndarray):
            out[name] = pack(value, arrays, prefix)
    return out


def env_state(env, arrays, prefix="run/"):
    """What an environment (or each sub-environment of a ``SyncVectorEnv``) carries from one episode to the
    next, as JSON-able data (arrays into ``arrays``): the random generators of the unwrapped env and of the
    action space(s), and the running statistics of its wrappers (numpy arrays and ``RunningMeanStd``, e.g.
    ``NormalizeObservation``/``NormalizeReward``). Taken between episodes, this is all a gymnasium env needs
    to continue identically; anything else an env keeps across episodes is not captured.

    Raises:
        TypeError: a vector env whose sub-environments are not in this process (``AsyncVectorEnv``).
    """
    layers = _layers(env)
    unwrapped = layers[-1]
    state = {"layers": [{"class": type(layer).__name__, "statistics": _statistics(layer, arrays, prefix)}
                        for layer in layers[:-1]],
             "np_random": None if getattr(unwrapped, "_np_random", None) is None
             else generator_state(unwrapped._np_random),
             "action_space": generator_state(env.action_space.np_random)}
    if isinstance(env, VectorEnv):
        subs = getattr(env.unwrapped, "envs", None)
        if subs is None:
            raise TypeError(f"cannot checkpoint the vector env {type(env.unwrapped).__name__}: its "
                            f"sub-environments run in other processes; use a SyncVectorEnv (make_env(..., "
                            f"n_envs=N), the default vectorization_mode='sync')")
        state["single_action_space"] = generator_state(env.single_action_space.np_random)
        state["envs"] = [env_state(sub, arrays, prefix) for sub in subs]
    return state


def restore_env_state(env, state, arrays, owner="run"):
    """Put ``env`` in the ``state`` of :func:`env_state` (an env built the same way)."""
    from gymnasium.wrappers.utils import RunningMeanStd

    layers = _layers(env)[:-1]
    classes = [type(layer).__name__ for layer in layers]
    stored = [layer["class"] for layer in state["layers"]]
    subs = getattr(env.unwrapped, "envs", None) if isinstance(env, VectorEnv) else None
    if classes != stored or len(subs or ()) != len(state.get("envs", ())):
        raise SaveLoadError(f"{owner}: the env is not built as the checkpoint's: wrappers {classes} and "
                            f"{len(subs or ())} sub-environments here, {stored} and {len(state.get('envs', ()))} "
                            f"in the checkpoint; build it the same way to resume")
    for layer, layer_state in zip(layers, state["layers"]):
        for name, tree in layer_state["statistics"].items():
            if isinstance(tree, dict) and "rms" in tree:
                rms = RunningMeanStd()
                rms.mean, rms.var, rms.count = unpack(tree["rms"], arrays)
                setattr(layer, name, rms)
            else:
                setattr(layer, name, unpack(tree, arrays))
    if state["np_random"] is not None:
        set_generator_state(env.unwrapped.np_random, state["np_random"])
    set_generator_state(env.action_space.np_random, state["action_space"])
    if subs is not None:
        set_generator_state(env.single_action_space.np_random, state["single_action_space"])
        for sub, sub_state in zip(subs, state["envs"]):
            restore_env_state(sub, sub_state, arrays, owner)
