"""recbole-mind: MIND (Multi-Interest Network with Dynamic Routing) for RecBole.

Importing the package registers MIND with RecBole (``recbole_mind.registration``) and installs
the shims RecBole 1.2.1 needs on today's numpy, torch and setuptools (``recbole_mind.compat``);
nothing else changes until RecBole's own code runs.
"""

from recbole_mind import compat, registration
from recbole_mind.mind import MIND

compat.install()
registration.register()

from recbole_mind.quick_start import run_recbole_mind  # noqa: E402  (needs the registration)

__version__ = "0.1.0"
__all__ = ["MIND", "run_recbole_mind", "__version__"]
