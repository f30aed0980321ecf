"""What pop3doctor knows: causes and remedies, provider notes, server wordings.

Everything here is data (TOML files under ``data/``) plus small pure functions
over it.  Nothing in this package touches the network, the clock or any file
other than its own data files.
"""
