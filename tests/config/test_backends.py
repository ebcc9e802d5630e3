"""Backend types live in config/backends.py: the parser, the README reference and the stack emitter
read its registry, and LocalStack's settings come from config/target.py alone."""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Mapping

import pytest

from iam_foundry.config import backends as backends_module
from iam_foundry.config import target
from iam_foundry.config.backends import BACKENDS, Backend
from iam_foundry.config.fields import Field, declared
from iam_foundry.config.load import parse_config
from iam_foundry.config.reference import backend_fields_markdown
from iam_foundry.config.target import LocalStack
from iam_foundry.errors import ConfigError
from iam_foundry.ops import localstack as localstack_ops
from tests.conftest import BASE_CONFIG, synth_raw

# A table each registered type accepts as a whole config's [backend] (its required fields given).
SAMPLE_TABLES = {"s3": {"bucket": "acme-state"}, "local": {"path": "state"},
                 "cloud": {"organization": "acme", "workspace": "iam-{deployment}"}}


def test_every_registered_backend_has_a_sample_here():
    assert set(SAMPLE_TABLES) == set(BACKENDS), "add a sample [backend] table for the new type"


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_declares_its_fields_and_documents_them(name):
    backend = BACKENDS[name]
    assert backend.type == name
    assert [f.name for f in fields(backend)] == list(backend.FIELDS), "one dataclass field per declared field, same order"
    table = backend_fields_markdown()
    for declared_field in backend.FIELDS.values():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{declared_field.name}` |"))
        assert f"`{name}`" in row and declared_field.doc in row


# A remote backend refuses LocalStack (tests/config/test_cloud_backend.py): that pair is not generated.
@pytest.mark.parametrize(("name", "localstack"), [(name, localstack) for name in sorted(BACKENDS) for localstack in (False, True)
                                                  if BACKENDS[name].runs_locally or not localstack])
def test_every_backend_parses_and_emits_a_block(name, localstack, tmp_path):
    raw = copy.deepcopy(BASE_CONFIG)
    raw["backend"] = {"type": name, **SAMPLE_TABLES[name]}
    raw["localstack"] = {"enabled": localstack}
    config = parse_config(raw)
    assert type(config.backend) is BACKENDS[name]
    block = config.backend.terraform_block("nextai", config.localstack)
    assert set(block) in ({"backend"}, {"cloud"})
    stack = synth_raw(raw, tmp_path)["nextai"]
    for key, value in block.items():
        assert stack["terraform"][key] == value


def test_localstack_settings_are_defined_once():
    """Provider, S3 backend, the LocalStack runner and boto3 clients share target.py's credentials and services."""
    ls = LocalStack(enabled=True, endpoint="http://127.0.0.1:4599")
    provider = target.provider_attributes("us-east-1", ls)
    s3 = BACKENDS["s3"]().terraform_block("x", ls)["backend"]["s3"]
    assert localstack_ops.SERVICES is target.LOCALSTACK_SERVICES
    assert set(provider["endpoints"][0]) == set(s3["endpoints"]) == set(target.LOCALSTACK_SERVICES)
    credentials = {provider["access_key"], provider["secret_key"], s3["access_key"], s3["secret_key"],
                   *target.boto_client_args(ls).values()} - {ls.endpoint}
    assert credentials == {target.LOCALSTACK_ACCESS_KEY}
    off = LocalStack(enabled=False)
    assert target.provider_attributes("us-east-1", off) == {"region": "us-east-1"}
    assert target.s3_backend_attributes(off) == {} and target.boto_client_args(off) == {}


@dataclass(frozen=True)
class HttpBackend(Backend):
    """A backend type written only here: registering it is all the parser, the README and the emitter need."""

    type: ClassVar[str] = "http"
    FIELDS: ClassVar[Mapping[str, Field]] = declared(
        Field("address", str, None, "required", "the state's URL",
              lambda value, ctx: None if value.startswith("https://") else "not an https URL | use https://..."),
    )
    address: str | None = None

    def terraform_block(self, stack: str, localstack: LocalStack) -> dict[str, Any]:
        return {"backend": {"http": {"address": f"{self.address}/{stack}"}}}


def test_a_new_backend_type_is_one_class(monkeypatch, tmp_path):
    monkeypatch.setitem(BACKENDS, "http", HttpBackend)
    raw = copy.deepcopy(BASE_CONFIG)
    raw["backend"] = {"type": "http", "address": "https://state.example.com"}
    stack = synth_raw(raw, tmp_path)["nextai"]
    assert stack["terraform"]["backend"] == {"http": {"address": "https://state.example.com/nextai"}}
    assert "| `address` | `http` |" in backend_fields_markdown()
    raw["backend"]["address"] = "ftp://x"
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [p.where for p in err.value.problems] == ["backend.address"]
    assert backends_module.BACKENDS["http"] is HttpBackend
    assert parse_config(dict(raw, backend={"type": "http", "address": "https://a"})).backend.state_bucket() is None


class _RecordingS3:
    def __init__(self, calls: list[tuple[str, dict[str, Any]]]):
        self.calls = calls

    def head_bucket(self, **kwargs: Any) -> None:
        self.calls.append(("head_bucket", kwargs))


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_up_and_bootstrap_prepare_the_backends_state_bucket_only(name, monkeypatch, tmp_path):
    """Real AWS: `up` checks the state bucket a backend has (and nothing for one without); `bootstrap`
    refuses a backend without one, before any AWS call."""
    import boto3
    from click.testing import CliRunner

    from iam_foundry.cli.app import _check_state_bucket, cli

    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(boto3, "client", lambda service, **kwargs: calls.append((service, kwargs)) or _RecordingS3(calls))
    raw = copy.deepcopy(BASE_CONFIG)
    raw["backend"] = {"type": name, **SAMPLE_TABLES[name]}
    config = parse_config(raw)
    state = config.backend.state_bucket()
    _check_state_bucket(config)
    if state is None:
        assert calls == []
        toml = tmp_path / "iam-foundry.toml"
        backend_lines = "\n".join(f"{key} = {value!r}".replace("'", '"') for key, value in raw["backend"].items())
        toml.write_text(f'[localstack]\nenabled = false\n[backend]\n{backend_lines}\n'
                        '[[deployments]]\nname = "nextai"\nprofile = "nextai"\naccount_id = "123456789012"\n')
        result = CliRunner().invoke(cli, ["--config", str(toml), "bootstrap"])
        assert result.exit_code == 1 and "no state bucket to bootstrap" in result.output and calls == []
    else:
        assert calls == [("s3", {"region_name": state.region}), ("head_bucket", {"Bucket": state.bucket})]


@pytest.mark.parametrize("localstack", [False, True])
def test_the_account_guard_works_on_either_target(localstack, tmp_path):
    """allowed_account_ids needs the caller's account, which the LocalStack settings otherwise skip."""
    raw = copy.deepcopy(BASE_CONFIG)
    raw["localstack"] = {"enabled": localstack}
    provider = synth_raw(raw, tmp_path)["nextai"]["provider"]["aws"][0]
    assert provider["allowed_account_ids"] == [raw["deployments"][0]["account_id"]]
    assert provider.get("skip_requesting_account_id", False) is False
