"""Controllable diversity in one place: item categories, ComiRec's greedy re-ranking
(``greedy``), and the full-sort evaluation that applies it (``evaluation``).
"""
