"""``python -m pop3doctor`` is the ``pop3doctor`` command."""

from pop3doctor.cli.main import main

main()
