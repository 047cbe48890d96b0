"""Damaged and crafted checkpoints: every one is a SaveLoadError naming the file, never suggests unpickling,
and loading it has no side effect (numpy's global random state, ``sys.modules``, the learner it was loaded
into, memory). The corpus is generated here from one small real checkpoint."""

import io
import json
import resource
import sys
import zipfile

import numpy as np
import pytest

from symgraph import rl
from symgraph.errors import SaveLoadError
from symgraph.rl import checkpoint


def _small():
    return rl.DQN.from_env("CartPole-v1", batch_size=8, hidden=(8,), seed=0)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """A small learner, its checkpoint's bytes, metadata and arrays; one good load of each kind first, so that
    everything a load imports is imported before the corpus is tried."""
    learner = _small()
    path = tmp_path_factory.mktemp("original") / "checkpoint.npz"
    learner.save(path)
    rl.load(path), rl.DQN.load(path), _small().load(path)
    meta, arrays = checkpoint.read(path)
    return learner, path.read_bytes(), meta, arrays


def _crafted(meta, arrays, change):
    """The checkpoint's bytes with its metadata changed by ``change(meta)`` (a copy; the string "DEEP" becomes
    lists nested 5000 deep, "NOT JSON" a syntax error)."""
    meta = json.loads(json.dumps(meta))
    change(meta)
    text = json.dumps(meta).replace('"DEEP"', "[" * 5000 + "]" * 5000).replace('"NOT JSON"', "{'x")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, checkpoint=np.array(text))
    return buffer.getvalue()


def _with_member(arrays, meta, name, array):
    """The checkpoint's bytes with the member ``name`` (added, or replaced) written with pickling allowed (an
    object array)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, value in {**arrays, "checkpoint": np.array(json.dumps(meta))}.items():
            if key == name:
                continue
            member = io.BytesIO()
            np.save(member, value)
            archive.writestr(key + ".npy", member.getvalue())
        member = io.BytesIO()
        np.save(member, array, allow_pickle=True)
        archive.writestr(name + ".npy", member.getvalue())
    return buffer.getvalue()


def _learner(meta):
    return meta["learner"]


def _craft_changes():
    """``{name: change of the metadata}``: crafted JSON of the right syntax and the wrong content."""
    def arguments(meta):
        return _learner(meta)["config"]["arguments"]

    def setter(getter, key, value):
        return lambda meta: getter(meta).__setitem__(key, value)

    return {
        "generator named seed": lambda m: _learner(m)["rng"].__setitem__("bit_generator", "seed"),
        "generator named RandomState": lambda m: _learner(m)["rng"].__setitem__("bit_generator", "RandomState"),
        "generator state of the wrong kind": setter(_learner, "rng", {"bit_generator": "PCG64", "state": 5}),
        "schedule not a factory": setter(arguments, "lr", {"schedule": {"factory": "Schedule", "arguments":
                                                                        {"dict": {}}}}),
        "schedule of a private helper": setter(arguments, "lr", {"schedule": {"factory": "_number",
                                                                               "arguments": {"dict": {}}}}),
        "hidden 100000 x 100000": setter(arguments, "hidden", {"tuple": [100000, 100000]}),
        "observation of 10^10 elements": lambda m: _learner(m)["config"]["env"]["observation"].__setitem__(
            "shape", [100000, 100000]),
        "object dtype": lambda m: _learner(m)["config"]["env"]["observation"].__setitem__("dtype", "|O"),
        "an object of another module": setter(arguments, "batch_size", {"object": "os:system", "state": {}}),
        "two tags": setter(arguments, "hidden", {"tuple": [8], "dict": {}}),
        "an unknown tag": setter(arguments, "hidden", {"code": "print(1)"}),
        "an array entry that is missing": setter(arguments, "hidden", {"array": "run/999"}),
        "class of a number": setter(_learner, "class", 5),
        "no class": lambda m: _learner(m).pop("class"),
        "a learner class this program lacks": setter(_learner, "class", "Missing"),
        "a module outside symgraph": setter(_learner, "module", "os"),
        "config a string": setter(_learner, "config", "x"),
        "arguments a list": lambda m: _learner(m)["config"].__setitem__("arguments", [1, 2]),
        "an unknown build": lambda m: _learner(m)["config"].__setitem__("build", "eval"),
        "an argument this class lacks": setter(arguments, "surprise", 1),
        "a wrong argument type": setter(arguments, "batch_size", "many"),
        "seed a string": setter(_learner, "seed", "abc"),
        "rng a number": setter(_learner, "rng", 5),
        "function seeds of strings": setter(_learner, "function_seeds", {"entropy": "x"}),
        "function seeds a list": setter(_learner, "function_seeds", [1]),
        "version a string": lambda m: m.__setitem__("version", "1"),
        "a newer version": lambda m: m.__setitem__("version", 99),
        "learner a list": lambda m: m.__setitem__("learner", []),
        "metadata a list": lambda m: (m.clear(), m.__setitem__("format", [])),
        "env a number": lambda m: _learner(m)["config"].__setitem__("env", 3),
        "negative actions": lambda m: _learner(m)["config"]["env"]["action"].__setitem__("n", -2),
        "deep nesting": setter(arguments, "hidden", "DEEP"),
    }


def _corpus(original):
    """``{description: bytes}``: truncations, zeroed ranges, bit flips, other files, a pickled member and
    crafted JSON, from the original checkpoint (seeded)."""
    _, data, meta, arrays = original
    rng = np.random.default_rng(11)
    corpus = {f"truncated at {n}": data[:n] for n in
              sorted({0, 1, 4, 22, 30, 100, len(data) // 2, len(data) - 22, len(data) - 1,
                      *rng.integers(1, len(data), 12).tolist()})}
    for start, length in zip(rng.integers(0, len(data), 10), rng.integers(1, 64, 10)):
        corpus[f"zeroed {start}+{length}"] = data[:start] + bytes(length) + data[start + length:]
    corpus["all zeros"] = bytes(len(data))
    for bit in rng.integers(0, 8 * len(data), 16):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        corpus[f"bit {bit} flipped"] = bytes(flipped)
    corpus["text"] = b"not a checkpoint\n"
    corpus["random bytes"] = rng.bytes(2000)
    npy = io.BytesIO()
    np.save(npy, np.arange(3))
    corpus["an .npy file"] = npy.getvalue()
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    corpus["a pickled .npy file"] = pickled.getvalue()
    corpus["a pickled member"] = _with_member(arrays, meta, "learner/variables/q/q/b",
                                              np.array([print], dtype=object))
    corpus["a pickled extra member"] = _with_member(arrays, meta, "run/0", np.array([print], dtype=object))
    corpus["metadata not JSON"] = _crafted(meta, arrays, lambda m: m.__setitem__("format", "NOT JSON"))
    for name, change in _craft_changes().items():
        corpus[name] = _crafted(meta, arrays, change)
    return corpus


def test_a_config_of_many_sub_environments_builds_without_allocating_for_them(original, tmp_path):
    """The stand-in env of a rebuild makes no batched spaces: 10^9 sub-environments cost nothing (a DQN's
    networks do not depend on them; a learner whose state does is bounded by its stored variables)."""
    _, _, meta, arrays = original
    path = tmp_path / "many.npz"
    path.write_bytes(_crafted(meta, arrays, lambda m: _learner(m)["config"]["env"].__setitem__("n_envs", 10**9)))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rl.load(path).config["env"]["n_envs"] == 10**9
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_rss < 512 * 2**10


def _state():
    """What a load must not change: numpy's global random state and the loaded modules."""
    return np.random.get_state()[1].copy(), set(sys.modules)  # noqa: NPY002 - the legacy global state it is


