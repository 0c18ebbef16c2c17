"""Where RecBole is patched or extended: the compat shims for RecBole 1.2.1 on today's stack,
MIND's registration with RecBole, our metrics, distributed evaluation (docs/compatibility.md).
``boundary.py`` records every RecBole name the package patches, overrides or adds, wherever the
patch lives, with its reason and test.
"""
