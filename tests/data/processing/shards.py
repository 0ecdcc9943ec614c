"""Writes which input files this host received, one JSON per host in the shared output."""

import json
import os

with open("/opt/ml/config/resourceconfig.json") as config:
    host = json.load(config)["current_host"]
folder = "/opt/ml/processing/input/parts"
seen = {}
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name)) as part:
        seen[name] = len(part.readlines())
print(f"{host} received {sorted(seen)}")
with open(os.path.join("/opt/ml/processing/output", f"{host}.json"), "w") as out:
    json.dump({"host": host, "files": seen}, out)
