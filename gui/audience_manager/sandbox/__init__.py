"""Simulated platforms with the real paths, bodies, status codes and limits.

They back the demo workspace and the tests.
"""

from audience_manager.sandbox.clock import ManualClock
from audience_manager.sandbox.faults import DroppedConnection, Faults
from audience_manager.sandbox.sandbox import Sandbox, SandboxCredentials, SandboxLimits

__all__ = ["DroppedConnection", "Faults", "ManualClock", "Sandbox", "SandboxCredentials", "SandboxLimits"]
