"""recbole-mind: MIND (Multi-Interest Network with Dynamic Routing) for RecBole."""

from recbole_mind.mind import MIND
from recbole_mind.quick_start import run_recbole_mind

__version__ = "0.1.0"
__all__ = ["MIND", "run_recbole_mind", "__version__"]
