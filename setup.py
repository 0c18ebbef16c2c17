from setuptools import setup

setup(
    name="recbole-mind",
    version="0.1.0",
    description="MIND (Multi-Interest Network with Dynamic Routing) as a RecBole plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=[
        "recbole_mind", "recbole_mind.model", "recbole_mind.settings", "recbole_mind.data",
        "recbole_mind.diversity", "recbole_mind.integration", "recbole_mind.training", "recbole_mind.protocols", "recbole_mind.run",
        "recbole_mind.serving", "recbole_mind.properties",
    ],
    # The YAML defaults live in the top-level properties/ folder of the repository and are
    # installed inside the package, so they are found the same way from a checkout or a wheel.
    package_dir={"recbole_mind.properties": "properties"},
    package_data={"recbole_mind.properties": ["*.yaml", "hyper/*.yaml", "presets/*.yaml", "protocols/*.yaml"]},
    install_requires=[
        # Install torch first (README): a bare requirement with no torch present pulls a
        # multi-GB CUDA build. Any torch >= 2.0 works; 2.13.0 (CPU) is what we test.
        "torch>=2.0",
        # Our compat layer targets exactly this release's breakages.
        "recbole==1.2.1",
        # pandas 3's copy-on-write turns RecBole's chained `df[f].fillna(..., inplace=True)`
        # into a silent no-op, leaving NaN in sequence and feature fields. The calls sit deep
        # in RecBole's data pipeline, so a pin is the honest fix, not a shim.
        "pandas>=1.3,<3",
        # compat's stand-in for pkg_resources (ray's imports) is built on it.
        "packaging>=20",
    ],
    entry_points={"console_scripts": ["recbole-mind = recbole_mind.run.cli:main"]},
    extras_require={
        "tune": ["hyperopt>=0.2.7"],
        "bench": ["matplotlib>=3.5", "scipy>=1.7"],  # scipy: the t rule (benchmarks/stats.py); recbole needs it too
        "retrieval": ["faiss-cpu>=1.7.4"],
        "test": ["pytest>=7", "hypothesis>=6", "hyperopt>=0.2.7", "matplotlib>=3.5", "faiss-cpu>=1.7.4", "scipy>=1.7"],
    },
)
