#!/usr/bin/env python3
"""Generates sluice's schemas from the spark-operator CRD.

Writes, from the spark-operator CRD's SparkApplication v1beta2 openAPIV3Schema
(and schemas/flinkdeployment.schema.json from the Flink operator's
FlinkDeployment v1beta1 CRD):

  schemas/sparkapplication.schema.json  the strict schema of a rendered
      SparkApplication (JSON Schema draft-07, what src/check.rs compiles);
  schemas/values.schema.json  the values schema (JSON Schema 2020-12, what
      src/values/validate.rs compiles): sluice's own keys from the hand-kept
      schemas/src/values.base.json, merged with the CRD fields that values
      may set under their CRD names (the spec fields without a sluice key
      of their own, and every SparkPodSpec field under driver/executor).

The conversion is src/crd.rs's: `nullable` becomes a `null` type,
`x-kubernetes-int-or-string` an `anyOf`, and an object with `properties`
and no `x-kubernetes-preserve-unknown-fields` gets
`additionalProperties: false`. The CRD leaves the pod templates
(`driver.template`, `executor.template`) untyped; both schemas type them as
a PodTemplateSpec composed from the CRD's own components (pod_template_spec()
lists the PodSpec fields covered; any other is an error).

Usage:
  python3 scripts/gen-schemas.py [--crd FILE] [--flink-crd FILE] [--check]

--check regenerates into memory and exits 1 with a diff when the committed
files differ. Needs Python 3, and PyYAML for a CRD in YAML (a CRD converted
to JSON needs nothing else).
"""

import argparse
import copy
import difflib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRD = ROOT / ".." / "shared" / "crds" / "sparkoperator.k8s.io_sparkapplications.yaml"
BASE = ROOT / "schemas" / "src" / "values.base.json"
OUT_APP = ROOT / "schemas" / "sparkapplication.schema.json"
OUT_VALUES = ROOT / "schemas" / "values.schema.json"
DEFAULT_FLINK_CRD = ROOT / ".." / "shared" / "crds" / "flinkdeployments.flink.apache.org-v1.yml"
OUT_FLINK = ROOT / "schemas" / "flinkdeployment.schema.json"
FLINK_VERSION = "v1beta1"
FLINK_OPERATOR = "Flink Kubernetes Operator 1.15"
VERSION = "v1beta2"
OPERATOR = "spark-operator v2.5"

DROPPED = {"nullable", "default", "example", "externalDocs"}


