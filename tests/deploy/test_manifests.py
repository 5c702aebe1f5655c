"""deploy/ is rendered and validated offline: no cluster runs here.

The example overlay is rendered (tests/deploy/kustomize.py), every core manifest is checked
against the Kubernetes JSON schemas of `kubernetes-validate` (strict: unknown fields fail),
Strimzi's resources against schemas of the fields deploy/ uses, and the wiring between them:
each container's command is a real `invtwin` command line, each `TWIN_*` variable is read by
that service's settings, each flow's pods form one Bytewax cluster of exactly its replicas,
and every name referenced (Secrets, ConfigMaps, volumes, Services) exists.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from api.settings import ApiSettings
from infra.settings import KafkaSecuritySettings
from tests.deploy.kustomize import KustomizeError, Resource, pod_spec, render, strategic_merge
from tests.e2e.test_compose import SETTINGS_BY_COMMAND, env_names, resolve
from twin.masterdata import load_master_data

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = ("example", "secured")  # secured: every client on SASL_SSL with SCRAM
# The oldest release deploy/ supports (the pod-index label is GA there) and the newest known.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.utils.latest_version())
STRIMZI_GROUP = "kafka.strimzi.io/v1beta2"
FLOWS = ("normalize", "twin")


def rendered(overlay: str = "example") -> list[Resource]:
    return render(DEPLOY / "overlays" / overlay)


def find(resources: list[Resource], kind: str, name: str | None = None) -> list[Resource]:
    return [
        r
        for r in resources
        if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)
    ]


def one(resources: list[Resource], kind: str, name: str) -> Resource:
    found = find(resources, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def containers(overlays: tuple[str, ...] = OVERLAYS) -> list[tuple[str, Resource, dict[str, Any]]]:
    """(overlay/workload/container, workload, container) of every container rendered."""
    out = []
    for overlay in overlays:
        for resource in rendered(overlay):
            spec = pod_spec(resource)
            for container in (spec or {}).get("containers", []):
                name = f"{overlay}/{resource['metadata']['name']}/{container['name']}"
                out.append((name, resource, container))
    return out


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def argv(container: dict[str, Any]) -> list[str]:
    """The command line as Kubernetes runs it: `$(VAR)` expanded from the container's env
    (a variable the container does not define would stay literal, so it must be defined)."""
    env = env_of(container)

    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in env, f"$({name}) is not an env var of {container['name']}"
        return str(env[name].get("value", "0"))  # fieldRefs (the pod index) are numbers here

    words = [*container.get("command", []), *container.get("args", [])]
    return [re.sub(r"\$\((\w+)\)", expand, str(word)) for word in words]


# -- rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_renders_the_whole_stack_into_its_namespace(overlay: str) -> None:
    resources = rendered(overlay)
    names = {(r["kind"], r["metadata"]["name"]) for r in resources}
    assert {
        ("Kafka", "invtwin"),
        ("KafkaNodePool", "dual-role"),
        ("KafkaUser", "invtwin"),
        ("Job", "invtwin-topics"),
        ("StatefulSet", "normalize"),
        ("StatefulSet", "twin"),
        ("Service", "normalize"),
        ("Service", "twin"),
        ("Deployment", "invtwin-api"),
        ("Service", "invtwin-api"),
        ("ConfigMap", "invtwin-master-data"),
        ("Secret", "invtwin-api-tokens"),
    } <= names
    assert len(names) == len(resources), "two resources share a kind and name"
    namespaced = [r for r in resources if r["kind"] != "Namespace"]
    assert {r["metadata"].get("namespace") for r in namespaced} == {"inventory-twin"}
    for _, _, container in containers((overlay,)):
        assert container["image"] == "registry.example.com/inventory-twin:0.1.0"


def test_the_base_renders_on_its_own() -> None:
    base = render(DEPLOY / "base")
    assert find(base, "StatefulSet", "twin")[0]["spec"]["replicas"] == 2
    assert not find(base, "Secret"), "the base must not carry secrets"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_core_manifest_is_valid_against_the_kubernetes_schemas(
    version: str, overlay: str
) -> None:
    checked = 0
    for resource in rendered(overlay):
        if resource["apiVersion"] == STRIMZI_GROUP:
            continue
        kubernetes_validate.validate(resource, version, strict=True)
        checked += 1
    assert checked >= 12


def test_the_schema_check_rejects_an_unknown_field_and_a_wrong_type() -> None:
    deployment = one(rendered(), "Deployment", "invtwin-api")
    typo = {"containers": [{"name": "api", "comand": ["invtwin"]}]}
    misspelt = strategic_merge(deployment, {"spec": {"template": {"spec": typo}}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[0], strict=True)
    wrong_type = strategic_merge(deployment, {"spec": {"replicas": "two"}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSIONS[0], strict=True)


# -- Strimzi ---------------------------------------------------------------------------------

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
_RESOURCES = {
    "type": "object",
    "properties": {
        "requests": {"type": "object", "additionalProperties": {"type": "string"}},
        "limits": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
_SCRAM = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["scram-sha-512", "tls", "oauth", "custom"]}},
    "additionalProperties": False,
}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": STRIMZI_GROUP},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
        "additionalProperties": False,
    }


# The fields of Strimzi's CRDs (v1beta2) that deploy/ uses, with their types and enums.
STRIMZI_SCHEMAS: dict[str, dict[str, Any]] = {
    "KafkaNodePool": _resource(
        "KafkaNodePool",
        {
            "type": "object",
            "required": ["replicas", "roles", "storage"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "roles": {
                    "type": "array",
                    "items": {"enum": ["controller", "broker"]},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "storage": {
                    "type": "object",
                    "required": ["type", "volumes"],
                    "properties": {
                        "type": {"const": "jbod"},
                        "volumes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "type", "size"],
                                "properties": {
                                    "id": {"type": "integer", "minimum": 0},
                                    "type": {"enum": ["persistent-claim", "ephemeral"]},
                                    "size": {"type": "string", "pattern": r"^\d+[KMGT]i$"},
                                    "deleteClaim": {"type": "boolean"},
                                    "kraftMetadata": {"const": "shared"},
                                },
                                "additionalProperties": False,
                            },
                        },
                    },
                    "additionalProperties": False,
                },
                "resources": _RESOURCES,
            },
            "additionalProperties": False,
        },
    ),
    "Kafka": _resource(
        "Kafka",
        {
            "type": "object",
            "required": ["kafka"],
            "properties": {
                "kafka": {
                    "type": "object",
                    "required": ["listeners"],
                    "properties": {
                        "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
                        "listeners": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["name", "port", "type", "tls"],
                                "properties": {
                                    "name": {"type": "string", "pattern": r"^[a-z0-9]{1,11}$"},
                                    "port": {"type": "integer", "minimum": 9092},
                                    "type": {
                                        "enum": [
                                            "internal",
                                            "route",
                                            "loadbalancer",
                                            "nodeport",
                                            "ingress",
                                            "cluster-ip",
                                        ]
                                    },
                                    "tls": {"type": "boolean"},
                                    "authentication": _SCRAM,
                                },
                                "additionalProperties": False,
                            },
                        },
                        "config": {
                            "type": "object",
                            "additionalProperties": {"type": ["string", "integer", "boolean"]},
                        },
                    },
                    "additionalProperties": False,
                },
                "entityOperator": {
                    "type": "object",
                    "properties": {
                        "userOperator": {"type": "object"},
                        "topicOperator": {"type": "object"},
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    ),
    "KafkaUser": _resource(
        "KafkaUser",
        {
            "type": "object",
            "properties": {"authentication": _SCRAM},
            "additionalProperties": False,
        },
    ),
}


def test_strimzi_resources_match_the_fields_of_their_crds() -> None:
    strimzi = [r for r in rendered() if r["apiVersion"] == STRIMZI_GROUP]
    assert {r["kind"] for r in strimzi} == set(STRIMZI_SCHEMAS)
    for resource in strimzi:
        jsonschema.validate(resource, STRIMZI_SCHEMAS[resource["kind"]])
    bad = one(rendered(), "KafkaNodePool", "dual-role")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            strategic_merge(bad, {"spec": {"roles": ["broker", "zookeeper"]}}),
            STRIMZI_SCHEMAS["KafkaNodePool"],
        )


def test_kafka_is_three_kraft_nodes_with_replicated_topics() -> None:
    resources = rendered()
    kafka = one(resources, "Kafka", "invtwin")
    assert kafka["metadata"]["annotations"] == {
        "strimzi.io/node-pools": "enabled",
        "strimzi.io/kraft": "enabled",
    }
    pools = find(resources, "KafkaNodePool")
    for pool in pools:
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "invtwin"
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    assert (controllers, brokers) == (3, 3)
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == config["offsets.topic.replication.factor"] == 3
    assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == 2
    assert config["auto.create.topics.enable"] is False
    user = one(resources, "KafkaUser", "invtwin")
    assert user["metadata"]["labels"]["strimzi.io/cluster"] == "invtwin"
    scram_listeners = [
        listener
        for listener in kafka["spec"]["kafka"]["listeners"]
        if listener.get("authentication", {}).get("type") == "scram-sha-512"
    ]
    assert scram_listeners and all(listener["tls"] for listener in scram_listeners)


@pytest.mark.parametrize(("name", "workload", "container"), containers(), ids=lambda v: str(v)[:32])
def test_every_client_reaches_kafka_through_a_listener_it_can_use(
    name: str, workload: Resource, container: dict[str, Any]
) -> None:
    overlay = name.split("/")[0]
    resources = rendered(overlay)
    kafka = one(resources, "Kafka", "invtwin")
    env = env_of(container)
    host, _, port = env["TWIN_KAFKA_BOOTSTRAP"]["value"].partition(":")
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
    (listener,) = [x for x in kafka["spec"]["kafka"]["listeners"] if x["port"] == int(port)]
    protocol = env.get("TWIN_KAFKA_SECURITY_PROTOCOL", {}).get("value", "PLAINTEXT")
    if "authentication" not in listener:
        assert protocol == ("SSL" if listener["tls"] else "PLAINTEXT"), name
        return
    assert listener["authentication"]["type"] == "scram-sha-512" and listener["tls"]
    assert protocol == "SASL_SSL", name
    assert env["TWIN_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    user = one(resources, "KafkaUser", env["TWIN_KAFKA_SASL_USERNAME"]["value"])
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    password = env["TWIN_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": user["metadata"]["name"], "key": "password"}, "Strimzi's Secret"
    # The CA file is the cluster CA certificate, mounted from the Secret Strimzi writes.
    ca_path = Path(env["TWIN_KAFKA_SSL_CA_LOCATION"]["value"])
    spec = pod_spec(workload)
    assert spec is not None
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == ca_path.parent)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == f"{kafka['metadata']['name']}-cluster-ca-cert"
    assert {"key": "ca.crt", "path": ca_path.name} in volume["secret"]["items"]


# -- commands and settings ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "workload", "container"), containers(), ids=lambda v: str(v)[:32])
def test_container_command_is_a_real_invtwin_command_line(
    name: str, workload: Resource, container: dict[str, Any]
) -> None:
    words = argv(container)
    assert words[0] == "invtwin", f"{name}: runs {words[0]!r}, not the project's CLI"
    path = resolve(words[1:])
    assert path == words[1 : 1 + len(path)], name


@pytest.mark.parametrize(("name", "workload", "container"), containers(), ids=lambda v: str(v)[:32])
def test_container_twin_variables_are_read_by_its_settings(
    name: str, workload: Resource, container: dict[str, Any]
) -> None:
    top = argv(container)[1]
    twin_vars = {key for key in env_of(container) if key.startswith("TWIN_")}
    # Every Kafka client of every service reads the security settings too.
    classes = [*SETTINGS_BY_COMMAND[top], KafkaSecuritySettings]
    read = set().union(*(env_names(c) for c in classes))
    unread = twin_vars - read
    assert not unread, f"{name}: {sorted(unread)} are not read by {[c.__name__ for c in classes]}"


# -- flows: one Bytewax cluster per StatefulSet ----------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("flow", FLOWS)
def test_each_flow_statefulset_forms_one_bytewax_cluster(flow: str, overlay: str) -> None:
    resources = rendered(overlay)
    sts = one(resources, "StatefulSet", flow)
    service = one(resources, "Service", sts["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None", "pod DNS names need a headless Service"
    assert service["spec"]["publishNotReadyAddresses"] is True
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert sts["spec"]["podManagementPolicy"] == "Parallel"

    (container,) = pod_spec(sts)["containers"]  # type: ignore[index]
    args = container["args"]
    addresses = args[args.index("--addresses") + 1].split(";")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (service_port,) = service["spec"]["ports"]
    assert ports[service_port["targetPort"]] == service_port["port"]
    replicas = sts["spec"]["replicas"]
    assert addresses == [
        f"{flow}-{i}.{service['metadata']['name']}:{service_port['port']}" for i in range(replicas)
    ], "every process must list every pod of the StatefulSet, in ordinal order"
    assert args[args.index("--process-id") + 1] == "$(POD_INDEX)"
    field = env_of(container)["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.labels['apps.kubernetes.io/pod-index']"


@pytest.mark.parametrize("flow", FLOWS)
def test_each_flow_recovers_from_one_shared_persistent_volume(flow: str) -> None:
    resources = rendered()
    spec = pod_spec(one(resources, "StatefulSet", flow))
    assert spec is not None
    (container,) = spec["containers"]
    state_dir = env_of(container)["TWIN_STATE_DIR"]["value"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == state_dir)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    claim = one(resources, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    # Bytewax's recovery partitions are one set for the cluster: every process sees them all.
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("flow", FLOWS)
def test_every_flow_pod_is_scraped_on_the_port_its_process_serves(flow: str, overlay: str) -> None:
    """The annotation names one port for every pod, so each process must serve on that very
    port (not the base port plus its process id, as processes sharing a host do)."""
    from dataflows.health import health_app
    from dataflows.metrics import flow_metrics
    from dataflows.settings import FlowSettings

    template = one(rendered(overlay), "StatefulSet", flow)["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    (container,) = template["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    port = int(annotations["prometheus.io/port"])
    assert ports["metrics"] == port
    env = {name: str(item["value"]) for name, item in env_of(container).items() if "value" in item}
    twin_env = {name: value for name, value in env.items() if name.startswith("TWIN_")}
    settings = FlowSettings(
        **{name.removeprefix("TWIN_").lower(): v for name, v in twin_env.items()}
    )
    replicas = one(rendered(overlay), "StatefulSet", flow)["spec"]["replicas"]
    assert {settings.metrics_port(flow, pod) for pod in range(replicas)} == {port}
    # the scraped path is one the flow's endpoint serves
    replies: list[str] = []
    app = health_app(flow_metrics("twin" if flow == "twin" else "normalize").registry)
    environ = {"PATH_INFO": annotations["prometheus.io/path"], "REQUEST_METHOD": "GET"}
    b"".join(app({**environ, "QUERY_STRING": ""}, lambda status, *_: replies.append(status)))
    assert replies[-1].startswith("200")


def test_scaling_the_twin_changes_replicas_and_addresses_together() -> None:
    sts = one(rendered(), "StatefulSet", "twin")
    assert sts["spec"]["replicas"] == 3
    (container,) = pod_spec(sts)["containers"]  # type: ignore[index]
    assert env_of(container)["TWIN_MASTER_DATA"]["value"].startswith("/etc/invtwin/")


# -- API ---------------------------------------------------------------------------------------


def test_api_is_a_probed_scraped_deployment_behind_a_service() -> None:
    resources = rendered()
    deployment = one(resources, "Deployment", "invtwin-api")
    template = deployment["spec"]["template"]
    container = next(c for c in template["spec"]["containers"] if c["name"] == "api")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    args = container["args"]
    assert int(args[args.index("--port") + 1]) == ports["http"]
    assert args[args.index("--host") + 1] == "0.0.0.0"
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ports["http"]
    service = one(resources, "Service", "invtwin-api")
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)

    # The routes probed and scraped exist, and the tokens Secret is one the API accepts.
    from api.app import create_app

    tokens = env_of(container)["TWIN_API_TOKENS"]["valueFrom"]["secretKeyRef"]
    secret = one(resources, "Secret", tokens["name"])
    value = base64.b64decode(secret["data"][tokens["key"]]).decode()
    app = create_app(ApiSettings(api_tokens=value))
    routes = {getattr(route, "path", None) for route in app.routes}
    assert {"/readyz", "/healthz", annotations["prometheus.io/path"]} <= routes


# -- references --------------------------------------------------------------------------------


def _references(spec: dict[str, Any]) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            refs.append(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            refs.append(("Secret", volume["secret"]["secretName"]))
        if "persistentVolumeClaim" in volume:
            refs.append(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
    for container in spec.get("containers", []):
        for item in container.get("env", []):
            source = item.get("valueFrom", {})
            if "secretKeyRef" in source:
                refs.append(("Secret", source["secretKeyRef"]["name"]))
            if "configMapKeyRef" in source:
                refs.append(("ConfigMap", source["configMapKeyRef"]["name"]))
        volumes = {v["name"] for v in spec.get("volumes", [])}
        mounts = {m["name"] for m in container.get("volumeMounts", [])}
        assert mounts <= volumes, f"{container['name']} mounts undeclared volumes"
    return refs


def test_each_api_replica_reads_the_history_store_its_sidecar_keeps() -> None:
    """`invtwin history` beside each API container, on the pod's own volume and state dir."""
    template = one(rendered(), "Deployment", "invtwin-api")["spec"]["template"]
    by_name = {c["name"]: c for c in template["spec"]["containers"]}
    api, history = by_name["api"], by_name["history"]
    assert argv(history)[1:] == ["history"]
    state = {m["name"]: m["mountPath"] for m in api["volumeMounts"]}["state"]
    assert {"name": "state", "mountPath": state} in history["volumeMounts"]
    assert env_of(history)["TWIN_STATE_DIR"]["value"] == env_of(api)["TWIN_STATE_DIR"]["value"]
    volume = next(v for v in template["spec"]["volumes"] if v["name"] == "state")
    assert "emptyDir" in volume  # SQLite on a local disk, never a network share


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_referenced_secret_configmap_and_claim_is_rendered(overlay: str) -> None:
    resources = rendered(overlay)
    # Strimzi writes these: the user's credentials and the cluster CA certificate.
    strimzi_secrets = {r["metadata"]["name"] for r in find(resources, "KafkaUser")} | {
        f"{r['metadata']['name']}-cluster-ca-cert" for r in find(resources, "Kafka")
    }
    have = {(r["kind"], r["metadata"]["name"]) for r in resources}
    have |= {("Secret", name) for name in strimzi_secrets}
    for resource in resources:
        spec = pod_spec(resource)
        if spec is None:
            continue
        missing = [ref for ref in _references(spec) if ref not in have]
        assert not missing, f"{resource['metadata']['name']} refers to {missing}"


