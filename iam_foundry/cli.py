"""Command line: `python -m iam_foundry --help`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from . import localstack as ls
from .adopt import check_clashes, forget_adopted
from .config import DEFAULT_CONFIG, FoundryConfig, load_config
from .documents import build_documents
from .errors import FoundryError
from .handoff import SECRET_OUTPUTS, handoff_entry, write_handoff
from .policy_templates import list_profiles, load_profile, rendered_size
from .runner import default_parallelism, ensure_init, failure_summary, print_failure_details, run_stacks
from .synth import DEFAULT_OUTDIR, stack_dir, synth
from .terraform import Terraform

DEFAULT_HANDOFF = Path(".iam-foundry") / "handoff.json"
console = Console(stderr=True)
out = Console()


class Context:
    def __init__(self, config_path: Path, outdir: Path, verbose: bool):
        self.config_path = config_path
        self.outdir = outdir
        self.verbose = verbose
        self._config: FoundryConfig | None = None

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


class FoundryGroup(click.Group):
    """Turns every FoundryError into one clear message per bad input and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FoundryError as err:
            console.print("[bold red]iam-foundry: failed[/bold red]")
            for problem in err.problems:
                # One line per problem, never wrapped, so it can be read and copied whole.
                console.print(f"  [red]-[/red] {escape(str(problem))}", highlight=False, soft_wrap=True)
            sys.exit(1)


parallelism_option = click.option(
    "--parallelism", "-p", type=click.IntRange(1, 64), default=None, metavar="N",
    help=f"Stacks worked on at once (default: twice the CPUs, at most 8; here {default_parallelism()}).")
stack_option = click.option("--stack", "-s", "stacks", multiple=True, metavar="NAME",
                            help="Deployment (stack) to act on; repeat for several. Default: all in the config.")


@click.group(cls=FoundryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", "config_path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG,
              envvar="IAM_FOUNDRY_CONFIG", show_default=True, help="Config file (TOML). Env: IAM_FOUNDRY_CONFIG.")
@click.option("--outdir", type=click.Path(path_type=Path), default=DEFAULT_OUTDIR, envvar="IAM_FOUNDRY_OUTDIR",
              show_default=True, help="Where stacks are synthesized (Terraform runs in <outdir>/stacks/<name>).")
@click.option("--verbose", "-v", is_flag=True, help="Stream Terraform's own output.")
@click.version_option(__version__, prog_name="iam-foundry")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, outdir: Path, verbose: bool) -> None:
    """iam-foundry: the AWS IAM setup ML platforms ask for (user, custom policy, addenda, node role,
    instance profile), as CDKTF stacks with state in S3.

    \b
    Typical use:
      iam-foundry up          validate, start LocalStack if the config targets it, synth, apply, print outputs
      iam-foundry validate    check config and every policy document; nothing is written
      iam-foundry plan        show what would change
      iam-foundry destroy     remove what a stack created
    """
    ctx.obj = Context(config_path, outdir, verbose)


@cli.command()
@click.pass_obj
def validate(obj: Context) -> None:
    """Check the config and render every policy document, without writing anything."""
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


@cli.command("synth")
@stack_option
@click.pass_obj
def synth_command(obj: Context, stacks: tuple[str, ...]) -> None:
    """Synthesize Terraform JSON into cdktf.out/stacks/<deployment>/ (all or nothing)."""
    with console.status("Synthesizing"):
        names = synth(obj.config, obj.outdir, list(stacks) or None)
    for name in names:
        out.print(f"{name}: {stack_dir(obj.outdir, name) / 'cdk.tf.json'}", highlight=False)


def _prepare_target(obj: Context, start_localstack: bool = True) -> None:
    config = obj.config
    if config.localstack.enabled:
        if start_localstack:
            with console.status(f"Starting LocalStack at {config.localstack.endpoint} (first start takes up to a minute)"):
                started = ls.start(config.localstack.endpoint)
            console.print(f"LocalStack {'started' if started else 'already running'} at {config.localstack.endpoint}")
        elif not ls.is_ready(config.localstack.endpoint):
            raise ls.LocalStackError(ls.Problem("localstack", f"nothing answers at {config.localstack.endpoint}",
                                                "run `iam-foundry localstack start` or `iam-foundry up`"))
        if config.backend.type == "s3":  # LocalStack: the bucket is ours to create
            done = ls.ensure_state_bucket(config.localstack.endpoint, config.backend.bucket, config.backend.region)
            if "created" in done:
                console.print(f"Created state bucket s3://{config.backend.bucket} on LocalStack")


