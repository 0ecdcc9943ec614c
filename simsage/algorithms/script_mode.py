"""Script mode of the SageMaker framework images (scikit-learn, XGBoost): run the user's
entry point the way the SageMaker training toolkit does.

The runner has already extracted ``sourcedir.tar.gz`` (``sagemaker_submit_directory``)
into ``<root>/code``. This process runs ``sagemaker_program`` from there with the
hyperparameters as ``--name value`` arguments (sorted by name) and the ``SM_*``
environment, passes its output through, and on failure writes the toolkit's
``ExecuteUserScriptError`` report to ``output/failure``. It imports nothing heavy: the
user's script brings its own libraries.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections import deque
from pathlib import Path

from simsage.runtime.environment import OPT_ML_ENV, decode_hyperparameters

TAIL_LINES = 20


def _fail(root: Path, message: str, code: int = 1) -> int:
    failure = root / "output" / "failure"
    if not failure.exists():  # the toolkit never overwrites the algorithm's own report
        failure.write_text(message)
    print(message, file=sys.stderr, flush=True)
    return code


def main() -> int:
    root = Path(os.environ[OPT_ML_ENV])
    raw = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
    hps = decode_hyperparameters(raw)
    program = hps.get("sagemaker_program")
    if not program:
        return _fail(
            root,
            "Framework Error: \nNo entry point: this image runs in script mode and needs the "
            "hyperparameter sagemaker_program (the SDK sets it from entry_point).",
        )
    code_dir = root / "code"
    script = code_dir / str(program)
    if not script.is_file():
        return _fail(
            root,
            f"Framework Error: \nThe entry point {program} was not found in the source "
            f"directory ({sorted(p.name for p in code_dir.iterdir())} are there).",
        )
    if (code_dir / "requirements.txt").is_file():
        print(
            "simsage: requirements.txt found; simsage runs scripts in its own Python "
            "environment and does not install packages.",
            flush=True,
        )
    args = json.loads(os.environ.get("SM_USER_ARGS", "[]"))
    if script.suffix == ".py":
        command = [sys.executable, str(program), *args]
    else:
        command = ["/bin/sh", "-c", shlex.join([f"./{program}", *args])]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(code_dir), env.get("PYTHONPATH")) if p)
    process = subprocess.Popen(command, cwd=code_dir, env=env, stderr=subprocess.PIPE)
    # Pass SIGTERM on to the script (the runner stops jobs with it).
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    for raw_line in process.stderr:
        line = raw_line.decode("utf-8", "replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        tail.append(line.rstrip("\n"))
    code = process.wait()
    if code != 0:
        message = "\n".join(tail) if tail else ""
        report = (
            f'ExecuteUserScriptError:\nExitCode {code}\nErrorMessage "{message}"\n'
            f'Command "{shlex.join(command)}"'
        )
        return _fail(root, report, code if code > 0 else 1)
    (root / "output" / "success").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
