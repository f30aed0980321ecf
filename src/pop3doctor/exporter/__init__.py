"""``pop3doctor exporter``: Prometheus metrics of POP3 servers, in the style of blackbox_exporter.

Prometheus asks ``/probe?target=host:port&module=...``; each request runs one
probe (a server check without login, or the diagnosis of one account from
accounts.toml) and answers that probe's metrics only, from a registry made
for the request.  ``/metrics`` holds the exporter's own metrics.

- `request`: the query checked (target, module, account) and the time budget.
- `metrics`: a probe's result turned into a `prometheus_client` registry.
- `app`: the Starlette app (routes, the bound on concurrent probes).
- `listen`: ``--listen HOST:PORT`` parsed and bound.
"""
