"""Command line: `iam-foundry --help` (or `python -m iam_foundry --help`)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iam_foundry import __version__
from iam_foundry.config.model import CUSTOM_PROFILE, Deployment, FoundryConfig
from iam_foundry.config.load import load_config
from iam_foundry.errors import FoundryError, Problem
from iam_foundry.ops import localstack as ls
from iam_foundry.ops.adopt import check_clashes, clash_check_skipped, forget_adopted
from iam_foundry.ops.handoff import SECRET_OUTPUTS, handoff_entry, write_handoff
from iam_foundry.ops.runner import default_parallelism, ensure_init, failure_summary, print_failure_details, run_stacks
from iam_foundry.ops.synth import end_jsii, stack_dir, synth
from iam_foundry.ops.terraform import Terraform
from iam_foundry.paths import DEFAULT_CONFIG, OUTDIR_NAME, STATE_DIR_NAME, default_outdir, state_dir
from iam_foundry.policy.documents import build_documents
from iam_foundry.profiles.load import list_profiles, load_profile
from iam_foundry.policy.render import rendered_size

HANDOFF_NAME = "handoff.json"
console = Console(stderr=True)
out = Console()
PIPED_WIDTH = 100_000  # off a terminal, a line is as long as its content


def _plain_when_piped(*consoles: Console) -> None:
    """Off a terminal (pipe, file, CI log) rich would cut table cells and wrap lines at 80 columns:
    scripts and logs get whole values instead."""
    for each in consoles:
        piped = not each.is_terminal
        each.soft_wrap = piped
        each.width = PIPED_WIDTH if piped else None  # type: ignore[assignment]  # None: detect again


class Context:
    def __init__(self, config_path: Path, outdir: Path | None, verbose: bool):
        self.config_path = config_path
        self.outdir_option = outdir
        self.verbose = verbose
        self._config: FoundryConfig | None = None

    @property
    def outdir(self) -> Path:
        # Outputs go beside the config, so the tool works from any folder with any config path.
        return self.outdir_option if self.outdir_option is not None else default_outdir(self.config_path)

    @property
    def state_dir(self) -> Path:
        return state_dir(self.config_path)

    @property
    def localstack_dir(self) -> Path:
        return self.state_dir / "localstack"

    @property
    def config(self) -> FoundryConfig:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def stacks(self, names: tuple[str, ...]) -> list[str]:
        return [self.config.deployment(n).name for n in names] if names else [d.name for d in self.config.deployments]

    def terraform(self, stack: str) -> Terraform:
        echo = (lambda line: console.print(f"[dim]{stack} | {line}[/dim]", highlight=False, markup=False)) if self.verbose else None
        return Terraform(stack_dir(self.outdir, stack), echo=echo)


# Set by main() (the installed command, `python -m iam_foundry`): this process runs one command and
# exits, so jsii's node process may be ended after synth. Code calling `cli` in-process (CliRunner
# tests) may synthesize again later and keeps it.
_one_command_per_process = False


def main() -> None:
    global _one_command_per_process
    _one_command_per_process = True
    cli(prog_name="iam-foundry")


class FoundryGroup(click.Group):
    """Turns every FoundryError into one clear message per bad input and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FoundryError as err:
            code = getattr(err, "exit_code", 1)  # InterruptedRun: 130, as for any Ctrl-C'd command
            console.print(f"[bold red]iam-foundry: {'interrupted' if code == 130 else 'failed'}[/bold red]")
            for problem in err.problems:
                # One line per problem, never wrapped, so it can be read and copied whole.
                console.print(f"  [red]-[/red] {escape(str(problem))}", highlight=False, soft_wrap=True)
            sys.exit(code)


parallelism_option = click.option(
    "--parallelism", "-p", type=click.IntRange(1, 64), default=None, metavar="N",
    help=f"Stacks worked on at once (default: CPUs + 1, fewer if memory is short, at most 8; here {default_parallelism()}).")
stack_option = click.option("--stack", "-s", "stacks", multiple=True, metavar="NAME",
                            help="Deployment (stack) to act on; repeat for several. Default: all in the config.")


@click.group(cls=FoundryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", "config_path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG,
              envvar="IAM_FOUNDRY_CONFIG", show_default=True, help="Config file (TOML). Env: IAM_FOUNDRY_CONFIG.")
