"""Reading the config file: TOML or HCL (.tfvars) -> validated FoundryConfig.

Every field of every table is read from its declaration (fields.py, backends.py); the steps below add
what depends on several fields or on the profile. Every problem is reported with the field that holds
it and the fix; nothing is synthesized from a config that has any.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from iam_foundry.config.backends import backend_fields, backend_from
from iam_foundry.config.fields import (
    ADOPTABLE,
    ASSUME_ROLE_FIELDS,
    DEFAULT_REGION,
    DEPLOYMENT_FIELDS,
    IAM_NAME,
    LINT_ACCEPTANCE_FIELDS,
    LOCALSTACK_FIELDS,
    NAME_MAX,
    PROJECT_TAG_KEYS,
    STACK_NAME,
    TAG_CHARACTERS,
    TAG_KEY_MAX,
    TAG_VALUE_MAX,
    TAGS_PER_RESOURCE,
    TOP_LEVEL_FIELDS,
    Field,
    partition_for,
)
from iam_foundry.config.model import CUSTOM_PROFILE, AssumeRole, Deployment, FoundryConfig, LintAcceptance, custom_profile
from iam_foundry.config.target import LocalStack
from iam_foundry.errors import ConfigError, FoundryError, Problem
from iam_foundry.files import read_text, unbalanced_bracket
from iam_foundry.paths import DEFAULT_CONFIG
from iam_foundry.plan import BOUNDARY_SUFFIX, NAME_KEYS, default_name_template, role_names, role_title
from iam_foundry.policy.lint import MIN_NAME_PREFIX, specific_prefix
from iam_foundry.profiles.load import PLACEHOLDER, Profile, list_profiles, load_profile
from iam_foundry.policy.render import prefix_parameters, statements_using


class _Reader:
    """Reads one table, collecting problems instead of stopping at the first."""

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

    def read(self, fields: Mapping[str, Field], context: dict[str, Any]) -> dict[str, Any]:
        """Every declared field, in declaration order: its type, its check (which sees the values read
        before it), its default (an invalid value falls back to it, with the problem recorded)."""
        values: dict[str, Any] = {}
        context = {**context, "values": values}
        for declared in fields.values():
            check = declared.check
            values[declared.name] = self.get(declared.name, declared.kind, declared.default_in(context), required=declared.required,
                                             check=(lambda value, c=check: c(value, context)) if check else None)
        return values

    def given(self, key: str) -> bool:
        return key in self.table

    def finish(self) -> None:
        for key in sorted(set(self.table) - self.seen):
            close = difflib.get_close_matches(key, sorted(self.seen), n=1)
            fix = f"did you mean '{close[0]}'?" if close else f"remove it; known fields: {sorted(self.seen)}"
            field_name = (f"{self.where}.{key}" if self.where else key) + self.label
            self.problems.append(Problem(field_name, "unknown field", fix))


def read_table(table: dict[str, Any], where: str, fields: Mapping[str, Field], context: dict[str, Any],
               problems: list[Problem], label: str = "") -> dict[str, Any]:
    """A whole table from its declarations, unknown keys reported."""
    reader = _Reader(table, where, problems, label)
    values = reader.read(fields, context)
    reader.finish()
    return values


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
    """The validated config, or a ConfigError holding every problem at once (source: the file, whose
    folder custom profiles' files are relative to)."""
    problems: list[Problem] = []
    top = read_table(raw, "", TOP_LEVEL_FIELDS, {}, problems)
    region = top["region"]
    context = {"region": region, "allow_unlisted_regions": top["allow_unlisted_regions"],
               "base_dir": source.parent if source else Path.cwd(), "region_explicit": "region" in raw}
    localstack = LocalStack(**read_table(top["localstack"], "localstack", LOCALSTACK_FIELDS, context, problems))
    chosen = top["backend"].get("type")  # the chosen type's declarations win a name two types share
    backend = backend_from(read_table(top["backend"], "backend", backend_fields(chosen if isinstance(chosen, str) else None),
                                      context, problems))
    if not top["deployments"] and "deployments" in raw:
        problems.append(Problem("deployments", "no deployment listed", "add a [[deployments]] table"))
    deployments: list[tuple[str, Deployment]] = []  # (where, deployment): a clash names the entries as written
    for index, table in enumerate(top["deployments"]):
        where = f"deployments[{index}]"
        if not isinstance(table, dict):
            problems.append(Problem(where, "must be a table", "write it as [[deployments]]"))
            continue
        deployment = _parse_deployment(table, where, problems, context)
        if deployment:
            deployments.append((where + _label(table), deployment))
            _check_target(deployment, localstack, lambda f, w=where, t=table: f"{w}.{f}{_label(t)}", problems)
    _check_unique(deployments, problems)
    problems += backend.problems(localstack, [d.name for _, d in deployments])
    if problems:
        raise ConfigError(problems)
    return FoundryConfig(region=region, localstack=localstack, backend=backend, deployments=tuple(d for _, d in deployments),
                         source=source)


def _check_target(deployment: Deployment, localstack: LocalStack, at: Callable[[str], str], problems: list[Problem]) -> None:
    if not localstack.enabled:
        _check_plaintext_secret(deployment, at, problems)
    elif deployment.aws_profile:  # the emulator's provider has fixed test credentials
        problems.append(Problem(at("aws_profile"), "LocalStack is targeted, which uses its own test credentials",
                                "remove aws_profile (assume_role reaches another LocalStack account), or set localstack.enabled = false"))


@dataclass
class _Draft:
    """One deployment while it is read: the declared fields' values, then what the profile adds."""

    table: dict[str, Any]
    values: dict[str, Any]
    at: Callable[[str], str]
    problems: list[Problem]
    profile: Profile | None = None

    def default(self, key: str, value: Any) -> None:
        """A default that depends on the profile, for a field the deployment does not set."""
        if key not in self.table:
            self.values[key] = value


def _parse_deployment(table: dict[str, Any], where: str, problems: list[Problem], context: dict[str, Any]) -> Deployment | None:
    label = _label(table)  # deployments[499] alone is hard to find in a long config: name it too
    before = len(problems)
    values = read_table(table, where, DEPLOYMENT_FIELDS, context, problems, label)
    draft = _Draft(table, values, lambda field_path: f"{where}.{field_path}{label}", problems)
    draft.profile = _resolve_profile(draft, context["base_dir"])
    _profile_defaults(draft)
    names = _resolve_names(draft)
    values["partition"] = partition_for(values["region"])
    values["assume_role"] = _parse_assume_role(values["assume_role"], f"{where}.assume_role", label, values, problems)
    _check_account(draft)
    _check_adopt(draft)
    problems.extend(_tag_problems(values["tags"], draft.at))
    values["lint_accepted"] = _lint_accepted(values["lint_accepted"], draft.at, problems)
    values["region_explicit"] = context["region_explicit"] or "region" in table
    deployment = Deployment(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()
                               if key not in names}, **names)
    _check_combinations(deployment, draft.at, problems)
    if draft.profile:
        _check_against_profile(draft.profile, deployment, draft.at, problems)
    return deployment if len(problems) == before else None


