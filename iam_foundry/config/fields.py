"""The config file's fields, declared once: type, default, documentation and check of every field
of every table. The parser (load.py), the README's config reference (reference.py) and the exported
modules' variables (emit/module.py) read these declarations; a backend type declares its own
fields in backends.py.

A check takes the value and the parsing context (the top-level region, region_check, the values read
so far in the same table) and returns "message | fix" or None.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

from iam_foundry.errors import ConfigError, Problem
from iam_foundry.files import read_json
from iam_foundry.config.target import DEFAULT_LOCALSTACK_ENDPOINT

DEFAULT_REGION = "us-east-1"
# IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)
IAM_NAME = re.compile(r"^[A-Za-z0-9_+=,.@-]+$")  # ASCII only: Python's \w would let "nextäi" through
NAME_MAX = {"user_name": 64, "role_name": 64, "instance_profile_name": 64, "policy_name": 128}
IAM_PATH = re.compile(r"^/([\x21-\x7e]*/)?$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
POLICY_ARN = re.compile(r"^arn:([a-z-]+):iam::(\d{12}|aws):policy/[A-Za-z0-9_+=,.@/-]+$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
DEFAULT_MAX_ATTACHED = 10
# Set by iam-foundry on every resource (documents.py); a user tag must not override them.
PROJECT_TAG_KEYS = ("ManagedBy", "IamFoundryDeployment")
TAGS_PER_RESOURCE, TAG_KEY_MAX, TAG_VALUE_MAX = 50, 128, 256
TAG_CHARACTERS = set(" _.:/=+-@")  # besides Unicode letters and digits
KEYBASE_USER = re.compile(r"^keybase:[A-Za-z0-9_]{2,16}$")


@lru_cache(maxsize=1)
def _partitions() -> tuple[tuple[str, frozenset[str], re.Pattern[str]], ...]:
    """(partition, regions, region pattern) as the installed botocore ships them.

    Read from botocore's data file rather than through botocore.loaders, whose import costs
    0.2-0.3 s on every synth, even one that finds nothing changed. partitions.json also lists
    pseudo-regions such as "aws-global"; only names that fit the partition's pattern are regions.
    """
    spec = importlib.util.find_spec("botocore")
    folder = Path(next(iter(spec.submodule_search_locations or []))) if spec else None
    if folder is None:
        raise ConfigError(Problem("region", "botocore is not installed, so regions cannot be checked", "run make setup"))
    result = []
    for entry in read_json(folder / "data" / "partitions.json")["partitions"]:
        pattern = re.compile(entry["regionRegex"], re.ASCII)
        result.append((entry["id"], frozenset(r for r in entry["regions"] if pattern.match(r)), pattern))
    return tuple(result)
# STS AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
ROLE_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
AWS_PROFILE = re.compile(r"^[\w+=,.@:/-]{1,128}$")
# What `adopt` can take over (Terraform import blocks): resources the vendors' pages say may exist already.
ADOPTABLE = ("node_role", "instance_profile", "user", "policy")


def partition_for(region: str) -> str:
    """The partition of a region botocore lists, or, for a newer one, of the region pattern it fits."""
    for partition, regions, _ in _partitions():
        if region in regions:
            return partition
    for partition, _, pattern in _partitions():
        if pattern.match(region):
            return partition
    raise ValueError(f"{region!r} fits no AWS partition")


def region_check(allow_unlisted: bool) -> Callable[[Any], str | None]:
    def check(region: str) -> str | None:
        if any(region in regions for _, regions, _ in _partitions()):
            return None
        if allow_unlisted and any(pattern.match(region) for _, _, pattern in _partitions()):
            return None
        known = sorted(r for _, regions, _ in _partitions() for r in regions)
        close = difflib.get_close_matches(region, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use a region code such as us-east-1"
        if allow_unlisted:
            return f"'{region}' fits no AWS partition's region pattern | {hint}"
        return (f"'{region}' is not an AWS region the installed botocore knows | {hint} (for a region newer than botocore, "
                "set allow_unlisted_regions = true at the top of the config)")
    return check


def _match(pattern: re.Pattern[str], message: str) -> Callable[..., str | None]:
    """A check that the value matches pattern (usable with or without the context)."""
    return lambda value, ctx=None: None if pattern.match(value) else message


def _string_map(value: dict[str, Any], ctx: Any = None) -> str | None:
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    return f"values must be strings; not: {bad} | quote the values" if bad else None



def _account_id_check(value: str | int, ctx: Any = None) -> str | None:
    if isinstance(value, int):  # TOML/HCL number: the type error alone ("must be str") does not say what to do
        return (f"account id {value} is a number | quote it: account_id = \"{value:012d}\" (12 digits; a number "
                "loses leading zeros)")
    return None if ACCOUNT_ID.match(value) else \
        "account id must be exactly 12 digits | write it without hyphens, quoted, e.g. \"123456789012\""


def _boundary_check(arn: str, ctx: dict[str, Any]) -> str | None:
    region = ctx["values"]["region"]  # read before permissions_boundary (declaration order)
    partition = partition_for(region)
    match = POLICY_ARN.match(arn)
    if not match:
        return f"not a managed policy ARN | use arn:{partition}:iam::<account>:policy/<name>"
    if match.group(1) != partition:
        return (f"ARN is in partition '{match.group(1)}' but region {region} is in '{partition}' | "
                f"use the boundary policy's ARN in that partition: arn:{partition}:iam::...")
    return None


def _bucket_check(value: str, ctx: Any = None) -> str | None:
    if not BUCKET.match(value) or ".." in value:
        return "not a valid S3 bucket name | use 3-63 lowercase letters, digits, dots, hyphens"
    if IP_ADDRESS.match(value):
        return f"'{value}' is in IP-address form, which S3 refuses as a bucket name | choose a name such as acme-terraform-state"
    return None


def _pgp_check(value: str, ctx: Any = None) -> str | None:
    """Terraform's aws_iam_access_key takes base64 public key material or keybase:<user>."""
    if value.startswith("keybase:"):
        return None if KEYBASE_USER.match(value) else \
            "not a Keybase user name | write keybase:<user> (2-16 letters, digits or _)"
    if "BEGIN PGP" in value:
        return ("an ASCII-armored key; Terraform wants the base64 body only | drop the -----BEGIN/END----- lines, "
                "the headers and the =checksum line (e.g. gpg --export <id> | base64 -w0)")
    try:
        key = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    # An OpenPGP packet's first byte has its top bit set; a public key is packet type 6.
    tag = (key[0] & 0x3F if key[0] & 0x40 else (key[0] >> 2) & 0x0F) if key and key[0] & 0x80 else None
    if tag != 6:
        return "neither base64 PGP public key material nor keybase:<user> | use gpg --export <id> | base64 -w0, or keybase:<user>"
    return None



