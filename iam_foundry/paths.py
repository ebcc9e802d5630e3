"""The one place that knows where iam-foundry's data lives and where its outputs go.

It runs two ways:
- from the source tree (a checkout: `policy_json/`, `modules/`, `terraform/` beside `iam_foundry/`);
- installed from the wheel, where pyproject.toml maps those folders into the package:
  `policy_json/` -> `iam_foundry/policy_json/`, `terraform/mirror.tfrc` -> `iam_foundry/terraform/`, and the
  constructs in `modules/` -> the top-level package `iam_foundry_modules` (a package named `modules`
  in site-packages would clash with any other project's `modules`).
Data is looked up in the package first (importlib.resources), then in the source tree.

Outputs never go into the package: they go beside the config file, which defaults to
`./iam-foundry.toml` in the current folder.
"""

from __future__ import annotations

from importlib import resources
from importlib.util import find_spec
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The checkout this package sits in, or None when installed (site-packages has no main.py beside it).
SOURCE_ROOT: Path | None = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "main.py").is_file() else None

CONFIG_NAME = "iam-foundry.toml"
DEFAULT_CONFIG = Path(CONFIG_NAME)  # relative: the current folder
OUTDIR_NAME = "cdktf.out"
STATE_DIR_NAME = ".iam-foundry"  # handoff file, LocalStack pid and logs


def data_dir(name: str) -> Path:
    """A data folder shipped with the package (`policy_json`, `terraform`), else the source tree's."""
    packaged = resources.files("iam_foundry").joinpath(name)
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    if SOURCE_ROOT is not None:
        return SOURCE_ROOT / name
    raise FileNotFoundError(f"iam-foundry's '{name}' data folder is missing from {PACKAGE_DIR}: reinstall the package")


POLICY_ROOT = data_dir("policy_json")
MIRROR_CONFIG = data_dir("terraform") / "mirror.tfrc"

# Installed (wheel or `pip install -e .`) the constructs are `iam_foundry_modules`; a bare checkout run
# from its root imports them as `modules`.
CONSTRUCTS_PACKAGE = "iam_foundry_modules" if find_spec("iam_foundry_modules") else "modules"


def constructs_dir() -> Path:
    spec = find_spec(CONSTRUCTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"iam-foundry's constructs ({CONSTRUCTS_PACKAGE}) are not importable: reinstall the package")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def beside_config(config_path: Path | None) -> Path:
    """The folder outputs go to: the config file's folder (the current folder without one)."""
    return Path(config_path).parent if config_path else Path(".")


def default_outdir(config_path: Path | None) -> Path:
    return beside_config(config_path) / OUTDIR_NAME


def state_dir(config_path: Path | None) -> Path:
    return beside_config(config_path) / STATE_DIR_NAME