def _resolve_profile(draft: _Draft, base_dir: Path) -> Profile | None:
    """The deployment's profile: a built-in one by name, or `custom` from the user's files (made absolute)."""
    values, at, problems = draft.values, draft.at, draft.problems
    profile_name = values["profile"]
    if profile_name == CUSTOM_PROFILE:
        if not values["policy_file"]:
            problems.append(Problem(at("policy_file"), "profile 'custom' needs your base policy file",
                                    'add policy_file = "my-policy.json" (relative to the config file)'))
            return None
        values["policy_file"] = str((base_dir / values["policy_file"]).resolve())
        values["addenda_files"] = [str((base_dir / f).resolve()) for f in values["addenda_files"]]
        try:
            return custom_profile(values["policy_file"], tuple(values["addenda_files"]))
        except FoundryError as err:
            problems.extend(Problem(f"{at('policy_file/addenda_files')}: {p.where}", p.message, p.fix) for p in err.problems)
            return None
    if not profile_name:
        return None
    if values["policy_file"] or values["addenda_files"]:
        problems.append(Problem(at("policy_file"), "policy_file and addenda_files are for profile 'custom' only",
                                f"remove them, or set profile = \"{CUSTOM_PROFILE}\""))
    try:
        return load_profile(profile_name)
    except FoundryError as err:
        problems.append(Problem(at("profile"), f"unknown profile '{profile_name}'" if "no such profile" in str(err) else str(err),
                                f"use one of {list_profiles() + [CUSTOM_PROFILE]}"))
        return None


