#!/usr/bin/env python3
"""The CDKTF app: `cdktf synth` / `cdktf deploy` run this file (see cdktf.json).

Reads the config named by IAM_FOUNDRY_CONFIG (default: iam-foundry.toml), validates it and every
policy document, and synthesizes one stack per deployment into CDKTF_OUTDIR (set by the cdktf CLI;
default cdktf.out). A bad input stops it before anything is written; unchanged inputs are not
synthesized again (see iam_foundry/ops/cache.py; IAM_FOUNDRY_NO_CACHE=1 forces a synth).
"""

from __future__ import annotations

import os
import sys

from iam_foundry.errors import FoundryError


def main() -> int:
    from iam_foundry.config.load import load_config
    from iam_foundry.ops.synth import synth

    try:
        config = load_config(os.environ.get("IAM_FOUNDRY_CONFIG"))
        synth(config, outdir=os.environ.get("CDKTF_OUTDIR", "cdktf.out"), use_cache=not os.environ.get("IAM_FOUNDRY_NO_CACHE"))
    except FoundryError as err:
        print("iam-foundry: invalid input, nothing synthesized:", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
