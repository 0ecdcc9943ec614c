"""``simsage serve``: the home's S3 endpoint in the foreground, for other tools and languages.

Layer: command line (registered on :data:`simsage.cli.main`). Kept apart from
:mod:`simsage.cli` so that module stays about its many sub-commands.
"""

from __future__ import annotations

import click

from simsage.config import ConfigError, load_config


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: a free one).",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="The SIMSAGE_HOME to serve (default: the configured one).",
)
def serve(port: int, home: str | None) -> None:
    """Serve S3 over HTTP on 127.0.0.1 until Ctrl-C.

    Prints the URL and the `export` lines (AWS_ENDPOINT_URL_S3 and simsage's local keys)
    that point other tools at it: curl, the AWS CLI, pandas, DuckDB, other languages'
    SDKs. While it runs, `simsage.activate()` in other processes on the same home uses
    it instead of starting its own. It never listens beyond 127.0.0.1.
    """
    from simsage.transport.endpoint_process import serve as run

    try:
        config = load_config() if home is None else load_config().with_overrides(home=home)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    config.home.mkdir(parents=True, exist_ok=True)
    try:
        status = run(config.home, port, announce=lambda line: click.echo(line, err=False))
    except OSError as exc:  # the port is taken
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    if status:
        raise SystemExit(status)
