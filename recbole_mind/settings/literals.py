"""Config values written as text (``--key=value``, ``config_dict`` strings) read as literals.

RecBole's ``Config`` passed such text to ``eval()``: ``--epochs=__import__('os').system(...)``
ran the command. Here text becomes the number, list, dict, bool, None or inf/nan it spells, a
plain string, or, when it reads as code, a ``ValueError`` naming the key; nothing is evaluated.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Mapping

import yaml

# One interval as RecBole's Dataset parses it: "[20,30]", "(0,10]", "[5,inf)".
_INTERVAL_END = r"\s*(-?inf|-?\d+(?:\.\d*)?)\s*"
INTERVAL = re.compile(rf"^[\[(]{_INTERVAL_END},{_INTERVAL_END}[\])]$")

LITERALS = "number, string, list, dict, True/False/None, inf/nan"


class ConfigYamlLoader(yaml.SafeLoader):
    """How every config YAML is read: RecBole's float rule (``1e-3`` and ``.inf`` are floats) on
    PyYAML's safe loader. RecBole reads with ``FullLoader``, which builds Python objects from
    tags (``!!python/name:os.system``, ``!!python/object:...``); here a file yields plain data
    only, and such a tag is a YAML error naming the file."""


# RecBole's Config._build_yaml_loader adds this resolver (to FullLoader, for every process user).
ConfigYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:
         [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)
# Keys RecBole parses as interval strings ("[20,30]", "[5,inf)", "(0,10];[20,30]").
INTERVAL_KEYS = frozenset({"user_inter_num_interval", "item_inter_num_interval"})
# Names that mean a float wherever they stand (RecBole's YAML writes .inf and .nan).
_FLOAT_NAMES = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}
# What a text that is not a literal may parse as and still be a plain string: names, dotted
# names and operators between them (Recall, NDCG@10, saved/run1, my.dir, amazon-books). A call,
# a subscript, a lambda or a dunder name is code, never a value.
_PLAIN_NODES = (ast.Expression, ast.Name, ast.Attribute, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp,
                ast.Compare, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.expr_context, ast.operator,
                ast.unaryop, ast.boolop, ast.cmpop)


def literal_value(key: str, value: Any, where: str) -> Any:
    """A config value written as text, read as a literal, never evaluated.

    ``value`` (a ``--key=value`` or a ``config_dict`` string) becomes the number, list, dict,
    bool, None or inf/nan it spells (``true``/``false`` in any case too); an interval of
    ``INTERVAL_KEYS`` stays the string RecBole parses; any other text that is not Python code
    stays a string (``Recall``, ``NDCG@10``, ``saved/run1``). RecBole's ``Config`` passed these
    to ``eval()``. A value that is not a string is returned as is.

    Raises:
        ValueError: the text reads as code (a call, a subscript, a lambda, a dunder name);
            ``where`` names the key in the message (``--epochs``, ``config_dict['epochs']``).
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if key in INTERVAL_KEYS and all(INTERVAL.match(part.strip()) for part in text.split(";")):
        return text
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return value  # not Python at all: a plain string ("./data", "ml-100k", "[5,inf)")
    try:
        literal = ast.literal_eval(_FloatNames().visit(tree))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        literal = value
    if isinstance(literal, (set, frozenset, bytes, complex)):
        return value  # RecBole keeps a text whose value is none of its types as the text
    if literal is not value:
        return literal
    if not all(isinstance(node, _PLAIN_NODES) for node in ast.walk(tree)) or any(
        "__" in (getattr(node, "id", None) or getattr(node, "attr", None) or "") for node in ast.walk(tree)
    ):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise ValueError(f"{where}: value {shown!r} is not a literal ({LITERALS}); a string that reads "
                         f"as code is refused: quote it (\"'...'\") to mean the text")
    return value


class _FloatNames(ast.NodeTransformer):
    """``inf``, ``nan``, ``infinity`` (any case) as float constants, so ``[1.0, inf]`` is a literal."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        number = _FLOAT_NAMES.get(node.id.lower())
        return node if number is None else ast.copy_location(ast.Constant(number), node)


def literal_values(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``literal_value`` of each value: ``source`` is ``the command line`` (keys named
    ``--key``) or ``config_dict`` (keys named ``config_dict['key']``)."""
    def where(key: str) -> str:
        return f"--{key}" if source == "the command line" else f"{source}[{key!r}]"

    return {key: literal_value(str(key), value, where(str(key))) for key, value in values.items()}
