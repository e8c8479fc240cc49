"""The suite's own lists (tests/conftest.py): every slow, sim and spread entry names a test
file that exists and, for FILE::TEST, a test function in it, so that a renamed test cannot
silently drop out of its marker (or into the quick loop)."""

import ast

from .conftest import ROOT, SIM, SLOW

ENTRIES = sorted({*SLOW, *SIM})


def _tests_in(path):
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and
            n.name.startswith("test_")]


def test_every_entry_names_a_test():
    wrong = []
    for entry in ENTRIES:
        path, _, name = entry.partition("::")
        file = ROOT / "tests" / path
        if not file.is_file():
            wrong.append(f"{entry}: no such test file")
        elif name and not any(t.startswith(name) for t in _tests_in(file)):
            wrong.append(f"{entry}: no such test")
    assert not wrong, "\n".join(wrong)


def test_every_slow_entry_says_why():
    assert all(isinstance(why, str) and why for why in SLOW.values())
