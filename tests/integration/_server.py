"""A real ``govledger serve`` in a subprocess (uvicorn on 127.0.0.1 and a free port), for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import httpx

from ledger.bootstrap import bootstrap
from ledger.config import LedgerConfig
from ledger.serve import Tokens

ROOT = Path(__file__).resolve().parents[2]
#: Every wait in these tests is bounded.
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    out["PYTHONPATH"] = str(ROOT)
    out.update(extra)
    return out


def add_token(config: LedgerConfig, name: str, role: str) -> str:
    with bootstrap(config).ledger() as ledger:
        return Tokens.of(ledger).add(name, role)


class Server:
    """
    ``python -m ledger serve`` on ``config``'s store; ``stop()`` sends SIGTERM and waits.
    """

    def __init__(self, config: LedgerConfig, *args: str, **env_extra: str) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger",
                "--store",
                config.store,
                "--projection",
                config.projection,
                "serve",
                "--port",
                str(self.port),
                *args,
            ],
            cwd=ROOT,
            env=env(**env_extra),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = f"server exited {self.proc.returncode}: {self.output()}"
                raise RuntimeError(msg)
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        msg = f"server did not start: {self.output()}"
        raise RuntimeError(msg)

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._log.close()