def convert(node):
    """OpenAPI v3 (structural schema) -> JSON Schema; src/crd.rs's convert."""
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: convert(v) for k, v in value.items()} if isinstance(value, dict) else None
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = convert(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [convert(v) for v in (value or [])]
        elif key.startswith("x-kubernetes-") or key in DROPPED:
            continue
        else:
            out[key] = copy.deepcopy(value)
    if node.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if not preserve and "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


# Descriptions for the few CRD properties that have none.
MISSING_DESCRIPTIONS = {
    ("configMaps", "name"): "Name of the ConfigMap.",
    ("configMaps", "path"): "Where the ConfigMap is mounted in the pod.",
    ("envSecretKeyRefs", "name"): "Name of the Secret.",
    ("envSecretKeyRefs", "key"): "Key in the Secret.",
    ("ports", "containerPort"): "Port number in the container.",
    ("ports", "name"): "Name of the port.",
    ("ports", "protocol"): "Protocol of the port (TCP, UDP or SCTP).",
    ("secrets", "name"): "Name of the Secret.",
    ("secrets", "path"): "Where the Secret is mounted in the pod.",
}


def fill_descriptions(node, parent=""):
    if not isinstance(node, dict):
        return
    for key, sub in (node.get("properties") or {}).items():
        if isinstance(sub, dict) and "description" not in sub:
            sub["description"] = MISSING_DESCRIPTIONS.get(
                (parent, key), f"The object's `{key}` (the CRD does not describe it)."
            )
        fill_descriptions(sub, key)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            fill_descriptions(node[key], parent)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or []:
            fill_descriptions(sub, parent)


def at(schema, *path):
    node = schema
    for seg in path:
        node = node["items"] if seg == "[]" else node["properties"][seg]
    return node


def without_description(node):
    if isinstance(node, dict):
        return {k: v for k, v in node.items() if k != "description"}
    return node


def canon(node):
    return json.dumps(node, sort_keys=True)


# PodSpec fields of a pod template, typed from the CRD's own components
# where the CRD has them, plain types otherwise. Any other field is an
# error: Spark merges only some fields of a pod template, and a typo would
# vanish without a trace.
def pod_template_spec(c, ref):
    def string(desc):
        return {"type": "string", "description": desc}

    def integer(desc, minimum=None):
        s = {"type": "integer", "description": desc}
        if minimum is not None:
            s["minimum"] = minimum
        return s

    def boolean(desc):
        return {"type": "boolean", "description": desc}

    def string_map(desc):
        return {"type": "object", "additionalProperties": {"type": "string"}, "description": desc}

    def array_of(name, desc):
        return {"type": "array", "items": ref(name), "description": desc}

    label_selector = copy.deepcopy(
        at(c["Affinity"], "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "[]", "labelSelector")
    )
    spec_fields = {
        "activeDeadlineSeconds": integer("Seconds the pod may run before it is stopped.", 1),
        "affinity": dict(ref("Affinity"), description="The pod's scheduling constraints."),
        "automountServiceAccountToken": boolean("Whether a service account token is mounted."),
        "containers": array_of(
            "Container",
            "Containers of the pod; Spark's own container is the first one, or the one named by spark.kubernetes.driver/executor.podTemplateContainerName.",
        ),
        "dnsConfig": dict(ref("PodDNSConfig"), description="DNS parameters of the pod."),
        "dnsPolicy": {
            "enum": ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
            "description": "DNS policy of the pod.",
        },
        "enableServiceLinks": boolean("Whether service environment variables are injected."),
        "hostAliases": array_of("HostAlias", "Entries added to the pod's /etc/hosts."),
        "hostIPC": boolean("Use the host's IPC namespace."),
        "hostNetwork": boolean("Use the host's network namespace."),
        "hostPID": boolean("Use the host's PID namespace."),
        "hostname": string("Hostname of the pod."),
        "imagePullSecrets": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": string("Name of the Secret.")},
                "additionalProperties": False,
            },
            "description": "Secrets with registry credentials.",
        },
        "initContainers": array_of("Container", "Init containers of the pod."),
        "nodeName": string("Schedule the pod onto this node."),
        "nodeSelector": string_map("Node labels the pod's node must have."),
        "preemptionPolicy": {"enum": ["Never", "PreemptLowerPriority"], "description": "Preemption policy of the pod."},
        "priority": integer("Priority value of the pod."),
        "priorityClassName": string("Priority class of the pod."),
        "restartPolicy": {"enum": ["Always", "OnFailure", "Never"], "description": "Restart policy of the pod's containers."},
        "runtimeClassName": string("Runtime class of the pod."),
        "schedulerName": string("Scheduler of the pod."),
        "securityContext": dict(ref("PodSecurityContext"), description="Pod-level security attributes."),
        "serviceAccount": string("Deprecated alias of serviceAccountName."),
        "serviceAccountName": string("Service account the pod runs as."),
        "setHostnameAsFQDN": boolean("Use the pod's FQDN as its hostname."),
        "shareProcessNamespace": boolean("Share one process namespace between the pod's containers."),
        "subdomain": string("Subdomain of the pod's hostname."),
        "terminationGracePeriodSeconds": integer("Seconds the pod has to stop gracefully.", 0),
        "tolerations": array_of("Toleration", "Tolerations of the pod."),
        "topologySpreadConstraints": {
            "type": "array",
            "description": "How the pods spread across topology domains.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["maxSkew", "topologyKey", "whenUnsatisfiable"],
                "properties": {
                    "labelSelector": label_selector,
                    "matchLabelKeys": {"type": "array", "items": {"type": "string"}, "description": "Pod label keys that select the pods spread."},
                    "maxSkew": integer("Largest allowed difference of matching pods between domains.", 1),
                    "minDomains": integer("Minimum number of eligible domains.", 1),
                    "nodeAffinityPolicy": {"enum": ["Honor", "Ignore"], "description": "Whether nodeAffinity/nodeSelector count."},
                    "nodeTaintsPolicy": {"enum": ["Honor", "Ignore"], "description": "Whether node taints count."},
                    "topologyKey": string("Node label key of the topology domains."),
                    "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"], "description": "What happens when the constraint cannot be met."},
                },
            },
        },
        "volumes": array_of("Volume", "Volumes of the pod."),
    }
    metadata = {
        "type": "object",
        "additionalProperties": False,
        "description": "Metadata of the pod (Spark keeps labels and annotations).",
        "properties": {
            "annotations": string_map("Annotations of the pod."),
            "generateName": string("Prefix of a generated name."),
            "labels": string_map("Labels of the pod."),
            "name": string("Name of the pod (Spark names its pods itself)."),
            "namespace": string("Namespace of the pod (Spark uses the application's)."),
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "A Kubernetes pod template (PodTemplateSpec); Spark >= 3.0 merges it into the pod it creates.",
        "properties": {
            "metadata": metadata,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "description": "The pod's spec (PodSpec): the fields listed here only.",
                "properties": spec_fields,
            },
        },
    }


