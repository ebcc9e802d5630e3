"""Where Terraform state lives: one class per backend type, registered in BACKENDS.

A backend type knows its own fields (declared like every other field: type, default, doc, check),
the problems a config can have with it, the block it adds to each stack's `terraform` block, what
LocalStack changes for it, and what `up`/`bootstrap` must prepare (a state bucket). The parser, the
README's config reference, the stack emitter and the CLI read the registry, so a new backend type
is one class here.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields as dataclass_fields
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from iam_foundry.config.fields import DEFAULT_REGION, Field, _bucket_check, _match, _region, declared
from iam_foundry.config.target import s3_backend_attributes
from iam_foundry.errors import Problem

if TYPE_CHECKING:
    from iam_foundry.config.target import LocalStack


@dataclass(frozen=True)
class StateBucket:
    """An S3 bucket that must exist before `terraform init` (LocalStack: created by `up`; AWS: by `bootstrap`)."""

    bucket: str
    region: str


@dataclass(frozen=True)
class Backend:
    """A backend type: subclasses declare `type` and `FIELDS` (one dataclass field per declared field)."""

    type: ClassVar[str]
    FIELDS: ClassVar[Mapping[str, Field]]
    # Terraform runs here with the deployment's credentials (cloud: remotely, with the workspace's).
    runs_locally: ClassVar[bool] = True

    def terraform_block(self, stack: str, localstack: "LocalStack") -> dict[str, Any]:
        """This stack's entries in the `terraform` block: {"backend": {<type>: settings}} or {"cloud": ...}."""
        raise NotImplementedError(f"backend type '{self.type}' emits no block")

    def problems(self, localstack: "LocalStack", stacks: Sequence[str]) -> list[Problem]:
        """What is wrong with this backend for the config's target and deployments."""
        return []

    def state_bucket(self) -> StateBucket | None:
        return None

    def state_object(self, stack: str) -> tuple[str, str] | None:
        """(bucket, key) of a stack's state in S3, for the analysis of who can read it."""
        return None


@dataclass(frozen=True)
class S3Backend(Backend):
    type: ClassVar[str] = "s3"
    FIELDS: ClassVar[Mapping[str, Field]] = declared(
        Field("bucket", str, "iam-foundry-state", "`iam-foundry-state`",
              "state bucket (must exist on real AWS: `iam-foundry bootstrap` creates it)", _bucket_check),
        Field("key_prefix", str, "iam-foundry", "`iam-foundry`",
              "state key = `<key_prefix>/<deployment>.tfstate`; locking with `use_lockfile = true` (Terraform >= 1.10)"),
        Field("region", str, DEFAULT_REGION, "top-level `region`", "the state bucket's region", _region,
              default_from=lambda ctx: ctx["region"]),
        Field("dynamodb_table", str, None, "none", "DynamoDB locking as well, for Terraform older than 1.10",
              _match(re.compile(r"^[A-Za-z0-9_.-]{3,255}$"), "not a DynamoDB table name | use 3-255 letters, digits, _ . -")),
    )
    bucket: str = "iam-foundry-state"
    key_prefix: str = "iam-foundry"
    region: str = DEFAULT_REGION
    dynamodb_table: str | None = None

    def state_key(self, stack: str) -> str:
        return f"{self.key_prefix.strip('/')}/{stack}.tfstate" if self.key_prefix else f"{stack}.tfstate"

    def terraform_block(self, stack: str, localstack: "LocalStack") -> dict[str, Any]:
        settings: dict[str, Any] = {
            "bucket": self.bucket, "key": self.state_key(stack), "region": self.region, "encrypt": True,
            # S3-native state locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no argument for it.
            "use_lockfile": True,
        }
        if self.dynamodb_table:  # older Terraform: DynamoDB locking (both lock when both are set)
            settings["dynamodb_table"] = self.dynamodb_table
        return {"backend": {"s3": {**settings, **s3_backend_attributes(localstack)}}}

    def state_bucket(self) -> StateBucket | None:
        return StateBucket(self.bucket, self.region)

    def state_object(self, stack: str) -> tuple[str, str] | None:
        return self.bucket, self.state_key(stack)


@dataclass(frozen=True)
class LocalBackend(Backend):
    type: ClassVar[str] = "local"
    FIELDS: ClassVar[Mapping[str, Field]] = declared(
        Field("path", str, "state", "`state`", "state file folder: `<path>/<deployment>.tfstate`, relative to the project"),
    )
    path: str = "state"

    def terraform_block(self, stack: str, localstack: "LocalStack") -> dict[str, Any]:
        # Terraform runs in cdktf.out/stacks/<name>; keep state beside the project, not in cdktf.out.
        return {"backend": {"local": {"path": f"../../../{self.path.strip('/')}/{stack}.tfstate"}}}


