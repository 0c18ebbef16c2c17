"""benchmarks/ is a package: its scripts run as ``python -m benchmarks.NAME`` and import each other
as ``benchmarks.NAME``, never through sys.path edits or bare sibling names."""

import ast
import os
import subprocess
import sys

from conftest import REPO_ROOT, benchmark_env

BENCHMARKS = os.path.join(REPO_ROOT, "benchmarks")


def benchmark_files(root: str = BENCHMARKS) -> dict[str, str]:
    """Dotted module name -> path of every Python file under ``root`` (``benchmarks`` by default)."""
    modules = {}
    for folder, _, files in os.walk(root):
        for file in sorted(files):
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                parts = os.path.relpath(path, os.path.dirname(root))[: -len(".py")].split(os.sep)
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def sys_path_edits(path: str) -> list[str]:
    """``"file:line"`` of every use of ``sys.path`` (or ``from sys import path``) in the file: a
    benchmark has no reason to read it, and editing it is how scripts used to find each other."""
    found = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        uses_path = (isinstance(node, ast.Attribute) and node.attr == "path"
                     and isinstance(node.value, ast.Name) and node.value.id == "sys")
        imports_path = (isinstance(node, ast.ImportFrom) and node.module == "sys"
                        and any(alias.name == "path" for alias in node.names))
        if uses_path or imports_path:
            found.append(f"{os.path.relpath(path, REPO_ROOT)}:{node.lineno}")
    return found


def bare_sibling_imports(path: str, siblings: set[str]) -> list[str]:
    """``"file:line name"`` of every ``import NAME`` / ``from NAME import`` whose NAME is a module of
    the package imported without its ``benchmarks.`` prefix (works only with sys.path edited)."""
    found = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"{os.path.relpath(path, REPO_ROOT)}:{node.lineno} {name}"
                  for name in names if name.split(".")[0] in siblings]
    return found


def test_no_file_under_benchmarks_edits_sys_path():
    assert [where for path in benchmark_files().values() for where in sys_path_edits(path)] == []


def test_the_sys_path_check_catches_an_edit(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import os\nimport sys\nsys.path.insert(0, os.getcwd())\nfrom sys import path\n")
    assert sorted(where.rsplit(":", 1)[1] for where in sys_path_edits(str(script))) == ["3", "4"]


def test_benchmark_modules_import_each_other_with_the_package_prefix(tmp_path):
    modules = benchmark_files()
    siblings = {name.rsplit(".", 1)[-1] for name in modules} - {"benchmarks"}
    assert {"compare", "rows", "figures"} <= siblings
    assert [where for path in modules.values() for where in bare_sibling_imports(path, siblings)] == []
    old_style = tmp_path / "old.py"
    old_style.write_text("import compare\nfrom validation_grid import paired_table\nfrom benchmarks import rows\n")
    assert len(bare_sibling_imports(str(old_style), siblings)) == 2


def test_every_benchmark_module_imports_from_outside_the_repository(tmp_path):
    # what `python -m benchmarks.NAME` needs first; catches a move that left an import behind
    modules = sorted(benchmark_files())
    code = "import importlib\nfor name in %r:\n    importlib.import_module(name)\n" % modules
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=benchmark_env())
    assert done.returncode == 0, done.stderr[-3000:]


def test_every_benchmark_row_has_a_colour_of_its_own():
    from benchmarks.rows import MODELS, ROW_COLOURS

    assert set(ROW_COLOURS) == set(MODELS)
    assert len(set(ROW_COLOURS.values())) == len(ROW_COLOURS)
