"""The record of the RecBole boundary (``integration.boundary.BOUNDARY``) against the code: what
``import recbole_mind`` changes in RecBole, what our subclasses override, what ``build_config``
shadows, which functions change state outside the package, and docs/compatibility.md's table.
A new patch fails here until it is recorded."""

import ast
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys

import pytest

import recbole_mind
from recbole_mind.integration import boundary
from recbole_mind.integration.boundary import (
    ADDED, BOUNDARY, IMPORT_HOOK, KINDS, PROCESS_WIDE, REPLACED, SHADOWED, SUBCLASS, SWAPPED, WRAPPED, names_of,
)

from conftest import REPO_ROOT

# Run in a fresh process: import every RecBole module (but quick_start, which needs the shims),
# note every module, class and table attribute, import recbole_mind and name what changed; then
# what recbole.quick_start's import and Config.compatibility_settings leave behind.
FIND_CHANGES = r"""
import importlib, json, pkgutil, re, sys
import numpy as np
import recbole

def import_all(path, prefix):  # pkgutil.walk_packages would import recbole.quick_start too
    for info in pkgutil.iter_modules(path, prefix):
        if info.name.startswith(("recbole.quick_start", "recbole.trainer.hyper_tuning")):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional dependency (lightgbm, xgboost)
            continue
        if info.ispkg:
            import_all(module.__path__, info.name + ".")

import_all(recbole.__path__, "recbole.")

def defines(module, attribute):
    try:
        source = open(module.__file__, encoding="utf-8").read()
    except (OSError, TypeError):
        return False
    return re.search(rf"^[\w, ]*\b{attribute}\b[\w, ]*=", source, re.M) is not None

def snapshot():
    seen, tables = {}, {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("recbole.") or module is None or getattr(module, "__file__", None) is None:
            continue
        for attribute, value in list(vars(module).items()):
            seen[f"{name}.{attribute}"] = id(value)
            if isinstance(value, dict) and defines(module, attribute):  # a table, named where defined
                tables[f"{name}.{attribute}"] = {key: id(item) for key, item in value.items()}
            if isinstance(value, type) and value.__module__ == name:
                seen.update({f"{name}.{value.__qualname__}.{key}": id(item) for key, item in vars(value).items()})
    return seen, tables

def marked(value):
    try:
        return bool(getattr(value, "_recbole_mind_shim", False) or getattr(value, "_recbole_mind_registration", False))
    except Exception:
        return False

(before, tables), modules, finders = snapshot(), set(sys.modules), list(sys.meta_path)
numpy_names = set(dir(np))
import recbole_mind
after, tables_after = snapshot()
changed = {name for name, value in after.items() if before.get(name) != value}
changed |= {name for name, table in tables_after.items() if table != tables.get(name)}
changed |= {f"sys.modules[{name!r}]" for name in set(sys.modules) - modules
            if name.startswith("recbole.") and getattr(sys.modules[name], "__file__", None) is None}
numpy_at_import = sorted(set(dir(np)) - numpy_names)
import recbole.quick_start
from recbole.config import Config
Config.compatibility_settings(Config.__new__(Config))
for name, module in list(sys.modules.items()):
    if name.startswith("recbole.quick_start") and module is not None:
        changed |= {f"{name}.{attribute}" for attribute, value in vars(module).items() if marked(value)}
hooks = [finder for finder in sys.meta_path if finder not in finders]
print(json.dumps({
    "changed": sorted(changed),
    "hooks": [type(finder).__module__ for finder in hooks],
    "numpy_at_import": numpy_at_import,
    "numpy_after_recbole": sorted(set(dir(np)) - numpy_names),
}))
"""

# What RecBole's Config.compatibility_settings sets in numpy itself (RecBole's change, not ours).
RECBOLE_OWN_NUMPY_NAMES = {"bool", "int", "float", "complex", "object", "str", "long", "unicode"}


