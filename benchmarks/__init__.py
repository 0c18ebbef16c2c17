"""The benchmark and its tools, run from the repository's root as ``python -m benchmarks.NAME``.

The benchmark (``compare`` is its command line): ``rows`` (the rows and protocols), ``run`` (one
training run in a fresh process, and what it ran on), ``summary`` (mean ± std, the noise rule's
targets, and the anomaly-mode and epoch-cost records they quote) and ``report`` (the page and its
plots). Tools: ``validation_grid`` (validation-only grids), ``epoch_cost`` (epochs timed in turn),
``scale``, ``retrieval``, ``frontier``, and ``figures`` and ``tuning_verdicts`` (every quoted
figure and verdict checked against its record).
"""