def _check_state_bucket(config: FoundryConfig) -> None:
    """Real AWS: the state bucket must exist already (iam-foundry bootstrap creates it)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("s3", region_name=config.backend.region).head_bucket(Bucket=config.backend.bucket)
    except (ClientError, BotoCoreError) as err:
        raise FoundryError(ls.Problem(f"backend.bucket '{config.backend.bucket}'", f"not usable: {err}",
                                      "run `iam-foundry bootstrap` to create it, or check your AWS credentials")) from None


def _synth(obj: Context, stacks: list[str]) -> None:
    with console.status("Synthesizing"):
        synth(obj.config, obj.outdir, stacks)


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


handoff_file_option = click.option("--handoff-file", type=click.Path(path_type=Path), default=DEFAULT_HANDOFF, show_default=True,
                                   help="JSON file with what each platform's installer asks for.")
with_secret_option = click.option("--with-secret", is_flag=True,
                                  help="Also write the access key secret into the handoff file (mode 0600); it is never printed.")


def _handoff(obj: Context, names: list[str], path: Path, with_secret: bool, parallelism: int | None = None,
             known_outputs: dict[str, dict[str, Any]] | None = None) -> None:
    def read(stack: str, report: Any) -> dict[str, Any]:
        terraform = obj.terraform(stack)
        outputs = (known_outputs or {}).get(stack) or terraform.outputs()  # `up` has just read them
        secrets = {name: terraform.secret_output(name) for name in SECRET_OUTPUTS if name in outputs} if with_secret else None
        return handoff_entry(obj.config, stack, outputs, secrets)

    results = run_stacks(names, read, parallelism or default_parallelism(), console, show=False)
    _raise_failures(results, "reading outputs")
    entries = {stack: result.value for stack, result in results.items()}
    for stack in names:
        table = Table(title=f"{stack}: give the {entries[stack]['profile']} installer")
        table.add_column("asks for")
        table.add_column("value", overflow="fold")
        for label, value in entries[stack]["for the installer"].items():
            table.add_row(label, value if isinstance(value, str) else json.dumps(value))
        out.print(table)
    write_handoff(path, entries)
    console.print(f"Handoff written to {path}" + (" (includes secrets: keep it private)" if with_secret else ""))


@cli.command()
@stack_option
@handoff_file_option
@with_secret_option
@parallelism_option
@click.pass_obj
def handoff(obj: Context, stacks: tuple[str, ...], handoff_file: Path, with_secret: bool, parallelism: int | None) -> None:
    """Print and write what each platform's installer asks for (role ARN, instance profile, key id, ...)."""
    _handoff(obj, obj.stacks(stacks), handoff_file, with_secret, parallelism)


@cli.command()
@stack_option
@click.option("--stop-localstack", is_flag=True, help="Stop LocalStack afterwards (its resources are then gone).")
@handoff_file_option
@with_secret_option
@parallelism_option
@click.pass_obj
def up(obj: Context, stacks: tuple[str, ...], stop_localstack: bool, handoff_file: Path, with_secret: bool,
       parallelism: int | None) -> None:
    """Validate, start the embedded LocalStack if the config uses it, synth, apply, print outputs and the handoff."""
    names = obj.stacks(stacks)
    for name in names:
        build_documents(obj.config.deployment(name))  # every error before anything starts
    _prepare_target(obj)
    if not obj.config.localstack.enabled and obj.config.backend.type == "s3":
        _check_state_bucket(obj.config)
    try:
        _synth(obj, names)

        def apply(stack: str, report: Any) -> dict[str, Any]:
            terraform = _initialised(obj, stack, report)
            report("looking for existing resources")
            check_clashes(obj.config, obj.config.deployment(stack), terraform)
            report("terraform apply")
            terraform.apply()
            report("reading outputs")
            return terraform.outputs()

        results = run_stacks(names, apply, parallelism or default_parallelism(), console, done_label="applied")
        applied = [stack for stack, result in results.items() if result.ok]
        for stack in applied:
            _print_outputs(stack, results[stack].value or {})
        if applied:
            _handoff(obj, applied, handoff_file, with_secret, parallelism,
                     {stack: results[stack].value or {} for stack in applied})
        _raise_failures(results, "apply")
    finally:
        if stop_localstack and obj.config.localstack.enabled and ls.stop():
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
        return terraform.run("plan", "-input=false", "-no-color").stdout

    results = run_stacks(names, plan_one, parallelism or default_parallelism(), console, done_label="planned")
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

    results = run_stacks(names, destroy_one, parallelism or default_parallelism(), console, done_label="destroyed")
    _raise_failures(results, "destroy")


