"""Generated blocks in Markdown pages: ``<!-- KIND: NAME -->`` ... ``<!-- /KIND: NAME -->``.

figures.py (``figures`` blocks, from benchmark records) and tuning_verdicts.py (``verdicts``
blocks, from validation-grid logs) rewrite the body between the two markers and leave the
prose around them to people.
"""

from __future__ import annotations

import difflib
import re


def block_pattern(kind: str) -> re.Pattern:
    """Matches one ``kind`` block: groups 1 and 4 are the markers, ``name`` and ``body`` named."""
    return re.compile(rf"(<!-- {kind}: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /{kind}: (?P=name) -->)", re.S)


def replace_blocks(pattern: re.Pattern, text: str, bodies: dict[str, str], where: str) -> str:
    """``text`` with the body of every block replaced by ``bodies[name]``; a block with no
    generated body is a KeyError naming it and ``where`` it was found."""
    def body(match: re.Match) -> str:
        name = match.group("name")
        if name not in bodies:
            raise KeyError(f"unknown block {name!r} in {where}; known: {', '.join(bodies)}")
        return match.group(1) + bodies[name] + match.group(4)

    return pattern.sub(body, text)


def refresh(paths: list[str], pattern: re.Pattern, bodies: dict[str, str], write: bool) -> list[str]:
    """The paths whose blocks differ from ``bodies``: rewritten when ``write``, else their diff printed."""
    stale = []
    for path in paths:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        fresh = replace_blocks(pattern, text, bodies, path)
        if fresh == text:
            continue
        stale.append(path)
        if write:
            with open(path, "w", encoding="utf-8") as file:
                file.write(fresh)
        else:
            diff = difflib.unified_diff(text.splitlines(), fresh.splitlines(), path, "regenerated", lineterm="")
            print("\n".join(list(diff)[:60]))
    return stale
