"""iam-foundry: the AWS IAM setup ML platforms ask for, as CDKTF code."""

__version__ = "0.1.0"
