"""``python -m pop3doctor`` is the ``pop3doctor`` command."""

from pop3doctor.cli.entry import main

main()
