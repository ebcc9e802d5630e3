"""The config file a user edits (TOML), validated up front into dataclasses.

Every problem is reported with the field that holds it and the fix; nothing is synthesized from a
config that has any.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import importlib.util
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from iam_foundry.errors import ConfigError, FoundryError, Problem
from iam_foundry.files import read_json, read_text, unbalanced_bracket
from iam_foundry.paths import DEFAULT_CONFIG, POLICY_ROOT
from iam_foundry.plan import BOUNDARY_SUFFIX, NAME_KEYS, default_name_template, role_names, role_title
from iam_foundry.policy.lint import MIN_NAME_PREFIX, RULES, specific_prefix
from iam_foundry.profiles.load import (
    PLACEHOLDER,
    Profile,
    build_profile,
    list_profiles,
    load_profile,
    prefix_parameters,
    statements_using,
)

DEFAULT_REGION = "us-east-1"
DEFAULT_LOCALSTACK_ENDPOINT = "http://127.0.0.1:4566"
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


def _region_check(allow_unlisted: bool) -> Callable[[Any], str | None]:
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


@dataclass(frozen=True)
class LocalStack:
    enabled: bool = True
    endpoint: str = DEFAULT_LOCALSTACK_ENDPOINT


@dataclass(frozen=True)
class Backend:
    type: str = "s3"  # s3 | local | cloud
    bucket: str = "iam-foundry-state"
    key_prefix: str = "iam-foundry"
    region: str = DEFAULT_REGION
    path: str = "state"  # local backend: folder for <stack>.tfstate, relative to the project
    dynamodb_table: str | None = None  # s3: DynamoDB locking as well, for Terraform older than 1.10
    # cloud (HCP Terraform / Terraform Enterprise): one workspace per deployment, by name or by tags
    organization: str | None = None
    workspace: str | None = None  # name template; {deployment} is replaced by the deployment name
    workspace_tags: tuple[str, ...] = ()
    project: str | None = None
    hostname: str | None = None

    def state_key(self, stack: str) -> str:
        return f"{self.key_prefix.strip('/')}/{stack}.tfstate" if self.key_prefix else f"{stack}.tfstate"

    def workspace_name(self, stack: str) -> str | None:
        return self.workspace.replace("{deployment}", stack) if self.workspace else None


@dataclass(frozen=True)
class LintAcceptance:
    """A lint finding a deployment accepts (custom profiles have no lint-accepted.json)."""

    rule: str
    sid: str
    reason: str


@dataclass(frozen=True)
class AssumeRole:
    """Credentials for one deployment's provider: this role, assumed from the base credentials. The
    state backend keeps its own credentials, so every deployment's state stays in the central bucket."""

    role_arn: str
    session_name: str
    external_id: str | None = None

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]


@dataclass(frozen=True)
class Deployment:
    name: str
    profile: str
    region: str
    partition: str
    variant: str = ""
    addenda: tuple[str, ...] = ()
    account_id: str | None = None
    user_name: str = ""
    policy_name: str = ""
    role_name: str = ""
    instance_profile_name: str = ""
    create_user: bool = True
    create_node_role: bool = True
    create_access_key: bool = False
    pgp_key: str | None = None
    # Real AWS: an access key without pgp_key leaves its secret in plain text in state; say so explicitly.
    allow_plaintext_secret_in_state: bool = False
    path: str = "/"
    permissions_boundary: str | None = None
    # A built-in profile's user and node role get a boundary holding the profile's own maximum (see documents.py).
    profile_boundary: bool = False
    # Role-creating profiles: CreateRole only with iam:PermissionsBoundary = that boundary.
    require_boundary_on_created_roles: bool = False
    force_destroy: bool = False
    max_managed_policies_per_principal: int = DEFAULT_MAX_ATTACHED
    # False when neither the deployment nor the config names a region (DEFAULT_REGION was filled in).
    region_explicit: bool = True
    tags: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    policy_names: dict[str, str] = field(default_factory=dict)  # policy id -> name (profile default or override)
    # A variant's own roles' names the config gives, by placeholder ({{engine_role_name}}, {{engine_role_instance_profile_name}}).
    role_names: dict[str, str] = field(default_factory=dict)
    policy_file: str | None = None  # profile "custom": the user's base policy (absolute path)
    addenda_files: tuple[str, ...] = ()  # profile "custom": the user's addenda (absolute paths)
    lint_accepted: tuple[LintAcceptance, ...] = ()
    assume_role: AssumeRole | None = None  # the provider assumes this role (another account)
    aws_profile: str | None = None  # the provider uses this AWS CLI/SDK profile (real AWS only)
    adopt: tuple[str, ...] = ()  # existing resources to import instead of create (subset of ADOPTABLE)
    destroy_adopted: bool = False  # destroy also deletes adopted resources (default: they are left in place)


CUSTOM_PROFILE = "custom"


def custom_profile(policy_file: str, addenda_files: tuple[str, ...]) -> Profile:
    """A profile assembled from the user's own files: their policy on the user and the node role."""
    policy_path = Path(policy_file)
    meta = {
        "title": f"custom ({policy_path.name})",
        "policies": [{"id": "main", "template": str(policy_path), "attach_to": ["user", "node_role"], "addenda": True}],
        "node_role": {"trust_policy": str(POLICY_ROOT / "common" / "ec2-trust.json")},
    }
    return build_profile(CUSTOM_PROFILE, policy_path.parent, meta, policy_path, addenda_paths=[Path(f) for f in addenda_files])


def profile_of(deployment: "Deployment") -> Profile:
    if deployment.profile == CUSTOM_PROFILE:
        return custom_profile(deployment.policy_file or "", deployment.addenda_files)
    return load_profile(deployment.profile)


@dataclass(frozen=True)
class FoundryConfig:
    region: str
    localstack: LocalStack
    backend: Backend
    deployments: tuple[Deployment, ...]
    source: Path | None = None

    def deployment(self, name: str) -> Deployment:
        for deployment in self.deployments:
            if deployment.name == name:
                return deployment
        raise ConfigError(Problem(f"stack '{name}'", "no deployment of that name",
                                  f"use one of {[d.name for d in self.deployments]}"))