def _profile_defaults(draft: _Draft) -> None:
    """The variant, the parameters and the switches a profile decides when the deployment is silent."""
    values, profile = draft.values, draft.profile
    draft.default("profile_boundary", values["profile"] != CUSTOM_PROFILE)
    if profile is None:
        values["variant"] = values["variant"] or ""
        return
    if values["profile"] == CUSTOM_PROFILE:
        values["addenda"] = values["addenda"] or sorted(profile.addenda)  # a custom profile's addenda files are all switched on
    if values["variant"] is not None and values["variant"] not in profile.variants:
        draft.problems.append(Problem(draft.at("variant"), f"unknown variant '{values['variant']}' for profile '{profile.name}'",
                                      f"use one of {sorted(profile.variants)}"))
    values["variant"] = values["variant"] or profile.default_variant
    values["parameters"] = _check_parameters(profile, values["parameters"], draft.at, draft.problems)
    _check_prefix_parameters(profile, values["parameters"], draft.at, draft.problems)
    defaults = {key: _fill_default(value, values["parameters"]) for key, value in profile.defaults.items()}
    # Some installers ask for the user's key (Iguazio): their profile turns it on by default.
    for key, fallback in (("create_access_key", False), ("create_user", True), ("create_node_role", True)):
        draft.default(key, bool(defaults.get(key, fallback)))


def _resolve_names(draft: _Draft) -> dict[str, str]:
    """The IAM names (the one default of each, which an exported module uses too) and the policy names."""
    values, profile, at = draft.values, draft.profile, draft.at
    names = {key: values[key] for key in NAME_KEYS}
    for key in NAME_KEYS:
        if not names[key] and profile:
            names[key] = _fill_default(default_name_template(profile, key), {**values["parameters"], **names, "deployment": values["name"]})
        names[key] = names[key] or ""
    for key, value in names.items():  # defaults filled from parameters must be valid names too
        if PLACEHOLDER.search(value) or not value:
            continue  # built from a missing parameter (or no profile), which is reported already
        if not (IAM_NAME.match(value) and len(value) <= NAME_MAX[key]):
            draft.problems.append(Problem(at(key), f"'{value}' (from the profile default) is not a valid IAM name",
                                          f"set {key} explicitly, or fix the parameters it is built from"))
    values["role_names"] = _resolve_role_names(draft, names)
    values["policy_names"] = _resolve_policy_names(draft, {**values["parameters"], **names})
    return names


def _resolve_role_names(draft: _Draft, names: dict[str, str]) -> dict[str, str]:
    """The names the config gives a variant's own roles (AI Unlimited's engine role); the ones the
    profile derives from role_name must be valid IAM names too."""
    values, profile, variant = draft.values, draft.profile, draft.values["variant"]
    given = _given_role_names(profile, variant, values["role_names"], draft.at, draft.problems)
    if profile and variant in profile.variants and all(names.values()):
        extra = _own_role_names(profile, variant, {**values["parameters"], **names, "deployment": values["name"]}, given)
        for spec in profile.roles(variant):
            for key in (spec.name_key, spec.instance_profile_key):
                value = extra.get(key, "")
                if value and key not in given and not (IAM_NAME.match(value) and len(value) <= NAME_MAX["role_name"]):
                    draft.problems.append(Problem(draft.at("role_name"), f"'{value}', the {role_title(key.removesuffix('_name')).lower()} "
                                                  "name the profile derives from it, is not a valid IAM name (64 characters)",
                                                  "shorten role_name (or the names it is built from), or name it in role_names"))
    return given


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