@click.option("--outdir", type=click.Path(path_type=Path), default=None, envvar="IAM_FOUNDRY_OUTDIR",
              help=f"Where stacks are synthesized (Terraform runs in <outdir>/stacks/<name>). Default: {OUTDIR_NAME} beside the config.")
@click.option("--verbose", "-v", is_flag=True, help="Stream Terraform's own output.")
@click.version_option(__version__, prog_name="iam-foundry")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, outdir: Path | None, verbose: bool) -> None:
    """iam-foundry: the AWS IAM setup ML platforms ask for (user, custom policy, addenda, node role,
    instance profile), as CDKTF stacks with state in S3.

    \b
    Typical use:
      iam-foundry up          validate, start LocalStack if the config targets it, synth, apply, print outputs
      iam-foundry validate    check config and every policy document; nothing is written
      iam-foundry plan        show what would change
      iam-foundry destroy     remove what a stack created
    """
    _plain_when_piped(out, console)
    ctx.obj = Context(config_path, outdir, verbose)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


@cli.command()
@json_option
@click.pass_obj
def validate(obj: Context, as_json: bool) -> None:
    """Check the config and render every policy document, without writing anything."""
    if as_json:
        try:
            report = [_validate_deployment(d) for d in obj.config.deployments]
        except FoundryError as err:  # scripts get the problems as JSON too; stderr still has the lines
            out.print_json(data={"config": str(obj.config_path), "valid": False,
                                 "problems": [asdict(problem) for problem in err.problems]})
            raise
        out.print_json(data={"config": str(obj.config_path), "valid": True, "deployments": report})
        return
    table = Table(title=f"{obj.config_path}: valid")
    for column in ("deployment", "profile (variant)", "addenda", "policies: characters per part", "user", "node role"):
        table.add_column(column)
    for deployment in obj.config.deployments:
        docs = build_documents(deployment)
        table.add_row(
            deployment.name, f"{deployment.profile} ({deployment.variant})", ", ".join(sorted(deployment.addenda)) or "-",
            "\n".join(f"{p.name}: {', '.join(str(rendered_size(part)) for part in p.parts)}" for p in docs.policies),
            deployment.user_name if deployment.create_user else "-",
            deployment.role_name if docs.creates_role else "-",
        )
    out.print(table)


def _validate_deployment(deployment: Deployment) -> dict[str, Any]:
    docs = build_documents(deployment)
    return {"deployment": deployment.name, "profile": deployment.profile, "variant": deployment.variant,
            "addenda": sorted(deployment.addenda),
            "policies": [{"name": p.name, "characters_per_part": [rendered_size(part) for part in p.parts]} for p in docs.policies],
            "user": deployment.user_name if deployment.create_user else None,
            "node_role": deployment.role_name if docs.creates_role else None}


@cli.command("synth")
@stack_option
@click.pass_obj
def synth_command(obj: Context, stacks: tuple[str, ...]) -> None:
    """Synthesize Terraform JSON into <outdir>/stacks/<deployment>/ (all or nothing)."""
    with console.status("Synthesizing"):
        names = synth(obj.config, obj.outdir, list(stacks) or None)
    for name in names:
        out.print(f"{name}: {stack_dir(obj.outdir, name) / 'cdk.tf.json'}", highlight=False)


def _prepare_target(obj: Context, start_localstack: bool = True) -> None:
    config = obj.config
    if config.localstack.enabled:
        if start_localstack:
            with console.status(f"Starting LocalStack at {config.localstack.endpoint} (first start takes up to a minute)"):
                started = ls.start(config.localstack.endpoint, obj.localstack_dir)
            console.print(f"LocalStack {'started' if started else 'already running'} at {config.localstack.endpoint}")
        elif not ls.is_ready(config.localstack.endpoint):
            raise ls.LocalStackError(ls.Problem("localstack", f"nothing answers at {config.localstack.endpoint}",
                                                "run `iam-foundry localstack start` or `iam-foundry up`"))
        state = config.backend.state_bucket()
        if state:  # LocalStack: the bucket is ours to create
            from iam_foundry.ops.bootstrap import created_principal_arns

            done = ls.ensure_state_bucket(config.localstack.endpoint, state.bucket, state.region, created_principal_arns(config))
            if "created" in done:
                console.print(f"Created state bucket s3://{state.bucket} on LocalStack")