def _params(learner):
    return {name: v.value for name, v in learner.graph.variables.items()}


@pytest.mark.slow
def test_damaged_and_crafted_checkpoints_are_refused_without_side_effects(original, tmp_path):
    learner, data, _, _ = original
    target = _small()
    before = _params(target)
    corpus = _corpus(original)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    unexpected = []
    for description, content in corpus.items():
        path = tmp_path / "damaged.npz"
        path.write_bytes(content)
        for load in (rl.load, rl.DQN.load, target.load):
            state = _state()
            try:
                loaded = load(path)
            except SaveLoadError as exc:
                message = str(exc)
                if str(path) not in message or "pickle" in message.lower():
                    unexpected.append(f"{description}, {load.__qualname__}: {message}")
            except Exception as exc:  # noqa: BLE001 - the corpus reports every kind of failure at once
                unexpected.append(f"{description}, {load.__qualname__}: {type(exc).__name__}: {exc}"[:500])
            else:  # a flip or zeroing of bytes no reader looks at (a timestamp): the same learner
                if description.startswith(("bit", "zeroed")) and content != data:
                    for name, value in _params(learner).items():
                        np.testing.assert_array_equal(_params(loaded)[name], value, err_msg=description)
                else:
                    unexpected.append(f"{description}, {load.__qualname__}: loaded")
            modules = set(sys.modules) - state[1]
            if not np.array_equal(state[0], np.random.get_state()[1]) or modules:  # noqa: NPY002
                unexpected.append(f"{description}, {load.__qualname__}: side effect (new modules "
                                  f"{sorted(modules)[:5]}, numpy's global random state changed)")
            target_now = _params(target)
            if any(not np.array_equal(target_now[name], value) for name, value in before.items()):
                unexpected.append(f"{description}, {load.__qualname__}: the learner was changed")
                target = _small()
    assert not unexpected, "\n".join(unexpected)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_rss < 512 * 2**10  # KiB: under 512 MiB
