"""A small offline kustomize: renders deploy/overlays/* the way `kubectl kustomize` would,
for the subset of kustomization fields that deploy/ uses.

No kustomize binary is installable from the package registries this project uses, and none
is needed for what deploy/ does: resources (files and folders), namespace, labels (without
selectors), images, ConfigMap and Secret generators with fixed names, and strategic-merge
patches. Any other field is an error here, so a manifest change that this renderer would not
apply faithfully fails the test instead of passing unrendered.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "generatorOptions",
    "configMapGenerator",
    "secretGenerator",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass"}
# Lists merged item by item on this key in strategic-merge patches (as Kubernetes declares
# them); any other list of a patch replaces the original list.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "volumeClaimTemplates": None,
}


class KustomizeError(Exception):
    pass


def render(folder: Path) -> list[Resource]:
    """Every resource the kustomization in `folder` produces, in order."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{folder}: fields this renderer does not apply: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = (folder / entry).resolve()
        resources += render(path) if path.is_dir() else load_documents(path)
    resources += _generated(folder, spec)
    for patch_entry in spec.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise KustomizeError(f"{folder}: only `patches: - path:` is supported")
        for patch in load_documents(folder / patch_entry["path"]):
            _apply_patch(resources, patch, folder)
    for label in spec.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise KustomizeError(f"{folder}: labels are applied to metadata only here")
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in spec.get("images", []):
        for container in _containers(resources):
            name, _, _tag = container["image"].partition(":")
            if name == image["name"]:
                new_name = image.get("newName", name)
                new_tag = image.get("newTag", _tag)
                container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name
    namespace = spec.get("namespace")
    if namespace:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _generated(folder: Path, spec: dict[str, Any]) -> list[Resource]:
    generators = spec.get("configMapGenerator", []) + spec.get("secretGenerator", [])
    if generators and not spec.get("generatorOptions", {}).get("disableNameSuffixHash"):
        # With hashed names kustomize rewrites every reference; this renderer does not.
        raise KustomizeError(f"{folder}: generators need disableNameSuffixHash: true here")
    made: list[Resource] = []
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in spec.get(key, []):
            data: dict[str, str] = {}
            for literal in generator.get("literals", []):
                name, _, value = literal.partition("=")
                data[name] = value
            for entry in generator.get("files", []):
                name, _, source = entry.rpartition("=") if "=" in entry else ("", "", entry)
                data[name or Path(source).name] = (folder / source).read_text()
            resource: Resource = {
                "apiVersion": "v1",
                "kind": kind,
                "metadata": {"name": generator["name"]},
            }
            if kind == "Secret":
                resource["type"] = generator.get("type", "Opaque")
                resource["data"] = {
                    k: base64.b64encode(v.encode()).decode() for k, v in data.items()
                }
            else:
                resource["data"] = data
            made.append(resource)
    return made


def _apply_patch(resources: list[Resource], patch: Resource, folder: Path) -> None:
    matches = [
        r
        for r in resources
        if r["kind"] == patch["kind"] and r["metadata"]["name"] == patch["metadata"]["name"]
    ]
    if len(matches) != 1:
        raise KustomizeError(
            f"{folder}: patch for {patch['kind']}/{patch['metadata']['name']} "
            f"matches {len(matches)} resources"
        )
    merged = strategic_merge(matches[0], patch)
    matches[0].clear()
    matches[0].update(merged)


def strategic_merge(original: Any, patch: Any, field: str | None = None) -> Any:
    """Kubernetes' strategic merge for maps and for the keyed lists deploy/ patches."""
    if isinstance(original, dict) and isinstance(patch, dict):
        if any(str(key).startswith("$") for key in patch):
            raise KustomizeError("patch directives ($patch, $retainKeys...) are not supported")
        out = copy.deepcopy(original)
        for key, value in patch.items():
            out[key] = strategic_merge(original[key], value, key) if key in original else value
        return out
    merge_key = MERGE_KEYS.get(field or "")
    if isinstance(original, list) and isinstance(patch, list) and merge_key:
        out_list = copy.deepcopy(original)
        for item in patch:
            same = [i for i, old in enumerate(out_list) if old.get(merge_key) == item[merge_key]]
            if same:
                out_list[same[0]] = strategic_merge(out_list[same[0]], item)
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    """The pod spec of a workload (Deployment, StatefulSet, Job...), or None."""
    template = resource.get("spec", {}).get("template")
    return template.get("spec") if isinstance(template, dict) else None


def _containers(resources: list[Resource]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in resources:
        spec = pod_spec(resource)
        if spec is not None:
            found += spec.get("containers", []) + spec.get("initContainers", [])
    return found
