"""YAML defaults shipped with recbole-mind, installed as ``recbole_mind.properties``."""
