"""Sphinx configuration of the symgraph documentation.

Build the site (warnings are errors in CI)::

    SYMGRAPH_EXAMPLE_BUDGET=small sphinx-build -W --keep-going -b html docs docs/_build/html
    sphinx-build -W -b doctest -D plot_gallery=0 docs docs/_build/doctest

Environment variables:

``SYMGRAPH_EXAMPLE_BUDGET``
    ``small`` or ``full`` (the default): how long the gallery scripts of ``examples/`` run. They read it
    themselves, so ``python examples/plot_bandit_comparison.py`` follows it too. CI builds with ``small``.
``SYMGRAPH_DOCS_INTERSPHINX``
    set to ``1`` to link to the numpy, JAX and gymnasium documentation. Intersphinx downloads their
    inventories when the site is built, and CI has no network, so the links are off by default: without
    them, references to those projects render as plain text instead of failing the build.
"""

import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # document the checkout, even where the package is not installed

import symgraph  # noqa: E402

# -- Project ---------------------------------------------------------------------------------------------
project = "symgraph"
author = "the symgraph developers"
copyright = "the symgraph developers"
release = symgraph.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = []
nitpicky = False
default_role = None

# -- Autodoc / napoleon ----------------------------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "none"  # signatures carry no annotations; the docstrings say the types
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# ``Attributes:`` sections become ``:ivar:`` fields, so dataclass fields that autodoc also documents are not
# described twice (which Sphinx reports as a duplicate object description).
napoleon_use_ivar = True
napoleon_use_rtype = False



def _drop_foreign_docstrings(app, what, name, obj, options, lines):
    """A method symgraph overrides without a docstring of its own (``LegacyEnv.step``) would show the
    docstring of the third-party class it overrides (gymnasium's ``Env.step``), which is neither about our
    code nor written in reST. Show no docstring there; docstrings inherited from symgraph's own classes stay."""
    if what not in ("method", "property", "attribute") or getattr(obj, "__doc__", None):
        return
    owner_name, _, member = name.rpartition(".")
    module_name, _, class_path = owner_name.rpartition(".")
    while module_name and module_name not in sys.modules:  # nested class paths
        module_name, _, head = module_name.rpartition(".")
        class_path = f"{head}.{class_path}"
    owner = sys.modules.get(module_name)
    for part in class_path.split("."):
        owner = getattr(owner, part, None)
    if not isinstance(owner, type):
        return
    for base in owner.__mro__[1:]:
        inherited = base.__dict__.get(member)
        if inherited is not None and getattr(inherited, "__doc__", None):
            if not base.__module__.startswith("symgraph"):
                lines.clear()
            return


def setup(app):
    app.connect("autodoc-process-docstring", _drop_foreign_docstrings)


# -- Doctest ---------------------------------------------------------------------------------------------
# Each page (and each doctest group) starts from an empty default graph, so names such as "w" do not depend
# on what earlier pages built.
import doctest  # noqa: E402

# Exception messages are compared too (not only their types): the messages are part of what the pages teach.
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1
doctest_global_setup = """
import jax
import numpy as np
import symgraph as sg
import symgraph.tensor as T
jax.config.update("jax_traceback_filtering", "off")  # no note appended to the exceptions shown
sg.reset_default_graph()
"""
# Only the pages' ``.. doctest::`` / ``testcode`` blocks run. The ``>>>`` examples of the package's docstrings
# are written for the module's own namespace (as ``python -m pytest --doctest-modules`` runs them), which
# this builder does not provide.
doctest_test_doctest_blocks = ""

# -- Intersphinx (off without SYMGRAPH_DOCS_INTERSPHINX=1: it needs the network, see the module docstring) -
if os.environ.get("SYMGRAPH_DOCS_INTERSPHINX", "") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "jax": ("https://docs.jax.dev/en/latest/", None),
        "gymnasium": ("https://gymnasium.farama.org/", None),
    }
else:
    intersphinx_mapping = {}

# -- Gallery ---------------------------------------------------------------------------------------------
BUDGET = os.environ.get("SYMGRAPH_EXAMPLE_BUDGET", "full")
if BUDGET not in ("small", "full"):
    raise ValueError(f"SYMGRAPH_EXAMPLE_BUDGET must be 'small' or 'full', got {BUDGET!r}")

sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "write_computation_times": False,
    "remove_config_comments": True,
    "show_signature": False,
    "capture_repr": (),
    "matplotlib_animations": False,
}

# Examples plot with matplotlib's non-interactive backend, quietly.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)

# -- HTML ------------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"symgraph {release}"
html_static_path = []
html_show_sourcelink = False

# Several classes have attributes of the same name (``n_envs``, ``n_actions``...); napoleon turns
# attribute entries into cross-references, which Sphinx then calls ambiguous. Those links resolve to one of
# the candidates and nothing is lost, so that one warning type (and only it) is not an error.
suppress_warnings = ["ref.python"]
