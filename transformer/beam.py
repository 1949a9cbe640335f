"""The public name of the Apache Beam integration (``transformer.engines.beam``)."""
from .engines.beam import Transform

__all__ = ["Transform"]