# Where each component schema sits in the converted CRD.
COMPONENT_PATHS = {
    "Container": ("driver", "sidecars", "[]"),
    "Volume": ("volumes", "[]"),
    "VolumeMount": ("driver", "volumeMounts", "[]"),
    "Affinity": ("driver", "affinity"),
    "Toleration": ("driver", "tolerations", "[]"),
    "PodSecurityContext": ("driver", "podSecurityContext"),
    "SecurityContext": ("driver", "securityContext"),
    "HostAlias": ("driver", "hostAliases", "[]"),
    "PodDNSConfig": ("driver", "dnsConfig"),
    "EnvVar": ("driver", "env", "[]"),
    "EnvFromSource": ("driver", "envFrom", "[]"),
    "Lifecycle": ("driver", "lifecycle"),
}


def components(spec):
    return {name: copy.deepcopy(at(spec, *path)) for name, path in COMPONENT_PATHS.items()}


def share(node, comps, ref, skip=None):
    """Replaces every subtree equal to a component (but for its top-level
    description) by a reference to it, so that each is written once."""
    keys = {canon(without_description(s)): name for name, s in comps.items()}

    def walk(n, top):
        if isinstance(n, dict):
            name = keys.get(canon(without_description(n)))
            if name is not None and not (top and name == skip):
                r = ref(name)
                if "description" in n:
                    r["description"] = n["description"]
                return r
            return {k: walk(v, False) for k, v in n.items()}
        if isinstance(n, list):
            return [walk(v, False) for v in n]
        return n

    return walk(node, True)


def hoist_repeats(node, min_size=4000):
    """Writes each large subtree that occurs more than once (but for its
    description) once, as a definition, and refers to it everywhere: a
    FlinkDeployment's three pod templates become one PodTemplate, and
    within it the containers, probes and affinity terms it repeats. The
    schema means the same; it compiles once per type instead of once per
    place. Returns the node and the definitions (named after the fields
    where they occur)."""
    definitions = {}

    def repeats():
        seen = {}

        def count(n, key):
            if isinstance(n, dict):
                if "$ref" not in n:
                    c = canon(without_description(n))
                    if len(c) >= min_size:
                        entry = seen.setdefault(c, [0, []])
                        entry[0] += 1
                        if key not in entry[1]:
                            entry[1].append(key)
                for k, v in n.items():
                    if k == "properties" and isinstance(v, dict):
                        for field, sub in v.items():
                            count(sub, field)
                    elif k in ("items", "additionalProperties"):
                        count(v, key)
                    else:
                        count(v, k)
            elif isinstance(n, list):
                for v in n:
                    count(v, key)

        count(node, "root")
        for name, body in definitions.items():
            for k, v in body.items():
                count({k: v}, name)
        return sorted(((len(c), c, keys) for c, (n, keys) in seen.items() if n > 1), reverse=True)

    def replace(n, c, r):
        if isinstance(n, dict):
            if "$ref" not in n and canon(without_description(n)) == c:
                out = dict(r)
                if "description" in n:
                    out["description"] = n["description"]
                return out
            return {k: replace(v, c, r) for k, v in n.items()}
        if isinstance(n, list):
            return [replace(v, c, r) for v in n]
        return n

    while True:
        found = repeats()
        if not found:
            break
        _, c, keys = found[0]
        # Named after its fields: `jobManager` and `taskManager` share one.
        base = "Or".join(k[:1].upper() + k[1:] for k in keys)
        name, i = base, 2
        while name in definitions:
            name, i = f"{base}{i}", i + 1
        r = {"$ref": f"#/definitions/{name}"}
        node = replace(node, c, r)
        definitions = {k: {kk: replace(vv, c, r) for kk, vv in v.items()} for k, v in definitions.items()}
        definitions[name] = json.loads(c)
    return node, definitions


