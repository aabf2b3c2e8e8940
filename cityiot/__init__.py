"""cityiot: the command line, settings and the local runtime of the platform."""
