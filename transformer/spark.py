"""The public name of the Spark integration (``transformer.engines.spark``)."""
from .engines.spark import transform

__all__ = ["transform"]
