"""The documentation builds, its snippets run, and every public name is in the API reference.

The site is built from a copy of ``docs/`` and ``examples/`` in a temporary folder (so a build never writes
into the checkout), with warnings as errors, the gallery scripts run at their small budget
(``SYMGRAPH_EXAMPLE_BUDGET=small``) and links to other projects' documentation off (they need the network).
Then the doctest builder runs every ``doctest``/``testcode`` block of the pages.
"""

import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import types
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = [pytest.mark.docs, pytest.mark.slow]  # the site's builds: the docs tier, and slow

try:
    import fcntl
except ImportError:  # not POSIX: each test process builds its own copy
    fcntl = None

ROOT = Path(__file__).resolve().parents[1]

# Every module the API reference documents: the public names of each (its ``__all__``, or its public
# attributes defined in it where it has none) must appear in the built reference.
DOCUMENTED_MODULES = [
    "symgraph", "symgraph.tensor", "symgraph.tensor.random", "symgraph.tensor.linalg", "symgraph.tensor.fft",
    "symgraph.viz",
    "symgraph.nn", "symgraph.nn.layers", "symgraph.nn.initializers", "symgraph.nn.activations",
    "symgraph.nn.optimizers", "symgraph.nn.schedules", "symgraph.nn.ema", "symgraph.nn.noisy",
    "symgraph.nn.losses", "symgraph.data",
    "symgraph.probabilities",
    "symgraph.rl", "symgraph.rl.agents", "symgraph.rl.networks", "symgraph.rl.learners", "symgraph.rl.protocol",
    "symgraph.rl.run", "symgraph.rl.buffer", "symgraph.rl.storage", "symgraph.rl.storage.ring",
    "symgraph.rl.storage.schema", "symgraph.rl.storage.rollout", "symgraph.rl.storage.replay",
    "symgraph.rl.storage.sum_tree", "symgraph.rl.storage.nstep", "symgraph.rl.storage.paths",
    "symgraph.rl.storage.batch", "symgraph.rl.envs", "symgraph.rl.noise",
    "symgraph.rl.returns", "symgraph.rl.losses", "symgraph.rl.bandits", "symgraph.rl.tabular",
    "symgraph.rl.logging", "symgraph.rl.progress", "symgraph.rl.plotting", "symgraph.rl.checkpoint",
    "symgraph.rl.zoo", "symgraph.rl.cli", "symgraph.rl.fused", "symgraph.rl.fused.loop", "symgraph.rl.fused.program",
    "symgraph.rl.fused.envs",
    "symgraph.rl.fused.on_policy", "symgraph.rl.fused.off_policy", "symgraph.rl.fused.replay",
    # internals, for contributors
    "symgraph.nodes", "symgraph.graph", "symgraph.interpreter", "symgraph.function", "symgraph.gradients",
    "symgraph.clone", "symgraph.state", "symgraph.rng", "symgraph.io", "symgraph.errors", "symgraph.dispatch",
    "symgraph.shared_jit",
]
# Modules whose names the package's functions shadow (``symgraph.function`` is the function): the reference
# shows their docstrings without declaring them as modules, which would describe one name twice.
NOT_DECLARED = {"symgraph.function", "symgraph.gradients", "symgraph.clone"}

SPHINX_TIMEOUT = 600


def _copy_sources(destination):
    """docs/ and examples/ under ``destination``, without build outputs."""
    ignore = shutil.ignore_patterns("_build", "auto_examples", "__pycache__", "*.pyc")
    shutil.copytree(ROOT / "docs", destination / "docs", ignore=ignore)
    shutil.copytree(ROOT / "examples", destination / "examples", ignore=ignore)
    return destination / "docs"


def _sphinx(builder, source, output, *extra, warnings_are_errors=True):
    env = dict(os.environ, SYMGRAPH_EXAMPLE_BUDGET="small", MPLBACKEND="Agg")
    env.pop("SYMGRAPH_DOCS_INTERSPHINX", None)
    strict = ["-W", "--keep-going"] if warnings_are_errors else []
    command = [sys.executable, "-m", "sphinx", *strict, "-b", builder, "-d", str(output / ".doctrees"),
               *extra, str(source), str(output)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=SPHINX_TIMEOUT,
                            cwd=source)
    return result


