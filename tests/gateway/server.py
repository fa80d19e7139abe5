"""Start the real gateway process for end-to-end tests, and stop it (and only it) afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    def __init__(self, config_text: str | None, tmp: Path, *, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"gateway-{self.port}.log"
        command = [sys.executable, "-m", "sluicegate", "serve", "--port", str(self.port), *args]
        if config_text is not None:
            config = tmp / f"config-{self.port}.yaml"
            config.write_text(config_text)
            command += ["--config", str(config)]
        clean = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_API_BASE"))
                 and k not in ("LITELLM_MASTER_KEY", "SLUICEGATE_CONFIG", "DATABASE_URL", "REDIS_URL", "REDIS_HOST")}
        self._log = self.log_path.open("wb")
        self.workdir = tmp / f"gw-{self.port}"  # its embedded SQLite file and spend journal land here
        self.workdir.mkdir(exist_ok=True)
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**clean, **(env or {})}, start_new_session=True, cwd=self.workdir)

    def wait_ready(self, timeout_s: float = 60.0) -> GatewayProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health/readiness", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway not ready after {timeout_s}s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode
