"""A throwaway Prometheus Alertmanager (the Debian package ``prometheus-alertmanager``; ``make
tools-apt`` installs it) on a free loopback port, in a temporary directory, with a receiver that
goes nowhere: tests post alerts to it and read them back through ``/api/v2/alerts``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, List, Optional


def binary() -> Optional[str]:
    return os.environ.get("FERRULE_ALERTMANAGER") or shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AlertmanagerServer:
    def __init__(self, exe: str) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="ferrule-am-")
        cfg = os.path.join(self.dir, "alertmanager.yml")
        with open(cfg, "w") as f:
            f.write("route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n")
        self.proc = subprocess.Popen(
            [exe, f"--config.file={cfg}", f"--storage.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"alertmanager did not become ready on port {self.port}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alerts(self) -> List[Any]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as r:
            out: List[Any] = json.loads(r.read())
            return out

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
