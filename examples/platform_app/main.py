#!/usr/bin/env python3
"""A platform team's own CDKTF app: its own stack and provider, and two ML platforms' IAM beside them.

    cd examples/platform_app && python main.py      # writes cdktf.out/stacks/ml-platforms/cdk.tf.json

The provider is written here with a plain override to keep the app fast; the typed binding
(`from cdktf_cdktf_provider_aws.provider import AwsProvider; AwsProvider(self, "aws", region=...)`)
works the same. PlatformIam needs no iam-foundry stack, and prefixes its Terraform names with its
construct id (`ml_user`, `ml_node_role`, ...), so two of them fit in one stack.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cdktf import App, LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # a bare checkout; installed, iam_foundry_modules
try:
    from iam_foundry_modules.platform import PlatformIam
except ImportError:
    from modules.platform import PlatformIam

REGION = "eu-west-1"


class MlPlatforms(TerraformStack):
    def __init__(self, scope: Construct, name: str):
        super().__init__(scope, name)
        LocalBackend(self, path="terraform.tfstate")
        self.add_override("terraform.required_providers", {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}})
        self.add_override("provider", {"aws": [{"region": REGION}]})
        ml = PlatformIam(self, "ml", profile="nextai", addenda=["clone-disk", "s3-access"], region=REGION,
                         tags={"Team": "ml-platform"})
        anyscale = PlatformIam(self, "anyscale", profile="anyscale", region=REGION, outputs=True,
                               parameters={"cloud_id": "cld_example", "bucket": "acme-anyscale"})
        # The construct's values are Terraform references the app can use in its own blocks.
        TerraformOutput(self, "ml_user_arn", value=ml.outputs["user_arn"])
        TerraformOutput(self, "anyscale_role", value=anyscale.outputs["role_name"])


def build(outdir: str = "cdktf.out") -> App:
    app = App(outdir=outdir)
    MlPlatforms(app, "ml-platforms")
    return app


if __name__ == "__main__":
    build(os.environ.get("CDKTF_OUTDIR", "cdktf.out")).synth()
