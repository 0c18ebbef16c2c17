"""Generated blocks in Markdown pages: ``<!-- KIND: NAME -->`` ... ``<!-- /KIND: NAME -->``.

figures.py (``figures`` blocks, from benchmark records) and tuning_verdicts.py (``verdicts``
blocks, from validation-grid logs) rewrite the body between the two markers and leave the
prose around them to people.
"""

from __future__ import annotations

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
