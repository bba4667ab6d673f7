"""The kit's error tree and the exit codes the CLI maps them to.

Every error a user can cause (bad config, bad recipe, unreachable device, missing plugin)
is a :class:`KitError`; the CLI prints its message without a traceback and exits with the
class's documented ``exit_code``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class KitError(Exception):
    """Base of every error the kit reports to a user. ``str()`` is the message to print."""

    exit_code = 1


class ConfigError(KitError):
    """A configuration, profile or recipe file is invalid. Carries every problem found."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        text = (
            message
            if not self.problems
            else message + "\n" + "\n".join(f"  {p}" for p in self.problems)
        )
        super().__init__(text)


class PluginError(KitError):
    """A plugin is missing, broken, or does not honour the hook contract."""

    exit_code = 3


class BusError(KitError):
    """The NATS bus cannot be started or reached (port taken, server down, no JetStream)."""

    exit_code = 4


class RuntimeNotRunning(BusError):
    """No runtime answered on the control API (is `kit up` running?)."""

    exit_code = 5


class AdapterError(KitError):
    """A device-side failure, converted at the adapter boundary."""

    exit_code = 6


class DeviceTimeout(AdapterError, TimeoutError):
    """The device did not answer within its timeout."""


class DeviceRejected(AdapterError):
    """The device answered with an error (Modbus exception code or OPC UA status)."""

    def __init__(self, message: str, code: int | str) -> None:
        self.code = code
        super().__init__(message)


#: Exit codes documented in docs/cli.md; kept here so the CLI and docs agree.
EXIT_CODES = {
    0: "success",
    1: "general error",
    2: "invalid configuration, profile or recipe (every problem listed as file:line: field: message)",
    3: "plugin missing or broken",
    4: "bus unavailable (port taken, server unreachable, connection refused, authorization violation, TLS failure)",
    5: "no runtime answered on the control API",
    6: "device error (unreachable, timeout, rejected)",
    7: "install or upgrade failed to start and was rolled back (kit.recipes.engine.InstallError)",
    8: "the data directory is in use by another running kit runtime (kit.datadir.DataDirInUse)",
    130: "interrupted (Ctrl-C)",
}
