"""CDKTF constructs, one per IAM concept. They use cdktf core only (no typed provider binding)."""
