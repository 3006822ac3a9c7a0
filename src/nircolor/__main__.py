"""``python -m nircolor ...`` runs the ``nircolor`` command."""

from .cli import main

main()
