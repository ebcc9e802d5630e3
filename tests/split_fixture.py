"""A generated policy well over IAM's 6,144-character quota, for the auto-split tests."""

from __future__ import annotations

import json
from pathlib import Path


def write_oversized_policy(path: Path, statements: int = 45) -> Path:
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": f"ReadBucket{index:02d}", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:{{{{partition}}}}:s3:::platform-data-{index:02d}-{n}" for n in range(6)]}
        for index in range(statements)
    ]}
    path.write_text(json.dumps(document, indent=2))
    return path
