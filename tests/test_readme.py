"""The README's install and test commands are exactly what CI runs, and the README's code runs."""

import pathlib
import re

import numpy as np
import pytest

pytestmark = pytest.mark.docs  # the README's commands and code: the docs tier

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.rst").read_text()
    blocks = re.findall(r"\.\. code-block:: bash\n\n((?:    .*\n?)+)", text)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_install_and_test_commands():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = readme_commands()
    install = next(c for c in commands if c.startswith("pip install"))
    test = next(c for c in commands if "pytest" in c)
    assert install in ci, f"the README's install command {install!r} is not in .ci/run"
    assert test in ci, f"the README's test command {test!r} is not in .ci/run"
    assert ci.index(install) < ci.index(test)


def test_readme_python_example_runs():
    text = (ROOT / "README.rst").read_text()
    code = re.search(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text).group(1)
    namespace = {}
    exec(compile("\n".join(line[4:] for line in code.splitlines()), "README.rst", "exec"), namespace)
    assert namespace["w"].value.shape == (3, 2)
    assert not np.allclose(namespace["w"].value, 1.0)  # the training step changed the weights


def test_readme_train_command_is_a_tuned_pair_of_the_command_line():
    from symgraph.rl import cli, zoo

    command = next(c for c in readme_commands() if c.startswith("symgraph-rl "))
    args = cli.build_parser().parse_args(command.split()[1:])
    assert args.command == "train" and zoo.get(args.algo, args.env) is not None, command
    # the README says where the run's files go: the command line's default log directory
    assert f"runs/{args.algo}-{args.env}-seed{args.seed}/" in (ROOT / "README.rst").read_text()
