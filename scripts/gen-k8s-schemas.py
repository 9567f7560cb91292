#!/usr/bin/env python3
"""Strict JSON Schemas for the built-in Kubernetes kinds a streams
repository renders, from the API server's OpenAPI v2 document.

Usage:
    kubectl get --raw /openapi/v2 | scripts/gen-k8s-schemas.py [--out DIR] [-]
    scripts/gen-k8s-schemas.py [--out DIR] openapi-v2.json
    scripts/gen-k8s-schemas.py --check [--out DIR] openapi-v2.json

Writes one file per kind and version to DIR (default schemas/k8s/, relative
to the repository root), named `<group>.<version>.<Kind>.json` (`core` for
the core group), and removes files there it did not write, so the
directory is exactly what the document defines. `--check` writes nothing
and exits 1 when DIR differs.

The output is JSON Schema 2020-12, deterministic (sorted keys, one indent
step, no descriptions), and strict where the API server is lenient:

* an object definition with `properties` and no `additionalProperties`
  gets `additionalProperties: false`. Before server-side field validation
  (Kubernetes 1.25) the API server drops an unknown field silently, so a
  misspelt field would be lost without a word;
* `$ref`s stay references, into `$defs` holding every definition the kind
  reaches (named as in the document);
* `format: int-or-string` (IntOrString) is `type: [integer, string]`, and
  a Quantity is `type: [string, number]`: the API server decodes a bare
  number as a quantity (`storage: 1`);
* `format: byte` (Secret `data`) becomes a base64 pattern, as the API server
  refuses anything else;
* `required` is kept; other `format`s, descriptions and `x-kubernetes-*`
  extensions are dropped (they are not checks);
* the kind's `apiVersion` and `kind` are constants.

A field set to `null` means "unset" to the API server; sluice removes such
fields before it checks an object, so the schemas need not allow null.

Standard library only.
"""

import argparse
import json
import os
import sys

# (group, kind): every version of these the document defines is written.
# Namespaced kinds a streams repository plausibly renders (src/kinds.rs
# allows some by default, the others an environment may allow). Workload
# kinds (Deployment, StatefulSet, Job, CronJob) are left out: each carries
# the whole PodSpec (~45 kB of schema), and a streams repository runs
# SparkApplications instead.
KINDS = [
    ("", "ConfigMap"),
    ("", "PersistentVolumeClaim"),
    ("", "Secret"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("policy", "PodDisruptionBudget"),
]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# Standard base64 with padding, as Go's encoding/json decodes []byte.
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
KEPT = {"type", "properties", "additionalProperties", "items", "required", "enum"}


def ref_name(ref):
    prefix = "#/definitions/"
    if not ref.startswith(prefix):
        raise SystemExit(f"unexpected $ref {ref!r}")
    return ref[len(prefix):]


def convert(node, refs):
    """One OpenAPI v2 schema node as a strict JSON Schema node; the
    definitions it refers to are added to `refs`."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = ref_name(node["$ref"])
        refs.add(name)
        return {"$ref": f"#/$defs/{name}"}
    out = {}
    for key, value in node.items():
        if key not in KEPT:
            continue
        if key == "properties":
            out[key] = {k: convert(v, refs) for k, v in value.items()}
        elif key in ("additionalProperties", "items"):
            out[key] = convert(value, refs) if isinstance(value, dict) else value
        else:
            out[key] = value
    fmt = node.get("format")
    if fmt == "int-or-string":
        out["type"] = ["integer", "string"]
    elif fmt == "byte" and node.get("type") == "string":
        out["pattern"] = BASE64
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def definition(name, node, refs):
    if name == QUANTITY:
        return {"type": ["string", "number"]}
    return convert(node, refs)


def kinds_in(definitions):
    """(group, version, kind) -> definition name, for the kinds in KINDS."""
    found = {}
    for name, node in definitions.items():
        for gvk in node.get("x-kubernetes-group-version-kind", []):
            key = (gvk.get("group", ""), gvk["kind"])
            if key in KINDS:
                found[(gvk.get("group", ""), gvk["version"], gvk["kind"])] = name
    return found


def schema_of(definitions, source, group, version, kind, name):
    refs = set()
    top = definition(name, definitions[name], refs)
    api_version = f"{group}/{version}" if group else version
    props = top.setdefault("properties", {})
    props["apiVersion"] = {"const": api_version}
    props["kind"] = {"const": kind}
    defs = {}
    pending = sorted(refs)
    while pending:
        ref = pending.pop()
        if ref in defs or ref == name:
            continue
        if ref not in definitions:
            raise SystemExit(f"{name} refers to {ref}, which the document does not define")
        more = set()
        defs[ref] = definition(ref, definitions[ref], more)
        pending.extend(sorted(more - set(defs)))
    if name in refs:
        # A kind that contains itself: keep it addressable.
        defs[name] = definition(name, definitions[name], set())
    schema = {
        "$schema": SCHEMA_DIALECT,
        "$comment": f"generated by scripts/gen-k8s-schemas.py from the OpenAPI v2 document of Kubernetes {source}",
        "title": f"{api_version} {kind} (Kubernetes {source})",
    }
    schema.update(top)
    if defs:
        schema["$defs"] = defs
    return schema


def file_name(group, version, kind):
    return f"{group or 'core'}.{version}.{kind}.json"


def render(schema):
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("openapi", nargs="?", default="-", help="the OpenAPI v2 document (default: stdin)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "schemas", "k8s"))
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args()
    if args.openapi == "-":
        doc = json.load(sys.stdin)
    else:
        with open(args.openapi, encoding="utf-8") as f:
            doc = json.load(f)
    definitions = doc.get("definitions")
    if not isinstance(definitions, dict) or doc.get("swagger") != "2.0":
        raise SystemExit("not an OpenAPI v2 document (GET /openapi/v2)")
    found = kinds_in(definitions)
    missing = sorted({k for k in KINDS} - {(g, k) for (g, _, k) in found})
    if missing:
        raise SystemExit(f"the document defines none of: {missing}")
    source = doc.get("info", {}).get("version", "?")
    files = {}
    for (group, version, kind), name in sorted(found.items()):
        files[file_name(group, version, kind)] = render(
            schema_of(definitions, source, group, version, kind, name)
        )
    existing = set()
    if os.path.isdir(args.out):
        existing = {f for f in os.listdir(args.out) if f.endswith(".json")}
    if args.check:
        differ = sorted(f for f in set(files) | existing if f not in files or f not in existing
                        or open(os.path.join(args.out, f), encoding="utf-8").read() != files[f])
        for f in differ:
            print(f"differs: {os.path.join(args.out, f)}", file=sys.stderr)
        return 1 if differ else 0
    os.makedirs(args.out, exist_ok=True)
    for f in sorted(existing - set(files)):
        os.remove(os.path.join(args.out, f))
    for f, text in sorted(files.items()):
        with open(os.path.join(args.out, f), "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
    print(f"wrote {len(files)} schemas from Kubernetes {source} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