def _check_state_bucket(config: FoundryConfig) -> None:
    """Real AWS: the backend's state bucket, if it has one, must exist already (iam-foundry bootstrap creates it)."""
    state = config.backend.state_bucket()
    if config.localstack.enabled or state is None:
        return
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("s3", region_name=state.region).head_bucket(Bucket=state.bucket)
    except (ClientError, BotoCoreError) as err:
        raise FoundryError(ls.Problem(f"backend.bucket '{state.bucket}'", f"not usable: {err}",
                                      "run `iam-foundry bootstrap` to create it, or check your AWS credentials")) from None


def _synth(obj: Context, stacks: list[str]) -> None:
    with console.status("Synthesizing"):
        synth(obj.config, obj.outdir, stacks)
    if _one_command_per_process:
        end_jsii()  # the terraform runs that follow need neither it nor its memory


def _initialised(obj: Context, stack: str, report: Any) -> Terraform:
    """The stack's Terraform, after `init` if its folder is not initialised for this backend yet."""
    terraform = obj.terraform(stack)
    ensure_init(terraform, report)
    return terraform


def _raise_failures(results: dict[str, Any], verb: str) -> None:
    error = failure_summary(results, verb)
    if error:
        print_failure_details(results, console)
        raise error


def _print_outputs(stack: str, outputs: dict[str, Any]) -> None:
    table = Table(title=f"{stack} outputs")
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for name, value in sorted(outputs.items()):
        table.add_row(name, value if isinstance(value, str) else json.dumps(value))
    out.print(table)


handoff_file_option = click.option("--handoff-file", type=click.Path(path_type=Path), default=None,
                                   help=f"JSON file with what each platform's installer asks for. Default: {STATE_DIR_NAME}/{HANDOFF_NAME} beside the config.")
with_secret_option = click.option("--with-secret", is_flag=True,
                                  help="Also write the access key secret into the handoff file (mode 0600); it is never printed.")


class NotDeployedError(FoundryError):
    """A stack has no applied state yet."""


def _deployed_outputs(obj: Context, stack: str) -> dict[str, Any]:
    """The stack's outputs (secrets masked); NotDeployedError before its first `up`."""
    folder = stack_dir(obj.outdir, stack)
    fix = f"run `iam-foundry up -s {stack}`" + ("" if obj.outdir_option is None else f" with --outdir {obj.outdir}")
    if not (folder / ".terraform").is_dir():  # asking terraform would only print its "run terraform init" advice
        raise NotDeployedError(Problem(f"stack '{stack}'", f"nothing deployed yet (no Terraform working folder in {folder})", fix))
    outputs = obj.terraform(stack).outputs()
    if not outputs:  # every stack has outputs once applied: an empty or destroyed state has none
        raise NotDeployedError(Problem(f"stack '{stack}'", "nothing deployed yet (its state has no outputs)", fix))
    return outputs


def _each_deployed(obj: Context, names: list[str], parallelism: int | None = None
                   ) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """Outputs of the deployed stacks (read concurrently), and the problems of those that are not."""
    results = run_stacks(names, lambda stack, report: _deployed_outputs(obj, stack),
                         parallelism or default_parallelism(), console, show=False)
    found = {stack: result.value for stack, result in results.items() if result.ok and result.value is not None}
    return found, [problem for result in results.values() for problem in result.problems]


def _handoff_entry(obj: Context, stack: str, outputs: dict[str, Any], with_secret: bool) -> dict[str, Any]:
    terraform = obj.terraform(stack)
    secrets = {name: terraform.secret_output(name) for name in SECRET_OUTPUTS if name in outputs} if with_secret else None
    return handoff_entry(obj.config, stack, outputs, secrets)


def _print_handoff(stack: str, entry: dict[str, Any]) -> None:
    table = Table(title=f"{stack}: give the {entry['profile']} installer")
    table.add_column("asks for")
    table.add_column("value", overflow="fold")
    for label, value in entry["for the installer"].items():
        table.add_row(label, value if isinstance(value, str) else json.dumps(value))
    out.print(table)