@pytest.fixture(scope="module")
def changes():
    done = subprocess.run([sys.executable, "-c", FIND_CHANGES], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_what_import_recbole_mind_changes_in_recbole_is_recorded(changes):
    assert set(changes["changed"]) == names_of(WRAPPED, REPLACED, ADDED)


def test_the_wrapped_functions_carry_our_mark_and_call_recboles():
    for name in names_of(WRAPPED):
        owner_name, attribute = name.rsplit(".", 1)
        value = getattr(_resolve(owner_name), attribute)
        assert getattr(value, "_recbole_mind_shim", False) or getattr(value, "_recbole_mind_registration", False), name
        assert getattr(value, "__wrapped__", None) is not None, name


def test_the_import_hook_wraps_the_recorded_modules_only(changes):
    from recbole_mind.integration import compat

    assert changes["hooks"] == ["recbole_mind.integration.compat"]
    assert set(compat._PATCHED_IMPORTS) == names_of(IMPORT_HOOK)


def test_numpy_aliases_stay_set_once_recbole_needed_them(changes):
    # `import recbole_mind` adds none; RecBole's Config and the import of recbole.quick_start leave
    # the aliases set (boundary.py says why), besides the names RecBole's Config sets itself.
    aliases = {name.split(".", 1)[1] for name in names_of(PROCESS_WIDE) if name.startswith("numpy.")}
    assert changes["numpy_at_import"] == []
    assert set(changes["numpy_after_recbole"]) - RECBOLE_OWN_NUMPY_NAMES <= aliases
    import numpy as np

    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
        assert set(changes["numpy_after_recbole"]) - RECBOLE_OWN_NUMPY_NAMES == aliases


def _our_classes() -> list[type]:
    """Our classes with a RecBole class among their bases, and the trainer built at run time."""
    from recbole.trainer import Trainer

    from recbole_mind.training.pipeline import _epoch_timed

    found = [_epoch_timed(Trainer)]
    for info in pkgutil.walk_packages(recbole_mind.__path__, "recbole_mind."):
        module = importlib.import_module(info.name)
        found += [value for value in vars(module).values() if isinstance(value, type)
                  and value.__module__ == info.name and any(c.__module__.startswith("recbole.") for c in value.__mro__)]
    return found


def _overrides() -> set[tuple[str, str]]:
    """(our class, the RecBole method it overrides) over the classes of :func:`_our_classes`."""
    pairs = set()
    for cls in _our_classes():
        for own in cls.__mro__:
            if not own.__module__.startswith("recbole_mind."):
                continue
            for name, value in vars(own).items():
                if not (inspect.isfunction(value) or isinstance(value, (property, staticmethod, classmethod))):
                    continue
                recbole = next((c for c in cls.__mro__ if c.__module__.startswith("recbole.") and name in vars(c)), None)
                if recbole is not None:
                    pairs.add((f"{own.__module__}.{own.__qualname__}",
                               f"{recbole.__module__}.{recbole.__qualname__}.{name}"))
    return pairs


def test_every_recbole_method_our_subclasses_override_is_recorded():
    recorded = {(place, name) for entry in BOUNDARY if entry.kind == SUBCLASS
                for place in entry.places for name in entry.names}
    assert _overrides() == recorded


def test_the_config_methods_shadowed_while_a_config_is_built_are_recorded(monkeypatch):
    from recbole.config import Config

    from recbole_mind.model.mind import MIND
    from recbole_mind.training.config import _config_from_arguments

    init, shadowed = Config.__init__, set()

    def spy(self, *args, **kwargs):
        shadowed.update(f"{Config.__module__}.Config.{name}" for name in vars(self) if hasattr(Config, name))
        init(self, *args, **kwargs)

    monkeypatch.setattr(Config, "__init__", spy)
    config = _config_from_arguments(MIND, "ml-100k", [], {"state": "WARNING"}, {})
    assert shadowed == names_of(SHADOWED)
    assert not any(name in vars(config) for name in ("_load_cmd_line", "_convert_config_dict", "_build_yaml_loader"))


def _resolve(dotted: str):
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            value = getattr(value, part)
        return value
    raise ImportError(dotted)


def test_every_entry_has_a_kind_a_place_of_ours_and_a_test_that_exists():
    built_at_run_time = {f"{cls.__module__}.{cls.__qualname__}" for cls in _our_classes()}
    for entry in BOUNDARY:
        assert entry.kind in KINDS and entry.names and entry.reason, entry
        for place in entry.places:
            assert place in built_at_run_time or _resolve(place) is not None, place
        path, _, name = entry.test.partition("::")
        tree = ast.parse(open(os.path.join(REPO_ROOT, path), encoding="utf-8").read())
        assert name in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}, entry.test
    assert names_of(SWAPPED) and names_of(IMPORT_HOOK)


