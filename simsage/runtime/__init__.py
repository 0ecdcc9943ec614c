"""The job runtime: what every job kind (training, transform, endpoints, and processing
next) shares on the data-plane side of simsage, below the services.

This package is the seed of the shared job runtime (see DESIGN.md): the next issue moves
the runner lifecycle, the ``/opt/ml`` tree and S3 staging here. Today it holds:

- :mod:`simsage.runtime.paths`: container paths and S3 keys mapped into a job folder,
  refusing anything that would leave it; walking a folder without following symlinks.
- :mod:`simsage.runtime.launcher`: detached runners, their lock-file liveness, and why a
  runner that died ended (exit code or signal, and the last lines of its log).
- :mod:`simsage.runtime.containers`: the container launcher, one interface for a
  container's process: a private mount namespace in which the host's folder is
  ``/opt/ml`` (:mod:`simsage.runtime.mountns`), a plain process in the job folder (the
  fallback), or the image under Docker (:mod:`simsage.runtime.docker_engine`).
- :mod:`simsage.runtime.servers`: an inference-server instance's process (endpoints and
  batch transform), started through the container launcher.
- :mod:`simsage.runtime.images`: which algorithm an image URI names and the command a
  framework image runs (ContainerEntrypoint/ContainerArguments).
- :mod:`simsage.runtime.environment`: the training toolkit's ``SM_*`` environment.
- :mod:`simsage.runtime.network`: a private network namespace (loopback only) for the
  hosts of a job.
- :mod:`simsage.runtime.metrics`: MetricDefinitions checked and matched against log
  lines in a separate process, so no regular expression can stall a runner.

Services import from here; nothing here imports a service. Modules stay importable with
the standard library only (runners and algorithm processes import them at start-up).
"""
