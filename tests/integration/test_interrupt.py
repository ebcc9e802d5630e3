"""Ctrl-C during a parallel `up` on LocalStack: terraform stops gracefully and releases its state lock,
so the next `up` goes through (no 'Error acquiring the state lock')."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.integration.conftest import localstack_config, run_cli, unique_names
from tests.integration.test_cli_up import toml_dump

pytestmark = pytest.mark.integration


def test_ctrl_c_during_apply_leaves_no_lock_and_the_next_up_succeeds(localstack_endpoint, iam, tmp_path, project_root):
    names = {stack: unique_names(f"it-int-{stack}") for stack in ("one", "two")}
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(localstack_config(localstack_endpoint, [{"name": s, "profile": "nextai", **n}
                                                                        for s, n in names.items()])))
    common = ["--config", str(config), "--outdir", str(tmp_path / "out")]
    # Its own process group, as a shell's foreground job: killpg is the terminal's Ctrl-C.
    process = subprocess.Popen([sys.executable, "-m", "iam_foundry", *common, "up", "--parallelism", "2",
                                "--handoff-file", str(tmp_path / "h.json")], cwd=project_root, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    lines: list[str] = []
    both_applying = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if all(any(f"{stack}: terraform apply" in seen for seen in lines) for stack in names):
                both_applying.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert both_applying.wait(300), "".join(lines)
        time.sleep(2)  # inside apply (its plan and apply take several seconds each here)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=300)
        reader.join(timeout=10)
        stderr = "".join(lines)
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert "stopped while running: one, two" in stderr and "locks released" in stderr
        assert "to continue, run `iam-foundry up -s one -s two`" in stderr

        again = run_cli(project_root, *common, "up", "--handoff-file", str(tmp_path / "h.json"))
        assert again.returncode == 0, again.stdout + again.stderr
        assert "state lock" not in again.stderr
        for stack in names:
            assert iam.get_role(RoleName=names[stack]["role_name"])
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        destroy = run_cli(project_root, *common, "destroy", "--yes")
    assert destroy.returncode == 0, destroy.stderr + destroy.stdout