def _handoff(obj: Context, names: list[str], path: Path | None, with_secret: bool, as_json: bool = False,
             parallelism: int | None = None, known_outputs: dict[str, dict[str, Any]] | None = None) -> None:
    path = path if path is not None else obj.state_dir / HANDOFF_NAME
    # `up` has just read the outputs of the stacks it applied.
    deployed, problems = (known_outputs, []) if known_outputs is not None else _each_deployed(obj, names, parallelism)
    entries = {stack: _handoff_entry(obj, stack, outputs, with_secret) for stack, outputs in deployed.items()}
    if as_json:  # the secrets only ever go to the file
        out.print_json(data={stack: {k: v for k, v in entry.items() if k != "secrets"} for stack, entry in entries.items()})
    else:
        for stack, entry in entries.items():
            _print_handoff(stack, entry)
    if entries:
        write_handoff(path, entries)
        console.print(f"Handoff written to {path}" + (" (includes secrets: keep it private)" if with_secret else ""))
    if problems:
        raise FoundryError(problems)


@cli.command()
@stack_option
@handoff_file_option
@with_secret_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (never with the secret).")
@parallelism_option
@click.pass_obj
def handoff(obj: Context, stacks: tuple[str, ...], handoff_file: Path | None, with_secret: bool, as_json: bool,
            parallelism: int | None) -> None:
    """Print and write what each platform's installer asks for (role ARN, instance profile, key id, ...)."""
    _handoff(obj, obj.stacks(stacks), handoff_file, with_secret, as_json, parallelism)


@cli.command()
@stack_option
@click.option("--stop-localstack", is_flag=True, help="Stop LocalStack afterwards (its resources are then gone).")
@handoff_file_option
@with_secret_option
@parallelism_option
@click.pass_obj
def up(obj: Context, stacks: tuple[str, ...], stop_localstack: bool, handoff_file: Path | None, with_secret: bool,
       parallelism: int | None) -> None:
    """Validate, start the embedded LocalStack if the config uses it, synth, apply, print outputs and the handoff."""
    names = obj.stacks(stacks)
    for name in names:
        build_documents(obj.config.deployment(name))  # every error before anything starts
    _prepare_target(obj)
    _check_state_bucket(obj.config)
    skipped = clash_check_skipped(obj.config)
    if skipped:
        console.print(f"Note: {skipped}", highlight=False)
    try:
        _synth(obj, names)

        def apply(stack: str, report: Any) -> dict[str, Any]:
            terraform = _initialised(obj, stack, report)
            if not skipped:
                report("looking for existing resources")
                check_clashes(obj.config, obj.config.deployment(stack), terraform)
            report("terraform apply")
            terraform.apply()
            report("reading outputs")
            return terraform.outputs()

        results = run_stacks(names, apply, parallelism or default_parallelism(), console, done_label="applied",
                             command="up")
        applied = [stack for stack, result in results.items() if result.ok]
        for stack in applied:
            _print_outputs(stack, results[stack].value or {})
        if applied:
            _handoff(obj, applied, handoff_file, with_secret, False, parallelism,
                     {stack: results[stack].value or {} for stack in applied})
        _raise_failures(results, "apply")
    finally:
        if stop_localstack and obj.config.localstack.enabled and ls.stop(obj.localstack_dir):
            console.print("LocalStack stopped")


@cli.command()
@stack_option
@parallelism_option
@click.pass_obj
def plan(obj: Context, stacks: tuple[str, ...], parallelism: int | None) -> None:
    """Show what apply would change (exit 0 either way; see the summary line)."""
    names = obj.stacks(stacks)
    _prepare_target(obj, start_localstack=False)
    _synth(obj, names)

    def plan_one(stack: str, report: Any) -> str:
        terraform = _initialised(obj, stack, report)
        report("terraform plan")
        return terraform.plan_with_output()[1]  # the wrapper: no waiting on a held lock

    results = run_stacks(names, plan_one, parallelism or default_parallelism(), console, done_label="planned",
                         command="plan")
    for stack, result in results.items():  # whole plans, one after another, never interleaved
        if result.ok:
            out.print(f"[bold]{stack}[/bold]")
            out.print(result.value, markup=False, highlight=False)
    _raise_failures(results, "plan")


