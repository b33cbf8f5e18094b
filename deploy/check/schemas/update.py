#!/usr/bin/env python3
"""Refreshes the Kubernetes JSON schemas deploy/check validates against.

They come from the PyPI package kubernetes-validate (Apache-2.0), which
ships JSON schemas generated from each Kubernetes release's OpenAPI
document, in a strict variant (unknown fields are errors). Only the kinds
Footfall's manifests use are kept, with the definitions they reach, and
descriptions are dropped: the test runs offline and the files stay small.

    python3 deploy/check/schemas/update.py 1.37.0

downloads the package with pip into a temporary folder and rewrites
deploy/check/schemas/v<K8S>/ (add a kind to KINDS when a manifest uses one).
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

# (kind, apiVersion) of every object the kustomizations may render.
KINDS = [
    ("ConfigMap", "v1"),
    ("Deployment", "apps/v1"),
    ("HorizontalPodAutoscaler", "autoscaling/v2"),
    ("Job", "batch/v1"),
    ("Namespace", "v1"),
    ("PodDisruptionBudget", "policy/v1"),
    ("Secret", "v1"),
    ("Service", "v1"),
    ("ServiceAccount", "v1"),
]

HERE = os.path.dirname(os.path.abspath(__file__))
DEFS_ID = "https://kubernetes.io/api/_definitions.json"


def kind_file(kind, api_version):
    # kubernetes-validate's naming: deployment-apps-v1.json, service-v1.json
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            out.add(ref.split("#/$defs/", 1)[1])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: update.py KUBERNETES_VERSION (e.g. 1.37.0)")
    version = sys.argv[1].lstrip("v")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "-d", tmp, f"kubernetes-validate=={version}"], check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        src = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
        with zipfile.ZipFile(wheel) as z:
            defs = json.loads(z.read(src + "_definitions.json"))
            kinds = {f: json.loads(z.read(src + f)) for f in (kind_file(k, v) for k, v in KINDS)}
    keep, todo = set(), set()
    for doc in kinds.values():
        refs(doc, todo)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        refs(defs["$defs"][name], todo)
    out = os.path.join(HERE, f"v{version}")
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(os.path.join(out, "*.json")):
        os.remove(old)
    pruned = {"$schema": defs["$schema"], "$id": DEFS_ID,
              "$defs": {n: strip(defs["$defs"][n]) for n in sorted(keep)}}
    with open(os.path.join(out, "_definitions.json"), "w") as f:
        json.dump(pruned, f, indent=1, sort_keys=True)
        f.write("\n")
    for name, doc in kinds.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(strip(doc), f, indent=1, sort_keys=True)
            f.write("\n")
    print(f"{out}: {len(kinds)} kinds, {len(keep)} definitions")


if __name__ == "__main__":
    main()
