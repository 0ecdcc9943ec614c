"""The job runtime: what every job kind (training, transform, endpoints, and processing
next) shares on the data-plane side of simsage, below the services.

A job kind is an API module (request → row in the registry → :func:`launcher.launch`)
plus a :class:`~simsage.runtime.job.JobProcess` subclass run as ``python -m <module>
<home> <name>``; everything below is shared:

- :mod:`simsage.runtime.job`: the job process — the runner's life (``main`` and the
  ``run`` template: lease, work, failure of a runner bug, cleanup), stop requests,
  :class:`~simsage.runtime.job.Shutdown` (SIGTERM, grace, SIGKILL), failure reasons,
  log shipping.
- :mod:`simsage.runtime.launcher`: starting runners detached, their lock-file lease and
  liveness, and why a runner that died ended (exit code or signal, last log lines).
- :mod:`simsage.runtime.processes`: processes through psutil — alive (a reused pid is
  not taken for the recorded process), signalling and ending a whole tree.
- :mod:`simsage.runtime.staging`: S3 staging — channels in (prefixes, manifests,
  sharding), checkpoints both ways, model and output archives out, archives extracted
  within a volume.
- :mod:`simsage.runtime.outputs`: processing outputs uploaded to S3, at the end of the
  job or continuously as files are closed (watchdog).
- :mod:`simsage.runtime.instance_client`: kept-alive HTTP connections to inference
  server instances (endpoint invocation and batch transform).
- :mod:`simsage.runtime.containers`: the container launcher, one interface for a
  container's process: a private mount namespace in which the host's folder is
  ``/opt/ml`` (:mod:`simsage.runtime.mountns`), a plain process in the job folder (the
  fallback), or the image under Docker (:mod:`simsage.runtime.docker_engine`).
- :mod:`simsage.runtime.servers`: an inference-server instance's process (endpoints and
  batch transform), started through the container launcher.
- :mod:`simsage.runtime.images`: which algorithm an image URI names and the command a
  framework image runs (ContainerEntrypoint/ContainerArguments).
- :mod:`simsage.runtime.environment`: the training toolkit's ``SM_*`` environment.
- :mod:`simsage.runtime.metrics`: MetricDefinitions checked and matched against log
  lines in a separate process, so no regular expression can stall a runner; every match
  handed on with its host (published as CloudWatch series).
- :mod:`simsage.runtime.usage`: instance metrics (CPUUtilization, MemoryUtilization) of
  the hosts' and instances' process trees, published to CloudWatch.
- :mod:`simsage.runtime.paths`: container paths and S3 keys mapped into a job folder,
  refusing anything that would leave it; walking a folder without following symlinks.
- :mod:`simsage.runtime.network`: a private network namespace (loopback only) for the
  hosts of a job.
- :mod:`simsage.runtime.python`: starting simsage's own modules in child processes.

Services import from here; nothing here imports a service's internals: the job kinds'
rows are reached only through the hooks their runners fill in, and the runtime writes
only to the stores below it (S3's backend for staging, the log store for log lines, the
metric store for instance metrics). Modules import the
standard library and psutil only at start-up (runners and algorithm processes import
them), never boto3 or the ML libraries.
"""
