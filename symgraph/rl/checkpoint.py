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
- ``"run/<n>"``: the arrays of the run's state (the buffer's storage, from its ``state_dict()``...).

Config. A learner records how it was built: the arguments of its constructor, or those of ``from_env``
(the outermost call wins) with the environment replaced by a description of its spaces (observation shape
and dtype, action space, number of sub-environments, id and time limit). Arguments that are data (numbers,
strings, tuples, arrays, None, and the schedules of :mod:`symgraph.nn.schedules`, stored as their factory
and its arguments) are stored; arguments that are code or objects (a network factory, an ``Actor``
instance, a schedule made from a function) cannot be, and a learner built with one cannot be rebuilt from its
checkpoint: ``Class.load(path)`` and :func:`load` then raise an error that says so; construct the learner
the same way and call ``learner.load(path)`` on the instance.

Reading trusts nothing in the file. The zip is read strictly (:func:`symgraph.io.read_arrays`: uncompressed
members of numbers or text whose headers announce exactly the bytes they hold, checksums checked, nothing
unpickled), and every name read from it is checked against an allow-list: bit generators
(:data:`BIT_GENERATORS`), schedule factories (:data:`SCHEDULES`), dtypes (numeric only), classes (a
:class:`~symgraph.rl.learners.base.Learner` subclass, or a class of one of symgraph's modules already
imported: loading never imports a module). A rebuild is bounded by the stored arrays (:func:`rebuild`): a
config altered to describe huge networks or observations is refused before anything is allocated for them.
A damaged, truncated or altered file raises :class:`~symgraph.SaveLoadError` naming the file and what is
wrong, and changes nothing: not the learner it was loaded into, not numpy's global random state.

