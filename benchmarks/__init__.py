"""Benchmarks: pop3doctor against its peers on one local Dovecot.

Run with ``python -m benchmarks retrieve`` or ``python -m benchmarks fetch``
(``./dev bench`` runs both).  Figures are printed, never asserted: the test
suite only checks that a tiny run completes (tests/test_benchmarks_smoke.py).
All traffic goes to the loopback Dovecot the benchmark starts itself.
"""
