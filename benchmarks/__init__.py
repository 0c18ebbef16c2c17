"""The benchmark and its tools, run from the repository's root as ``python -m benchmarks.NAME``.

The benchmark (``compare`` is its command line): ``rows`` (the rows and protocols), ``run`` (one
training run in a fresh process, and what it ran on), ``records`` (anomaly mode and the epoch-cost
records the report quotes), ``summary`` (mean ± std, per-seed differences and the noise rule),
``targets``, ``report`` and ``plots``. Tools: ``validation_grid`` (validation-only grids),
``epoch_cost`` (epochs timed in turn), ``scale``, ``retrieval`` and ``figures`` (every quoted
figure checked against its record). One-off diagnostics live in ``benchmarks.diagnostics``.
"""