@cli.command()
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (sensitive values are masked).")
@parallelism_option
@click.pass_obj
def output(obj: Context, stacks: tuple[str, ...], as_json: bool, parallelism: int | None) -> None:
    """Print the outputs of applied stacks (ARNs and names; secrets stay masked)."""
    results = run_stacks(obj.stacks(stacks), lambda stack, report: obj.terraform(stack).outputs(),
                         parallelism or default_parallelism(), console, show=False)
    _raise_failures(results, "reading outputs")
    result = {stack: r.value for stack, r in results.items()}
    if as_json:
        out.print_json(data=result)
    else:
        for stack, outputs in result.items():
            _print_outputs(stack, outputs)


@cli.command("export-module")
@click.argument("profile", required=False)
@click.option("--variant", help="Profile variant (default: the profile's default).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("modules-out"), show_default=True,
              help="Folder that receives <profile>[-<variant>]/ (main.tf.json + README.md).")
def export_module_command(profile: str | None, variant: str | None, out_dir: Path) -> None:
    """Export a profile (or, with no PROFILE, every profile and variant) as a plain Terraform JSON
    module for use from HCL: variables for names, parameters and addenda toggles, outputs for every
    ARN. No provider or backend inside."""
    from .module_export import export_all, export_module, module_dir_name

    if profile:
        loaded = load_profile(profile)
        chosen = variant or loaded.default_variant
        written = [export_module(profile, chosen, out_dir / module_dir_name(profile, chosen, loaded.default_variant))]
    else:
        written = export_all(out_dir)
    for path in written:
        out.print(f"{path}/main.tf.json  ({path}/README.md)", highlight=False)


@cli.command()
def profiles() -> None:
    """List built-in profiles and their addenda."""
    for name in list_profiles():
        profile = load_profile(name)
        out.print(f"[bold]{name}[/bold] — {profile.title}")
        out.print(f"  {profile.description}", highlight=False)
        for variant, description in profile.variant_descriptions.items():
            default = " (default)" if variant == profile.default_variant else ""
            out.print(f"  variant [cyan]{variant}[/cyan]{default}", highlight=False)
        for addendum in profile.addenda.values():
            out.print(f"  addendum [cyan]{addendum.name}[/cyan]: {addendum.description}", highlight=False)
        for parameter in profile.parameters.values():
            need = "required" if parameter.required else f"optional, default {parameter.default!r}" if parameter.default else "optional"
            out.print(f"  parameter [cyan]{parameter.name}[/cyan] ({need}): {parameter.description}", highlight=False)
        out.print()


@cli.command()
@click.option("--adopt", is_flag=True, help="Harden and use a bucket that exists but was not created by iam-foundry.")
@click.option("--kms-key-id", help="Encrypt state with this KMS key (default: SSE-S3).")
@click.pass_obj
def bootstrap(obj: Context, adopt: bool, kms_key_id: str | None) -> None:
    """Create the S3 state bucket (or check it) with versioning, encryption, public access blocked and a
    TLS-only bucket policy. Idempotent; refuses a bucket it did not create unless --adopt."""
    from .bootstrap import bootstrap_state_bucket
    from .config import partition_for

    config = obj.config
    if config.backend.type != "s3":
        raise FoundryError(ls.Problem("backend.type", f"is '{config.backend.type}': there is no state bucket to bootstrap",
                                      "bootstrap is for the s3 backend"))
    if config.localstack.enabled:
        if not ls.is_ready(config.localstack.endpoint):
            ls.start(config.localstack.endpoint)
        s3 = ls.boto_client("s3", config.localstack.endpoint, config.backend.region)
    else:
        import boto3

        s3 = boto3.client("s3", region_name=config.backend.region)
    with console.status(f"Bootstrapping s3://{config.backend.bucket}"):
        done = bootstrap_state_bucket(s3, config.backend.bucket, config.backend.region, kms_key_id, adopt,
                                      partition_for(config.backend.region))
    console.print(f"s3://{config.backend.bucket}: {', '.join(done)}")


@cli.group()
def localstack() -> None:
    """Start, stop or check the embedded LocalStack (host mode, no Docker)."""


@localstack.command("start")
@click.pass_obj
def localstack_start(obj: Context) -> None:
    """Start LocalStack at the config's endpoint (no-op if one answers) and create the state bucket."""
    _prepare_target(obj)


@localstack.command("stop")
def localstack_stop() -> None:
    """Stop the LocalStack this project started."""
    console.print("LocalStack stopped" if ls.stop() else "no LocalStack started by iam-foundry is running")


@localstack.command("status")
@click.pass_obj
def localstack_status(obj: Context) -> None:
    """Say whether LocalStack answers at the config's endpoint."""
    endpoint = obj.config.localstack.endpoint
    ready = ls.is_ready(endpoint)
    out.print(f"LocalStack at {endpoint}: {'ready' if ready else 'not running'}")
    sys.exit(0 if ready else 1)
