"""Skip synthesis when nothing it reads has changed.

The fingerprint covers every input of a synth: the config file's parsed content, every file under
policy_json/, the user's custom policy files, the project's own source (so a code change is never
served stale) and the project version. It is stored beside the output; a synth whose fingerprint
matches and whose stack files are all present is skipped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from iam_foundry import __version__
from iam_foundry.config.model import FoundryConfig
from iam_foundry.errors import FoundryError
from iam_foundry.files import read_json
from iam_foundry.paths import PACKAGE_DIR, POLICY_ROOT, SOURCE_ROOT, constructs_dir

# Wherever they are (source tree or installed): the package, the constructs, the profiles, main.py.
SOURCES: tuple[Path, ...] = (PACKAGE_DIR, constructs_dir(), POLICY_ROOT) + ((SOURCE_ROOT / "main.py",) if SOURCE_ROOT else ())
STAMP = ".iam-foundry-synth.json"


def _files(config: FoundryConfig) -> list[Path]:
    files = [p for source in SOURCES for p in ([source] if source.is_file() else source.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts]
    for deployment in config.deployments:
        files += [Path(f) for f in (deployment.policy_file, *deployment.addenda_files) if f]
    return sorted(set(files))


def fingerprint(config: FoundryConfig, stacks: list[str] | None = None) -> str:
    digest = hashlib.sha256()
    digest.update(f"{__version__}\n{sorted(stacks) if stacks else 'all'}\n".encode())
    # The parsed config (dataclasses) rather than the file: comments and formatting do not matter.
    digest.update(repr((config.region, config.localstack, config.backend, config.deployments)).encode())
    for path in _files(config):
        digest.update(str(path).encode())
        digest.update(path.read_bytes() if path.exists() else b"(missing)")
    return digest.hexdigest()


def is_fresh(outdir: Path, key: str) -> bool:
    stamp = outdir / STAMP
    try:
        recorded = read_json(stamp)
    except FoundryError:  # missing or damaged stamp: synthesize
        return False
    return recorded.get("fingerprint") == key and all(
        (outdir / "stacks" / name / "cdk.tf.json").is_file() for name in recorded.get("stacks", []))


def record(outdir: Path, key: str, stacks: list[str]) -> None:
    (outdir / STAMP).write_text(json.dumps({"fingerprint": key, "stacks": stacks}, indent=2) + "\n")
