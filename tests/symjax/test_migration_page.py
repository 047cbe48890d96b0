"""docs/from_symjax.rst lists every SymJAX name of the rename table with its symgraph spelling (the docs
build itself, and its example, are checked by tests/test_docs.py)."""

from pathlib import Path

from symgraph.tensor.renames import RENAMES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "from_symjax.rst"


def test_every_rename_is_on_the_migration_page():
    text = PAGE.read_text()
    missing = [name for name, (spelling, _) in RENAMES.items()
               if f"``symjax.{name}``" not in text or f"``{spelling}``" not in text]
    assert not missing, f"add these SymJAX names of symgraph/tensor/renames.py to {PAGE.name}: {missing}"
