"""recbole-mind: MIND (Multi-Interest Network with Dynamic Routing) for RecBole.

Importing the package registers MIND with RecBole (``recbole_mind.integration.registration``) and installs
the shims RecBole 1.2.1 needs on today's numpy, torch and setuptools (``recbole_mind.integration.compat``);
nothing else changes until RecBole's own code runs. The run path (``run_recbole_mind``, which
pulls in RecBole's trainer and data pipeline) is imported on first use, so that importing a
layer or the model does not load it.
"""

from typing import Any

from recbole_mind.integration import compat, registration
from recbole_mind.model.mind import MIND

compat.install()
registration.register()

__version__ = "0.1.0"
__all__ = ["MIND", "run_recbole_mind", "__version__"]


def __getattr__(name: str) -> Any:
    # PEP 562: `from recbole_mind import run_recbole_mind` imports the run path only then.
    if name == "run_recbole_mind":
        from recbole_mind.run.quick_start import run_recbole_mind

        return run_recbole_mind
    raise AttributeError(f"module 'recbole_mind' has no attribute {name!r}")
