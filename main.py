#!/usr/bin/env python3
"""The CDKTF app: `cdktf synth` / `cdktf deploy` run this file (see cdktf.json).

Reads the config named by IAM_FOUNDRY_CONFIG (default: iam-foundry.toml), validates it and every
policy document, and synthesizes one stack per deployment. A bad input stops it before anything is
written.
"""

from __future__ import annotations

import os
import sys

from iam_foundry.errors import FoundryError


def main() -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from iam_foundry.config import load_config

    try:
        config = load_config(os.environ.get("IAM_FOUNDRY_CONFIG"))
        from iam_foundry.stacks import build_app

        app = build_app(config, outdir=os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    except FoundryError as err:
        print("iam-foundry: invalid input, nothing synthesized:", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