def _resolve_policy_names(draft: _Draft, known: dict[str, str]) -> dict[str, str]:
    """policy id -> name for the variant's policies and the chosen addenda's own; overrides checked."""
    profile, given, variant, addenda = draft.profile, draft.values["policy_names"], draft.values["variant"], draft.values["addenda"]
    if not profile:
        return {}
    resolved: dict[str, str] = {}
    if variant in profile.variants:
        resolved = {spec.id: given.get(spec.id) or _fill_default(spec.name, known) for spec in profile.policies(variant)}
        # Addenda that form their own policy (a deployer's, a vendor role's) name it too.
        resolved.update({a.policy.id: given.get(a.policy.id) or _fill_default(a.policy.name, known)
                         for name, a in profile.addenda.items() if a.policy and name in addenda})
    known_ids = {spec.id for spec in profile.policies(variant if variant in profile.variants else None)}
    known_ids |= {a.policy.id for name, a in profile.addenda.items() if a.policy and name in addenda}
    for policy_id, policy_name in given.items():
        if policy_id not in known_ids:
            draft.problems.append(Problem(draft.at(f"policy_names.{policy_id}"), "no policy with that id in this profile/variant",
                                          f"use one of {sorted(known_ids)}"))
        elif not (IAM_NAME.match(policy_name) and len(policy_name) <= NAME_MAX["policy_name"]):
            draft.problems.append(Problem(draft.at(f"policy_names.{policy_id}"), f"'{policy_name}' is not a valid IAM policy name",
                                          "use at most 128 characters from ASCII letters, digits and +=,.@_-"))
    return resolved


def _parse_assume_role(table: dict[str, Any] | None, where: str, label: str, deployment: dict[str, Any],
                       problems: list[Problem]) -> AssumeRole | None:
    if table is None:
        return None
    before = len(problems)
    values = read_table(table, where, ASSUME_ROLE_FIELDS, {"stack": deployment["name"]}, problems, label)
    role_arn, partition = values["role_arn"], deployment["partition"]
    if len(problems) == before and role_arn.split(":")[1] != partition:
        problems.append(Problem(f"{where}.role_arn{label}", f"partition '{role_arn.split(':')[1]}' does not match region {deployment['region']}",
                                f"use arn:{partition}:iam::... for this region"))
    return AssumeRole(**values) if len(problems) == before else None


def _check_account(draft: _Draft) -> None:
    """The role's account is where the deployment lands: account_id defaults to it, and must not differ."""
    values, role = draft.values, draft.values["assume_role"]
    if role and not values["account_id"]:
        values["account_id"] = role.account_id
    elif role and values["account_id"] != role.account_id:
        draft.problems.append(Problem(draft.at("assume_role.role_arn"), f"role is in account {role.account_id}, but account_id is "
                                      f"{values['account_id']}", "assume a role in the deployment's account, or correct account_id"))


def _check_adopt(draft: _Draft) -> None:
    adopt = draft.values["adopt"]
    for index, item in enumerate(adopt):
        if item not in ADOPTABLE:
            close = difflib.get_close_matches(str(item), ADOPTABLE, n=1)
            draft.problems.append(Problem(draft.at(f"adopt[{index}]"), f"cannot adopt '{item}'",
                                          (f"did you mean '{close[0]}'? " if close else "") + f"adoptable: {list(ADOPTABLE)}"))
    if len(set(map(str, adopt))) != len(adopt):
        draft.problems.append(Problem(draft.at("adopt"), "an entry is listed twice", "list each resource once"))


