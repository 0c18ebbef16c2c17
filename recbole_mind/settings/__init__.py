"""Settings: how a run's keys are read (literals, YAML), checked and layered into RecBole's
``Config`` (``config.build_config``) before any data loads.
"""
