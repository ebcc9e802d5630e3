"""The config file a user edits (TOML), validated up front into dataclasses.

Every problem is reported with the field that holds it and the fix; nothing is synthesized from a
config that has any.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, FoundryError, Problem
from .policy_templates import PLACEHOLDER, Profile, build_profile, list_profiles, load_profile

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "iam-foundry.toml"
DEFAULT_REGION = "us-east-1"
DEFAULT_LOCALSTACK_ENDPOINT = "http://127.0.0.1:4566"
# IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)
IAM_NAME = re.compile(r"^[\w+=,.@-]+$")
NAME_MAX = {"user_name": 64, "role_name": 64, "instance_profile_name": 64, "policy_name": 128}
IAM_PATH = re.compile(r"^/([\x21-\x7e]*/)?$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob)-[a-z]+-\d$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
POLICY_ARN = re.compile(r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# STS AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
ROLE_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
AWS_PROFILE = re.compile(r"^[\w+=,.@:/-]{1,128}$")
DEFAULT_MAX_ATTACHED = 10
# What `adopt` can take over (Terraform import blocks): resources the vendors' pages say may exist already.
ADOPTABLE = ("node_role", "instance_profile", "user", "policy")


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


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
    path: str = "/"
    permissions_boundary: str | None = None
    force_destroy: bool = False
    max_managed_policies_per_principal: int = DEFAULT_MAX_ATTACHED
    tags: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    policy_names: dict[str, str] = field(default_factory=dict)  # policy id -> name (profile default or override)
    policy_file: str | None = None  # profile "custom": the user's base policy (absolute path)
    addenda_files: tuple[str, ...] = ()  # profile "custom": the user's addenda (absolute paths)
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
        "node_role": {"trust_policy": str(Path(__file__).resolve().parent.parent / "policy_json" / "common" / "ec2-trust.json")},
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

    def __init__(self, table: dict[str, Any], where: str, problems: list[Problem]):
        self.table, self.where, self.problems = table, where, problems
        self.seen: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False,
            check: Callable[[Any], str | None] | None = None) -> Any:
        self.seen.add(key)
        field_name = f"{self.where}.{key}" if self.where else key
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
                self.problems.append(Problem(field_name, message.split(" | ")[0],
                                             message.split(" | ")[1] if " | " in message else ""))
                return default
        return value

    def finish(self) -> None:
        for key in sorted(set(self.table) - self.seen):
            close = difflib.get_close_matches(key, sorted(self.seen), n=1)
            fix = f"did you mean '{close[0]}'?" if close else f"remove it; known fields: {sorted(self.seen)}"
            field_name = f"{self.where}.{key}" if self.where else key
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
    """Load a config: TOML (iam-foundry.toml), or HCL variables (.tfvars / .hcl) with the same fields."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(Problem(str(path), "config file not found", "pass --config or copy iam-foundry.toml"))
    if path.suffix in (".tfvars", ".hcl"):
        import hcl2  # only for HCL configs

        try:
            with path.open(encoding="utf-8") as handle:
                raw = _from_hcl(hcl2.load(handle))
        except Exception as err:  # python-hcl2 raises lark errors with line and column
            raise ConfigError(Problem(str(path), f"not valid HCL: {str(err).splitlines()[0]}", "fix the syntax at that line")) from None
        return parse_config(raw, source=path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(Problem(str(path), f"not valid TOML: {err}", "fix the syntax at that line")) from None
    return parse_config(raw, source=path)


def parse_config(raw: dict[str, Any], source: Path | None = None) -> FoundryConfig:
    problems: list[Problem] = []
    top = _Reader(raw, "", problems)
    region = top.get("region", str, DEFAULT_REGION,
                     check=_match(REGION, "not an AWS region | use a region code such as us-east-1"))

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
        bucket=be.get("bucket", str, "iam-foundry-state", check=_match(BUCKET, "not a valid S3 bucket name | use 3-63 lowercase letters, digits, dots, hyphens")),
        key_prefix=be.get("key_prefix", str, "iam-foundry"),
        region=be.get("region", str, region, check=_match(REGION, "not an AWS region | use a region code such as us-east-1")),
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
    deployments = []
    for index, table in enumerate(deployments_raw):
        where = f"deployments[{index}]"
        if not isinstance(table, dict):
            problems.append(Problem(where, "must be a table", "write it as [[deployments]]"))
            continue
        deployment = _parse_deployment(table, where, region, problems, base_dir=source.parent if source else Path.cwd())
        if deployment:
            deployments.append(deployment)
    top.finish()
    if localstack.enabled:
        for index, deployment in enumerate(deployments):
            if deployment.aws_profile:  # the emulator's provider has fixed test credentials
                problems.append(Problem(f"deployments[{index}].aws_profile", "LocalStack is targeted, which uses its own test credentials",
                                        "remove aws_profile (assume_role reaches another LocalStack account), or set localstack.enabled = false"))
    _check_unique(deployments, problems)
    if backend.type == "cloud" and backend.workspace and len(deployments) > 1 and "{deployment}" not in backend.workspace:
        problems.append(Problem("backend.workspace", "several deployments would share one workspace (and one state)",
                                'put {deployment} in the name, e.g. workspace = "iam-{deployment}"'))
    if problems:
        raise ConfigError(problems)
    return FoundryConfig(region=region, localstack=localstack, backend=backend, deployments=tuple(deployments), source=source)


def _fill_default(value: Any, known: dict[str, str]) -> Any:
    """Profile defaults may use placeholders, e.g. "{{cloud_id}}-cluster_node_role"."""
    if not isinstance(value, str):
        return value
    return PLACEHOLDER.sub(lambda m: known.get(m.group(1)) or m.group(0), value)


def _parse_deployment(table: dict[str, Any], where: str, default_region: str, problems: list[Problem],
                      base_dir: Path) -> Deployment | None:
    d = _Reader(table, where, problems)
    before = len(problems)
    name = d.get("name", str, "", required=True,
                 check=_match(STACK_NAME, "not a valid stack name | start with a letter; use letters, digits, - and _ (max 63)"))
    profile_name = d.get("profile", str, "", required=True)
    policy_file = d.get("policy_file", str, None)
    addenda_files = d.get("addenda_files", list, [])
    profile: Profile | None = None
    if profile_name == CUSTOM_PROFILE:
        if not policy_file:
            problems.append(Problem(f"{where}.policy_file", "profile 'custom' needs your base policy file",
                                    'add policy_file = "my-policy.json" (relative to the config file)'))
        else:
            policy_file = str((base_dir / policy_file).resolve())
            addenda_files = [str((base_dir / f).resolve()) for f in addenda_files]
            try:
                profile = custom_profile(policy_file, tuple(addenda_files))
            except FoundryError as err:
                problems.extend(Problem(f"{where}.policy_file/addenda_files: {p.where}", p.message, p.fix) for p in err.problems)
    elif profile_name:
        if policy_file or addenda_files:
            problems.append(Problem(f"{where}.policy_file", "policy_file and addenda_files are for profile 'custom' only",
                                    f"remove them, or set profile = \"{CUSTOM_PROFILE}\""))
        try:
            profile = load_profile(profile_name)
        except FoundryError as err:
            problems.append(Problem(f"{where}.profile", f"unknown profile '{profile_name}'" if "no such profile" in str(err) else str(err),
                                    f"use one of {list_profiles() + [CUSTOM_PROFILE]}"))
    region = d.get("region", str, default_region, check=_match(REGION, "not an AWS region | use a region code such as us-east-1"))
    addenda = d.get("addenda", list, [])
    if profile_name == CUSTOM_PROFILE and profile:
        addenda = addenda or sorted(profile.addenda)  # a custom profile's addenda files are all switched on
    account_id = d.get("account_id", str, None,
                       check=_match(ACCOUNT_ID, "account id must be exactly 12 digits | write it without hyphens, quoted, e.g. \"123456789012\""))
    variant = d.get("variant", str, None)
    if profile and variant is not None and variant not in profile.variants:
        problems.append(Problem(f"{where}.variant", f"unknown variant '{variant}' for profile '{profile.name}'",
                                f"use one of {sorted(profile.variants)}"))
    variant = variant or (profile.default_variant if profile else "")
    parameters = d.get("parameters", dict, {}, check=_string_map)
    if profile:
        parameters = _check_parameters(profile, parameters, where, problems)
    defaults = {key: _fill_default(value, parameters) for key, value in (profile.defaults if profile else {}).items()}
    names = {}
    for key in ("user_name", "policy_name", "role_name", "instance_profile_name"):
        limit = NAME_MAX[key]
        names[key] = d.get(key, str, None, check=lambda v, limit=limit: None if IAM_NAME.match(v) and len(v) <= limit else
                           f"'{v}' is not a valid IAM name | use at most {limit} characters from letters, digits and +=,.@_-")
    if not names["user_name"]:
        names["user_name"] = defaults.get("user_name") or f"{name}-user"
    if not names["policy_name"]:
        names["policy_name"] = defaults.get("policy_name") or f"{name}-policy"
    if not names["role_name"]:
        names["role_name"] = defaults.get("role_name") or f"{name}-node-role"
    if not names["instance_profile_name"]:
        names["instance_profile_name"] = defaults.get("instance_profile_name") or names["role_name"]
    for key, value in names.items():  # defaults filled from parameters must be valid names too
        if PLACEHOLDER.search(value):
            continue  # built from a missing parameter, which is reported already
        if not (IAM_NAME.match(value) and len(value) <= NAME_MAX[key]):
            problems.append(Problem(f"{where}.{key}", f"'{value}' (from the profile default) is not a valid IAM name",
                                    f"set {key} explicitly, or fix the parameters it is built from"))
    policy_names = d.get("policy_names", dict, {}, check=_string_map)
    resolved_policy_names: dict[str, str] = {}
    if profile and variant in profile.variants:
        known = {**parameters, **names}
        resolved_policy_names = {spec.id: policy_names.get(spec.id) or _fill_default(spec.name, known)
                                 for spec in profile.policies(variant)}
    if profile:
        known_ids = {spec.id for spec in profile.policies(variant if variant in profile.variants else None)}
        for policy_id, policy_name in policy_names.items():
            if policy_id not in known_ids:
                problems.append(Problem(f"{where}.policy_names.{policy_id}", "no policy with that id in this profile/variant",
                                        f"use one of {sorted(known_ids)}"))
            elif not (IAM_NAME.match(policy_name) and len(policy_name) <= NAME_MAX["policy_name"]):
                problems.append(Problem(f"{where}.policy_names.{policy_id}", f"'{policy_name}' is not a valid IAM policy name",
                                        "use at most 128 characters from letters, digits and +=,.@_-"))
    create_access_key = d.get("create_access_key", bool, False)
    pgp_key = d.get("pgp_key", str, None)
    assume_role = _parse_assume_role(d.get("assume_role", dict, None), f"{where}.assume_role", name, region, problems)
    aws_profile = d.get("aws_profile", str, None, check=_match(AWS_PROFILE, "not an AWS profile name | use the name of a profile in ~/.aws/config"))
    adopt = d.get("adopt", list, [])
    for index, item in enumerate(adopt):
        if item not in ADOPTABLE:
            close = difflib.get_close_matches(str(item), ADOPTABLE, n=1)
            problems.append(Problem(f"{where}.adopt[{index}]", f"cannot adopt '{item}'",
                                    (f"did you mean '{close[0]}'? " if close else "") + f"adoptable: {list(ADOPTABLE)}"))
    if len(set(map(str, adopt))) != len(adopt):
        problems.append(Problem(f"{where}.adopt", "an entry is listed twice", "list each resource once"))
    destroy_adopted = d.get("destroy_adopted", bool, False)
    if assume_role and not account_id:
        account_id = assume_role.account_id  # the role's account is where the deployment lands
    elif assume_role and account_id != assume_role.account_id:
        problems.append(Problem(f"{where}.assume_role.role_arn", f"role is in account {assume_role.account_id}, but account_id is {account_id}",
                                "assume a role in the deployment's account, or correct account_id"))
    deployment = Deployment(
        name=name,
        profile=profile_name,
        region=region,
        partition=partition_for(region),
        variant=variant,
        addenda=tuple(addenda),
        account_id=account_id,
        create_user=d.get("create_user", bool, bool(defaults.get("create_user", True))),
        create_node_role=d.get("create_node_role", bool, bool(defaults.get("create_node_role", True))),
        create_access_key=create_access_key,
        pgp_key=pgp_key,
        path=d.get("path", str, "/", check=_match(IAM_PATH, "not a valid IAM path | use / or /division/team/ (begin and end with /)")),
        permissions_boundary=d.get("permissions_boundary", str, None,
                                   check=_match(POLICY_ARN, "not a managed policy ARN | use arn:aws:iam::<account>:policy/<name>")),
        force_destroy=d.get("force_destroy", bool, False),
        max_managed_policies_per_principal=d.get("max_managed_policies_per_principal", int, DEFAULT_MAX_ATTACHED,
                                                 check=lambda v: None if 1 <= v <= 20 else "must be between 1 and 20 | use your account's quota (default 10)"),
        tags=d.get("tags", dict, {}, check=_string_map),
        parameters=parameters,
        policy_names=resolved_policy_names,
        policy_file=policy_file,
        addenda_files=tuple(addenda_files),
        assume_role=assume_role,
        aws_profile=aws_profile,
        adopt=tuple(adopt),
        destroy_adopted=destroy_adopted,
        **names,
    )
    d.finish()
    if pgp_key and not create_access_key:
        problems.append(Problem(f"{where}.pgp_key", "set without create_access_key = true", "remove pgp_key or turn create_access_key on"))
    if "user" in adopt and not deployment.create_user:
        problems.append(Problem(f"{where}.adopt", "adopts the user, but create_user is false", "drop 'user' from adopt or set create_user = true"))
    for item in ("node_role", "instance_profile"):
        if item in adopt and not deployment.create_node_role:
            problems.append(Problem(f"{where}.adopt", f"adopts the {item.replace('_', ' ')}, but create_node_role is false",
                                    f"drop '{item}' from adopt or set create_node_role = true"))
    if destroy_adopted and not adopt:
        problems.append(Problem(f"{where}.destroy_adopted", "set without adopt", "remove destroy_adopted, or list what to adopt"))
    if create_access_key and not deployment.create_user:
        problems.append(Problem(f"{where}.create_access_key", "an access key needs the user, but create_user is false",
                                "set create_user = true or drop create_access_key"))
    if profile:
        _check_addenda(profile, addenda, variant, where, problems)
        if profile.account_parameter and account_id and parameters.get(profile.account_parameter) not in (None, account_id):
            problems.append(Problem(f"{where}.parameters.{profile.account_parameter}",
                                    f"{parameters[profile.account_parameter]} differs from account_id {account_id}",
                                    f"{profile.title} needs the role in the same account: deploy to that account"))
    return deployment if len(problems) == before else None


def _check_parameters(profile: Profile, parameters: dict[str, str], where: str, problems: list[Problem]) -> dict[str, str]:
    """Profile-declared parameters: required ones present, patterns matched, defaults applied."""
    result = {}
    for key, value in parameters.items():
        spec = profile.parameters.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, sorted(profile.parameters), n=1)
            problems.append(Problem(f"{where}.parameters.{key}", f"profile '{profile.name}' has no parameter '{key}'",
                                    f"did you mean '{close[0]}'?" if close else f"known parameters: {sorted(profile.parameters)}"))
        elif spec.pattern and not re.fullmatch(spec.pattern, value):
            problems.append(Problem(f"{where}.parameters.{key}", f"'{value}' does not match {spec.pattern}", spec.description))
        else:
            result[key] = value
    for key, spec in profile.parameters.items():
        if key in parameters:
            continue
        if spec.required:
            problems.append(Problem(f"{where}.parameters.{key}", "missing required parameter",
                                    f"add parameters = {{ {key} = \"...\" }} ({spec.description})"))
        elif spec.default is not None:
            result[key] = spec.default
    return result