def _check_combinations(deployment: Deployment, at: Callable[[str], str], problems: list[Problem]) -> None:
    """Options that need (or exclude) another option."""
    adopt = deployment.adopt
    if deployment.pgp_key and not deployment.create_access_key:
        problems.append(Problem(at("pgp_key"), "set without create_access_key = true", "remove pgp_key or turn create_access_key on"))
    if "user" in adopt and not deployment.create_user:
        problems.append(Problem(at("adopt"), "adopts the user, but create_user is false", "drop 'user' from adopt or set create_user = true"))
    for item in ("node_role", "instance_profile"):
        if item in adopt and not deployment.create_node_role:
            problems.append(Problem(at("adopt"), f"adopts the {item.replace('_', ' ')}, but create_node_role is false",
                                    f"drop '{item}' from adopt or set create_node_role = true"))
    if deployment.destroy_adopted and not adopt:
        problems.append(Problem(at("destroy_adopted"), "set without adopt", "remove destroy_adopted, or list what to adopt"))
    if deployment.create_access_key and not deployment.create_user:
        problems.append(Problem(at("create_access_key"), "an access key needs the user, but create_user is false",
                                "set create_user = true or drop create_access_key"))


def _check_against_profile(profile: Profile, deployment: Deployment, at: Callable[[str], str], problems: list[Problem]) -> None:
    """What the profile asks of the chosen addenda, parameters, region and account."""
    addenda, variant, parameters = list(deployment.addenda), deployment.variant, deployment.parameters
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
    account_id = deployment.account_id
    if profile.account_parameter and account_id and parameters.get(profile.account_parameter) not in (None, account_id):
        problems.append(Problem(at(f"parameters.{profile.account_parameter}"),
                                f"{parameters[profile.account_parameter]} differs from account_id {account_id}",
                                f"{profile.title} needs the role in the same account: deploy to that account"))


def _fill_default(value: Any, known: dict[str, str]) -> Any:
    """Profile defaults may use placeholders, e.g. "{{cloud_id}}-cluster_node_role"."""
    if not isinstance(value, str):
        return value
    return PLACEHOLDER.sub(lambda m: known.get(m.group(1)) or m.group(0), value)


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


def _label(table: dict[str, Any]) -> str:
    """How a deployment is named in messages besides its index: the name, when it is a valid one."""
    name = table.get("name")
    return f' (deployment "{name}")' if isinstance(name, str) and STACK_NAME.match(name) else ""


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
    """A deployment's own accepted lint findings (LINT_ACCEPTANCE_FIELDS): each names the rule and Sid and
    says why. One problem per bad entry, listing all that is wrong with it, with an example to copy."""
    result = []
    example = '{ rule = "LP003", sid = "PassNodeRole", reason = "why this is acceptable" }'
    for index, entry in enumerate(entries):
        at = where(f"lint_accepted[{index}]")
        if not isinstance(entry, dict):
            problems.append(Problem(at, "must be a table", f"write it as {example}"))
            continue
        found: list[Problem] = []
        values = read_table(entry, "", LINT_ACCEPTANCE_FIELDS, {}, found)
        if found:
            problems.append(Problem(at, "; ".join(_entry_problem(p) for p in found), f"write it as {example}"))
        else:
            result.append(LintAcceptance(values["rule"], values["sid"], values["reason"].strip()))
    return tuple(result)


def _entry_problem(problem: Problem) -> str:
    """A list entry's field problem, in the entry's one message: "no reason", "unknown key 'x'", ..."""
    if problem.message == "missing required field":
        return f"no {problem.where}"
    if problem.message == "unknown field":
        return f"unknown key '{problem.where}'"
    return problem.message if problem.message.startswith(("no ", "rule ")) else f"{problem.where} {problem.message}"