class _Reader:
    """Reads one TOML table, collecting problems instead of stopping at the first."""

    def __init__(self, table: dict[str, Any], where: str, problems: list[Problem], label: str = ""):
        self.table, self.where, self.problems, self.label = table, where, problems, label
        self.seen: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False,
            check: Callable[[Any], str | None] | None = None) -> Any:
        self.seen.add(key)
        field_name = (f"{self.where}.{key}" if self.where else key) + self.label
        if key not in self.table:
            if required:
                self.problems.append(Problem(field_name, "missing required field", f"add {key} = ..."))
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML booleans are not integers here.
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            names = " or ".join(k.__name__ for k in kinds)
            self.problems.append(Problem(field_name, f"must be {names}, got {value!r}", f"write {key} as a {names}"))
            return default
        if check:
            message = check(value)
            if message:
                text, _, fix = message.partition(" | ")  # the fix itself may hold " | " (a shell pipe)
                self.problems.append(Problem(field_name, text, fix))
                return default
        return value

    def field(self, declared: "Field", context: dict[str, Any], default: Any = None, *, use_default: bool = False) -> Any:
        """A declared field (DEPLOYMENT_FIELDS): its type, its check; default given here when it depends on the profile."""
        check = declared.check
        value = default if use_default else declared.default
        value = type(value)(value) if isinstance(value, (list, dict)) else value  # never the table's own list or dict
        return self.get(declared.name, declared.kind, value, required=declared.required,
                        check=(lambda value: check(value, context)) if check else None)

    def finish(self) -> None:
        for key in sorted(set(self.table) - self.seen):
            close = difflib.get_close_matches(key, sorted(self.seen), n=1)
            fix = f"did you mean '{close[0]}'?" if close else f"remove it; known fields: {sorted(self.seen)}"
            field_name = (f"{self.where}.{key}" if self.where else key) + self.label
            self.problems.append(Problem(field_name, "unknown field", fix))


def _match(pattern: re.Pattern[str], message: str) -> Callable[[Any], str | None]:
    return lambda value: None if pattern.match(value) else message


def _string_map(value: dict[str, Any]) -> str | None:
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    return f"values must be strings; not: {bad} | quote the values" if bad else None


