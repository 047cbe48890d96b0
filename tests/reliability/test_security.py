"""No code execution paths in the library: symgraph/ never unpickles, evaluates strings, starts processes or
imports modules named by data.

The check parses every source file with ``ast``, so comments, docstrings and strings do not count (a grep
would flag this module's own docstring); the snippet tests below show that it catches each pattern."""

import ast
from pathlib import Path

import pytest

import symgraph

#: Modules whose use means unpickling (or a shell): none may be imported or named.
FORBIDDEN_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "shelve", "marshal", "subprocess"}
#: Built-ins that run code given as data.
FORBIDDEN_BUILTINS = {"eval", "exec", "__import__"}
#: ``os`` functions that start processes.
FORBIDDEN_OS = {"system", "popen", "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp",
                "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp",
                "spawnvpe", "posix_spawn", "posix_spawnp"}


def _dotted(node):
    """``a.b.c`` of a Name/Attribute chain, or None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _import_hits(node):
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        module = node.module or ""
        if module == "os":
            return [f"from os import {a.name}" for a in node.names if a.name in FORBIDDEN_OS]
        if module == "builtins":
            return [f"from builtins import {a.name}" for a in node.names if a.name in FORBIDDEN_BUILTINS]
        names = [module]
    return [f"import {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]


def _call_hits(node):
    name = _dotted(node.func)
    hits = []
    if name in ("importlib.import_module", "import_module") and not (
            node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        hits.append(f"{name}() with a non-literal module name")
    for keyword in node.keywords:
        if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant)
                                                  and keyword.value.value is False):
            hits.append(f"allow_pickle={ast.unparse(keyword.value)}")
    return hits


def _name_hits(node):
    name = _dotted(node)
    if name is None:
        return []
    parts = name.split(".")
    if parts[0] in FORBIDDEN_MODULES:
        return [name]
    if isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
        return [node.id]
    if len(parts) == 2 and parts[0] in ("builtins", "__builtins__") and parts[1] in FORBIDDEN_BUILTINS:
        return [name]
    if len(parts) == 2 and parts[0] == "os" and parts[1] in FORBIDDEN_OS:
        return [name]
    return []


def unsafe_uses(source, filename="<snippet>"):
    """``[(line, what)]``: every use in ``source`` of a forbidden module, built-in or call."""
    hits = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found = _import_hits(node)
        elif isinstance(node, ast.Call):
            found = _call_hits(node)
        elif isinstance(node, ast.Name) or (isinstance(node, ast.Attribute)
                                            and not isinstance(node.value, ast.Attribute)):
            found = _name_hits(node)
        else:
            found = []
        hits.extend((node.lineno, what) for what in found)
    return sorted(set(hits))


#: Uses found and awaiting their fix, as ``(file, what)``. Each must still be there (the test below fails
#: once it is gone, so that it is removed from this set), and no other may appear.
KNOWN = set()


def test_the_library_has_no_code_execution_paths():
    root = Path(symgraph.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 50  # the whole package, not an empty glob
    hits = {(path.relative_to(root.parent).as_posix(), line, what) for path in files
            for line, what in unsafe_uses(path.read_text(encoding="utf-8"), str(path))}
    new = sorted(f"{file}:{line}: {what}" for file, line, what in hits if (file, what) not in KNOWN)
    assert not new, "unsafe code in symgraph/:\n" + "\n".join(new)
    gone = KNOWN - {(file, what) for file, _, what in hits}
    assert not gone, f"fixed: remove {sorted(gone)} from KNOWN"


@pytest.mark.parametrize("source, expected", [
    ("import pickle", "import pickle"),
    ("import pickle as p", "import pickle"),
    ("from pickle import loads", "import pickle"),
    ("import _pickle", "import _pickle"),
    ("import dill", "import dill"),
    ("x = pickle.loads(data)", "pickle.loads"),
    ("f(pickle)", "pickle"),
    ("eval('1 + 1')", "eval"),
    ("exec(code)", "exec"),
    ("f = eval", "eval"),
    ("builtins.eval(s)", "builtins.eval"),
    ("from builtins import exec", "from builtins import exec"),
    ("__import__(name)", "__import__"),
    ("import subprocess", "import subprocess"),
    ("from subprocess import run", "import subprocess"),
    ("subprocess.run(['ls'])", "subprocess.run"),
    ("os.system('ls')", "os.system"),
    ("os.popen('ls')", "os.popen"),
    ("from os import system", "from os import system"),
    ("os.execv('/bin/sh', [])", "os.execv"),
    ("importlib.import_module(name)", "importlib.import_module() with a non-literal module name"),
    ("import_module(f'{a}.b')", "import_module() with a non-literal module name"),
    ("importlib.import_module()", "importlib.import_module() with a non-literal module name"),
    ("np.load(path, allow_pickle=True)", "allow_pickle=True"),
    ("np.load(path, allow_pickle=flag)", "allow_pickle=flag"),
    ("def f():\n    return np.load(p, **{}, allow_pickle=1)", "allow_pickle=1"),
])
def test_the_checker_catches_each_pattern(source, expected):
    assert expected in [what for _, what in unsafe_uses(source)], unsafe_uses(source)


def test_the_checker_reports_the_line():
    assert unsafe_uses("x = 1\n\ny = eval(s)\n") == [(3, "eval")]


@pytest.mark.parametrize("source", [
    "# eval(s), exec(code), pickle.loads(b), os.system('ls')",
    '"""Never use pickle, eval( or subprocess; np.load(p, allow_pickle=True)."""',
    "message = 'call eval(x) or import pickle'",
    "jax.eval_shape(f, x)",
    "node.eval()",
    "model.exec_count += 1",
    "importlib.import_module('gymnasium')",
    "np.load(path, allow_pickle=False)",
    "os.path.join(a, b)",
    "pickled = False",
    "def evaluate(x):\n    return x",
])
def test_the_checker_ignores_comments_strings_and_lookalikes(source):
    assert unsafe_uses(source) == []
