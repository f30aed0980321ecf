"""pop3doctor: find out why POP3 receiving fails, and receive mail safely."""

__version__ = "0.1.0"
