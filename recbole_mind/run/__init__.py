"""The run path: command line, quick start, data-and-model pipeline, hyper-parameter search,
checkpoints (read through ``safe_load``), the run's log.
"""