@dataclass(frozen=True)
class CloudBackend(Backend):
    """HCP Terraform / Terraform Enterprise: a `cloud` block. No credentials in the stack: the
    workspace's variables (AWS keys, or dynamic provider credentials through an OIDC role) supply them."""

    type: ClassVar[str] = "cloud"
    runs_locally: ClassVar[bool] = False
    FIELDS: ClassVar[Mapping[str, Field]] = declared(
        Field("organization", str, None, "required", "the HCP Terraform / Terraform Enterprise organization"),
        Field("workspace", str, None, "none", "workspace name; `{deployment}` is replaced by the deployment's name (one workspace each)",
              _match(re.compile(r"^[A-Za-z0-9_{}-]{1,90}$"), "not a valid workspace name | use letters, digits, - and _ (and {deployment})")),
        Field("workspace_tags", list, [], "`[]`", "or: the workspaces carrying these tags (give `workspace` or this)"),
        Field("project", str, None, "none", "the workspaces' project"),
        Field("hostname", str, None, "`app.terraform.io`", "Terraform Enterprise's host name"),
    )
    organization: str | None = None
    workspace: str | None = None  # name template; {deployment} is replaced by the deployment name
    workspace_tags: tuple[str, ...] = ()
    project: str | None = None
    hostname: str | None = None

    def workspace_name(self, stack: str) -> str | None:
        return self.workspace.replace("{deployment}", stack) if self.workspace else None

    def terraform_block(self, stack: str, localstack: "LocalStack") -> dict[str, Any]:
        name = self.workspace_name(stack)
        workspaces: dict[str, Any] = {"name": name} if name else {"tags": list(self.workspace_tags)}
        if self.project:
            workspaces["project"] = self.project
        cloud: dict[str, Any] = {"organization": self.organization or ""}
        if self.hostname:
            cloud["hostname"] = self.hostname
        return {"cloud": {**cloud, "workspaces": workspaces}}

    def problems(self, localstack: "LocalStack", stacks: Sequence[str]) -> list[Problem]:
        found = []
        if not self.organization:
            found.append(Problem("backend.organization", "missing for backend type 'cloud'",
                                 'add organization = "<your HCP Terraform organization>"'))
        if bool(self.workspace) == bool(self.workspace_tags):
            found.append(Problem("backend.workspace", "give exactly one of workspace (a name) or workspace_tags",
                                 'e.g. workspace = "iam-{deployment}"  or  workspace_tags = ["iam-foundry"]'))
        if localstack.enabled:
            found.append(Problem("localstack.enabled", "a Terraform Cloud backend cannot target the embedded LocalStack",
                                 "set localstack.enabled = false (credentials come from workspace variables)"))
        if self.workspace and len(stacks) > 1 and "{deployment}" not in self.workspace:
            found.append(Problem("backend.workspace", "several deployments would share one workspace (and one state)",
                                 'put {deployment} in the name, e.g. workspace = "iam-{deployment}"'))
        return found


BACKENDS: dict[str, type[Backend]] = {backend.type: backend for backend in (S3Backend, LocalBackend, CloudBackend)}
DEFAULT_BACKEND = "s3"


def _known_type(value: str, ctx: Any = None) -> str | None:
    if value in BACKENDS:
        return None
    names = list(BACKENDS)
    quoted = ", ".join(f"'{n}'" for n in names[:-1]) + f" or '{names[-1]}'"
    close = difflib.get_close_matches(value, names, n=1)
    return f"must be {quoted} | " + (f"did you mean '{close[0]}'?" if close else "choose one of them")


TYPE_FIELD = Field("type", str, DEFAULT_BACKEND, f"`{DEFAULT_BACKEND}`", "the backend type: " + ", ".join(f"`{n}`" for n in BACKENDS),
                   _known_type)


def backend_fields(chosen: str | None = None) -> dict[str, Field]:
    """The [backend] table's fields: `type`, then every backend type's own fields.

    A field of another type is still read and checked (a config may keep `bucket` while trying
    `local`), but only the chosen type's fields reach its backend; the chosen type's declaration
    wins when two types declare the same name."""
    result = {"type": TYPE_FIELD}
    for backend in sorted(BACKENDS.values(), key=lambda b: b.type != chosen):
        for name, declared_field in backend.FIELDS.items():
            result.setdefault(name, declared_field)
    return result


def backend_from(values: Mapping[str, Any]) -> Backend:
    """The chosen backend, from the [backend] table's values (read with backend_fields)."""
    backend = BACKENDS.get(values.get("type") or DEFAULT_BACKEND, BACKENDS[DEFAULT_BACKEND])
    own = {f.name for f in dataclass_fields(backend)}
    return backend(**{name: tuple(value) if isinstance(value, list) else value
                      for name, value in values.items() if name in own})