Settings. ``learner.load(path)`` compares the settings of the learner that wrote the file with the
learner's own (:func:`check_settings`: their recorded configs, with the constructor's defaults for the
arguments not given, the env's description for ``from_env``; not the seed, which the load restores), and
refuses other settings, listing them, unless ``allow_changes`` accepts them; so does ``run(..., resume=True)``.
Arguments that are code cannot be compared, and learners without a recorded config are not compared.
"""

import contextlib
import inspect
import json
import math
import numbers
import os
import sys
import types

import gymnasium
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space

from symgraph.errors import SaveLoadError, format_shape
from symgraph.io import DamagedFile, atomic_write, read_arrays
from symgraph.nn import schedules
from symgraph.nodes import variable_budget
from symgraph.rl.envs import episode_limit, make_env, space_info

__all__ = ["FORMAT", "VERSION", "BIT_GENERATORS", "SCHEDULES", "REBUILD_MARGIN", "load", "load_new",
           "load_into", "save_learner", "rebuild", "read", "reading", "learner_meta", "write", "learner_entries",
           "restore_learner", "describe_call", "describe_env", "stand_in_env", "NotData", "pack", "unpack",
           "numeric_dtype", "new_generator", "checked_config", "object_state", "restore_object_state",
           "generator_state", "set_generator_state", "env_state", "restore_env_state", "learner_settings",
           "check_settings", "setting_differences", "describe_differences", "LEARNER_BASES",
           "register_learner_base"]

#: The format name stored in every checkpoint.
FORMAT = "symgraph.rl checkpoint"
#: The version of the layout described in the module docstring. 2: a run's buffer is stored as its
#: ``state_dict()``; version 1 stored its attributes, which are still read (mapped to the state dict).
VERSION = 2

#: The bit generators a checkpoint's random generators may use (names read from a file are checked against it).
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
#: The schedule factories a checkpoint may name, by name.
SCHEDULES = {"constant": schedules.constant, "linear": schedules.linear, "cosine": schedules.cosine,
             "exponential": schedules.exponential, "piecewise_constant": schedules.piecewise_constant}

_META = "checkpoint"
_STATE_DICT = "state_dict"
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
    """The value :func:`pack` turned into ``tree`` (``arrays``: the file's arrays, for named entries). Only
    the forms :func:`pack` writes are read: schedules by the factories of :data:`SCHEDULES`, generators of
    the bit generators of :data:`BIT_GENERATORS`, numeric dtypes; anything else raises
    :class:`~symgraph.SaveLoadError`."""
    if isinstance(tree, list):
        return [unpack(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "array" in tree and set(tree) <= {"array", "dtype"}:
        return _unpack_array(tree, arrays)
    if len(tree) != 1:
        raise SaveLoadError(f"a checkpoint entry with the keys {sorted(tree)[:5]}, not one of the forms "
                            f"symgraph writes; the file was altered or written by another program")
    (tag, content), = tree.items()
    if tag == "tuple" and isinstance(content, list):
        return tuple(unpack(v, arrays) for v in content)
    if tag == "dict" and isinstance(content, dict):
        return {k: unpack(v, arrays) for k, v in content.items()}
    if tag == "dtype":
        return numeric_dtype(content)
    if tag == "schedule" and isinstance(content, dict):
        return _unpack_schedule(content, arrays)
    if tag == "generator":
        return new_generator(content)
    raise SaveLoadError(f"unknown entry {str(tag)[:40]!r} in a checkpoint; it was written by another program")


def _unpack_array(tree, arrays):
    content = tree["array"]
    if isinstance(content, str):
        if arrays is None or content not in arrays:
            raise SaveLoadError(f"a checkpoint entry names the array {content[:40]!r}, which the file does not "
                                f"hold; the file was altered")
        return np.array(arrays[content])
    return np.asarray(content, numeric_dtype(tree.get("dtype")))


def _unpack_schedule(content, arrays):
    factory = SCHEDULES.get(content.get("factory")) if isinstance(content.get("factory"), str) else None
    if factory is None:
        raise SaveLoadError(f"a checkpoint names the schedule {str(content.get('factory'))[:40]!r}, not one of "
                            f"the factories of symgraph.nn.schedules ({', '.join(SCHEDULES)})")
    arguments = unpack(content.get("arguments"), arrays)
    if not isinstance(arguments, dict):
        raise SaveLoadError(f"a checkpoint's {content['factory']} schedule has no arguments dict")
    return factory(**arguments)


def numeric_dtype(name):
    """The numpy dtype named ``name`` in a checkpoint: booleans, integers, floats and complex numbers only."""
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise SaveLoadError(f"a checkpoint names the dtype {str(name)[:40]!r}; a checkpoint holds numeric "
                            f"dtypes only (bool, integers, floats, complex)")
    return dtype


def new_generator(state):
    """A new numpy Generator in the ``state`` of :func:`generator_state`, whose bit generator must be one of
    :data:`BIT_GENERATORS` (no other name read from a file is looked up)."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if not isinstance(name, str) or name not in BIT_GENERATORS:
        raise SaveLoadError(f"a checkpoint holds a random generator of the bit generator {str(name)[:40]!r}, "
                            f"not one of {', '.join(BIT_GENERATORS)}; the file was altered")
    generator = np.random.Generator(getattr(np.random, name)())
    set_generator_state(generator, state)
    return generator


def generator_state(generator):
    """The JSON-able state of a numpy Generator."""
    return generator.bit_generator.state


def set_generator_state(generator, state):
    """Put ``generator`` (in place, so objects sharing it stay in step) in the ``state`` of
    :func:`generator_state`; a state of another bit generator, or malformed, raises
    :class:`~symgraph.SaveLoadError` and leaves ``generator`` as it was."""
    kind = type(generator.bit_generator).__name__
    if not isinstance(state, dict) or state.get("bit_generator") != kind:
        found = state.get("bit_generator") if isinstance(state, dict) else type(state).__name__
        raise SaveLoadError(f"a checkpoint holds the state of a {str(found)[:40]!r} random generator where a "
                            f"{kind} one was saved; the file was altered")
    try:
        generator.bit_generator.state = state
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SaveLoadError(f"a checkpoint holds a malformed {kind} generator state ({exc})") from None


def object_state(obj, arrays, prefix="run/", exclude=()):
    """The state of ``obj`` packed with :func:`pack`. A storage (an object with ``state_dict()``, e.g. a
    :class:`~symgraph.rl.buffer.Buffer`) is stored as its ``state_dict()`` (``{"state_dict": packed}``), so
    its explicit state, not its attribute names, is the file format. Any other object is stored by its data
    attributes (``vars(obj)``), recursing into the objects of symgraph's own classes; callable attributes
    (configuration, e.g. a schedule) are left out, and the object rebuilt before :func:`restore_object_state`
    must be given the same ones; so are the attributes named in ``exclude``. Anything else raises
    :class:`NotData` naming the attribute."""
    if callable(getattr(obj, "state_dict", None)):
        try:
            return {_STATE_DICT: pack(obj.state_dict(), arrays, prefix)}
        except NotData as exc:
            raise NotData(f"{type(obj).__name__}.state_dict() holds {exc}, which a checkpoint cannot store") from None
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
    """Restore ``obj`` from :func:`object_state`: a storage through its ``load_state_dict``, any other object
    by setting its attributes (Generators in place).

    A :class:`~symgraph.rl.buffer.Buffer` saved by checkpoint version 1 (by its attributes) is read through
    :func:`_buffer_state_v1`.

    Raises:
        SaveLoadError: another storage's state in the attribute layout of version 1, a malformed one, or an
            attribute symgraph never saves.
    """
    if callable(getattr(obj, "load_state_dict", None)):
        if isinstance(state, dict) and set(state) == {_STATE_DICT}:
            obj.load_state_dict(unpack(state[_STATE_DICT], arrays))
        elif type(obj).__module__ == "symgraph.rl.buffer" and isinstance(state, dict) and "_next_row" in state:
            obj.load_state_dict(_buffer_state_v1(state, arrays))
        else:
            raise SaveLoadError(f"the checkpoint stores the {type(obj).__name__} by its attributes (checkpoint "
                                f"version 1), a layout this symgraph (checkpoint version {VERSION}) reads for a "
                                f"Buffer only; resume it with the symgraph that wrote it, or start a new run from "
                                f"its learner (learner.load(path), then run(..., resume=False))")
        return
    for name, tree in state.items():
        if name.startswith("__"):
            raise SaveLoadError(f"a checkpoint sets the attribute {name[:40]!r}, which symgraph never saves; the "
                                f"file was altered")
        current = getattr(obj, name, None)
        if isinstance(tree, dict) and "object" in tree:
            cls = _own_class(tree["object"])
            if type(current) is not cls:
                current = cls.__new__(cls)
            restore_object_state(current, tree["state"], arrays)
            setattr(obj, name, current)
        elif isinstance(tree, dict) and "generator" in tree and isinstance(current, np.random.Generator):
            set_generator_state(current, tree["generator"])
        else:
            setattr(obj, name, unpack(tree, arrays))


def _buffer_state_v1(tree, arrays):
    """The :meth:`Buffer.state_dict <symgraph.rl.buffer.Buffer.state_dict>` of a buffer that checkpoint
    version 1 stored by its attributes (``_data``, ``_next_row``, ``_rows_stored``, ``_tree``...): the same
    arrays, positions and priorities under the names of version 2. A malformed one raises
    :class:`~symgraph.SaveLoadError`."""
    try:
        old = {k: unpack(v, arrays) for k, v in tree.items() if k != "_tree"}
        state = {"maxlen": old["maxlen"], "priority_sampling": old["priority_sampling"], "n_envs": old["_n_envs"],
                 "n_samples": old["_n_samples"], "warned_truncation": old["_warned_truncation"],
                 "rng": old["_rng"].bit_generator.state, "beta": old.get("_beta"), "schema": None}
        if old["_spec"] is None:
            return state
        data = old["_data"]
        state.update({"schema": [[k, list(shape), np.dtype(dtype).str] for k, (shape, dtype) in old["_spec"].items()],
                      "batched": old["_batched"], "path_len": old["_path_len"], "ring/rows": old["_rows"],
                      "ring/n_envs": old["_n_envs"], "ring/next_row": old["_next_row"],
                      "ring/rows_stored": old["_rows_stored"], "ring/steps": old["_steps"],
                      "ring/fields": [[k, list(v.shape[2:]), v.dtype.str] for k, v in data.items()]})
        state.update({"ring/data/" + k: v for k, v in data.items()})
        if old["priority_sampling"]:
            leaves = {k: unpack(v, arrays) for k, v in tree["_tree"]["state"].items()}
            items = slice(leaves["_size"], leaves["_size"] + leaves["capacity"])
            state.update({"priorities/priorities": leaves["_sum"][items],
                          "priorities/set": np.isfinite(leaves["_min"][items]),
                          "priorities/max_priority": old["_max_priority"]})
        return state
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise SaveLoadError(f"the checkpoint's buffer (checkpoint version 1 layout) is malformed "
                            f"({type(exc).__name__}: {str(exc)[:200]}); the file was altered") from None


def _own_object(value):
    module = type(value).__module__ or ""
    return module.startswith("symgraph.") and hasattr(value, "__dict__") and not callable(value)


def _own_class(name):
    """The class named ``"module:qualname"`` in a checkpoint: one of symgraph's, of a module already imported
    (a checkpoint never makes a module be imported)."""
    module, _, qualname = str(name).partition(":")
    cls = getattr(sys.modules.get(module), qualname, None) if module.startswith("symgraph.") else None
    if not isinstance(cls, type) or cls.__module__ != module:
        raise SaveLoadError(f"the checkpoint holds an object of {str(name)[:80]!r}, not one of the classes of "
                            f"symgraph's loaded modules; it was not written by symgraph")
    return cls


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
    """The vector-env stand-in of :class:`_SpacesEnv`: its single spaces and number of sub-environments (its
    batched spaces are made only when read, so that a description cannot make it allocate them)."""

    def __init__(self, observation_space, action_space, n_envs, spec):
        self.num_envs = n_envs
        self.single_observation_space, self.single_action_space = observation_space, action_space
        self.spec = spec

    @property
    def observation_space(self):
        return batch_space(self.single_observation_space, self.num_envs)

    @property
    def action_space(self):
        return batch_space(self.single_action_space, self.num_envs)


def _count(value, what, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SaveLoadError(f"the env description's {what} is {str(value)[:40]}, not an integer >= {minimum}")
    return value


def _shape(value, what, limit):
    """A shape read from an env description, with at most ``limit`` elements."""
    if not isinstance(value, list):
        raise SaveLoadError(f"the env description's {what} is {str(value)[:40]}, not a list of sizes")
    shape = tuple(_count(d, f"{what} size") for d in value)
    if limit is not None and math.prod(shape) > limit:
        raise SaveLoadError(f"the env description's {what} {format_shape(shape)} has more elements than the "
                            f"{limit} the file's variables hold, more than any learner built for it would")
    return shape


def stand_in_env(description, limit=None):
    """An object with the spaces, number of sub-environments, id and time limit of :func:`describe_env`'s
    ``description``, for ``from_env`` to build a learner from (it cannot be stepped). ``limit``: the most
    elements an observation or action may have (a description read from a file is checked against the number
    of elements of the variables stored with it); a description of another form raises
    :class:`~symgraph.SaveLoadError`."""
    obs, act = description["observation"], description["action"]
    shape, dtype = _shape(obs["shape"], "observation shape", limit), numeric_dtype(obs["dtype"])
    if obs["n"] is not None:
        observation_space = spaces.Discrete(_count(obs["n"], "number of states", 1))
    elif dtype.kind in "iu":
        observation_space = spaces.Box(np.iinfo(dtype).min, np.iinfo(dtype).max, shape, dtype)
    else:
        observation_space = spaces.Box(-np.inf, np.inf, shape, dtype)
    if act["discrete"]:
        action_space = spaces.Discrete(_count(act["n"], "number of actions", 1), start=_count(act["start"],
                                                                                             "first action", -2**62))
    else:
        act_shape, act_dtype = _shape(act["shape"], "action shape", limit), numeric_dtype(act["dtype"])
        low, high = (np.asarray(act[bound], act_dtype) for bound in ("low", "high"))
        if low.shape != act_shape or high.shape != act_shape:
            raise SaveLoadError(f"the env description's action bounds do not have the action shape "
                                f"{format_shape(act_shape)}")
        action_space = spaces.Box(low, high, act_shape, act_dtype)
    env_id, limit_steps = description["id"], description["max_episode_steps"]
    if not isinstance(env_id, str | None) or not (limit_steps is None or _count(limit_steps, "time limit", 1)):
        raise SaveLoadError(f"the env description's id {str(env_id)[:40]!r} or time limit {limit_steps!r} is not "
                            f"a string and an integer (or null)")
    spec = types.SimpleNamespace(id=env_id, max_episode_steps=limit_steps)
    n_envs = _count(description["n_envs"], "number of sub-environments", 1)
    if n_envs > 1:
        return _SpacesVectorEnv(observation_space, action_space, n_envs, spec)
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
    written (a file that does not fit raises :class:`~symgraph.SaveLoadError` and changes nothing)."""
    owner = type(learner).__name__
    _check_class(learner, meta, path)
    variables = learner.graph.variables
    stored = {k[len(_VARIABLES):]: v for k, v in arrays.items() if k.startswith(_VARIABLES)}
    keys = {name: np.asarray(key) for name, key in _random_keys(learner).items()}
    stored_keys = {k[len(_KEYS):]: v for k, v in arrays.items() if k.startswith(_KEYS)}
    expected = {name: (tuple(v.aval.shape), np.dtype(v.aval.dtype)) for name, v in variables.items()}
    missing, extra, wrong = _compare(stored, expected)
    missing_keys, extra_keys, wrong_keys = _compare(stored_keys, {n: (k.shape, k.dtype) for n, k in keys.items()})
    if missing or extra or wrong or missing_keys or extra_keys or wrong_keys:
        raise SaveLoadError(f"{owner}.load: {path} does not fit this learner, nothing was changed. Variables "
                            f"missing from the file: {missing}; in the file but not in the learner: {extra}; "
                            f"of another shape or dtype: {wrong}; random keys missing: {missing_keys}, extra: "
                            f"{extra_keys}, of another shape or dtype: {wrong_keys}. Build the "
                            f"learner with the same architecture (or rebuild it with {owner}.load(path))")
    seed, rng, function_seeds = _random_state(meta, learner)
    for name, variable in variables.items():
        variable.update(stored[name])
    for fn in _functions(learner):
        fn._key = jnp.asarray(stored_keys[fn.key_name])
    if isinstance(getattr(type(learner), "state", None), property):
        state = learner.state
        state.update({name: jnp.asarray(stored_keys[name]) for name in keys if name in state})
        learner.set_state(state)
    learner.seed = seed
    set_generator_state(learner.rng, generator_state(rng))
    learner._function_seeds = function_seeds


def _check_class(learner, meta, path):
    owner = type(learner).__name__
    if meta["class"] != type(learner).__qualname__ or meta["module"] != type(learner).__module__:
        raise SaveLoadError(f"{owner}.load: {path} holds a {meta['class']} learner ({meta['module']}), not a "
                            f"{owner}; load it with symgraph.rl.load(path) or {meta['class']}.load(path)")


def _compare(stored, expected):
    """``(missing, extra, wrong)``: the names of ``expected`` (``{name: (shape, dtype)}``) missing from
    ``stored`` (``{name: array}``), those of ``stored`` not expected, and those of another shape or dtype."""
    missing = [name for name in expected if name not in stored]
    extra = [name for name in stored if name not in expected]
    wrong = [f"{name}: file {format_shape(stored[name].shape)} {stored[name].dtype}, learner "
             f"{format_shape(shape)} {dtype}" for name, (shape, dtype) in expected.items()
             if name in stored and (stored[name].shape != shape or stored[name].dtype != dtype)]
    return missing, extra, wrong


def _random_state(meta, learner):
    """``(seed, a Generator in the state of the file's rng, the SeedSequence)`` of a checkpoint's learner
    metadata, checked (nothing of ``learner`` is changed)."""
    seed, state, seeds = meta["seed"], meta["rng"], meta["function_seeds"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SaveLoadError(f"the checkpoint's seed is {str(seed)[:40]}, not an integer")
    rng = np.random.Generator(type(learner.rng.bit_generator)())
    set_generator_state(rng, state)
    pool = np.random.SeedSequence().pool_size
    if not isinstance(seeds, dict) or set(seeds) - {"entropy", "spawn_key", "pool_size", "n_children_spawned"} \
            or seeds.get("pool_size", pool) != pool:
        raise SaveLoadError(f"the checkpoint's function seeds {str(seeds)[:80]} are not a seed sequence's state")
    return seed, rng, np.random.SeedSequence(**seeds)


# ---------------------------------------------------------------------------------------------------------
# Files


def write(path, meta, arrays):
    """Write ``meta`` (JSON-able) and ``arrays`` atomically to ``path`` (exactly that path)."""
    entries = dict(arrays)
    entries[_META] = np.array(json.dumps({"format": FORMAT, "version": VERSION, **meta}))
    atomic_write(path, lambda stream: np.savez(stream, **entries))
    return path


def _damaged(owner, path, what):
    return SaveLoadError(f"{owner}: {os.fspath(path)!r} is damaged or not a symgraph.rl checkpoint: {what}; "
                         f"nothing was loaded. Load an intact copy (a save is atomic: the file a save wrote "
                         f"stays whole unless it is changed afterwards)")


@contextlib.contextmanager
def reading(owner, path):
    """Turn the errors of interpreting a checkpoint's content (a crafted or altered file: a missing key, a
    value of the wrong type, a config its class does not accept) into a :class:`~symgraph.SaveLoadError`
    naming ``path``."""
    try:
        yield
    except SaveLoadError as exc:
        if os.fspath(path) in str(exc):
            raise
        raise _damaged(owner, path, str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        raise _damaged(owner, path, f"its content is not what symgraph writes ({type(exc).__name__}: "
                                    f"{str(exc)[:300]})") from None


def read(path, owner="symgraph.rl.load"):
    """``(metadata, arrays)`` of the checkpoint at ``path``, read strictly (:func:`symgraph.io.read_arrays`):
    a damaged, crafted or foreign file raises :class:`~symgraph.SaveLoadError` naming it and saying what is
    wrong.

    Raises:
        FileNotFoundError: nothing at ``path``.
        SaveLoadError: ``path`` is not a symgraph.rl checkpoint, or is damaged.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{owner}: path must be a str or os.PathLike naming a checkpoint file, got "
                        f"{type(path).__name__} {path!r:.60}")
    if not os.path.isfile(os.fspath(path)):
        raise FileNotFoundError(f"{owner}: no checkpoint at {os.fspath(path)!r}; pass the path that "
                                f"learner.save(path) or run(..., checkpoint_path=path) wrote")
    try:
        arrays = read_arrays(path)
    except DamagedFile as exc:
        raise _damaged(owner, path, str(exc)) from None
    document = arrays.pop(_META, None)
    if document is None:
        raise SaveLoadError(f"{owner}: {os.fspath(path)!r} is an .npz file but not a symgraph.rl checkpoint (no "
                            f"{_META!r} entry); a file of symgraph.save_variables loads with "
                            f"symgraph.load_variables(path, graph=learner.graph)")
    try:
        meta = json.loads(str(document)) if document.dtype.kind == "U" and document.shape == () else None
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _damaged(owner, path, f"its {_META!r} entry is not the JSON document of a symgraph.rl checkpoint")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _damaged(owner, path, f"its checkpoint version is {str(version)[:40]}, not a positive integer")
    if version > VERSION:
        raise SaveLoadError(f"{owner}: {os.fspath(path)!r} has checkpoint version {version}, newer "
                            f"than this symgraph's {VERSION}; upgrade symgraph to load it")
    return meta, arrays


def save_learner(learner, path):
    """Write ``learner``'s checkpoint to ``path`` (see the module docstring); returns ``path``."""
    meta, arrays = learner_entries(learner)
    return write(path, {"learner": meta}, arrays)


def learner_meta(meta, path, owner):
    """The ``"learner"`` part of a checkpoint's metadata; a clear error for the file of a tabular agent."""
    if "learner" not in meta and "tabular" in meta:
        raise SaveLoadError(f"{owner}: {path} holds a tabular agent, not a learner; build the agent the same "
                            f"way (e.g. QLearning(env, ...)) and call agent.load(path)")
    learner = meta.get("learner")
    if not isinstance(learner, dict) or not all(isinstance(learner.get(k), str) for k in ("class", "module")):
        raise _damaged(owner, path, "its learner entry does not name a learner class")
    return learner


def load_into(learner, path, allow_changes=()):
    """Load the checkpoint at ``path`` (of a learner or of a run) into ``learner``, all or nothing; the
    learner's settings must be the file's but for those ``allow_changes`` accepts (:func:`check_settings`),
    whose hyperparameter variables keep the learner's values."""
    owner = f"{type(learner).__name__}.load"
    accepted = _allowed(allow_changes, owner)
    meta, arrays = read(path, owner)
    with reading(owner, path):
        entry = learner_meta(meta, path, owner)
        _check_class(learner, entry, path)
    kept = check_settings(learner, entry, path, owner, accepted)
    held = [(v, v.value) for name in kept for v in learner.hyperparameter_variables().get(name, ())]
    with reading(owner, path):
        restore_learner(learner, entry, arrays, path)
    for variable, value in held:
        variable.update(value)
    return learner


#: The learner base classes whose subclasses a checkpoint may name (``symgraph.rl.learners.base`` registers
#: ``Learner``): a file names a class, and only a class already defined under one of these is ever built.
LEARNER_BASES = []


def register_learner_base(cls):
    """Let checkpoints name ``cls`` and its subclasses (a class decorator; the learners' base registers
    itself, so that this module, the file format, imports no learner)."""
    LEARNER_BASES.append(cls)
    return cls


def _learner_class(meta, path):
    pending, found = list(LEARNER_BASES), {}
    while pending:
        cls = pending.pop()
        found[(cls.__module__, cls.__qualname__)] = cls
        pending.extend(cls.__subclasses__())
    cls = found.get((meta["module"], meta["class"]))
    if cls is None:
        raise SaveLoadError(f"symgraph.rl.load: {path} holds a {meta['module']}.{meta['class']} learner, a "
                            f"class this program does not define; import the module that defines it first")
    return cls


def rebuild(cls, meta, path, arrays=None):
    """A new ``cls`` learner built from the config in ``meta`` (not yet loaded). With the file's ``arrays``,
    the build is bounded by them: the env description may not have larger observations or actions than the
    stored variables have elements, and the variables the build creates may not have more elements in all
    than the stored ones (checked as each variable is created, before its value is made);
    so a config altered to build huge networks stops before allocating them."""
    owner = f"{cls.__name__}.load"
    config = checked_config(meta["config"], owner, path)
    if config is None:
        raise SaveLoadError(f"{owner}: {path} records no config ({cls.__name__}'s constructor does not record "
                            f"one), so the learner cannot be rebuilt from it; construct the learner the same "
                            f"way and call learner.load(path) on it")
    if config["code"]:
        code = ", ".join(f"{name} (a {kind})" for name, kind in config["code"].items())
        raise SaveLoadError(f"{owner}: the learner in {path} was built with {code}, code or objects that a "
                            f"checkpoint does not store (it holds data only); construct the learner the same "
                            f"way and call learner.load(path) on it")
    limit = None if arrays is None else _stored_elements(arrays)
    arguments = {name: unpack(value) for name, value in config["arguments"].items()}
    with _bounded(limit, owner, path):
        if config["build"] == "from_env":
            return cls.from_env(stand_in_env(config["env"], limit), **arguments)
        return cls(**arguments)


def checked_config(config, owner, path):
    """A config read from a checkpoint (:func:`describe_call`'s form, or None), checked for its form."""
    if config is None:
        return None
    form = isinstance(config, dict) and config.get("build") in ("init", "from_env") and \
        isinstance(config.get("arguments"), dict) and isinstance(config.get("code"), dict) and \
        (config["build"] == "init" or isinstance(config.get("env"), dict))
    if not form:
        raise _damaged(owner, path, "its learner config is not of the form symgraph records")
    return config


#: Elements a rebuilt learner's variables may have beyond those stored in its file (a margin for variables a
#: constructor makes and drops; it bounds what an altered config can make a rebuild allocate).
REBUILD_MARGIN = 2**20


def _stored_elements(arrays):
    return sum(a.size for name, a in arrays.items() if name.startswith(_VARIABLES)) + REBUILD_MARGIN


def _bounded(limit, owner, path):
    """A context in which creating variables of more than ``limit`` elements in all raises
    :class:`~symgraph.SaveLoadError` before the value that passes it is made
    (:func:`symgraph.nodes.variable_budget`); ``limit=None``: no bound."""
    if limit is None:
        return contextlib.nullcontext()

    def exceeded(name, size):
        return SaveLoadError(f"{owner}: the config in {os.fspath(path)!r} builds variables of more than the "
                             f"{limit - REBUILD_MARGIN} elements the file stores (variable {name!r} has {size}); "
                             f"it does not belong to these arrays (the file was altered); nothing was allocated "
                             f"for it")

    return variable_budget(limit, exceeded)


def load_new(cls, path):
    """``cls.load(path)``: a new ``cls`` learner rebuilt from the checkpoint's config, with its state."""
    owner = f"{cls.__name__}.load"
    meta, arrays = read(path, owner)
    with reading(owner, path):
        entry = learner_meta(meta, path, owner)
        if (entry["module"], entry["class"]) != (cls.__module__, cls.__qualname__):
            raise SaveLoadError(f"{owner}: {path} holds a {entry['class']} learner, not a {cls.__name__}; load "
                                f"it with symgraph.rl.load(path) or {entry['class']}.load(path)")
        learner = rebuild(cls, entry, path, arrays)
        restore_learner(learner, entry, arrays, path)
    return learner


def load(path):
    """The learner saved at ``path`` (by ``learner.save(path)`` or in a checkpoint of
    :func:`symgraph.rl.run`), rebuilt from its stored config with all its state restored: its ``act`` gives
    the actions the saved learner would have given.

    Raises:
        FileNotFoundError: nothing at ``path``.
        SaveLoadError: ``path`` is not a checkpoint, is damaged or altered, or the learner cannot be rebuilt
            from its config (it was built with code, e.g. an actor factory: construct it the same way and call
            ``learner.load(path)``).
    """
    meta, arrays = read(path)
    with reading("symgraph.rl.load", path):
        entry = learner_meta(meta, path, "symgraph.rl.load")
        cls = _learner_class(entry, path)
        learner = rebuild(cls, entry, path, arrays)
        restore_learner(learner, entry, arrays, path)
    return learner


# ---------------------------------------------------------------------------------------------------------
# Settings


def setting_differences(stored, own):
    """``{name: (value in the file, value here)}`` for the settings (two dicts of JSON-able values) that
    differ; a name missing on one side counts as None there."""
    return {name: (stored.get(name), own.get(name)) for name in sorted(stored.keys() | own.keys())
            if stored.get(name) != own.get(name)}


def describe_differences(differ):
    """``"name: saved in the file, mine here; ..."`` for :func:`setting_differences`'s result."""
    return "; ".join(f"{name}: {_shown(saved)} in the file, {_shown(mine)} here"
                     for name, (saved, mine) in differ.items())


def _shown(value):
    try:
        return repr(unpack(value))[:80]
    except (SaveLoadError, TypeError, ValueError):
        return repr(value)[:80]


def learner_settings(cls, config):
    """The settings of a learner of class ``cls`` built by ``config`` (its recorded config), as
    ``{name: packed value}``: its data arguments, with the defaults of ``cls.__init__`` for those not
    recorded (``from_env`` records only what it was given), but the seed (a load restores it); and, for a
    learner built by ``from_env``, its env's description as ``env.<field>``. Arguments that are code (an
    actor factory...) are left out: they cannot be compared."""
    settings = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if parameter.default is not parameter.empty:
            with contextlib.suppress(NotData):
                settings[name] = pack(parameter.default)
    settings.update(config["arguments"])
    for name in ("seed", *config["code"]):
        settings.pop(name, None)
    if config["build"] == "from_env":
        settings.update({f"env.{field}": value for field, value in config["env"].items()})
    return json.loads(json.dumps(settings))


def check_settings(learner, meta, path, owner, allow_changes=(), hint=None):
    """Check that the learner in a checkpoint's ``meta`` was built with ``learner``'s settings
    (:func:`learner_settings`; a learner built by ``__init__`` and one built by ``from_env`` are compared on
    the settings both know); returns the names of the
    differing settings ``allow_changes`` accepts (the tuple of names that may differ, ``"env"`` for the env;
    or True: every numeric setting). Raises :class:`~symgraph.SaveLoadError` listing every other difference;
    ``hint`` replaces the advice that ends it. Where either learner records no config (a subclass whose
    constructor does not record one), nothing can be compared: the names of ``allow_changes`` are returned
    as they are."""
    accepted = _allowed(allow_changes, owner)
    own, stored = learner.config, checked_config(meta.get("config"), owner, path)
    if own is None or stored is None:
        return () if accepted is True else accepted
    cls = type(learner)
    mine, saved = learner_settings(cls, own), learner_settings(cls, stored)
    if own["build"] != stored["build"]:  # built by __init__ and by from_env: compared on what both know
        shared = mine.keys() & saved.keys()
        mine, saved = {k: mine[k] for k in shared}, {k: saved[k] for k in shared}
    differ = {name: values for name, values in setting_differences(saved, mine).items()
              if _plain(values[0]) != _plain(values[1])}
    unknown = [name for name in (() if accepted is True else accepted)
               if name not in {k.partition(".")[0] for k in mine}]
    if unknown:
        raise SaveLoadError(f"{owner}: allow_changes names {unknown}, not settings of a {cls.__name__} "
                            f"(its settings: {sorted({k.partition('.')[0] for k in mine})})")
    taken = {name for name, (a, b) in differ.items()
             if (_numeric(a) and _numeric(b) if accepted is True else name.partition(".")[0] in accepted)}
    refused = {name: values for name, values in differ.items() if name not in taken}
    if refused:
        code = sorted({*own["code"], *stored["code"]})
        unseen = (f" The arguments that are code ({', '.join(code)}) cannot be compared: check them "
                  f"yourself." if code else "")
        advice = hint or (f"build the learner with the file's settings (or rebuild it with "
                          f"{cls.__name__}.load(path)), or accept deliberate changes with "
                          f"load(path, allow_changes={tuple(sorted({n.partition('.')[0] for n in refused}))}) "
                          f"(allow_changes=True accepts any numeric setting)")
        raise SaveLoadError(f"{owner}: {path} was saved by a {cls.__name__} with other settings "
                            f"({describe_differences(refused)}); nothing was changed: {advice}.{unseen}")
    return tuple(sorted({name.partition(".")[0] for name in taken}))


def _plain(tree):
    """A packed value with its tuples as lists: a list given for a tuple (e.g. ``hidden`` from a JSON config)
    is the same setting."""
    if isinstance(tree, list):
        return [_plain(v) for v in tree]
    if isinstance(tree, dict):
        return _plain(tree["tuple"]) if set(tree) == {"tuple"} else {k: _plain(v) for k, v in tree.items()}
    return tree


def _numeric(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _allowed(allow_changes, owner):
    """``allow_changes`` checked: True, or a tuple of setting names (False and None: none)."""
    if allow_changes is True:
        return True
    if allow_changes is False or allow_changes is None:
        return ()
    if isinstance(allow_changes, str) or not all(isinstance(n, str) for n in _iterable(allow_changes)):
        raise TypeError(f"{owner}: allow_changes must be a tuple of setting names (e.g. ('lr',)) or True (any "
                        f"numeric setting), got {allow_changes!r}")
    return tuple(allow_changes)


def _iterable(value):
    try:
        return list(value)
    except TypeError:
        return [None]


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