@cli.command()
@stack_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@parallelism_option
@click.pass_obj
def destroy(obj: Context, stacks: tuple[str, ...], yes: bool, parallelism: int | None) -> None:
    """Destroy everything the chosen stacks created."""
    names = obj.stacks(stacks)
    if not yes:
        click.confirm(f"Destroy stacks {names}?", abort=True)
    _prepare_target(obj, start_localstack=False)
    _synth(obj, names)

    def destroy_one(stack: str, report: Any) -> None:
        terraform = _initialised(obj, stack, report)
        deployment = obj.config.deployment(stack)
        if deployment.adopt and not deployment.destroy_adopted:
            report("forgetting adopted resources")
            forget_adopted(terraform)
        report("terraform destroy")
        terraform.destroy()

    results = run_stacks(names, destroy_one, parallelism or default_parallelism(), console, done_label="destroyed",
                         command="destroy --yes")
    _raise_failures(results, "destroy")


@cli.command()
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (sensitive values are masked).")
@parallelism_option
@click.pass_obj
def output(obj: Context, stacks: tuple[str, ...], as_json: bool, parallelism: int | None) -> None:
    """Print the outputs of applied stacks (ARNs and names; secrets stay masked)."""
    result, problems = _each_deployed(obj, obj.stacks(stacks), parallelism)
    if as_json:
        if result or not problems:
            out.print_json(data=result)
    else:
        for stack, outputs in result.items():
            _print_outputs(stack, outputs)
    if problems:
        raise FoundryError(problems)


@cli.command("export-module")
@click.argument("profile", required=False)
@click.option("--variant", help="Profile variant (default: the profile's default).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("modules-out"), show_default=True,
              help="Folder that receives <profile>[-<variant>]/ (main.tf.json + README.md).")
def export_module_command(profile: str | None, variant: str | None, out_dir: Path) -> None:
    """Export a profile (or, with no PROFILE, every profile and variant) as a plain Terraform JSON
    module for use from HCL: variables for names, parameters and addenda toggles, outputs for every
    ARN. No provider or backend inside."""
    from iam_foundry.emit.module import export_all, export_module, module_dir_name

    if profile == CUSTOM_PROFILE:
        # A custom profile is a deployment's policy_file in the config, not a folder: nothing to export.
        raise FoundryError(ls.Problem(
            "export-module custom", "profile 'custom' has no module to export: its policy comes from a deployment's policy_file",
            f"export a built-in profile ({', '.join(list_profiles())}), or make your policy a profile folder "
            "policy_json/<name>/ with a profile.json and export that"))
    if profile:
        loaded = load_profile(profile)
        chosen = variant or loaded.default_variant
        written = [export_module(profile, chosen, out_dir / module_dir_name(profile, chosen, loaded.default_variant))]
    else:
        written = export_all(out_dir)
    for path in written:
        out.print(f"{path}/main.tf.json  ({path}/README.md)", highlight=False)


@cli.command()
@json_option
def profiles(as_json: bool) -> None:
    """List built-in profiles and their addenda."""
    if as_json:
        out.print_json(data={name: _profile_summary(name) for name in list_profiles()})
        return
    for name in list_profiles():
        profile = load_profile(name)
        out.print(f"[bold]{name}[/bold] — {profile.title}")
        out.print(f"  {profile.description}", highlight=False)
        for variant, description in profile.variant_descriptions.items():
            default = " (default)" if variant == profile.default_variant else ""
            out.print(f"  variant [cyan]{variant}[/cyan]{default}", highlight=False)
            for role in profile.roles(variant):  # a variant's own roles (AI Unlimited's engine role)
                out.print(f"    role [cyan]{role.key}[/cyan] (name {role.name}): {role.description}", highlight=False)
        for addendum in profile.addenda.values():
            out.print(f"  addendum [cyan]{addendum.name}[/cyan]: {addendum.description}", highlight=False)
        for parameter in profile.parameters.values():
            need = "required" if parameter.required else f"optional, default {parameter.default!r}" if parameter.default else "optional"
            out.print(f"  parameter [cyan]{parameter.name}[/cyan] ({need}): {parameter.description}; e.g. {parameter.example!r}",
                      highlight=False)
        out.print()


