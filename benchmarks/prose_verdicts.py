"""Check the verdict words of prose against the noise rule (``benchmarks/stats.py``).

:func:`check_page` reads a page's prose (:func:`benchmarks.figures.prose_lines`) paragraph by
paragraph, split into clauses at ``;`` and a sentence's end. A **quote** is a signed paired
difference with its per-seed std (``+.0073 ± .0069``); its seed count n is the ``k/n`` after it,
else its clause's one ``k/n``, else the page's (:data:`PAGE_SEEDS`). Its **verdict word**
(``ahead``/``behind``/``level``, not negated) is the one inside its own parentheses, else the
nearest before it in the clause, else the first after. The word must agree with the t rule on
level against not level (the direction is not checked); a quote whose rounding could flip the
verdict is skipped. A phrase stating the old rule ("two standard errors") fails unless its
sentence says it is the old one. Not caught: verdicts without a ``± std`` quote, words such as
"beats", and unpaired (Welch) comparisons.
"""

from __future__ import annotations

import math
import os
import re
from typing import Callable, Iterable

from benchmarks import stats

PAGE_SEEDS = {"docs/tuning.md": 3, "docs/tuning_archive.md": 3}  # the seed count a page states for every comparison it quotes
QUOTE = re.compile(r"(?<![\w.])([+-]\d*\.(\d+))\s±\s(\d*\.(\d+))")
SHARE = re.compile(r"(?<![\w./])(\d+)/(\d+)(?![\w/])")
WORD = re.compile(r"\b(ahead|behind|level)\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(?:not|nor|neither|no longer|never)\s+(?:\w+\s+)?$", re.IGNORECASE)
OLD_RULE = re.compile(r"\b(?:one|two|three|\d+(?:\.\d+)?)\s+standard\s+errors?\b", re.IGNORECASE)
OLD_RULE_NAMED = re.compile(r"\b(?:before|former|earlier|previous|old|looser)\b", re.IGNORECASE)
CLAUSE_END = re.compile(r";|(?<=[\w)`*\]])[.!?](?=\s|$)|\n(?=[-*] )")


def rule_verdicts(d: float, s: float, n: int, d_digits: int, s_digits: int) -> set[str]:
    """The verdicts the rule gives a quote ``d ± s`` at n seeds over the values its rounding
    (``d_digits`` and ``s_digits`` decimals) allows: one verdict, or two when borderline."""
    critical = stats.critical_value(n - 1)
    half_d, half_s = 0.5 * 10 ** -d_digits, 0.5 * 10 ** -s_digits
    found = set()
    for dd in (abs(d) - half_d, abs(d) + half_d):
        for ss in (max(s - half_s, 0.0), s + half_s):
            t = stats.t_statistic(max(dd, 0.0), ss / math.sqrt(n))
            found.add(stats.verdict(t, critical))
    return found


def clauses(paragraph: str) -> list[tuple[int, str]]:
    """(offset, text) of each clause of ``paragraph``."""
    out, start = [], 0
    for match in CLAUSE_END.finditer(paragraph):
        out.append((start, paragraph[start:match.start()]))
        start = match.end()
    out.append((start, paragraph[start:]))
    return out


def seed_count(clause: str, quote: re.Match, following: int, default: int | None) -> int | None:
    """n of ``quote``: a ``k/n`` between it and ``following`` (the next quote), else the
    clause's one n, else ``default``."""
    own = SHARE.search(clause, quote.end(), following)
    if own:
        return int(own.group(2))
    counts = {int(match.group(2)) for match in SHARE.finditer(clause)}
    return counts.pop() if len(counts) == 1 else default


def attached_word(clause: str, quote: re.Match) -> re.Match | None:
    """The word inside the quote's own parentheses after it, else the nearest before it, else
    the first after it (in ``clause``)."""
    if clause.count("(", 0, quote.start()) > clause.count(")", 0, quote.start()):
        close = clause.find(")", quote.end())
        inside = WORD.search(clause, quote.end(), close if close >= 0 else len(clause))
        if inside:
            return inside
    before = list(WORD.finditer(clause, 0, quote.start()))
    return before[-1] if before else WORD.search(clause, quote.end())


def check_paragraph(paragraph: str, default_seeds: int | None = None) -> list[tuple[int, str]]:
    """(offset, problem) of each verdict word in ``paragraph`` the rule contradicts."""
    problems = []
    for offset, clause in clauses(paragraph):
        quotes = list(QUOTE.finditer(clause))
        for index, quote in enumerate(quotes):
            following = quotes[index + 1].start() if index + 1 < len(quotes) else len(clause)
            n = seed_count(clause, quote, following, default_seeds)
            word = attached_word(clause, quote)
            if n is None or n < stats.MIN_SEEDS or word is None or NEGATION.search(clause[:word.start()]):
                continue
            d, s = float(quote.group(1)), float(quote.group(3))
            found = rule_verdicts(d, s, n, len(quote.group(2)), len(quote.group(4)))
            if len(found) > 1:
                continue  # borderline: the shown digits cannot decide
            (rule,) = found
            said = word.group(1).lower()
            if (said == "level") != (rule == "level"):
                t, shown = stats.t_statistic(d, s / math.sqrt(n)), " ".join(quote.group(0).split())
                problems.append((offset + quote.start(), f'"{said}" for {shown} at {n} seeds: the rule says '
                                 f"{rule} (t = {t:.2f}, critical {stats.critical_value(n - 1):.2f})"))
    for sentence_offset, sentence in clauses(paragraph.replace(";", ",")):
        for match in OLD_RULE.finditer(sentence):
            if not OLD_RULE_NAMED.search(sentence):
                phrase = " ".join(match.group(0).split())
                problems.append((sentence_offset + match.start(),
                                 f'"{phrase}" states the old rule; the rule is a t-test (benchmarks/stats.py)'))
    return sorted(problems)


def paragraphs(lines: Iterable[tuple[int, str]]) -> list[tuple[list[int], str]]:
    """Consecutive prose lines joined by newlines into paragraphs, with each line's number."""
    out, current, numbers, previous = [], [], [], None
    for number, line in lines:
        if (not line.strip() or (previous is not None and number != previous + 1)) and current:
            out.append((numbers, "\n".join(current)))
            current, numbers = [], []
        if line.strip():
            numbers.append(number)
            current.append(line.strip())
        previous = number
    if current:
        out.append((numbers, "\n".join(current)))
    return out


def check_page(lines: Iterable[tuple[int, str]], default_seeds: int | None = None) -> list[str]:
    """``"line N: problem"`` for each contradicted verdict word in a page's prose lines."""
    return [f"line {numbers[text.count(chr(10), 0, offset)]}: {problem}"
            for numbers, text in paragraphs(lines)
            for offset, problem in check_paragraph(text, default_seeds)]


def check_pages(paths: list[str], root: str, prose_lines: Callable[[str], list[tuple[int, str]]]) -> list[str]:
    """``"path line N: problem"`` for every page of ``paths`` (named relative to ``root``), its
    prose read by ``prose_lines`` (figures' reader: no tables, code or generated blocks)."""
    found = []
    for path in paths:
        name = os.path.relpath(path, root).replace(os.sep, "/")
        found += [f"{name} {where}" for where in check_page(prose_lines(path), PAGE_SEEDS.get(name))]
    return found
