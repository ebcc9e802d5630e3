from iam_foundry.cli.app import cli

cli(prog_name="iam-foundry")
