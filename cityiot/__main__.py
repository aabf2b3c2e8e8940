"""``python -m cityiot`` runs the command line."""

from cityiot.cli.main import main

main()
