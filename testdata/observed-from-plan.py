#!/usr/bin/env python3
"""Turns an `orun plan --output json` document (stdin) into an observed snapshot (stdout) in which
every create/recreate has happened: each becomes a running container with the planned labels, and
its image is present (on a swarm node's plan, a service with the planned labels and every task
running); every planned network and volume exists, labelled as orun's. Used to write the `observed.json` of plan cases; not used by the tests."""
import hashlib
import json
import sys


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


plan = json.load(sys.stdin)
containers, images, networks, volumes, services = [], {}, [], [], []
swarm = plan.get("engine") == "swarm"
owned = {"run.orcra.dev/environment": plan["environment"], "run.orcra.dev/managed-by": "orun"}
for action in plan["actions"]:
    if action["kind"] == "network":
        networks.append({"name": action["network"], "labels": owned})
    if action["kind"] == "volume":
        volumes.append({"name": action["volume"], "labels": owned})
    if action["kind"] not in ("create", "recreate"):
        continue
    if swarm:
        replicas = int(action.get("replicas", 1))
        services.append({"name": action["container"], "labels": action["labels"],
                         "replicas": replicas, "running_tasks": replicas})
        continue
    image_id = "sha256:" + short_hash(action["image"])
    images[action["image"]] = image_id
    containers.append({
        "id": short_hash(action["container"])[:12],
        "name": action["container"],
        "image": action["image"],
        "image_id": image_id,
        "state": "running",
        "labels": action["labels"],
    })
snapshot = {
    "containers": containers,
    "images": [{"id": i, "tags": [t]} for t, i in sorted(images.items())],
}
if networks:
    snapshot["networks"] = networks
if volumes:
    snapshot["volumes"] = volumes
if services:
    snapshot["services"] = services
json.dump(snapshot, sys.stdout, indent=2)
print()