Check = Callable[[Any, dict[str, Any]], "str | None"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: type | tuple[type, ...]
    default: Any
    default_doc: str
    doc: str
    check: Check | None = None
    required: bool = False
    module_type: str | None = None  # the exported module's variable type, when the module takes it
    # A default that depends on the context (e.g. the top-level region), used instead of `default`.
    default_from: Callable[[dict[str, Any]], Any] | None = None
    # A table field: its own fields, read with the same reader (where = <table>.<field>).
    fields: Mapping[str, "Field"] | None = None

    def default_in(self, context: dict[str, Any]) -> Any:
        value = self.default_from(context) if self.default_from else self.default
        return type(value)(value) if isinstance(value, (list, dict)) else value  # never a shared list or dict


def declared(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


def _region(value: str, ctx: dict[str, Any]) -> str | None:
    """A region botocore knows; allow_unlisted_regions (top level, read before region) widens it."""
    allow = ctx.get("allow_unlisted_regions", ctx["values"].get("allow_unlisted_regions", False))
    return region_check(bool(allow))(value)


def _endpoint(value: str, ctx: Any = None) -> str | None:
    return None if re.match(r"^https?://[^/]+$", value) else "must be a URL such as http://127.0.0.1:4566 | drop any path"


# The top level of the config file. Tables ([localstack], [backend], [[deployments]]) have their own fields.
TOP_LEVEL_FIELDS: dict[str, Field] = declared(
    # Opt-out for a region newer than the installed botocore: it must still fit a partition's pattern.
    Field("allow_unlisted_regions", bool, False, "`false`",
          "accept a region newer than the installed botocore (it must still fit a partition's pattern), here and in every deployment"),
    Field("region", str, DEFAULT_REGION, f"`{DEFAULT_REGION}`", "default region of every deployment (and of the s3 backend)", _region),
    Field("localstack", dict, {}, "LocalStack at its default endpoint", "the target: the `[localstack]` table below"),
    Field("backend", dict, {}, "`s3`, bucket `iam-foundry-state`", "where state lives: the `[backend]` table below"),
    Field("deployments", list, [], "required", "one `[[deployments]]` table per stack (and state file): fields below", required=True),
)

LOCALSTACK_FIELDS: dict[str, Field] = declared(
    Field("enabled", bool, True, "`true`", "`true`: every stack targets LocalStack (its test credentials); `false`: real AWS, credentials "
          "from the usual AWS chain"),
    Field("endpoint", str, DEFAULT_LOCALSTACK_ENDPOINT, f"`{DEFAULT_LOCALSTACK_ENDPOINT}`",
          "LocalStack's URL (scheme, host, port; no path); `iam-foundry up` starts one there unless one answers", _endpoint),
)

def _lint_rule(value: str, ctx: Any = None) -> str | None:
    from iam_foundry.policy.lint import RULES  # the lint layer's rule table

    return None if value in RULES else f"rule {value!r} is not one of {sorted(RULES)}"


# One entry of a deployment's lint_accepted list.
LINT_ACCEPTANCE_FIELDS: dict[str, Field] = declared(
    Field("rule", str, None, "required", "the lint rule of the finding (`LP001`, ...: see \"Policy safety\")", _lint_rule, required=True),
    Field("sid", str, None, "required", "the Sid of the statement it is about", lambda v, ctx: None if v else "no sid", required=True),
    Field("reason", str, None, "required", "why it is acceptable (an accepted finding must say why)",
          lambda v, ctx: None if v.strip() else "no reason (an accepted finding must say why it is acceptable)", required=True),
)

ASSUME_ROLE_FIELDS: dict[str, Field] = declared(
    Field("role_arn", str, "", "required", "the role to assume: `arn:aws:iam::<account>:role/<name>`, in the region's partition",
          _match(ROLE_ARN, "not an IAM role ARN | use arn:aws:iam::<12-digit account>:role/<name>"), required=True),
    Field("session_name", str, None, "`iam-foundry-<name>`", "the session's name (2-64 of letters, digits, `+=,.@_-`)",
          _match(SESSION_NAME, "not a valid session name | use 2-64 characters from letters, digits and +=,.@_-"),
          default_from=lambda ctx: f"iam-foundry-{ctx['stack']}"[:64]),
    Field("external_id", str, None, "none", "the external id the role's trust policy asks for (2-1224 of letters, digits, `+=,.@:/_-`)",
          _match(EXTERNAL_ID, "not a valid external id | use 2-1224 characters from letters, digits and +=,.@:/_-")),
)


def _name_check(key: str) -> Callable[[Any, dict[str, Any]], str | None]:
    limit = NAME_MAX[key]
    return lambda v, ctx: None if IAM_NAME.match(v) and len(v) <= limit else \
        f"'{v}' is not a valid IAM name | use at most {limit} characters from ASCII letters, digits and +=,.@_-"


_NAME_DOC = "IAM name: ASCII letters, digits, `+=,.@_-` ({limit} chars); unique per account, ignoring case as IAM does"
DEPLOYMENT_FIELDS: dict[str, Field] = declared(
    Field("name", str, "", "required", "stack name (one stack and one state file per deployment): a letter, then letters, digits, `-`, `_` (63 chars)",
          _match(STACK_NAME, "not a valid stack name | start with a letter; use letters, digits, - and _ (max 63)"), required=True),
    Field("profile", str, "", "required", "a folder of `policy_json/`, or `custom` (with `policy_file`)", required=True),
    Field("variant", str, None, "the profile's default variant", "one of the profile's variants (`iam-foundry profiles`)"),
    Field("addenda", list, [], "`[]`", "the profile's optional statements to switch on, by name (a `custom` profile: all of its `addenda_files`)"),
    Field("policy_file", str, None, "none", "profile `custom`: your base policy (JSON), relative to the config file"),
    Field("addenda_files", list, [], "`[]`", "profile `custom`: your addenda files, relative to the config file"),
    Field("account_id", (str, int), None, "read at plan time (`aws_caller_identity`)", "12 digits, quoted; fills `{{account_id}}`",
          _account_id_check),
    Field("region", str, None, "top-level `region`",
          "one botocore knows (see `allow_unlisted_regions`); decides the partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, ...) from "
          "botocore's data; in `aws-cn` the EC2 trust principal is `ec2.amazonaws.com.cn`. **Required** (here or at the top) for profiles "
          "that scope statements to a region (`ai-unlimited`, `iguazio`): without it `us-east-1` would be filled in silently",
          _region, default_from=lambda ctx: ctx["region"]),
    Field("user_name", str, None, "the profile's default, else `<name>-user`", _NAME_DOC.format(limit=64), _name_check("user_name"), module_type="string"),
    Field("policy_name", str, None, "the profile's default, else `<name>-policy`", _NAME_DOC.format(limit=128), _name_check("policy_name"), module_type="string"),
    Field("role_name", str, None, "the profile's default, else `<name>-node-role`", _NAME_DOC.format(limit=64), _name_check("role_name"), module_type="string"),
    Field("instance_profile_name", str, None, "`role_name`", "the instance profile created with the role; " + _NAME_DOC.format(limit=64),
          _name_check("instance_profile_name"), module_type="string"),
    Field("policy_names", dict, {}, "the profile's names", "policy id -> name, for a profile's other policies (e.g. `{ engine = \"...\" }`)",
          _string_map),
    Field("role_names", dict, {}, "the profile's names (`<role_name>-engine`)",
          "a variant's own roles: `{ engine_role = \"...\", engine_role_instance_profile = \"...\" }` (AI Unlimited "
          "`without-iam-role-permissions`; the instance profile defaults to the role's name)", _string_map),
    Field("create_user", bool, True, "`true` (the profile's default)", "create the restricted IAM user"),
    Field("create_node_role", bool, True, "`true` (the profile's default)",
          "create the node role and instance profile; a second deployment in the same account can reuse the shared role with `false`; "
          "`false` is required with an addendum by which the platform creates the node role itself (nextai `role-creation`)"),
    Field("create_access_key", bool, False, "`false` (`true` for `iguazio`, whose installer asks for the key)",
          "adds `aws_iam_access_key`; outputs `access_key_id` and the sensitive `access_key_secret`", module_type="bool"),
    Field("pgp_key", str, None, "none", "with an access key: state holds only the encrypted secret (`access_key_encrypted_secret`); "
          "base64 public key (`gpg --export <id>` in base64, no armor) or `keybase:<user>`", _pgp_check, module_type="string"),
    Field("allow_plaintext_secret_in_state", bool, False, "`false`",
          "real AWS only: an access key without `pgp_key` is refused unless this is `true` (the secret would sit in clear in state)"),
    Field("path", str, "/", "`/`", "IAM path of user, role, policy, instance profile",
          _match(IAM_PATH, "not a valid IAM path | use / or /division/team/ (begin and end with /)"), module_type="string"),
    Field("permissions_boundary", str, None, "none", "managed policy ARN set on user and role, in the region's partition; "
          "replaces the profile boundary, and the identity policy then denies lifting it (`KeepPermissionsBoundary`)",
          _boundary_check, module_type="string"),
    Field("profile_boundary", bool, True, "`true` for built-in profiles, `false` for `custom`",
          "creates `<policy_name>-boundary` (output `boundary_policy_arn`) and sets it as the permissions boundary of user and node role: "
          "see \"Guardrails\"", module_type="bool"),
    Field("require_boundary_on_created_roles", bool, False, "`false`",
          "profiles whose principals create roles (`ai-unlimited` with role permissions, `iguazio` `eks`, `nextai` with `role-creation`): "
          "`iam:CreateRole`, `PutRolePolicy` and `AttachRolePolicy` only on roles carrying that boundary. **Off by default: the platform "
          "must then pass the boundary** (`PermissionsBoundary` on every role it creates); one that does not fails to create its roles",
          module_type="bool"),
    Field("force_destroy", bool, False, "`false`", "let `destroy` remove a user that has keys created outside Terraform"),
    Field("max_managed_policies_per_principal", int, DEFAULT_MAX_ATTACHED, f"`{DEFAULT_MAX_ATTACHED}`",
          "IAM's attachment quota; raise it if your account's is raised",
          lambda v, ctx: None if 1 <= v <= 20 else "must be between 1 and 20 | use your account's quota (default 10)"),
    Field("tags", dict, {}, "`{}`", "added to every resource, beside `ManagedBy = iam-foundry` and `IamFoundryDeployment` (which they cannot "
          "override); IAM's limits: 48 of yours, key 128, value 256, no `aws:` prefix", _string_map, module_type="map(string)"),
    Field("parameters", dict, {}, "`{}`", "extra `{{placeholder}}` values for a profile's templates (`iam-foundry profiles` lists them)",
          _string_map),
    Field("assume_role", dict, None, "none", "`{ role_arn = \"arn:aws:iam::<account>:role/<name>\", external_id = \"...\", session_name = \"...\" }`: the provider "
          "assumes this role (another account); `account_id` defaults to the role's account; `session_name` defaults to `iam-foundry-<name>` "
          "(2-64 of letters, digits, `+=,.@_-`)", fields=ASSUME_ROLE_FIELDS),
    Field("aws_profile", str, None, "none", "AWS CLI/SDK profile for this deployment's provider (real AWS only)",
          _match(AWS_PROFILE, "not an AWS profile name | use the name of a profile in ~/.aws/config")),
    Field("adopt", list, [], "`[]`", "existing resources to take over instead of create: any of `\"node_role\"`, `\"instance_profile\"`, `\"user\"`, `\"policy\"`"),
    Field("destroy_adopted", bool, False, "`false`", "`destroy` also deletes adopted resources (default: they are left in place)"),
    Field("lint_accepted", list, [], "`[]`", "lint findings this deployment accepts: `[{ rule = \"LP003\", sid = \"PassNodeRole\", reason = \"...\" }]`; "
          "the reason is required, an entry matching no finding is an error (the way to accept a finding in a `custom` profile)",
          fields=LINT_ACCEPTANCE_FIELDS),
)