def _from_hcl(value: Any) -> Any:
    """python-hcl2 keeps string quotes and adds bookkeeping keys; give back plain values."""
    if isinstance(value, dict):
        return {k.strip('"'): _from_hcl(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_from_hcl(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def load_config(path: Path | str | None = None) -> FoundryConfig:
    """Load a config: TOML (iam-foundry.toml), or HCL variables (.tfvars / .hcl) with the same fields.

    Without a path: ./iam-foundry.toml in the current folder.
    """
    path = Path(path) if path else DEFAULT_CONFIG
    text = read_text(path, ConfigError, "config file", missing_fix="pass --config FILE (or set IAM_FOUNDRY_CONFIG), or write iam-foundry.toml in this folder")
    if path.suffix in (".tfvars", ".hcl"):
        import hcl2  # only for HCL configs

        try:
            raw = _from_hcl(hcl2.loads(text))
        except Exception as err:  # python-hcl2 raises lark errors with line and column
            # The parser stops where it gives up, often the end of the file; an unclosed bracket is
            # what the user must fix, so name that.
            bracket = unbalanced_bracket(text)
            if bracket:
                line, column, message = bracket
                raise ConfigError(Problem(f"{path}:{line}:{column}", f"not valid HCL: {message}",
                                          "close the bracket (or remove the stray one)")) from None
            raise ConfigError(Problem(str(path), f"not valid HCL: {str(err).splitlines()[0]}", "fix the syntax at that line")) from None
        return parse_config(raw, source=path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(Problem(str(path), f"not valid TOML: {err}", "fix the syntax at that line")) from None
    return parse_config(raw, source=path)


def parse_config(raw: dict[str, Any], source: Path | None = None) -> FoundryConfig:
    problems: list[Problem] = []
    top = _Reader(raw, "", problems)
    # Opt-out for a region newer than the installed botocore: it must still fit a partition's pattern.
    allow_unlisted_regions = top.get("allow_unlisted_regions", bool, False)
    region_check = _region_check(allow_unlisted_regions)
    region = top.get("region", str, DEFAULT_REGION, check=region_check)

    ls_reader = _Reader(top.get("localstack", dict, {}), "localstack", problems)
    localstack = LocalStack(
        enabled=ls_reader.get("enabled", bool, True),
        endpoint=ls_reader.get("endpoint", str, DEFAULT_LOCALSTACK_ENDPOINT,
                               check=_match(re.compile(r"^https?://[^/]+$"), "must be a URL such as http://127.0.0.1:4566 | drop any path")),
    )
    ls_reader.finish()

    be = _Reader(top.get("backend", dict, {}), "backend", problems)
    backend = Backend(
        type=be.get("type", str, "s3", check=lambda v: None if v in ("s3", "local", "cloud") else "must be 's3', 'local' or 'cloud' | choose one of them"),
        bucket=be.get("bucket", str, "iam-foundry-state", check=_bucket_check),
        key_prefix=be.get("key_prefix", str, "iam-foundry"),
        region=be.get("region", str, region, check=region_check),
        path=be.get("path", str, "state"),
        dynamodb_table=be.get("dynamodb_table", str, None, check=_match(re.compile(r"^[A-Za-z0-9_.-]{3,255}$"),
                                                                         "not a DynamoDB table name | use 3-255 letters, digits, _ . -")),
        organization=be.get("organization", str, None),
        workspace=be.get("workspace", str, None, check=_match(re.compile(r"^[A-Za-z0-9_{}-]{1,90}$"),
                                                              "not a valid workspace name | use letters, digits, - and _ (and {deployment})")),
        workspace_tags=tuple(be.get("workspace_tags", list, [])),
        project=be.get("project", str, None),
        hostname=be.get("hostname", str, None),
    )
    be.finish()
    if backend.type == "cloud":
        if not backend.organization:
            problems.append(Problem("backend.organization", "missing for backend type 'cloud'", 'add organization = "<your HCP Terraform organization>"'))
        if bool(backend.workspace) == bool(backend.workspace_tags):
            problems.append(Problem("backend.workspace", "give exactly one of workspace (a name) or workspace_tags",
                                    'e.g. workspace = "iam-{deployment}"  or  workspace_tags = ["iam-foundry"]'))
        if localstack.enabled:
            problems.append(Problem("localstack.enabled", "a Terraform Cloud backend cannot target the embedded LocalStack",
                                    "set localstack.enabled = false (credentials come from workspace variables)"))

    deployments_raw = top.get("deployments", list, [], required=True)
    if not deployments_raw and "deployments" in raw:
        problems.append(Problem("deployments", "no deployment listed", "add a [[deployments]] table"))
    deployments: list[tuple[str, Deployment]] = []  # (where, deployment): a clash names the entries as written
    for index, table in enumerate(deployments_raw):
        where = f"deployments[{index}]"
        if not isinstance(table, dict):
            problems.append(Problem(where, "must be a table", "write it as [[deployments]]"))
            continue
        deployment = _parse_deployment(table, where, region, problems, base_dir=source.parent if source else Path.cwd(),
                                       region_check=region_check, region_explicit="region" in raw)
        if deployment:
            deployments.append((where + _label(table), deployment))
            if not localstack.enabled:
                _check_plaintext_secret(deployment, lambda f, w=where, t=table: f"{w}.{f}{_label(t)}", problems)
            elif deployment.aws_profile:  # the emulator's provider has fixed test credentials
                problems.append(Problem(f"{where}.aws_profile{_label(table)}", "LocalStack is targeted, which uses its own test credentials",
                                        "remove aws_profile (assume_role reaches another LocalStack account), or set localstack.enabled = false"))
    top.finish()
    _check_unique(deployments, problems)
    if backend.type == "cloud" and backend.workspace and len(deployments) > 1 and "{deployment}" not in backend.workspace:
        problems.append(Problem("backend.workspace", "several deployments would share one workspace (and one state)",
                                'put {deployment} in the name, e.g. workspace = "iam-{deployment}"'))
    if problems:
        raise ConfigError(problems)
    return FoundryConfig(region=region, localstack=localstack, backend=backend, deployments=tuple(d for _, d in deployments),
                         source=source)


def _fill_default(value: Any, known: dict[str, str]) -> Any:
    """Profile defaults may use placeholders, e.g. "{{cloud_id}}-cluster_node_role"."""
    if not isinstance(value, str):
        return value
    return PLACEHOLDER.sub(lambda m: known.get(m.group(1)) or m.group(0), value)


def _parse_deployment(table: dict[str, Any], where: str, default_region: str, problems: list[Problem],
                      base_dir: Path, region_check: Callable[[Any], str | None],
                      region_explicit: bool = True) -> Deployment | None:
    label = _label(table)  # deployments[499] alone is hard to find in a long config: name it too

    def at(field_path: str) -> str:
        return f"{where}.{field_path}{label}"

    d = _Reader(table, where, problems, label)
    before = len(problems)
    fields = DEPLOYMENT_FIELDS
    context: dict[str, Any] = {"region_check": region_check}
    name = d.field(fields["name"], context)
    profile_name = d.field(fields["profile"], context)
    policy_file = d.field(fields["policy_file"], context)
    addenda_files = d.field(fields["addenda_files"], context)
    profile: Profile | None = None
    if profile_name == CUSTOM_PROFILE:
        if not policy_file:
            problems.append(Problem(at("policy_file"), "profile 'custom' needs your base policy file",
                                    'add policy_file = "my-policy.json" (relative to the config file)'))
        else:
            policy_file = str((base_dir / policy_file).resolve())
            addenda_files = [str((base_dir / f).resolve()) for f in addenda_files]
            try:
                profile = custom_profile(policy_file, tuple(addenda_files))
            except FoundryError as err:
                problems.extend(Problem(f"{at('policy_file/addenda_files')}: {p.where}", p.message, p.fix) for p in err.problems)
    elif profile_name:
        if policy_file or addenda_files:
            problems.append(Problem(at("policy_file"), "policy_file and addenda_files are for profile 'custom' only",
                                    f"remove them, or set profile = \"{CUSTOM_PROFILE}\""))
        try:
            profile = load_profile(profile_name)
        except FoundryError as err:
            problems.append(Problem(at("profile"), f"unknown profile '{profile_name}'" if "no such profile" in str(err) else str(err),
                                    f"use one of {list_profiles() + [CUSTOM_PROFILE]}"))
    region = d.field(fields["region"], context, default_region, use_default=True)
    addenda = d.field(fields["addenda"], context)
    if profile_name == CUSTOM_PROFILE and profile:
        addenda = addenda or sorted(profile.addenda)  # a custom profile's addenda files are all switched on
    account_id = d.field(fields["account_id"], context)
    variant = d.field(fields["variant"], context)
    if profile and variant is not None and variant not in profile.variants:
        problems.append(Problem(at("variant"), f"unknown variant '{variant}' for profile '{profile.name}'",
                                f"use one of {sorted(profile.variants)}"))
    variant = variant or (profile.default_variant if profile else "")
    parameters = d.field(fields["parameters"], context)
    if profile:
        parameters = _check_parameters(profile, parameters, at, problems)
        _check_prefix_parameters(profile, parameters, at, problems)
    defaults = {key: _fill_default(value, parameters) for key, value in (profile.defaults if profile else {}).items()}
    names = {}
    for key in NAME_KEYS:
        names[key] = d.field(fields[key], context)
    for key in NAME_KEYS:  # the one default of each name (an exported module uses the same rule)
        if not names[key] and profile:
            names[key] = _fill_default(default_name_template(profile, key), {**parameters, **names, "deployment": name})
        names[key] = names[key] or ""
    for key, value in names.items():  # defaults filled from parameters must be valid names too
        if PLACEHOLDER.search(value) or not value:
            continue  # built from a missing parameter (or no profile), which is reported already
        if not (IAM_NAME.match(value) and len(value) <= NAME_MAX[key]):
            problems.append(Problem(at(key), f"'{value}' (from the profile default) is not a valid IAM name",
                                    f"set {key} explicitly, or fix the parameters it is built from"))
    given_role_names = _given_role_names(profile, variant, d.field(fields["role_names"], context), at, problems)
    if profile and variant in profile.variants and all(names.values()):
        # A variant's own roles (AI Unlimited's engine role) are named from role_name: they must be valid names too.
        extra = _own_role_names(profile, variant, {**parameters, **names, "deployment": name}, given_role_names)
        for spec in profile.roles(variant):
            for key in (spec.name_key, spec.instance_profile_key):
                value = extra.get(key, "")
                if value and key not in given_role_names and not (IAM_NAME.match(value) and len(value) <= NAME_MAX["role_name"]):
                    problems.append(Problem(at("role_name"), f"'{value}', the {role_title(key.removesuffix('_name')).lower()} name "
                                            "the profile derives from it, is not a valid IAM name (64 characters)",
                                            "shorten role_name (or the names it is built from), or name it in role_names"))
    policy_names = d.field(fields["policy_names"], context)
    resolved_policy_names: dict[str, str] = {}
    if profile and variant in profile.variants:
        known = {**parameters, **names}
        resolved_policy_names = {spec.id: policy_names.get(spec.id) or _fill_default(spec.name, known)
                                 for spec in profile.policies(variant)}
        # Addenda that form their own policy (a deployer's, a vendor role's) name it too.
        resolved_policy_names.update({a.policy.id: policy_names.get(a.policy.id) or _fill_default(a.policy.name, known)
                                      for name, a in profile.addenda.items() if a.policy and name in addenda})
    if profile:
        known_ids = {spec.id for spec in profile.policies(variant if variant in profile.variants else None)}
        known_ids |= {a.policy.id for name, a in profile.addenda.items() if a.policy and name in addenda}
        for policy_id, policy_name in policy_names.items():
            if policy_id not in known_ids:
                problems.append(Problem(at(f"policy_names.{policy_id}"), "no policy with that id in this profile/variant",
                                        f"use one of {sorted(known_ids)}"))
            elif not (IAM_NAME.match(policy_name) and len(policy_name) <= NAME_MAX["policy_name"]):
                problems.append(Problem(at(f"policy_names.{policy_id}"), f"'{policy_name}' is not a valid IAM policy name",
                                        "use at most 128 characters from ASCII letters, digits and +=,.@_-"))
    # Some installers ask for the user's key (Iguazio): their profile turns it on by default.
    create_access_key = d.field(fields["create_access_key"], context, bool(defaults.get("create_access_key", False)), use_default=True)
    tags = d.field(fields["tags"], context)
    problems.extend(_tag_problems(tags, at))
    pgp_key = d.field(fields["pgp_key"], context)
    partition = partition_for(region)
    context.update(partition=partition, region=region)
    assume_role = _parse_assume_role(d.field(DEPLOYMENT_FIELDS["assume_role"], context), f"{where}.assume_role", label, name, region, problems)
    aws_profile = d.field(DEPLOYMENT_FIELDS["aws_profile"], context)
    adopt = d.field(DEPLOYMENT_FIELDS["adopt"], context)
    for index, item in enumerate(adopt):
        if item not in ADOPTABLE:
            close = difflib.get_close_matches(str(item), ADOPTABLE, n=1)
            problems.append(Problem(at(f"adopt[{index}]"), f"cannot adopt '{item}'",
                                    (f"did you mean '{close[0]}'? " if close else "") + f"adoptable: {list(ADOPTABLE)}"))
    if len(set(map(str, adopt))) != len(adopt):
        problems.append(Problem(at("adopt"), "an entry is listed twice", "list each resource once"))
    destroy_adopted = d.field(DEPLOYMENT_FIELDS["destroy_adopted"], context)
    if assume_role and not account_id:
        account_id = assume_role.account_id  # the role's account is where the deployment lands
    elif assume_role and account_id != assume_role.account_id:
        problems.append(Problem(at("assume_role.role_arn"), f"role is in account {assume_role.account_id}, but account_id is {account_id}",
                                "assume a role in the deployment's account, or correct account_id"))
    deployment = Deployment(
        name=name,
        profile=profile_name,
        region=region,
        partition=partition,
        variant=variant,
        addenda=tuple(addenda),
        account_id=account_id,
        create_user=d.field(fields["create_user"], context, bool(defaults.get("create_user", True)), use_default=True),
        create_node_role=d.field(fields["create_node_role"], context, bool(defaults.get("create_node_role", True)), use_default=True),
        create_access_key=create_access_key,
        pgp_key=pgp_key,
        allow_plaintext_secret_in_state=d.field(fields["allow_plaintext_secret_in_state"], context),
        path=d.field(fields["path"], context),
        permissions_boundary=d.field(fields["permissions_boundary"], context),
        profile_boundary=d.field(fields["profile_boundary"], context, profile_name != CUSTOM_PROFILE, use_default=True),
        require_boundary_on_created_roles=d.field(fields["require_boundary_on_created_roles"], context),
        force_destroy=d.field(fields["force_destroy"], context),
        region_explicit=region_explicit or "region" in table,
        max_managed_policies_per_principal=d.field(fields["max_managed_policies_per_principal"], context),
        tags=tags,
        parameters=parameters,
        policy_names=resolved_policy_names,
        role_names=given_role_names,
        policy_file=policy_file,
        addenda_files=tuple(addenda_files),
        lint_accepted=_lint_accepted(d.field(fields["lint_accepted"], context), at, problems),
        assume_role=assume_role,
        aws_profile=aws_profile,
        adopt=tuple(adopt),
        destroy_adopted=destroy_adopted,
        **names,
    )
    d.finish()
    if pgp_key and not create_access_key:
        problems.append(Problem(at("pgp_key"), "set without create_access_key = true", "remove pgp_key or turn create_access_key on"))
    if "user" in adopt and not deployment.create_user:
        problems.append(Problem(at("adopt"), "adopts the user, but create_user is false", "drop 'user' from adopt or set create_user = true"))
    for item in ("node_role", "instance_profile"):
        if item in adopt and not deployment.create_node_role:
            problems.append(Problem(at("adopt"), f"adopts the {item.replace('_', ' ')}, but create_node_role is false",
                                    f"drop '{item}' from adopt or set create_node_role = true"))
    if destroy_adopted and not adopt:
        problems.append(Problem(at("destroy_adopted"), "set without adopt", "remove destroy_adopted, or list what to adopt"))
    if create_access_key and not deployment.create_user:
        problems.append(Problem(at("create_access_key"), "an access key needs the user, but create_user is false",
                                "set create_user = true or drop create_access_key"))
    if profile:
        _check_addenda(profile, addenda, variant, at, problems)
        _check_boundary_options(profile, deployment, addenda, at, problems)
        for name in addenda:
            for key in getattr(profile.addenda.get(name), "requires_parameters", ()):
                if not parameters.get(key):
                    spec = profile.parameters.get(key)
                    problems.append(Problem(at(f"parameters.{key}"), f"addendum '{name}' needs parameter '{key}'",
                                            f"add parameters = {{ {key} = \"...\" }}" + (f" ({spec.description})" if spec else "")))
        if not deployment.region_explicit and variant in profile.variants:
            scoped = statements_using(profile, variant, [a for a in addenda if a in profile.addenda], "region")
            if scoped:
                problems.append(Problem(
                    at("region"), f"no region given, but {profile.title} scopes statements to one region ({', '.join(scoped)}); "
                    f"{DEFAULT_REGION} would be filled in silently and a deployment elsewhere would be denied at failover or run time",
                    "set region = \"<the platform's region>\" in the deployment or at the top of the config"))
        if profile.account_parameter and account_id and parameters.get(profile.account_parameter) not in (None, account_id):
            problems.append(Problem(at(f"parameters.{profile.account_parameter}"),
                                    f"{parameters[profile.account_parameter]} differs from account_id {account_id}",
                                    f"{profile.title} needs the role in the same account: deploy to that account"))
    return deployment if len(problems) == before else None


def _check_parameters(profile: Profile, parameters: dict[str, str], at: Callable[[str], str],
                      problems: list[Problem]) -> dict[str, str]:
    """Profile-declared parameters: required ones present, patterns matched, defaults applied."""
    result = {}
    for key, value in parameters.items():
        spec = profile.parameters.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, sorted(profile.parameters), n=1)
            problems.append(Problem(at(f"parameters.{key}"), f"profile '{profile.name}' has no parameter '{key}'",
                                    f"did you mean '{close[0]}'?" if close else f"known parameters: {sorted(profile.parameters)}"))
        elif spec.pattern and not re.fullmatch(spec.pattern, value):
            problems.append(Problem(at(f"parameters.{key}"), f"'{value}' does not match {spec.pattern}", spec.description))
        else:
            result[key] = value
    for key, spec in profile.parameters.items():
        if key in parameters:
            continue
        if spec.required:
            problems.append(Problem(at(f"parameters.{key}"), "missing required parameter",
                                    f"add parameters = {{ {key} = \"...\" }} ({spec.description})"))
        elif spec.default is not None:
            result[key] = spec.default
    return result


def _check_plaintext_secret(deployment: Deployment, at: Callable[[str], str], problems: list[Problem]) -> None:
    """On real AWS an access key's secret sits in the state file in clear unless pgp_key encrypts it."""
    if deployment.create_access_key and not deployment.pgp_key and not deployment.allow_plaintext_secret_in_state:
        problems.append(Problem(
            at("allow_plaintext_secret_in_state"),
            "create_access_key without pgp_key stores the secret access key in plain text in the Terraform state",
            "set pgp_key (state then holds only the encrypted secret), or set allow_plaintext_secret_in_state = true to accept it"))


def _check_prefix_parameters(profile: Profile, parameters: dict[str, str], at: Callable[[str], str], problems: list[Problem]) -> None:
    """A parameter placed before '*' in a resource ARN (role/<prefix>*) must name a family of resources:
    a one-character prefix such as 'A' would match every role starting with A (lint rule LP008)."""
    for key, resource in prefix_parameters(profile).items():
        value = parameters.get(key)
        if value is not None and not specific_prefix(value):
            default = profile.parameters[key].default
            problems.append(Problem(
                at(f"parameters.{key}"),
                f"'{value}' is too broad as the name prefix in {resource} (LP008)",
                f"use at least {MIN_NAME_PREFIX} characters, not only punctuation"
                + (f", e.g. the default '{default}'" if default else "")))


def _check_boundary_options(profile: Any, deployment: Deployment, addenda: list[Any], at: Callable[[str], str],
                            problems: list[Problem]) -> None:
    """Guardrails that need the right combination of options."""
    for name in sorted({a for a in addenda if a in profile.addenda}):
        if profile.addenda[name].platform_creates_node_role and deployment.create_node_role:
            # The platform would write the node role's policy: with the stack's own role that is the
            # role the launcher runs instances with, so it could give itself anything.
            problems.append(Problem(at("addenda"), f"addendum '{name}' lets the platform create the node role and write its policies, "
                                    "but this deployment creates the node role too (create_node_role defaults to true)",
                                    f"set create_node_role = false (the platform creates '{deployment.role_name}'), or drop the addendum '{name}'"))
    if deployment.require_boundary_on_created_roles:
        if not (deployment.profile_boundary or deployment.permissions_boundary):
            problems.append(Problem(at("require_boundary_on_created_roles"), "needs a boundary to require, but profile_boundary is false "
                                    "and no permissions_boundary is given", "set profile_boundary = true or give permissions_boundary"))
        valid = deployment.variant in profile.variants
        statements = [s for spec in profile.policies(deployment.variant) for s in spec.template["Statement"]] if valid else []
        statements += [s for name in addenda if name in profile.addenda for s in profile.addenda[name].statements]
        if valid and not any('"iam:createrole"' in json.dumps(s).lower() for s in statements):
            problems.append(Problem(at("require_boundary_on_created_roles"), f"profile '{profile.name}' (variant "
                                    f"'{deployment.variant}') creates no roles", "remove require_boundary_on_created_roles"))


def _check_addenda(profile: Any, addenda: list[Any], variant: str, at: Callable[[str], str], problems: list[Problem]) -> None:
    known = sorted(profile.addenda)
    for index, name in enumerate(addenda):
        if name not in profile.addenda:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(Problem(at(f"addenda[{index}]"), f"unknown addendum '{name}' for profile '{profile.name}'",
                                    f"{hint}known addenda: {known}"))
    if len(set(map(str, addenda))) != len(addenda):
        problems.append(Problem(at("addenda"), "an addendum is listed twice", "list each addendum once"))
    chosen = {a for a in addenda if a in profile.addenda}
    for name in sorted(chosen):
        for other in profile.addenda[name].conflicts_with:
            if other in chosen and name < other:
                problems.append(Problem(at("addenda"), f"'{name}' and '{other}' cannot be used together", "keep only one of them"))
        only = profile.addenda[name].only_variants
        if only and variant not in only:
            problems.append(Problem(at("addenda"), f"addendum '{name}' cannot be used with variant '{variant}'",
                                    f"use variant {' or '.join(repr(v) for v in only)}, or drop the addendum"))


def _check_unique(deployments: list[tuple[str, Deployment]], problems: list[Problem]) -> None:
    """Stack names are unique; IAM names are unique per account, ignoring case as IAM does.
    One problem per clashing pair, naming both entries as written in the config."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, account/name in lower case) -> (where, name as written)
    for where, deployment in deployments:
        account = deployment.account_id or "(target account)"
        keys = [("stack", deployment.name)]
        if deployment.create_user:
            keys.append(("user", deployment.user_name))
        keys += [("policy", policy_name) for policy_name in deployment.policy_names.values()]
        if deployment.create_node_role:
            keys += [("role", deployment.role_name), ("instance profile", deployment.instance_profile_name)]
            # A variant's own roles (AI Unlimited's engine role), their instance profiles and boundaries.
            if deployment.profile != CUSTOM_PROFILE:
                profile = load_profile(deployment.profile)
                extra = _own_role_names(profile, deployment.variant, {**deployment.parameters, **{k: getattr(deployment, k) for k in NAME_KEYS},
                                                                      "deployment": deployment.name}, deployment.role_names)
                for spec in profile.roles(deployment.variant) if extra else ():
                    keys += [("role", extra[spec.name_key]), ("instance profile", extra[spec.instance_profile_key])]
                    if deployment.profile_boundary and not deployment.permissions_boundary:
                        keys.append(("policy", extra[spec.name_key] + BOUNDARY_SUFFIX))
        clashes: dict[str, list[str]] = {}
        for kind, value in keys:
            key = (kind, value if kind == "stack" else f"{account}/{value}".lower())
            if key in seen:
                other_where, other_value = seen[key]
                case_note = f" (as '{other_value}'; IAM names ignore case)" if other_value != value else ""
                clashes.setdefault(other_where, []).append(f"{kind} '{value}'{case_note}")
            else:
                seen[key] = (where, value)
        for other_where, names in clashes.items():
            problems.append(Problem(
                where, f"{', '.join(names)} also used by {other_where} (account {account})",
                "give each deployment its own names (names are unique per account)"))


def _own_role_names(profile: Profile, variant: str, known: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """The names of a variant's own roles (plan.role_names), or none while a value they need is missing
    (reported elsewhere)."""
    try:
        return role_names(profile, variant, known, given)
    except FoundryError:
        return {}


def _given_role_names(profile: Profile | None, variant: str, given: dict[str, str], at: Callable[[str], str],
                      problems: list[Problem]) -> dict[str, str]:
    """`role_names = { engine_role = "...", engine_role_instance_profile = "..." }`: keys are the variant's own
    roles (and their instance profiles); returned by placeholder (engine_role_name, engine_role_instance_profile_name)."""
    if not profile or not given:
        return {}
    specs = profile.roles(variant) if variant in profile.variants else ()
    keys = {spec.key: spec.name_key for spec in specs} | {f"{spec.key}_instance_profile": spec.instance_profile_key for spec in specs}
    result: dict[str, str] = {}
    for key, value in given.items():
        if key not in keys:
            problems.append(Problem(at(f"role_names.{key}"), "no role of that name in this profile/variant",
                                    f"use one of {sorted(keys)}" if keys else "this variant has no roles of its own; remove role_names"))
        elif not (IAM_NAME.match(value) and len(value) <= NAME_MAX["role_name"]):
            problems.append(Problem(at(f"role_names.{key}"), f"'{value}' is not a valid IAM name",
                                    "use at most 64 characters from ASCII letters, digits and +=,.@_-"))
        else:
            result[keys[key]] = value
    return result


def _label(table: dict[str, Any]) -> str:
    """How a deployment is named in messages besides its index: the name, when it is a valid one."""
    name = table.get("name")
    return f' (deployment "{name}")' if isinstance(name, str) and STACK_NAME.match(name) else ""


def _account_id_check(value: str | int) -> str | None:
    if isinstance(value, int):  # TOML/HCL number: the type error alone ("must be str") does not say what to do
        return (f"account id {value} is a number | quote it: account_id = \"{value:012d}\" (12 digits; a number "
                "loses leading zeros)")
    return None if ACCOUNT_ID.match(value) else \
        "account id must be exactly 12 digits | write it without hyphens, quoted, e.g. \"123456789012\""


def _boundary_check(arn: str, partition: str, region: str) -> str | None:
    match = POLICY_ARN.match(arn)
    if not match:
        return f"not a managed policy ARN | use arn:{partition}:iam::<account>:policy/<name>"
    if match.group(1) != partition:
        return (f"ARN is in partition '{match.group(1)}' but region {region} is in '{partition}' | "
                f"use the boundary policy's ARN in that partition: arn:{partition}:iam::...")
    return None


def _bucket_check(value: str) -> str | None:
    if not BUCKET.match(value) or ".." in value:
        return "not a valid S3 bucket name | use 3-63 lowercase letters, digits, dots, hyphens"
    if IP_ADDRESS.match(value):
        return f"'{value}' is in IP-address form, which S3 refuses as a bucket name | choose a name such as acme-terraform-state"
    return None


def _pgp_check(value: str) -> str | None:
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


def _tag_problems(tags: dict[str, str], where: Callable[[str], str]) -> list[Problem]:
    """IAM's tag rules: 50 per resource (two are iam-foundry's), key 128, value 256, no aws: prefix.
    Keys differ only in case are the same key to IAM."""
    problems = []
    room = TAGS_PER_RESOURCE - len(PROJECT_TAG_KEYS)
    if len(tags) > room:
        problems.append(Problem(where("tags"), f"{len(tags)} tags; IAM allows {TAGS_PER_RESOURCE} per resource and "
                                f"iam-foundry sets {len(PROJECT_TAG_KEYS)} ({', '.join(PROJECT_TAG_KEYS)})", f"keep at most {room}"))
    seen: dict[str, str] = {}
    for key, value in tags.items():
        at = where(f"tags.{key}")
        reserved = [k for k in PROJECT_TAG_KEYS if k.lower() == key.lower()]
        if reserved:
            problems.append(Problem(at, f"'{reserved[0]}' is set by iam-foundry on every resource", "remove it or use another key"))
        elif key.lower().startswith("aws:"):
            problems.append(Problem(at, "the aws: prefix is reserved for AWS", "use a key without it"))
        elif not key or len(key) > TAG_KEY_MAX or not all(c.isalnum() or c in TAG_CHARACTERS for c in key):
            problems.append(Problem(at, "not a valid tag key",
                                    f"use 1-{TAG_KEY_MAX} letters, digits, spaces and {''.join(sorted(TAG_CHARACTERS - {' '}))}"))
        elif key.lower() in seen:
            problems.append(Problem(at, f"same key as '{seen[key.lower()]}' (IAM tag keys ignore case)", "keep one of them"))
        if isinstance(value, str) and (len(value) > TAG_VALUE_MAX or not all(c.isalnum() or c in TAG_CHARACTERS for c in value)):
            problems.append(Problem(at, "not a valid tag value",
                                    f"use at most {TAG_VALUE_MAX} letters, digits, spaces and {''.join(sorted(TAG_CHARACTERS - {' '}))}"))
        seen.setdefault(key.lower(), key)
    return problems


def _lint_accepted(entries: list[Any], where: Callable[[str], str], problems: list[Problem]) -> tuple[LintAcceptance, ...]:
    """A deployment's own accepted lint findings: each names the rule and Sid and says why."""
    result = []
    fields = {"rule", "sid", "reason"}
    for index, entry in enumerate(entries):
        at = where(f"lint_accepted[{index}]")
        example = '{ rule = "LP003", sid = "PassNodeRole", reason = "why this is acceptable" }'
        if not isinstance(entry, dict):
            problems.append(Problem(at, "must be a table", f"write it as {example}"))
            continue
        unknown = sorted(set(entry) - fields)
        bad = [f"unknown keys {unknown}"] if unknown else []
        if entry.get("rule") not in RULES:
            bad.append(f"rule {entry.get('rule')!r} is not one of {sorted(RULES)}")
        if not (isinstance(entry.get("sid"), str) and entry["sid"]):
            bad.append("no sid")
        if not (isinstance(entry.get("reason"), str) and entry["reason"].strip()):
            bad.append("no reason (an accepted finding must say why it is acceptable)")
        if bad:
            problems.append(Problem(at, "; ".join(bad), f"write it as {example}"))
        else:
            result.append(LintAcceptance(entry["rule"], entry["sid"], entry["reason"].strip()))
    return tuple(result)


# --- deployment fields, declared once ------------------------------------------------------------
# Each field's type, default, documentation and check live here; the parser (_parse_deployment),
# the README's reference table (deployment_fields_markdown) and the exported module's variables
# (module_export.py) read them. A check takes the value and the deployment's context (region,
# partition, region_check) and returns "message | fix" or None.

@dataclass(frozen=True)
class Field:
    name: str
    kind: type | tuple[type, ...]
    default: Any
    default_doc: str
    doc: str
    check: Callable[[Any, dict[str, Any]], str | None] | None = None
    required: bool = False
    module_type: str | None = None  # the exported module's variable type, when the module takes it


def _name_check(key: str) -> Callable[[Any, dict[str, Any]], str | None]:
    limit = NAME_MAX[key]
    return lambda v, ctx: None if IAM_NAME.match(v) and len(v) <= limit else \
        f"'{v}' is not a valid IAM name | use at most {limit} characters from ASCII letters, digits and +=,.@_-"


_NAME_DOC = "IAM name: ASCII letters, digits, `+=,.@_-` ({limit} chars); unique per account, ignoring case as IAM does"
DEPLOYMENT_FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("name", str, "", "required", "stack name (one stack and one state file per deployment): a letter, then letters, digits, `-`, `_` (63 chars)",
          lambda v, ctx: _match(STACK_NAME, "not a valid stack name | start with a letter; use letters, digits, - and _ (max 63)")(v), required=True),
    Field("profile", str, "", "required", "a folder of `policy_json/`, or `custom` (with `policy_file`)", required=True),
    Field("variant", str, None, "the profile's default variant", "one of the profile's variants (`iam-foundry profiles`)"),
    Field("addenda", list, [], "`[]`", "the profile's optional statements to switch on, by name (a `custom` profile: all of its `addenda_files`)"),
    Field("policy_file", str, None, "none", "profile `custom`: your base policy (JSON), relative to the config file"),
    Field("addenda_files", list, [], "`[]`", "profile `custom`: your addenda files, relative to the config file"),
    Field("account_id", (str, int), None, "read at plan time (`aws_caller_identity`)", "12 digits, quoted; fills `{{account_id}}`",
          lambda v, ctx: _account_id_check(v)),
    Field("region", str, None, "top-level `region`",
          "one botocore knows (see `allow_unlisted_regions`); decides the partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, ...) from "
          "botocore's data; in `aws-cn` the EC2 trust principal is `ec2.amazonaws.com.cn`. **Required** (here or at the top) for profiles "
          "that scope statements to a region (`ai-unlimited`, `iguazio`): without it `us-east-1` would be filled in silently",
          lambda v, ctx: ctx["region_check"](v)),
    Field("user_name", str, None, "the profile's default, else `<name>-user`", _NAME_DOC.format(limit=64), _name_check("user_name"), module_type="string"),
    Field("policy_name", str, None, "the profile's default, else `<name>-policy`", _NAME_DOC.format(limit=128), _name_check("policy_name"), module_type="string"),
    Field("role_name", str, None, "the profile's default, else `<name>-node-role`", _NAME_DOC.format(limit=64), _name_check("role_name"), module_type="string"),
    Field("instance_profile_name", str, None, "`role_name`", "the instance profile created with the role; " + _NAME_DOC.format(limit=64),
          _name_check("instance_profile_name"), module_type="string"),
    Field("policy_names", dict, {}, "the profile's names", "policy id -> name, for a profile's other policies (e.g. `{ engine = \"...\" }`)",
          lambda v, ctx: _string_map(v)),
    Field("role_names", dict, {}, "the profile's names (`<role_name>-engine`)",
          "a variant's own roles: `{ engine_role = \"...\", engine_role_instance_profile = \"...\" }` (AI Unlimited "
          "`without-iam-role-permissions`; the instance profile defaults to the role's name)", lambda v, ctx: _string_map(v)),
    Field("create_user", bool, True, "`true` (the profile's default)", "create the restricted IAM user"),
    Field("create_node_role", bool, True, "`true` (the profile's default)",
          "create the node role and instance profile; a second deployment in the same account can reuse the shared role with `false`; "
          "`false` is required with an addendum by which the platform creates the node role itself (nextai `role-creation`)"),
    Field("create_access_key", bool, False, "`false` (`true` for `iguazio`, whose installer asks for the key)",
          "adds `aws_iam_access_key`; outputs `access_key_id` and the sensitive `access_key_secret`", module_type="bool"),
    Field("pgp_key", str, None, "none", "with an access key: state holds only the encrypted secret (`access_key_encrypted_secret`); "
          "base64 public key (`gpg --export <id>` in base64, no armor) or `keybase:<user>`", lambda v, ctx: _pgp_check(v), module_type="string"),
    Field("allow_plaintext_secret_in_state", bool, False, "`false`",
          "real AWS only: an access key without `pgp_key` is refused unless this is `true` (the secret would sit in clear in state)"),
    Field("path", str, "/", "`/`", "IAM path of user, role, policy, instance profile",
          lambda v, ctx: _match(IAM_PATH, "not a valid IAM path | use / or /division/team/ (begin and end with /)")(v), module_type="string"),
    Field("permissions_boundary", str, None, "none", "managed policy ARN set on user and role, in the region's partition; "
          "replaces the profile boundary, and the identity policy then denies lifting it (`KeepPermissionsBoundary`)",
          lambda v, ctx: _boundary_check(v, ctx["partition"], ctx["region"]), module_type="string"),
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
          "override); IAM's limits: 48 of yours, key 128, value 256, no `aws:` prefix", lambda v, ctx: _string_map(v), module_type="map(string)"),
    Field("parameters", dict, {}, "`{}`", "extra `{{placeholder}}` values for a profile's templates (`iam-foundry profiles` lists them)",
          lambda v, ctx: _string_map(v)),
    Field("assume_role", dict, None, "none", "`{ role_arn = \"arn:aws:iam::<account>:role/<name>\", external_id = \"...\", session_name = \"...\" }`: the provider "
          "assumes this role (another account); `account_id` defaults to the role's account; `session_name` defaults to `iam-foundry-<name>` "
          "(2-64 of letters, digits, `+=,.@_-`)"),
    Field("aws_profile", str, None, "none", "AWS CLI/SDK profile for this deployment's provider (real AWS only)",
          lambda v, ctx: _match(AWS_PROFILE, "not an AWS profile name | use the name of a profile in ~/.aws/config")(v)),
    Field("adopt", list, [], "`[]`", "existing resources to take over instead of create: any of `\"node_role\"`, `\"instance_profile\"`, `\"user\"`, `\"policy\"`"),
    Field("destroy_adopted", bool, False, "`false`", "`destroy` also deletes adopted resources (default: they are left in place)"),
    Field("lint_accepted", list, [], "`[]`", "lint findings this deployment accepts: `[{ rule = \"LP003\", sid = \"PassNodeRole\", reason = \"...\" }]`; "
          "the reason is required, an entry matching no finding is an error (the way to accept a finding in a `custom` profile)"),
)}


