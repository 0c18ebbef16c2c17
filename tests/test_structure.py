"""The package's shape: no import cycles (lazy imports included), small modules, a light core."""

import ast
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

PACKAGE_DIR = os.path.join(REPO_ROOT, "recbole_mind")
MAX_MODULE_LINES = 350


def package_modules() -> dict[str, str]:
    """Dotted name -> path of every module of the package (``pkg.__init__`` named ``pkg``)."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                parts = os.path.relpath(path, REPO_ROOT)[: -len(".py")].split(os.sep)
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(path: str, modules: dict[str, str]) -> set[str]:
    """Package modules imported anywhere in the file, function-level (lazy) imports included."""
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from recbole_mind.integration import compat` imports the submodule compat
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in modules}


def test_no_import_cycle_inside_the_package():
    modules = package_modules()
    graph = {name: imported_modules(path, modules) - {name} for name, path in modules.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            assert state.get(target) != "open", "import cycle: " + " -> ".join(trail + [name, target])
            if target not in state:
                visit(target, trail + [name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_no_module_is_longer_than_350_lines():
    lengths = {name: sum(1 for _ in open(path, encoding="utf-8")) for name, path in package_modules().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}


BENCHMARKS_DIR = os.path.join(REPO_ROOT, "benchmarks")
MAX_BENCHMARK_LINES = 2_500  # benchmarks/ in all (issue 46, item 5)


def benchmark_lengths() -> dict[str, int]:
    """Lines of every Python file under benchmarks/, by path (what ``wc -l`` counts)."""
    paths = [os.path.join(folder, file) for folder, _, files in os.walk(BENCHMARKS_DIR)
             for file in files if file.endswith(".py")]
    return {os.path.relpath(path, REPO_ROOT): sum(1 for _ in open(path, encoding="utf-8")) for path in paths}


def test_no_benchmark_module_is_longer_than_350_lines():
    assert {path: n for path, n in benchmark_lengths().items() if n > MAX_MODULE_LINES} == {}


@pytest.mark.xfail(strict=True, reason="issue 46, item 5: benchmarks/ still holds about 3,100 lines, over the 2,500 "
                                       "cap; drop this marker once it fits (strict: the test then fails until it is)")
def test_benchmarks_hold_at_most_2500_lines_in_all():
    assert sum(benchmark_lengths().values()) <= MAX_BENCHMARK_LINES


def test_importing_a_layer_does_not_load_the_run_path_and_registration_still_happens():
    code = (
        "import sys\nimport recbole_mind.model.layers\n"
        "print(sorted(name for name in sys.modules if name in "
        "('recbole_mind.run.quick_start', 'recbole_mind.training.pipeline', 'recbole_mind.serving.users')))\n"
        "from recbole.utils import get_model\nprint(get_model('MIND').__module__)\n"
        "from recbole_mind import run_recbole_mind\nprint(run_recbole_mind.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[]", "recbole_mind.model.mind", "recbole_mind.run.quick_start"]


def _branches(function) -> int:
    import ast

    return sum(isinstance(node, (ast.If, ast.IfExp)) for node in ast.walk(function))


def test_minds_forward_and_loss_paths_stay_lean():
    """Issue 39 halved the branches of MIND's paths (forward 14 -> 6, loss 12 -> 4) by removing
    the levers that never won: a new option belongs in docs/tuning.md until it wins."""
    import ast

    import recbole_mind.model.mind as mind

    with open(mind.__file__, encoding="utf-8") as file:
        tree = ast.parse(file.read())
    methods = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    forward = ("forward", "interests_and_routing_weights", "_mapped_behaviours", "_capsules")
    loss = ("calculate_loss", "_scoring_vectors")
    assert sum(_branches(methods[name]) for name in forward) <= 7
    assert sum(_branches(methods[name]) for name in loss) <= 5


# The package's layers, lowest first: a module imports (lazily or not) only from its own
# subpackage or from a lower layer. The root (``recbole_mind`` itself, ``retrieval``) is the top.
LAYERS = ("settings", "model", "diversity", "data", "integration", "training", "protocols", "run", "serving")
MAX_ROOT_MODULES = 6  # besides __init__ and __main__


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def test_every_subpackage_has_a_layer_and_the_root_stays_small():
    folders = {name for name in os.listdir(PACKAGE_DIR)
               if os.path.isfile(os.path.join(PACKAGE_DIR, name, "__init__.py"))}
    assert folders - {"properties"} == set(LAYERS)
    root = [name for name in os.listdir(PACKAGE_DIR) if name.endswith(".py") and name not in ("__init__.py", "__main__.py")]
    assert len(root) <= MAX_ROOT_MODULES, root


def test_imports_only_run_down_the_layers():
    modules = package_modules()
    upward = sorted(
        f"{name} -> {target}"
        for name, path in modules.items()
        for target in imported_modules(path, modules)
        if layer_of(target) > layer_of(name)
    )
    assert upward == []
