"""The host package's layout holds: every callcue module imports on its own, and no two
modules import each other, directly or round a loop (callcue/cli.py and a command's
module used to: sim imported cli back).

The import graph is read from the source (ast over host/callcue), counting every import,
also those inside functions (the lazy ones that keep `callcue --help` fast): a loop
through a lazy import is still two rooms that each need the other."""

import ast
import subprocess
import sys
from pathlib import Path

import callcue

PACKAGE = Path(callcue.__file__).resolve().parent


def _modules():
    """{dotted name: path} of every module of the callcue package (not sim/board/, the
    simulated boards' MicroPython scripts, which are run under the unix port)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if "board" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name, path):
    """The callcue modules that module `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            # `from callcue.x import y`: y is a module of callcue.x or a name in it
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t != name and t != "callcue":
                found.add(t)
    return found


def import_graph():
    return {name: _imports(name, path) for name, path in MODULES.items()}


def find_cycle(graph):
    """One import loop as [a, b, ..., a], or None (depth-first search, three colours)."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state:
                loop = visit(m)
                if loop:
                    return loop
        stack.pop()
        state[n] = "done"
        return None

    for n in sorted(graph):
        if n not in state:
            loop = visit(n)
            if loop:
                return loop
    return None


def test_the_checker_finds_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_lazy_imports():
    graph = import_graph()
    # cli imports its commands by name (importlib): no command module in its imports
    assert "callcue.errors" in graph["callcue.cli"]
    assert not any(d.startswith("callcue.commands") for d in graph["callcue.cli"])
    # a function-level import counts: the sim command pulls with the archive's pull
    assert "callcue.archive.pull" in graph["callcue.commands.sim"]


def test_no_import_cycle():
    loop = find_cycle(import_graph())
    assert loop is None, " -> ".join(loop)


def test_rooms_do_not_import_commands():
    """Commands use the rooms (device, sim, analysis, archive, report), never the other
    way round, and no command imports another command."""
    for name, deps in import_graph().items():
        commands = sorted(d for d in deps if d.startswith("callcue.commands."))
        assert commands == [], (name, commands)


# callcue.__main__ runs the command when imported (python -m callcue): the CLI tests run it
IMPORT_EACH = r"""
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("callcue", "dsp", "firmware")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\n".join(failed))
"""


def test_imports_alone():
    """Each module imports by itself, with none of the project's modules loaded before it
    (one interpreter, the project's modules dropped from sys.modules before each import;
    third-party ones may stay cached): nothing relies on another module of ours having
    been imported first."""
    names = sorted(set(MODULES) - {"callcue.__main__"})
    r = subprocess.run([sys.executable, "-c", IMPORT_EACH, *names], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", r.stdout


def test_one_module_per_subcommand():
    """Every subcommand of cli.py's table is callcue/commands/NAME.py with add_args(p) and
    run(args), run's docstring its description; every module there is a subcommand."""
    from callcue import cli

    names = [name for name, _help in cli.COMMANDS]
    files = sorted(p.stem for p in (PACKAGE / "commands").glob("*.py") if p.stem != "__init__")
    assert sorted(names) == files
    for name in names:
        module = cli.command_module(name)
        assert callable(module.add_args) and callable(module.run), name
        assert (module.run.__doc__ or "").strip(), name