def _check_addenda(profile: Any, addenda: list[Any], variant: str, where: str, problems: list[Problem]) -> None:
    known = sorted(profile.addenda)
    for index, name in enumerate(addenda):
        if name not in profile.addenda:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(Problem(f"{where}.addenda[{index}]", f"unknown addendum '{name}' for profile '{profile.name}'",
                                    f"{hint}known addenda: {known}"))
    if len(set(map(str, addenda))) != len(addenda):
        problems.append(Problem(f"{where}.addenda", "an addendum is listed twice", "list each addendum once"))
    chosen = {a for a in addenda if a in profile.addenda}
    for name in sorted(chosen):
        for other in profile.addenda[name].conflicts_with:
            if other in chosen and name < other:
                problems.append(Problem(f"{where}.addenda", f"'{name}' and '{other}' cannot be used together", "keep only one of them"))
        only = profile.addenda[name].only_variants
        if only and variant not in only:
            problems.append(Problem(f"{where}.addenda", f"addendum '{name}' cannot be used with variant '{variant}'",
                                    f"use variant {' or '.join(repr(v) for v in only)}, or drop the addendum"))


def _check_unique(deployments: list[Deployment], problems: list[Problem]) -> None:
    """Stack names are unique; IAM names are unique per account. One problem per clashing pair."""
    seen: dict[tuple[str, str], int] = {}
    for index, deployment in enumerate(deployments):
        account = deployment.account_id or "(target account)"
        keys = [("stack", deployment.name)]
        if deployment.create_user:
            keys.append(("user", deployment.user_name))
        keys += [("policy", policy_name) for policy_name in deployment.policy_names.values()]
        if deployment.create_node_role:
            keys += [("role", deployment.role_name), ("instance profile", deployment.instance_profile_name)]
        clashes: dict[int, list[str]] = {}
        for kind, value in keys:
            key = (kind, value if kind == "stack" else f"{account}/{value}")
            if key in seen:
                clashes.setdefault(seen[key], []).append(f"{kind} '{value}'")
            else:
                seen[key] = index
        for other, names in clashes.items():
            problems.append(Problem(
                f"deployments[{index}]", f"{', '.join(names)} also used by deployments[{other}] (account {account})",
                "give each deployment its own names (names are unique per account)"))


def _parse_assume_role(table: dict[str, Any] | None, where: str, stack: str, region: str,
                       problems: list[Problem]) -> AssumeRole | None:
    if table is None:
        return None
    r = _Reader(table, where, problems)
    before = len(problems)
    role_arn = r.get("role_arn", str, "", required=True,
                     check=_match(ROLE_ARN, "not an IAM role ARN | use arn:aws:iam::<12-digit account>:role/<name>"))
    session_name = r.get("session_name", str, f"iam-foundry-{stack}"[:64],
                         check=_match(SESSION_NAME, "not a valid session name | use 2-64 characters from letters, digits and +=,.@_-"))
    external_id = r.get("external_id", str, None,
                        check=_match(EXTERNAL_ID, "not a valid external id | use 2-1224 characters from letters, digits and +=,.@:/_-"))
    r.finish()
    if role_arn and ROLE_ARN.match(role_arn) and role_arn.split(":")[1] != partition_for(region):
        problems.append(Problem(f"{where}.role_arn", f"partition '{role_arn.split(':')[1]}' does not match region {region}",
                                f"use arn:{partition_for(region)}:iam::... for this region"))
    if len(problems) != before:
        return None
    return AssumeRole(role_arn=role_arn, session_name=session_name, external_id=external_id)