def _profile_summary(name: str) -> dict[str, Any]:
    profile = load_profile(name)
    return {"title": profile.title, "description": profile.description, "default_variant": profile.default_variant,
            "variants": dict(profile.variant_descriptions),
            "roles": {variant: {r.key: {"name": r.name, "instance_profile_name": r.instance_profile_name, "description": r.description}
                                for r in profile.roles(variant)} for variant in profile.variants if profile.roles(variant)},
            "addenda": {a.name: a.description for a in profile.addenda.values()},
            "parameters": {p.name: {"required": p.required, "default": p.default, "description": p.description, "example": p.example}
                           for p in profile.parameters.values()}}


@cli.command()
@click.option("--adopt", is_flag=True, help="Harden and use a bucket that exists but was not created by iam-foundry.")
@click.option("--kms-key-id", help="Encrypt state with this KMS key (default: SSE-S3).")
@click.pass_obj
def bootstrap(obj: Context, adopt: bool, kms_key_id: str | None) -> None:
    """Create the S3 state bucket (or check it) with versioning, encryption, public access blocked and a
    TLS-only bucket policy. Idempotent; refuses a bucket it did not create unless --adopt."""
    from iam_foundry.config.fields import partition_for
    from iam_foundry.config.target import boto_client_args
    from iam_foundry.ops.bootstrap import bootstrap_state_bucket, created_principal_arns

    config = obj.config
    state = config.backend.state_bucket()
    if state is None:
        raise FoundryError(ls.Problem("backend.type", f"is '{config.backend.type}': there is no state bucket to bootstrap",
                                      "bootstrap is for a backend that keeps state in S3 (s3)"))
    if config.localstack.enabled and not ls.is_ready(config.localstack.endpoint):
        ls.start(config.localstack.endpoint, obj.localstack_dir)
    import boto3

    s3 = boto3.client("s3", region_name=state.region, **boto_client_args(config.localstack))
    with console.status(f"Bootstrapping s3://{state.bucket}"):
        done = bootstrap_state_bucket(s3, state.bucket, state.region, kms_key_id, adopt,
                                      partition_for(state.region), created_principal_arns(config))
    console.print(f"s3://{state.bucket}: {', '.join(done)}")


@cli.group()
def localstack() -> None:
    """Start, stop or check the embedded LocalStack (host mode, no Docker)."""


@localstack.command("start")
@click.pass_obj
def localstack_start(obj: Context) -> None:
    """Start LocalStack at the config's endpoint (no-op if one answers) and create the state bucket."""
    _prepare_target(obj)


@localstack.command("stop")
@click.pass_obj
def localstack_stop(obj: Context) -> None:
    """Stop the LocalStack that `start` or `up` started for this config's folder."""
    console.print("LocalStack stopped" if ls.stop(obj.localstack_dir) else "no LocalStack started by iam-foundry is running")


@localstack.command("status")
@click.pass_obj
def localstack_status(obj: Context) -> None:
    """Say whether LocalStack answers at the config's endpoint."""
    endpoint = obj.config.localstack.endpoint
    ready = ls.is_ready(endpoint)
    out.print(f"LocalStack at {endpoint}: {'ready' if ready else 'not running'}")
    sys.exit(0 if ready else 1)


def _after_the_command(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """`iam-foundry validate --config X` means the same as `iam-foundry --config X validate`."""
    obj = ctx.find_object(Context)
    if value is not None and obj is not None:
        obj.config_path = value


def _accept_config_after(command: click.Command) -> None:
    for sub in command.commands.values() if isinstance(command, click.Group) else ():
        _accept_config_after(sub)
    if isinstance(command, click.Group) or any(p.name == "config_path" for p in command.params):
        return
    command.params.append(click.Option(["--config", "-c", "config_path"], type=click.Path(path_type=Path), expose_value=False,
                                       callback=_after_the_command, help="Config file (same as the global --config)."))


# Access analysis commands (iam_foundry/cli/access.py): `can` and `check`.
from iam_foundry.cli.access import can as _can_command  # noqa: E402
from iam_foundry.cli.access import check as _check_command

cli.add_command(_can_command)
cli.add_command(_check_command)

# Review page and vendor comparison (iam_foundry/cli/report.py): `report` and `vendor-diff`.
from iam_foundry.cli.report import report as _report_command  # noqa: E402
from iam_foundry.cli.report import vendor_diff as _vendor_diff_command

cli.add_command(_report_command)
cli.add_command(_vendor_diff_command)

_accept_config_after(cli)
