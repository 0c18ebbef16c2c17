"""Evaluation protocols beside RecBole's own ``eval_args`` splits.

- ``multi_target``: held-out users whose history retrieves several future items, as ComiRec
  and REMI evaluate multi-interest models (``properties/protocols/multi_target.yaml``).

A protocol is selected by a key in the config; ``quick_start.run_recbole_mind`` dispatches to
it. Nothing is imported here, so that reading a config does not load the run path.
"""
