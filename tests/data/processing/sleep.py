"""Prints, then sleeps until the job is stopped."""

import time

print("started, waiting to be stopped", flush=True)
time.sleep(600)