def _report(result):
    """Sphinx's warnings and errors first, then the end of its output (failed doctests, tracebacks)."""
    text = result.stdout + "\n" + result.stderr
    problems = [line for line in text.splitlines() if "WARNING:" in line or "ERROR:" in line]
    summary = "\n".join(problems[:60]) or "(no warning lines)"
    return (f"sphinx-build exited with {result.returncode}\n--- warnings and errors ---\n{summary}\n"
            f"--- end of the output ---\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def _build_html(root):
    output = root / "html"
    result = _sphinx("html", _copy_sources(root), output)
    return SimpleNamespace(returncode=result.returncode, stdout=result.stdout, stderr=result.stderr), output


@pytest.fixture(scope="module")
def html_site(tmp_path_factory):
    """The HTML site, built once per test run: under pytest-xdist the workers share one build (the first
    one to get here builds it, the others wait for it) instead of building it once each."""
    if "PYTEST_XDIST_WORKER" not in os.environ or fcntl is None:
        return _build_html(tmp_path_factory.mktemp("docs_html"))
    root = tmp_path_factory.getbasetemp().parent / "docs_html"  # this run's folder, shared by the workers
    with open(f"{root}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = Path(f"{root}.json")
        if saved.is_file():
            return SimpleNamespace(**json.loads(saved.read_text())), root / "html"
        root.mkdir()
        result, output = _build_html(root)
        saved.write_text(json.dumps(vars(result)))
        return result, output


def test_html_builds_without_warnings(html_site):
    """Warnings are errors: broken reST in a page or a docstring, a dangling reference, a failing example."""
    result, output = html_site
    assert result.returncode == 0, _report(result)
    for page in ("index", "engine", "architecture", "rl", "api", "benchmarks", "installation", "changelog",
                 "bandits", "tabular", "learners/index", "learners/ppo", "learners/a2c", "learners/reinforce",
                 "learners/dqn", "learners/qrdqn", "learners/ddpg", "learners/td3", "learners/sac",
                 "auto_examples/index"):
        assert (output / f"{page}.html").is_file(), page


def test_gallery_examples_ran(html_site):
    """Every gallery script ran at the small budget and drew a figure."""
    result, output = html_site
    names = sorted(path.stem for path in (ROOT / "examples").glob("plot_*.py"))
    assert len(names) >= 7, names
    assert f"Sphinx-Gallery successfully executed {len(names)} out of {len(names)} files" in result.stdout, \
        _report(result)
    for name in names:
        assert (output / "auto_examples" / f"{name}.html").is_file(), name
        assert (output / "_images" / f"sphx_glr_{name}_001.png").is_file(), f"{name} drew no figure"


def test_doctests_pass(tmp_path):
    """Every ``doctest``/``testcode`` block of the pages runs and shows what the page says (warnings are
    the HTML build's business, so they do not fail this one)."""
    source = _copy_sources(tmp_path)
    result = _sphinx("doctest", source, tmp_path / "doctest", "-D", "plot_gallery=0",
                     warnings_are_errors=False)
    assert result.returncode == 0, _report(result)
    for line in (" 0 failures in tests", " 0 failures in setup code", " 0 failures in cleanup code"):
        assert line in result.stdout, _report(result)


def test_rl_guide_explains_every_parameter_of_run():
    """The guide's tables of ``run`` name every parameter of its signature (a new one must be explained)."""
    from symgraph.rl import run

    guide = (ROOT / "docs" / "rl.rst").read_text()
    rows = {line.split("``")[1] for line in guide.splitlines() if line.startswith("   * - ``")}
    missing = [name for name in inspect.signature(run).parameters if name not in rows]
    assert not missing, f"docs/rl.rst has no table row for these parameters of rl.run: {missing}"


# --------------------------------------------------------------------------------------------------------
# Every public name is in the API reference


def _inventory(path):
    """``{full name: role}`` of the Python objects in a Sphinx ``objects.inv`` (version 2)."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n", 4)
    assert lines[0].startswith(b"# Sphinx inventory version 2"), lines[0]
    entries = {}
    for line in zlib.decompress(lines[4]).decode().splitlines():
        name, role, _ = line.split(" ", 2)
        if role.startswith("py:"):
            entries[name] = role
    return entries


def _public_names(module):
    """The module's ``__all__``, or its public attributes (defined in it, not imported) where it has none."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        home = getattr(value, "__module__", None)
        if (inspect.isclass(value) or inspect.isroutine(value)) and home != module.__name__:
            continue  # imported from elsewhere
        names.append(name)
    return names


def _resolve(full_name):
    """The objects a documented name may refer to: by attributes from the top-level package
    (``symgraph.function`` is the function), and from its longest importable module path
    (``symgraph.function.evaluate_now`` lives in the module ``symgraph.function``)."""
    parts = full_name.split(".")
    found = []
    value = importlib.import_module(parts[0])
    for part in parts[1:]:
        value = getattr(value, part, None)
        if value is None:
            break
    else:
        found.append(value)
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            value = getattr(value, part, None)
        if value is not None:
            found.append(value)
        break
    return found


def test_every_public_name_is_in_the_api_reference(html_site):
    result, output = html_site
    assert (output / "objects.inv").is_file(), _report(result)
    inventory = _inventory(output / "objects.inv")
    declared = {name for name, role in inventory.items() if role == "py:module"}
    # a class or function counts wherever it is documented (``symgraph.nn.layers.Dense`` is
    # ``symgraph.nn.Dense``); data must be documented under its own name
    documented_objects = {id(value) for name in inventory for value in _resolve(name)
                          if inspect.isclass(value) or inspect.isroutine(value)}

    missing = []
    for module_name in DOCUMENTED_MODULES:
        module = importlib.import_module(module_name)
        if module_name not in NOT_DECLARED and module_name not in declared:
            missing.append(f"{module_name} (the module itself)")
        for name in _public_names(module):
            value = getattr(module, name)
            full = f"{module_name}.{name}"
            if full in inventory:
                continue
            if isinstance(value, types.ModuleType) and value.__name__ in declared:
                continue
            if (inspect.isclass(value) or inspect.isroutine(value)) and id(value) in documented_objects:
                continue
            missing.append(full)
    assert not missing, (
        "public names missing from the API reference (add them, e.g. with an autodoc directive, to the "
        "matching page of docs/api/):\n  " + "\n  ".join(missing))


def test_documented_modules_list_matches_the_reference(html_site):
    """Each module the reference declares is checked here, so new API pages are covered too."""
    result, output = html_site
    assert (output / "objects.inv").is_file(), _report(result)
    declared = {name for name, role in _inventory(output / "objects.inv").items() if role == "py:module"}
    unchecked = sorted(declared - set(DOCUMENTED_MODULES))
    assert not unchecked, f"add these modules to DOCUMENTED_MODULES in {Path(__file__).name}: {unchecked}"