def deployment_fields_markdown() -> str:
    """The README's deployment field reference, from DEPLOYMENT_FIELDS."""
    rows = ["| field | default | meaning |", "|---|---|---|"]
    rows += [f"| `{f.name}` | {f.default_doc} | {f.doc} |" for f in DEPLOYMENT_FIELDS.values()]
    return "\n".join(rows) + "\n"


README_FIELDS_START = "<!-- generated from iam_foundry/config/model.py DEPLOYMENT_FIELDS: edit there, then run `make readme` -->\n"
README_FIELDS_END = "<!-- end of generated deployment fields -->\n"


def readme_with_fields(text: str) -> str:
    """The README with its generated table replaced by the current one."""
    head, _, rest = text.partition(README_FIELDS_START)
    _, _, tail = rest.partition(README_FIELDS_END)
    return head + README_FIELDS_START + deployment_fields_markdown() + README_FIELDS_END + tail


def _parse_assume_role(table: dict[str, Any] | None, where: str, label: str, stack: str, region: str,
                       problems: list[Problem]) -> AssumeRole | None:
    if table is None:
        return None
    r = _Reader(table, where, problems, label)
    before = len(problems)
    role_arn = r.get("role_arn", str, "", required=True,
                     check=_match(ROLE_ARN, "not an IAM role ARN | use arn:aws:iam::<12-digit account>:role/<name>"))
    session_name = r.get("session_name", str, f"iam-foundry-{stack}"[:64],
                         check=_match(SESSION_NAME, "not a valid session name | use 2-64 characters from letters, digits and +=,.@_-"))
    external_id = r.get("external_id", str, None,
                        check=_match(EXTERNAL_ID, "not a valid external id | use 2-1224 characters from letters, digits and +=,.@:/_-"))
    r.finish()
    if role_arn and ROLE_ARN.match(role_arn) and role_arn.split(":")[1] != partition_for(region):
        problems.append(Problem(f"{where}.role_arn{label}", f"partition '{role_arn.split(':')[1]}' does not match region {region}",
                                f"use arn:{partition_for(region)}:iam::... for this region"))
    if len(problems) != before:
        return None
    return AssumeRole(role_arn=role_arn, session_name=session_name, external_id=external_id)
