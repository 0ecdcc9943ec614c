"""Stopping what training jobs left running.

Starting runners, their lock-file liveness and the reason a runner died are shared by
every job kind and live in :mod:`simsage.runtime.launcher`; the names are re-exported
here for the callers that still import them from training.
"""

from __future__ import annotations

from simsage.runtime.launcher import (  # noqa: F401 - re-exported
    LOCK_NAME,
    STARTUP_GRACE,
    hold_lock,
    kill_group,
    launch,
    runner_alive,
)


def stop_training_processes(home) -> None:
    """Kill the runners and algorithm processes of every unfinished job of ``home``
    (the pytest fixture calls this through Home.stop_everything)."""
    from simsage.training.jobs import TrainingJobStore

    for job in TrainingJobStore(home).unfinished():
        for pid in [job.runner_pid, *job.host_pids]:
            if pid:
                kill_group(pid)
