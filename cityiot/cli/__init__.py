"""The ``cityiot`` command line: one module per subcommand, each calling one capability."""
