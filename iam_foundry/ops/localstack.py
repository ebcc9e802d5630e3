"""The embedded default target: a LocalStack (host mode, no Docker) the project starts and stops itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

from iam_foundry.config.target import LOCALSTACK_SERVICES as SERVICES
from iam_foundry.config.target import boto_credentials
from iam_foundry.errors import FoundryError, Problem


class LocalStackError(FoundryError):
    pass


def health(endpoint: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def is_ready(endpoint: str) -> bool:
    status = health(endpoint)
    if not status:
        return False
    services = status.get("services", {})
    return all(services.get(name) in ("available", "running") for name in SERVICES)


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "localstack.pid"


def start(endpoint: str, state_dir: Path, timeout: float = 120.0) -> bool:
    """Start LocalStack unless one already answers; returns True when this call started it.

    state_dir keeps its pid file, log and volume (the CLI uses .iam-foundry/localstack beside the config).
    """
    if is_ready(endpoint):
        return False
    try:
        import localstack  # noqa: F401  (installed as a dev dependency)
    except ImportError:
        raise LocalStackError(Problem("localstack.enabled", "LocalStack is not installed in this environment",
                                      "run `make setup` (installs dev dependencies) or set localstack.enabled = false")) from None
    url = urlparse(endpoint)
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "localstack.log"
    env = dict(os.environ,
               GATEWAY_LISTEN=f"{url.hostname}:{url.port or 4566}",
               SERVICES=",".join(SERVICES),
               DNS_ADDRESS="0",
               DISABLE_EVENTS="1",
               SKIP_SSL_CERT_DOWNLOAD="1",
               LOCALSTACK_VOLUME_DIR=str(state_dir / "volume"))
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "localstack.runtime.main"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(state_dir).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if is_ready(endpoint):
            return True
        time.sleep(0.5)
    stop(state_dir)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    raise LocalStackError(Problem("localstack", f"did not become ready at {endpoint}:\n{tail}",
                                  f"see {log_path}; is port {url.port} taken?"))


def stop(state_dir: Path) -> bool:
    """Stop the LocalStack this project started (by its pid file); returns True when one was stopped."""
    pid_file = _pid_file(state_dir)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(60):
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.25)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def boto_client(service: str, endpoint: str, region: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=region, **boto_credentials())


def ensure_state_bucket(endpoint: str, bucket: str, region: str, denied_principals: Sequence[str] = ()) -> list[str]:
    """Create and harden the state bucket on LocalStack (idempotent); returns what was done."""
    from iam_foundry.ops.bootstrap import bootstrap_state_bucket

    return bootstrap_state_bucket(boto_client("s3", endpoint, region), bucket, region, denied_principals=denied_principals)
