"""The training engine every run mode shares: data and model from a config (``pipeline``),
the trainer that times its epochs, checkpoints (``checkpoint``), the run's log, memory estimates.
"""
