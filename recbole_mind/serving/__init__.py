"""Serving MIND: a user is their active interest vectors, ``score(u, i) = max_k e_i . v_u^k``.

- ``index``: inner-product indexes (exact, HNSW, IVF), one query row per active interest, merge
  of the per-interest lists. Needs numpy (and faiss for the approximate kinds) only: no torch,
  no RecBole, so it can be copied into a service that holds exported vectors.
- ``diversity``: ComiRec's greedy choice of a user's items by score and category difference,
  the item categories and the Diversity and CategoryCoverage values; numpy only.
- ``users``: from a checkpoint to users' histories, interests and the item vectors; the item id
  <-> index row map.
- ``export``: vector files (``items.npz``, ``interests.npz``, ``meta.json``) and top-N lists
  straight from a checkpoint.
- ``explain``: which behaviours formed each interest, what it retrieves; a heat-map.
- ``cli``: ``python -m recbole_mind.retrieval {export,retrieve,explain} CHECKPOINT ...``.
"""
