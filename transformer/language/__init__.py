"""Load time: mapping YAML in, compiled Python callables out.

Reading the YAML with its line numbers (yamlsource), checking it against the mapping schema
(loader, checks), and compiling each rule once (compiler with its vocabulary: directives,
conditions, steps, functions, dates, jmes; registry; codegen). Nothing here runs per event except
the functions it generates.
"""
