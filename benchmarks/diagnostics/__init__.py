"""One-off diagnostics: each answered one question and wrote one record, which the docs quote.

``anomaly_cost`` (docs/anomaly_mode.json), ``eval_determinism`` (docs/eval_determinism.md) and
``interest_share`` (docs/interest_share.json). Run as ``python -m benchmarks.diagnostics.NAME``;
their tests are marked slow.
"""
