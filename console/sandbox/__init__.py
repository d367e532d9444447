"""The Kaphila sandbox: a faithful local server of the Kaphila API.

It serves the documented endpoints, simulates each call's lifecycle by
scenario number, delivers webhooks at-least-once, injects faults on request
and exposes an inspection and control API under ``/sandbox/``. It is the
console's default profile and the peer of every test.
"""

from console.sandbox.config import Account, ConfigError, SandboxConfig
from console.sandbox.faults import FaultConfig
from console.sandbox.server import Sandbox, SandboxThread

__all__ = ["Account", "ConfigError", "FaultConfig", "Sandbox", "SandboxConfig", "SandboxThread"]
