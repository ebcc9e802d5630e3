"""`--outdir` is replaced on every synth: only ever a folder iam-foundry wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from iam_foundry.cli.app import cli
from iam_foundry.ops.synth import STAGING_OWNER
from iam_foundry.paths import SOURCE_ROOT as PROJECT_ROOT
from tests.cli.test_app import GOOD, write_toml


def synth_into(config: Path, outdir: Path | str):
    return CliRunner().invoke(cli, ["--config", str(config), "--outdir", str(outdir), "synth"])


def one_line_refusal(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip().startswith("-")]
    assert len(lines) == 1 and all(word in lines[0] for word in words), result.output


def test_a_folder_of_the_users_is_never_replaced(tmp_path):
    config = write_toml(tmp_path / "c.toml", GOOD)
    notes = tmp_path / "work" / "notes"
    notes.mkdir(parents=True)
    (notes / "ideas.md").write_text("mine")
    one_line_refusal(synth_into(config, notes), "--outdir", "did not write")
    assert (notes / "ideas.md").read_text() == "mine"
    assert sorted(p.name for p in notes.parent.iterdir()) == ["notes"]  # no staging left either


def test_a_file_is_never_moved_aside(tmp_path):
    config = write_toml(tmp_path / "c.toml", GOOD)
    target = tmp_path / "work" / "report.txt"
    target.parent.mkdir()
    target.write_text("keep")
    one_line_refusal(synth_into(config, target), "not a folder")
    assert target.read_text() == "keep"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.txt"]


@pytest.mark.parametrize("which", ["project", "project parent", "config folder", "config folder parent"])
def test_project_and_config_folders_and_their_parents_are_refused(tmp_path, which):
    home = tmp_path / "cfg" / "here"
    home.mkdir(parents=True)
    config = write_toml(home / "c.toml", GOOD)
    outdir = {"project": PROJECT_ROOT, "project parent": PROJECT_ROOT.parent,
              "config folder": home, "config folder parent": home.parent}[which]
    before = sorted(p.name for p in outdir.iterdir())
    one_line_refusal(synth_into(config, outdir), "--outdir", "would delete it")
    assert sorted(p.name for p in outdir.iterdir()) == before


def test_dot_in_the_project_is_refused(tmp_path):
    config = write_toml(tmp_path / "c.toml", GOOD)
    result = subprocess.run([sys.executable, "-m", "iam_foundry", "--config", str(config), "--outdir", ".", "synth"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "the project folder" in result.stderr and "Traceback" not in result.stderr
    assert (PROJECT_ROOT / "iam_foundry" / "ops" / "synth.py").is_file()


def test_missing_empty_and_previous_output_are_fine(tmp_path):
    config = write_toml(tmp_path / "c.toml", GOOD)
    empty = tmp_path / "empty"
    empty.mkdir()
    for outdir in (tmp_path / "new" / "out", empty):
        assert synth_into(config, outdir).exit_code == 0
        assert (outdir / "stacks" / "nextai" / "cdk.tf.json").is_file()
    # A previous output is replaced by the next synth.
    changed = write_toml(tmp_path / "c2.toml", GOOD.replace('["clone-disk"]', '["open-ports"]'))
    result = synth_into(changed, empty)
    assert result.exit_code == 0, result.output
    assert "ModifyInstanceAttribute" in (empty / "stacks" / "nextai" / "cdk.tf.json").read_text()


def test_staging_left_by_an_interrupted_synth_is_cleaned_up(tmp_path):
    config = write_toml(tmp_path / "c.toml", GOOD)
    outdir = tmp_path / "out"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / ".out.abc123de"  # what mkdtemp made for a run that was killed
    (orphan / "stacks").mkdir(parents=True)
    (orphan / STAGING_OWNER).write_text(str(dead.pid))
    old_style = tmp_path / ".out.zz9_zz9z"  # no owner file (an older version's), long ago
    old_style.mkdir()
    past = time.time() - 3600
    os.utime(old_style, (past, past))
    live = tmp_path / ".out.livelive"  # a concurrent run's: kept
    live.mkdir()
    (live / STAGING_OWNER).write_text(str(os.getpid()))
    bystander = tmp_path / ".out.notes"  # not a name synth makes
    bystander.mkdir()
    assert synth_into(config, outdir).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")) == [".out.livelive", ".out.notes"]


def test_end_jsii_ends_cdktfs_node_process_after_synth(tmp_path):
    """The CLI ends jsii's node process once synthesis is over (up/plan/destroy then only run terraform)."""
    config = write_toml(tmp_path / "c.toml", GOOD)
    script = (
        "import os, subprocess, sys\n"
        "from iam_foundry.config.load import load_config\n"
        "from iam_foundry.ops.synth import end_jsii, synth\n"
        "def children():\n"
        "    out = subprocess.run(['ps', '--ppid', str(os.getpid()), '-o', 'args='], capture_output=True, text=True).stdout\n"
        "    return [line for line in out.splitlines() if 'jsii' in line]\n"
        "assert end_jsii() is False  # nothing synthesized yet: nothing to end\n"
        f"synth(load_config({str(config)!r}), {str(tmp_path / 'out')!r})\n"
        "before = children()\n"
        "ended = end_jsii()\n"
        "print(len(before), ended, len(children()))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True", "0"]
    assert "Traceback" not in result.stderr  # jsii's own atexit hook does not run a second time
