"""A fault-injecting POP3 server: healthy, or failing the way real servers fail.

`LabServer` runs one `Scenario` (see `SCENARIOS`) on loopback; tests use it
in-process, ``pop3doctor lab`` serves it until Ctrl-C.
"""

from pop3doctor.lab.scenarios import SCENARIOS, Scenario, get_scenario
from pop3doctor.lab.server import LAB_PASSWORD, LabServer, ThreadedLab

__all__ = ["LAB_PASSWORD", "SCENARIOS", "LabServer", "Scenario", "ThreadedLab", "get_scenario"]
