"""The ``simsage`` command line: ``aws s3``-style commands (:mod:`simsage.cli_s3`),
``simsage serve`` (:mod:`simsage.cli_serve`), ``info``, ``doctor``, the job kinds',
endpoints', pipelines' and images' commands (here); the shared pieces are in
:mod:`simsage.cli_common`.

Every S3 command goes through ``simsage.boto3_session().client("s3")``, so the same
command works on the embedded store (backend ``local``) and on real AWS (``aws``).
Output follows the aws CLI (``make_bucket: b``, ``upload: x to s3://b/x``, the ``ls``
columns), and so do exit statuses: 1 for a failed S3 call, a bad URI or a missing local
path, with a one-line message on stderr and never a traceback; 2 for click usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from simsage.cli_common import CommandError, human_readable_size, iter_objects, one_line, timestamp
from simsage.cli_common import s3_client as _s3
from simsage.cli_s3 import s3
from simsage.cli_serve import serve
from simsage.config import ConfigError, load_config
from simsage.runtime import image_build  # the docker SDK is imported when a build starts
from simsage.services import emulated_services
from simsage.transport.activation import boto3_session


class _Group(click.Group):
    """The top-level group: turns AWS, botocore, config and file errors into CommandError."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ClientError, BotoCoreError, Boto3Error) as exc:
            raise CommandError(one_line(exc)) from exc
        except ConfigError as exc:
            raise CommandError(f"error: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"{exc.strerror or exc}: {exc.filename or ''}".strip()) from exc


@click.group(cls=_Group)
@click.version_option(package_name="simsage", message="%(prog)s %(version)s")
def main() -> None:
    """simsage: Amazon SageMaker on your laptop (SIMSAGE_BACKEND=local|aws)."""


main.add_command(s3)


def _disk_usage(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


@main.command()
def info() -> None:
    """Show the configuration and, on the local backend, what the store holds."""
    config = load_config()
    rows = [
        ("home", str(config.home)),
        ("backend", config.backend),
        ("region", config.region),
        ("account id", config.account_id),
        ("emulated services", ", ".join(emulated_services())),
    ]
    if config.is_local:
        client = _s3()  # opens the home first, so the sizes below include a fresh store
        buckets = client.list_buckets().get("Buckets", [])
        objects = size = 0
        for entry in buckets:
            for obj in iter_objects(client, entry["Name"], ""):
                objects, size = objects + 1, size + obj["Size"]
        db = sum(_disk_usage(p) for p in config.home.glob("state.db*"))
        blobs = _disk_usage(config.home / "blobs")
        rows += [
            (
                "store size",
                f"{human_readable_size(db + blobs)} ({db + blobs} bytes: state.db {db}, blobs {blobs})",
            ),
            ("buckets", str(len(buckets))),
            ("objects", f"{objects} ({human_readable_size(size)}, {size} bytes)"),
            *_sagemaker_counts(),
        ]
    else:
        rows.append(("store", "not used: boto3 calls go to AWS"))
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        click.echo(f"{name + ':':<{width}} {value}")


@main.command()
@click.option("--repair", is_flag=True, help="Repair what can be repaired (stop simsage first).")
@click.option("--quick", is_flag=True, help="Check blob lengths only, not their MD5s.")
def doctor(repair: bool, quick: bool) -> None:
    """Check the local store: index, blob files, objects' bytes, orphans, leftovers.

    Exit status 1 while problems remain. --repair salvages a damaged index, pairs it
    with the blob folder and moves blobs no row names into lost+found/; it deletes
    nothing it cannot account for.
    """
    from simsage.doctor import run

    raise click.exceptions.Exit(run(load_config(), repair, not quick, click.echo))


def _sagemaker_counts() -> list[tuple[str, str]]:
    """How many training and processing jobs, models, endpoints and transform jobs the
    store holds, counted through the same List calls as on AWS."""
    sm = _sagemaker()
    counted = (
        ("training jobs", "list_training_jobs", "TrainingJobSummaries"),
        ("processing jobs", "list_processing_jobs", "ProcessingJobSummaries"),
        ("models", "list_models", "Models"),
        ("endpoints", "list_endpoints", "Endpoints"),
        ("transform jobs", "list_transform_jobs", "TransformJobSummaries"),
    )
    rows = []
    for label, operation, key in counted:
        pages = sm.get_paginator(operation).paginate()
        rows.append((label, str(sum(len(page[key]) for page in pages))))
    return rows


def _sagemaker():
    return boto3_session().client("sagemaker")


def _print_logs(group: str, prefix: str) -> None:
    """Every event of every stream of ``group`` whose name starts with ``prefix``."""
    logs = boto3_session().client("logs")
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=group, logStreamNamePrefix=prefix
    )
    for page in pages:
        for stream in page["logStreams"]:
            token = None
            while True:
                kwargs = {"nextToken": token} if token else {"startFromHead": True}
                answer = logs.get_log_events(
                    logGroupName=group, logStreamName=stream["logStreamName"], **kwargs
                )
                for event in answer["events"]:
                    click.echo(event["message"])
                if answer["nextForwardToken"] == token:
                    break
                token = answer["nextForwardToken"]


# -- jobs: training, processing, transform -----------------------------------------------


def _job_group(
    kind: str, title: str, stop_help: str, logs_help: str | None, command: str | None = None
) -> click.Group:
    """The ``ls``/``describe``/``stop``/``logs`` commands of one job kind, through the
    kind's own SageMaker operations (``list_<kind>_jobs`` …) on either backend.

    ``kind`` is the operations' word (``training``, ``hyper_parameter_tuning``);
    ``title`` the group's help; ``command`` the group's name (``kind`` by default); no
    ``logs`` command without ``logs_help`` (tuning jobs have no logs of their own).
    """
    label = "".join(word.capitalize() for word in kind.split("_"))  # TrainingJobName …
    name_key, status_key = f"{label}JobName", f"{label}JobStatus"

    @main.group(command or kind, help=title)
    def group() -> None:
        pass

    @group.command("ls")
    @click.option(
        "--status", default=None, help="Only jobs in this status (InProgress, Completed …)."
    )
    @click.option("--max", "limit", default=50, show_default=True, help="How many jobs at most.")
    def ls(status: str | None, limit: int) -> None:
        """List the jobs, newest first."""
        kwargs: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
        if status:
            kwargs["StatusEquals"] = status
        shown = 0
        for page in _sagemaker().get_paginator(f"list_{kind}_jobs").paginate(**kwargs):
            for job in page[f"{label}JobSummaries"]:
                if shown == limit:
                    return
                columns = [timestamp(job["CreationTime"]), f"{job[status_key]:<10}"]
                if "SecondaryStatus" in job:
                    columns.append(f"{job['SecondaryStatus']:<18}")
                click.echo(" ".join([*columns, job[name_key]]))
                shown += 1

    @group.command("describe")
    @click.argument("name")
    def describe(name: str) -> None:
        """Print the Describe answer of a job as JSON."""
        described = getattr(_sagemaker(), f"describe_{kind}_job")(**{name_key: name})
        described.pop("ResponseMetadata", None)
        click.echo(json.dumps(described, indent=2, default=str))

    @group.command("stop", help=stop_help)
    @click.argument("name")
    def stop(name: str) -> None:
        getattr(_sagemaker(), f"stop_{kind}_job")(**{name_key: name})
        click.echo(f"stopping: {name}")

    if logs_help is not None:

        @group.command("logs", help=logs_help)
        @click.argument("name")
        def logs(name: str) -> None:
            _print_logs(f"/aws/sagemaker/{label}Jobs", f"{name}/")

    return group


training = _job_group(
    "training",
    "Training jobs: list, describe, stop, read logs (on either backend).",
    "Stop a running training job (SIGTERM, then SIGKILL after the grace period).",
    "Print every log line of a training job, host by host.",
)
processing = _job_group(
    "processing",
    "Processing jobs: list, describe, stop, read logs (on either backend).",
    "Stop a running processing job (SIGINT, then SIGKILL after the grace period).",
    "Print every log line of a processing job, host by host.",
)
tuning = _job_group(
    "hyper_parameter_tuning",
    "Hyperparameter tuning jobs: list, describe, stop (their training jobs have the logs).",
    "Stop a running tuning job and the training jobs it runs.",
    None,
    command="tuning",
)
transform = _job_group(
    "transform",
    "Batch transform jobs: list, describe, stop, read logs (on either backend).",
    "Stop a running transform job (finished outputs stay, partial ones are dropped).",
    "Print every log line of a transform job (container output and data logs).",
)


# -- endpoints ---------------------------------------------------------------------------


@main.group()
def endpoints() -> None:
    """Endpoints: list, describe, invoke, delete (on either backend)."""


@endpoints.command("ls")
def endpoints_ls() -> None:
    """List endpoints, newest first."""
    for page in _sagemaker().get_paginator("list_endpoints").paginate():
        for endpoint in page["Endpoints"]:
            click.echo(
                f"{timestamp(endpoint['CreationTime'])} {endpoint['EndpointStatus']:<10} "
                f"{endpoint['EndpointName']}"
            )


@endpoints.command("describe")
@click.argument("name")
def endpoints_describe(name: str) -> None:
    """Print DescribeEndpoint's answer as JSON."""
    described = _sagemaker().describe_endpoint(EndpointName=name)
    described.pop("ResponseMetadata", None)
    click.echo(json.dumps(described, indent=2, default=str))


@endpoints.command("invoke")
@click.argument("name")
@click.argument("body")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", default=None, help="The response type to ask for.")
def endpoints_invoke(name: str, body: str, content_type: str, accept: str | None) -> None:
    """Send BODY (text, or @file to read a file) to an endpoint and print the answer."""
    data = Path(body[1:]).read_bytes() if body.startswith("@") else body.encode("utf-8")
    kwargs = {"Accept": accept} if accept else {}
    answer = (
        boto3_session()
        .client("sagemaker-runtime")
        .invoke_endpoint(EndpointName=name, Body=data, ContentType=content_type, **kwargs)
    )
    click.echo(answer["Body"].read().decode("utf-8", "replace"), nl=False)


@endpoints.command("logs")
@click.argument("name")
def endpoints_logs(name: str) -> None:
    """Print every log line of an endpoint's instances."""
    _print_logs(f"/aws/sagemaker/Endpoints/{name}", "")


@endpoints.command("delete")
@click.argument("name")
def endpoints_delete(name: str) -> None:
    """Delete an endpoint: its instances drain and stop."""
    _sagemaker().delete_endpoint(EndpointName=name)
    click.echo(f"deleting: {name}")


# -- pipelines ---------------------------------------------------------------------------


@main.group()
def pipelines() -> None:
    """Pipelines: list, describe, start, stop, executions and their steps (either backend)."""


def _execution_arn(sm, pipeline_or_arn: str) -> str:
    """An execution ARN as given, or the latest execution of the pipeline named."""
    if pipeline_or_arn.startswith("arn:"):
        return pipeline_or_arn
    answer = sm.list_pipeline_executions(
        PipelineName=pipeline_or_arn, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )
    summaries = answer["PipelineExecutionSummaries"]
    if not summaries:
        raise CommandError(f"error: pipeline {pipeline_or_arn} has no executions yet")
    return summaries[0]["PipelineExecutionArn"]


@pipelines.command("ls")
def pipelines_ls() -> None:
    """List pipelines, newest first."""
    for page in _sagemaker().get_paginator("list_pipelines").paginate():
        for pipeline in page["PipelineSummaries"]:
            last = pipeline.get("LastExecutionTime")
            ran = f"last run {timestamp(last)}" if last else "never run"
            click.echo(f"{timestamp(pipeline['CreationTime'])} {pipeline['PipelineName']}  ({ran})")


@pipelines.command("describe")
@click.argument("name")
def pipelines_describe(name: str) -> None:
    """Print DescribePipeline's answer as JSON (the definition parsed)."""
    described = _sagemaker().describe_pipeline(PipelineName=name)
    described.pop("ResponseMetadata", None)
    described["PipelineDefinition"] = json.loads(described["PipelineDefinition"])
    click.echo(json.dumps(described, indent=2, default=str))


@pipelines.command("executions")
@click.argument("name")
def pipelines_executions(name: str) -> None:
    """List a pipeline's executions, newest first."""
    pages = _sagemaker().get_paginator("list_pipeline_executions").paginate(PipelineName=name)
    for page in pages:
        for execution in page["PipelineExecutionSummaries"]:
            click.echo(
                f"{timestamp(execution['StartTime'])} "
                f"{execution['PipelineExecutionStatus']:<10} {execution['PipelineExecutionArn']}"
            )


@pipelines.command("steps")
@click.argument("execution")
def pipelines_steps(execution: str) -> None:
    """The steps of an execution (an ARN, or a pipeline's name for its latest), in the
    order they started, with what each ran or why it failed."""
    sm = _sagemaker()
    arn = _execution_arn(sm, execution)
    pages = sm.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=arn, SortOrder="Ascending"
    )
    for page in pages:
        for step in page["PipelineExecutionSteps"]:
            metadata = step.get("Metadata") or {}
            detail = ""
            for value in metadata.values():
                detail = value.get("Arn") or value.get("Outcome") or value.get("ErrorMessage") or ""
            if "CacheHitResult" in step:
                detail = f"{detail} (cached)"
            reason = " ".join((step.get("FailureReason") or "").split())
            if reason and reason != detail:
                detail = f"{detail} {reason}"
            click.echo(f"{step['StepStatus']:<10} {step['StepName']:<28} {detail}".rstrip())


