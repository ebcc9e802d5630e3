"""Synthesis into cdktf.out, all or nothing.

The app is synthesized into a fresh sibling folder and swapped in only when it succeeded, so a bad
input never leaves a half-written cdktf.out behind (the last good one stays). Terraform's working
files (.terraform, the lock file) are carried over so stacks need no re-init.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from . import cache
from .config import FoundryConfig
from .paths import default_outdir
KEEP_BETWEEN_SYNTHS = (".terraform", ".terraform.lock.hcl")


def stack_dir(outdir: Path, stack: str) -> Path:
    return outdir / "stacks" / stack


def synth(config: FoundryConfig, outdir: Path | None = None, stacks: list[str] | None = None,
          use_cache: bool = True) -> list[str]:
    """Synthesize the chosen deployments (default: all); returns the stack names written.

    outdir defaults to cdktf.out beside the config file.

    When nothing the synth reads has changed since the last one into this outdir, the output is
    already right and cdktf is not even imported.
    """
    # Absolute: cdktf's node process keeps the working folder it was started in.
    outdir = (Path(outdir) if outdir is not None else default_outdir(config.source)).absolute()
    key = cache.fingerprint(config, stacks)
    wanted = sorted(stacks) if stacks else sorted(d.name for d in config.deployments)
    if use_cache and cache.is_fresh(outdir, key):
        return wanted
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from .stacks import build_app  # imports cdktf: only when actually synthesizing

    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; cdktf.out is an ordinary folder
    try:
        app = build_app(config, outdir=str(staging), stacks=stacks)
        app.synth()
        names = sorted(p.name for p in (staging / "stacks").iterdir())
        if outdir.exists():
            for name in names:
                for keep in KEEP_BETWEEN_SYNTHS:
                    old = stack_dir(outdir, name) / keep
                    if old.exists():
                        shutil.move(str(old), str(stack_dir(staging, name) / keep))
            if stacks:  # a partial synth keeps the other stacks' folders
                for old_stack in (outdir / "stacks").iterdir() if (outdir / "stacks").exists() else []:
                    if old_stack.name not in names:
                        shutil.move(str(old_stack), str(staging / "stacks" / old_stack.name))
            retired = outdir.with_name(f".{outdir.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            outdir.rename(retired)
            staging.rename(outdir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(outdir)
        cache.record(outdir, key, names)
        return names
    finally:
        shutil.rmtree(staging, ignore_errors=True)