def test_the_compatibility_page_lists_the_boundary():
    path = os.path.join(REPO_ROOT, "docs", "compatibility.md")
    text = open(path, encoding="utf-8").read()
    assert boundary.with_table(text) == text, (
        "docs/compatibility.md's boundary table is out of date: "
        "python -m recbole_mind.integration.boundary --write docs/compatibility.md"
    )


# Calls that change the process for everyone; assignments to an imported module's or class's
# attributes (or tables, or sys.modules) count too.
GLOBAL_CALLS = {"setattr", "delattr", "warnings.filterwarnings", "warnings.simplefilter", "torch.autograd.set_detect_anomaly",
                "sys.modules.update", "sys.modules.setdefault", "sys.modules.pop", "sys.meta_path.insert",
                "sys.meta_path.append", "os.environ.update", "os.environ.setdefault"}


def _global_writes(tree: ast.Module, module: str) -> set[str]:
    """Functions of ``module`` that write to state outside the package (best effort: an
    assignment rooted in an imported name or an alias of one, or a call of GLOBAL_CALLS)."""

    def root(node):
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    found = set()

    def visit(node, scope, imported):
        imported = set(imported)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, scope + [child.name], imported)
                continue
            for sub in ast.walk(child):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    imported |= {(alias.asname or alias.name).split(".")[0] for alias in sub.names}
                elif isinstance(sub, ast.Assign) and root(sub.value) in imported:  # an alias
                    imported |= {target.id for target in sub.targets if isinstance(target, ast.Name)}
                targets = getattr(sub, "targets", None) or [getattr(sub, "target", None)]
                if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)) and any(
                        isinstance(t, (ast.Attribute, ast.Subscript)) and root(t) in imported for t in targets):
                    found.add(".".join([module, *scope]))
                if isinstance(sub, ast.Call) and ast.unparse(sub.func) in GLOBAL_CALLS and (
                        ast.unparse(sub.func) not in ("setattr", "delattr") or root(sub.args[0]) in imported):
                    found.add(".".join([module, *scope]))

    visit(tree, [], set())
    return found


def test_every_function_that_changes_state_outside_the_package_is_an_entrys_or_an_installer():
    package = os.path.join(REPO_ROOT, "recbole_mind")
    writers = set()
    for folder, _, files in os.walk(package):
        for file in (name for name in files if name.endswith(".py")):
            path = os.path.join(folder, file)
            module = os.path.relpath(path, REPO_ROOT)[: -len(".py")].replace(os.sep, ".").removesuffix(".__init__")
            writers |= _global_writes(ast.parse(open(path, encoding="utf-8").read()), module)
    places = {place for entry in BOUNDARY for place in entry.places}
    unrecorded = {writer for writer in writers - set(boundary.INSTALLERS)
                  if not any(writer == place or writer.startswith(place + ".") for place in places)}
    assert unrecorded == set()
    assert len(writers) >= 10  # the scan still sees the patches it should
