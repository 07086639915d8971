"""A real Secret Service for tests: gnome-keyring-daemon on a private D-Bus session bus.

Each instance owns a HOME (so its own ``login`` keyring and keyring config), a ``dbus-daemon``
and a ``gnome-keyring-daemon --unlock`` fed the password on stdin, all stopped by PID. Nothing
here fakes a backend: ``keyring`` picks ``SecretService.Keyring`` exactly as on a desktop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRE_KEYRING = os.environ.get("SECRETSMGR_REQUIRE_KEYRING") == "1"
DAEMON = shutil.which("gnome-keyring-daemon")


def need_daemon() -> str:
    """The daemon's path; skip (or, where CI requires it, fail) when it is not installed."""
    if DAEMON is None or shutil.which("dbus-daemon") is None:
        message = "gnome-keyring-daemon or dbus-daemon missing: apt-get install gnome-keyring"
        if REQUIRE_KEYRING:
            pytest.fail(f"SECRETSMGR_REQUIRE_KEYRING=1 but {message}")
        pytest.skip(message)
    return DAEMON


@dataclass
class SecretService:
    """One running keyring session; ``env`` is what a client process needs to reach it."""

    home: Path
    password: str = "test-pass"
    env: dict[str, str] = field(default_factory=dict)
    _procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self) -> SecretService:
        """Start the bus and the daemon; return once the Secret Service name is owned."""
        daemon = need_daemon()
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DBUS_", "PYTHON_KEYRING", "SOPS_AGE_", "SECRETSMGR_"))
        }
        env.update(
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_RUNTIME_DIR=str(self.home / "run"),
        )
        (self.home / "run").mkdir(mode=0o700, exist_ok=True)
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nosyslog", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        self._procs.append(bus)
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        keyring = subprocess.Popen(
            [daemon, "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        self._procs.append(keyring)
        assert keyring.stdin is not None
        keyring.stdin.write(self.password)
        keyring.stdin.close()
        self.env = env
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [
                    "dbus-send",
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if "boolean true" in probe.stdout:
                return self
            time.sleep(0.05)
        self.stop()
        pytest.fail("gnome-keyring-daemon did not take the org.freedesktop.secrets name")

    def stop(self) -> None:
        """Stop the daemon, then the bus, by PID."""
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()

    def secret_tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        """libsecret's own client against the same keyring: an independent cross-check."""
        return subprocess.run(
            ["secret-tool", *args], env=self.env, capture_output=True, text=True, check=False
        )
