"""Stopping what training jobs left running.

Starting runners, their lock-file liveness and the reason a runner died are shared by
every job kind and live in :mod:`simsage.runtime.launcher`; ending processes lives in
:mod:`simsage.runtime.processes`.
"""

from __future__ import annotations

from pathlib import Path

from simsage.runtime import launcher, processes


def stop_training_processes(home) -> None:
    """Kill the runners and algorithm processes of every unfinished job of ``home``
    (the pytest fixture calls this through Home.stop_everything)."""
    from simsage.training.jobs import TrainingJobStore

    for job in TrainingJobStore(home).unfinished():
        launcher.kill_runner(Path(job.job_dir), job.runner_pid)
        for pid in job.host_pids:  # each host leads its own session
            processes.kill_tree(pid)
