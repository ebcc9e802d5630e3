"""Synthesis into cdktf.out, all or nothing.

The app is synthesized into a fresh sibling folder and swapped in only when it succeeded, so a bad
input never leaves a half-written cdktf.out behind (the last good one stays). Terraform's working
files (.terraform, the lock file) are carried over so stacks need no re-init.

Only a folder this project wrote (it holds cache.STAMP) is ever replaced: the outdir is a user
setting, and replacing means deleting. Staging folders an interrupted run left behind are removed by
the next one.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from iam_foundry.config.model import FoundryConfig
from iam_foundry.errors import FoundryError, Problem
from iam_foundry.ops import cache
from iam_foundry.paths import SOURCE_ROOT, default_outdir

KEEP_BETWEEN_SYNTHS = (".terraform", ".terraform.lock.hcl")
STAGING_OWNER = ".iam-foundry-staging-pid"  # in a staging folder: the pid of the run writing it
ORPHAN_AGE = 300  # seconds: a staging folder without owner file this old is left over, not being set up


def _is_output(folder: Path) -> bool:
    """A previous iam-foundry output: it carries the stamp every synth writes."""
    return (folder / cache.STAMP).is_file()


def check_outdir(outdir: Path, config: FoundryConfig | None = None) -> Path:
    """The outdir, resolved, if a synth may replace it; else one Problem saying why not.

    Missing or empty is fine (created); a previous output is replaced; anything else is the
    user's and is never touched. The project and the config's folder (and their parents) are
    refused even when empty-looking, since replacing them would take the project with them.
    """
    resolved = Path(outdir).expanduser().resolve()
    where = f"--outdir {outdir}"
    fix = "pass a folder of its own, e.g. --outdir cdktf.out"
    protected = {SOURCE_ROOT.resolve(): "the project folder"} if SOURCE_ROOT else {}
    if config is not None and config.source is not None:
        protected.setdefault(Path(config.source).resolve().parent, "the config file's folder")
    for folder, what in protected.items():
        if resolved == folder or resolved in folder.parents:
            label = what if resolved == folder else f"a parent of {what}"
            raise FoundryError(Problem(where, f"is {label}: synth replaces its outdir, which would delete it", fix))
    if resolved.exists():
        if not resolved.is_dir():
            raise FoundryError(Problem(where, "exists and is not a folder: refusing to replace it", fix))
        if any(resolved.iterdir()) and not _is_output(resolved):
            raise FoundryError(Problem(
                where, f"is a folder iam-foundry did not write (no {cache.STAMP}): refusing to replace it",
                f"{fix}, or empty or remove that folder yourself"))
    return resolved


def _owner_alive(staging: Path) -> bool:
    try:
        pid = int((staging / STAGING_OWNER).read_text())
    except (OSError, ValueError):  # no owner file: an older run's, or one being set up right now
        try:
            return time.time() - staging.stat().st_mtime < ORPHAN_AGE
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_leftovers(outdir: Path) -> list[Path]:
    """Remove what interrupted synths into this outdir left beside it; returns what was removed.

    Staging folders (.<name>.XXXXXXXX, from mkdtemp) are removed when the run that made them is
    gone; a retired previous output (.<name>.XXXXXXXX.old, or .<name>.old from older versions)
    only when it carries the output stamp.
    """
    pattern = re.compile(rf"^\.{re.escape(outdir.name)}\.(?:([a-z0-9_]{{8}})(\.old)?|old)$")
    removed = []
    for path in outdir.parent.glob(f".{outdir.name}.*"):
        match = pattern.match(path.name)
        if not match or path.is_symlink() or not path.is_dir():
            continue
        staging = bool(match.group(1)) and not match.group(2)
        if (staging and not _owner_alive(path)) or (not staging and (_is_output(path) or not any(path.iterdir()))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


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
    outdir = check_outdir(outdir, config)
    key = cache.fingerprint(config, stacks)
    wanted = sorted(stacks) if stacks else sorted(d.name for d in config.deployments)
    if use_cache and cache.is_fresh(outdir, key):
        return wanted
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from iam_foundry.emit.stack import build_app  # imports cdktf: only when actually synthesizing

    outdir.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(outdir)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; cdktf.out is an ordinary folder
    (staging / STAGING_OWNER).write_text(str(os.getpid()))
    try:
        app = build_app(config, outdir=str(staging), stacks=stacks)
        app.synth()
        names = sorted(p.name for p in (staging / "stacks").iterdir())
        (staging / STAGING_OWNER).unlink()
        # Stamped before the swap, so the output is recognisable as ours from the moment it exists.
        cache.record(staging, key, names)
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
            retired = staging.with_name(f"{staging.name}.old")  # unique: never someone else's folder
            outdir.rename(retired)
            staging.rename(outdir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(outdir)
        return names
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def end_jsii() -> bool:
    """End jsii's node process (cdktf's JavaScript side) when synthesis is over for this process.

    It would otherwise live until exit, holding ~100 MiB beside every terraform the CLI then runs,
    and a Ctrl-C (sent to the whole foreground process group) would kill it under jsii, which then
    prints a BrokenPipe traceback at exit. Only for the CLI: no cdktf call works in this process
    afterwards. Returns True when a process was ended."""
    if "jsii" not in sys.modules:
        return False  # the synth cache was fresh: cdktf was never imported
    try:
        from jsii._kernel import Kernel
        from jsii._utils import Singleton

        if Kernel not in Singleton._instances:
            return False
        Kernel().provider._process.stop()  # jsii's own shutdown (its atexit hook), done now
        return True
    except Exception:  # noqa: BLE001 - jsii internals; at worst the process lives until exit, as before
        return False
