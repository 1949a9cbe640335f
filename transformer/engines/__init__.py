"""Running a destination at scale: worker processes for ``transformer run --jobs`` (parallel),
Apache Beam (beam) and Spark (spark). Beam and Spark are optional extras; nothing in the core
imports this package. ``transformer.beam`` and ``transformer.spark`` are their public names."""