@pipelines.command("start")
@click.argument("name")
@click.option(
    "--parameter", "-p", "parameters", multiple=True, help="NAME=VALUE (may be repeated)."
)
def pipelines_start(name: str, parameters: tuple[str, ...]) -> None:
    """Start an execution of a pipeline; prints its ARN."""
    given = []
    for item in parameters:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"error: --parameter {item!r} is not NAME=VALUE")
        given.append({"Name": key, "Value": value})
    import uuid

    answer = _sagemaker().start_pipeline_execution(
        PipelineName=name, PipelineParameters=given, ClientRequestToken=uuid.uuid4().hex
    )
    click.echo(answer["PipelineExecutionArn"])


@pipelines.command("stop")
@click.argument("execution")
def pipelines_stop(execution: str) -> None:
    """Stop an execution (an ARN, or a pipeline's name for its latest): the running
    steps' jobs are stopped."""
    import uuid

    sm = _sagemaker()
    arn = _execution_arn(sm, execution)
    sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    click.echo(f"stopping: {arn}")


# -- simsage's own images (containers/) ------------------------------------------------------


def _image_error(exc: Exception) -> CommandError:
    """A build failure: one line, then the output's last lines (where pip says why)."""
    details = getattr(exc, "details", [])
    text = f"error: {exc}"
    if details:
        text += "\nlast output lines:\n" + "\n".join(f"  {line}" for line in details)
    return CommandError(text)