def test_the_master_data_configmap_is_master_data_the_twin_loads(tmp_path: Path) -> None:
    config_map = one(rendered(), "ConfigMap", "invtwin-master-data")
    for name, text in config_map["data"].items():
        path = tmp_path / name
        path.write_text(text)
        master = load_master_data(path)
        assert master.sites and master.skus
    for _, _, container in containers():
        wanted = env_of(container).get("TWIN_MASTER_DATA")
        if wanted is not None:
            assert Path(wanted["value"]).name in config_map["data"]


# -- the renderer itself -------------------------------------------------------------------------


def test_the_renderer_refuses_fields_it_would_not_apply(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [], "replicas": [{"name": "twin", "count": 3}]})
    )
    with pytest.raises(KustomizeError, match="replicas"):
        render(tmp_path)


def test_strategic_merge_merges_containers_by_name_and_replaces_args() -> None:
    original = {"spec": {"containers": [{"name": "a", "args": ["x", "y"], "image": "i"}]}}
    patch = {"spec": {"containers": [{"name": "a", "args": ["z"]}, {"name": "b"}]}}
    merged = strategic_merge(original, patch)
    assert merged["spec"]["containers"] == [
        {"name": "a", "args": ["z"], "image": "i"},
        {"name": "b"},
    ]
