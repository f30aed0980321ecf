"""Dovecot fixture (filled in by the foundation work)."""