@main.group()
def images() -> None:
    """simsage's own SageMaker images (containers/): build and list them."""


@images.command("build")
@click.argument("names", nargs=-1, type=click.Choice(list(image_build.RECIPES)))
@click.option(
    "--base-image",
    default=image_build.DEFAULT_BASE_IMAGE,
    show_default=True,
    help="The image to build on: Debian-like, with python3 >= 3.11 and venv.",
)
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A PEM CA bundle pip trusts while installing (a TLS-intercepting proxy's).",
)
@click.option("--tag", default=image_build.DEFAULT_TAG, show_default=True, help="The images' tag.")
@click.option(
    "--prefix",
    default=image_build.DEFAULT_PREFIX,
    show_default=True,
    help="The images' names are <prefix><name> (e.g. simsage-kmeans).",
)
@click.option(
    "--platform",
    default=None,
    help="os/arch to build for, e.g. linux/amd64 for SageMaker from an ARM machine.",
)
def images_build(
    names: tuple[str, ...],
    base_image: str,
    ca_bundle: Path | None,
    tag: str,
    prefix: str,
    platform: str | None,
) -> None:
    """Build NAMES (default: all) as <prefix><name>:<tag> on the Docker engine."""
    try:
        built = image_build.build(
            names,
            base_image=base_image,
            ca_bundle=ca_bundle,
            tag=tag,
            prefix=prefix,
            platform=platform,
            say=click.echo,
        )
    except image_build.BuildError as exc:
        raise _image_error(exc) from exc
    for image in built:
        click.echo(f"built {image.tag} ({image.image_id[:19]}) in {image.seconds:.0f} s")


@images.command("ls")
def images_ls() -> None:
    """List simsage's images on the Docker engine (label simsage.image)."""
    try:
        rows = image_build.list_images()
    except image_build.BuildError as exc:
        raise _image_error(exc) from exc
    for row in rows:
        for name in row.tags or ["<none>"]:
            click.echo(
                f"{row.created:<19} {human_readable_size(row.size):>10} {row.image_id:<12} "
                f"{row.name:<16} {name}"
            )


main.add_command(serve)

if __name__ == "__main__":
    main()
