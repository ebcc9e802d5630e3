"""With an access key in state, no command prints its secret, with or without -v; and before `up`,
output and handoff say that nothing is deployed."""

from __future__ import annotations

import pytest

from tests.integration.conftest import localstack_config, unique_names
from tests.integration.test_cli_up import run_cli, toml_dump

pytestmark = pytest.mark.integration


def test_no_command_prints_the_access_key_secret(localstack_endpoint, tmp_path, project_root):
    names = unique_names("it-leak")
    raw = localstack_config(localstack_endpoint, [{"name": "leak", "profile": "nextai", "create_access_key": True, **names}])
    config = tmp_path / "config.toml"
    config.write_text(toml_dump(raw))
    common = ["--config", str(config), "--outdir", str(tmp_path / "out")]
    handoff = ["--handoff-file", str(tmp_path / "handoff.json")]
    printed: dict[str, str] = {}

    def cli(*args: str, code: int = 0) -> str:
        result = run_cli(project_root, *common, *args)
        text = result.stdout + result.stderr
        assert result.returncode == code, f"{args}: {text}"
        printed[" ".join(args)] = text
        return text

    for verbose in ([], ["-v"]):  # before the first up: one clear line, no Terraform advice, no file
        for command in (["output"], ["handoff", *handoff]):
            text = cli(*verbose, *command, code=1)
            assert "nothing deployed yet" in text and "iam-foundry up -s leak" in text and "terraform init" not in text
    assert not (tmp_path / "handoff.json").exists()
    cli("plan")  # initializes the stack: an empty state is still "nothing deployed"
    assert "nothing deployed yet (its state has no outputs)" in cli("output", code=1)

    cli("up", *handoff)
    cli("-v", "up", *handoff)
    from iam_foundry.ops.synth import stack_dir
    from iam_foundry.ops.terraform import Terraform

    secret = Terraform(stack_dir(tmp_path / "out", "leak")).secret_output("access_key_secret")
    assert secret and len(secret) >= 16
    for verbose in ([], ["-v"]):
        for command in (["validate"], ["validate", "--json"], ["synth"], ["plan"], ["output"], ["output", "--json"],
                        ["handoff", *handoff], ["handoff", "--json", *handoff], ["handoff", "--with-secret", *handoff],
                        ["profiles"]):
            cli(*verbose, *command)
    assert "access_key_id" in printed["-v output"] and "(sensitive)" in printed["-v output --json"]
    cli("-v", "destroy", "--yes")
    leaks = [command for command, text in printed.items() if secret in text]
    assert not leaks, f"the access key secret was printed by: {leaks}"