def sorted_json(value):
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_crd(path, kind="SparkApplication", version=VERSION):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("{"):
        # The CRD as JSON (what tests/schemas.rs passes): no PyYAML needed.
        doc = json.loads(text)
    else:
        import yaml

        doc = yaml.safe_load(text)
    if doc.get("kind") != "CustomResourceDefinition" or doc["spec"]["names"]["kind"] != kind:
        sys.exit(f"{path}: not the {kind} CRD")
    for v in doc["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    sys.exit(f"{path}: no version {version}")


def converted(crd, ref):
    """The CRD as a strict schema, its spec, and the component types both
    generated schemas share (a PodTemplateSpec among them), referred to
    with `ref`."""
    schema = convert(crd)
    fill_descriptions(schema)
    spec = schema["properties"]["spec"]
    comps = components(spec)
    comps["PodTemplateSpec"] = pod_template_spec(comps, ref)
    return schema, spec, comps


def strict_metadata(name_pattern, name_length):
    """The metadata of a rendered object: what the API server (and the
    operator, for the name) accepts in the fields sluice renders."""
    return {
        "type": "object",
        "required": ["name", "namespace"],
        "properties": {
            "name": {"type": "string", "pattern": name_pattern, "maxLength": name_length},
            "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }


def sparkapplication_schema(crd):
    def ref(name):
        return {"$ref": f"#/definitions/{name}"}

    schema, spec, comps = converted(crd, ref)
    for role in ("driver", "executor"):
        t = at(spec, role, "template")
        at(spec, role)["properties"]["template"] = dict(ref("PodTemplateSpec"), description=t["description"])
    definitions = {name: share(s, {k: v for k, v in comps.items() if k != "PodTemplateSpec"}, ref, skip=name) for name, s in comps.items()}
    props = share(schema["properties"], comps, ref)
    props["apiVersion"] = {"const": f"sparkoperator.k8s.io/{VERSION}", "description": props["apiVersion"].get("description", "")}
    props["kind"] = {"const": "SparkApplication", "description": props["kind"].get("description", "")}
    # The CRD leaves metadata to the API server; these are the rules it
    # and the operator's webhook apply to the fields sluice renders.
    props["metadata"] = strict_metadata("^[a-z]([-a-z0-9]*[a-z0-9])?$", 63)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://sluice.dev/schemas/sparkapplication.schema.json",
        "title": f"SparkApplication (sparkoperator.k8s.io/{VERSION}, {OPERATOR})",
        "description": (
            f"Generated by scripts/gen-schemas.py from {OPERATOR}'s CRD; do not edit. "
            "Strict: a field the CRD does not define is an error (the API server would silently drop it), "
            "and pod templates are typed as PodTemplateSpec. To check against the exact CRD your cluster runs, "
            "use `sluice lint --crd FILE`."
        ),
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": props,
        "definitions": definitions,
    }


def flinkdeployment_schema(crd):
    """The CRD's FlinkDeployment, strict as the SparkApplication schema is:
    the same conversion, every object closed, and the metadata rules of
    the API server and the operator's validator (a name of at most 45
    characters: the operator derives service and deployment names from
    it)."""
    schema = convert(crd)
    props = schema["properties"]
    props["apiVersion"] = {"const": f"flink.apache.org/{FLINK_VERSION}", "description": "The FlinkDeployment API version."}
    props["kind"] = {"const": "FlinkDeployment", "description": "The kind."}
    props["metadata"] = strict_metadata("^[a-z]([-a-z0-9]{0,43}[a-z0-9])?$", 45)
    props, definitions = hoist_repeats(props)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://sluice.dev/schemas/flinkdeployment.schema.json",
        "title": f"FlinkDeployment (flink.apache.org/{FLINK_VERSION}, {FLINK_OPERATOR})",
        "description": (
            f"Generated by scripts/gen-schemas.py from the {FLINK_OPERATOR} CRD; do not edit. "
            "Strict: a field the CRD does not define is an error (the API server would silently drop it). "
            "To check against the exact CRD your cluster runs, use `sluice lint --crd FILE`."
        ),
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": props,
        "definitions": definitions,
    }


# --- the values schema -------------------------------------------------------

# Spec fields with a sluice key of the same name and another meaning, or
# none: the CRD's form is not expressible in values.
NOT_MIRRORED = {"driver", "executor", "retryInterval"}
# Keys where the CRD's structure replaces the hand-kept one (which keeps
# its description and examples only).
CRD_STRUCTURE = {("driver", "sidecars"), ("executor", "sidecars")}
ANNOTATIONS = ("description", "examples", "default", "x-sluice-format", "x-sluice-help", "title")
TEXT = ["string", "number", "boolean"]


def merge(base, crd):
    """`base` (hand-kept) wins on every keyword it states; the CRD adds the
    keywords and properties it lacks, but not `required`: sluice has
    defaults for some (monitoring.expose*Metrics), and values are layered,
    so a key one file leaves out another may set."""
    if not isinstance(base, dict) or not isinstance(crd, dict):
        return copy.deepcopy(base)
    if "if" in base or "$ref" in base:
        # Hand-kept alternatives (restartPolicy, image): stated in full.
        return copy.deepcopy(base)
    out = copy.deepcopy(base)
    for key, value in crd.items():
        if key == "required":
            continue
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif key == "properties":
            for p, sub in value.items():
                out["properties"][p] = merge(out["properties"][p], sub) if p in out["properties"] else copy.deepcopy(sub)
        elif key in ("items", "additionalProperties") and isinstance(out[key], dict):
            out[key] = merge(out[key], value)
    return out


def annotations_only(base):
    return {k: v for k, v in base.items() if k in ANNOTATIONS}


# FlinkDeployment spec fields that values take under their CRD names (the
# rest have a sluice key that is shared with Spark: image, mode,
# podTemplate; flinkConfiguration is stated in full in the base).
FLINK_MIRRORED = ("flinkVersion", "job", "jobManager", "taskManager", "ingress", "logConfiguration", "serviceAccount", "restartNonce", "imagePullPolicy")


def flink_values(flink, props, ref):
    """The FlinkDeployment's fields in values: the CRD's types under the
    base's descriptions, the roles' pod templates typed as PodTemplateSpec
    (what the rendered object is checked against is the CRD itself), and
    the keys whose name both engines use accepting either engine's form
    (which engine a stream has decides, see src/engine.rs)."""
    spec = convert(flink)["properties"]["spec"]
    for key in FLINK_MIRRORED:
        field = spec["properties"][key]
        if key in ("jobManager", "taskManager"):
            field["properties"]["podTemplate"] = {}
        props[key] = merge(props[key], field) if key in props else field
        if key in ("jobManager", "taskManager"):
            template = props[key]["properties"]["podTemplate"]
            props[key]["properties"]["podTemplate"] = dict(ref("PodTemplateSpec"), **annotations_only(template))
    props["mode"]["enum"] = props["mode"]["enum"] + spec["properties"]["mode"]["enum"]
    pod_templates = props["podTemplate"]["properties"]
    for key in ("apiVersion", "kind"):
        pod_templates[key] = {"type": "string", "description": f"The pod template's {key} (Flink's form; ignored by Kubernetes)."}
    for key in ("metadata", "spec"):
        pod_templates[key] = {"$ref": f"#/$defs/k8s.PodTemplateSpec/properties/{key}", "description": f"The {key} of every Flink pod (Flink's form)."}


def values_schema(crd, base, flink):
    def ref(name):
        return {"$ref": f"#/$defs/k8s.{name}"}

    _, spec, comps = converted(crd, ref)
    # Env values may be numbers or booleans (passed as the text written).
    sluice_env_var = copy.deepcopy(comps["EnvVar"])
    sluice_env_var["properties"]["value"]["type"] = TEXT

    out = copy.deepcopy(base)
    values = out["$defs"]["values"]
    props = values["properties"]
    for key, crd_field in spec["properties"].items():
        if key in NOT_MIRRORED:
            continue
        if key == "image":
            # sluice's {repository, tag}, or the CRD's string.
            mine = props["image"]
            props["image"] = {
                "description": mine["description"] + " Or the CRD's form: the whole image reference as one string.",
                "examples": mine["examples"] + ["registry.example.com/bi/spark-streams:1.4.2"],
                "type": ["object", "string"],
                "if": {"type": "object"},
                "then": {k: v for k, v in mine.items() if k not in ANNOTATIONS},
                # The type is the outer one's: one finding for `image: 5`, not two.
                "else": {k: v for k, v in dict(crd_field, minLength=1).items() if k != "type"},
            }
            continue
        props[key] = merge(props[key], crd_field) if key in props else copy.deepcopy(crd_field)

    for role in ("driver", "executor"):
        role_props = props[role]["properties"]
        pod = at(spec, role)
        for key, crd_field in pod["properties"].items():
            if key == "template":
                role_props[key] = dict(ref("PodTemplateSpec"), description=crd_field["description"])
            elif key == "env":
                mine = role_props["env"]
                role_props["env"] = {
                    "description": mine["description"] + " Or the CRD's list form, [{name, value}] or [{name, valueFrom}].",
                    "examples": mine["examples"] + [[{"name": "KAFKA_BOOTSTRAP", "value": "kafka:9092"}]],
                    "type": ["object", "array"],
                    "if": {"type": "object"},
                    "then": {k: v for k, v in mine.items() if k not in ANNOTATIONS},
                    "else": {"items": {"$ref": "#/$defs/sluice.EnvVar"}},
                }
            elif (role, key) in CRD_STRUCTURE and key in role_props:
                role_props[key] = dict(copy.deepcopy(crd_field), **annotations_only(role_props[key]))
            elif key in role_props:
                role_props[key] = merge(role_props[key], crd_field)
            else:
                role_props[key] = copy.deepcopy(crd_field)
        props[role]["additionalProperties"] = False

    pod_templates = props["podTemplate"]["properties"]
    for role in ("driver", "executor"):
        pod_templates[role] = dict(ref("PodTemplateSpec"), **annotations_only(pod_templates[role]))
    flink_values(flink, props, ref)

    defs = {f"k8s.{name}": share(s, {k: v for k, v in comps.items() if k != "PodTemplateSpec"}, ref, skip=name) for name, s in comps.items()}
    defs["sluice.EnvVar"] = share(sluice_env_var, comps, ref)
    out["$defs"]["values"] = share(values, comps, ref)
    out["$defs"].update(defs)
    out["description"] = (
        base["description"]
        + f" Generated by scripts/gen-schemas.py from schemas/src/values.base.json (sluice's keys) and {OPERATOR}'s CRD (the CRD's fields); do not edit."
    )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crd", default=str(DEFAULT_CRD), help="the SparkApplication CRD (default: %(default)s)")
    parser.add_argument("--flink-crd", default=str(DEFAULT_FLINK_CRD), help="the FlinkDeployment CRD (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="fail with a diff if the committed files differ")
    args = parser.parse_args()
    crd = load_crd(args.crd)
    flink = load_crd(args.flink_crd, "FlinkDeployment", FLINK_VERSION)
    with open(BASE, encoding="utf-8") as f:
        base = json.load(f)
    outputs = {
        OUT_APP: sorted_json(sparkapplication_schema(crd)),
        OUT_VALUES: sorted_json(values_schema(crd, base, flink)),
        OUT_FLINK: sorted_json(flinkdeployment_schema(flink)),
    }
    stale = 0
    for path, text in outputs.items():
        rel = path.relative_to(ROOT)
        if args.check:
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            if old != text:
                stale += 1
                diff = difflib.unified_diff(old.splitlines(True), text.splitlines(True), f"a/{rel}", f"b/{rel}", n=2)
                try:
                    sys.stdout.writelines(list(diff)[:400])
                except BrokenPipeError:
                    pass
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"\n{stale} generated schema(s) differ: run `python3 scripts/gen-schemas.py` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
