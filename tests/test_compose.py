"""docker-compose.yml, checked statically (no Docker engine here): it parses, has the
whole stack, pins every image, binds ports to loopback, mounts files that exist, and
its services agree with prometheus.yml, alertmanager.yml and the worker settings."""

from __future__ import annotations

import re
import subprocess
from importlib.metadata import version
from typing import Any

import pytest
import yaml

from stream_app.settings import Settings
from tests.prom_stack import ROOT

SERVICES = {
    "kafka",
    "kafka-init",
    "worker-1",
    "worker-2",
    "generator",
    "prometheus",
    "alertmanager",
    "alert-log",
    "grafana",
    "collector",
}
PINNED = re.compile(r"[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = compose["services"]
    return out


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == SERVICES
    env = services(compose)["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    for name in ("worker-1", "worker-2"):
        assert services(compose)[name]["command"] == ["stream-app", "worker"]
    assert services(compose)["generator"]["command"][:2] == ["stream-app", "generate"]
    assert "--live" in services(compose)["generator"]["command"]
    for name, svc in services(compose).items():
        deps = svc.get("depends_on", [])
        assert set(deps) <= SERVICES, name


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    project_version = version("stream-app")
    for name, svc in services(compose).items():
        image = svc["image"]
        assert PINNED.fullmatch(image), f"{name}: {image} is not pinned to a version"
        if "build" in svc:
            assert svc["build"] == "." and (ROOT / "Dockerfile").is_file()
            assert image == f"stream-app:{project_version}", name


def debian_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    m = re.search(r"version (\d+\.\d+\.\d+)", out.stdout + out.stderr)
    assert m, out
    return m.group(1)


def test_prometheus_and_alertmanager_are_the_tested_versions(compose: dict[str, Any]) -> None:
    """The compose images run the versions promtool and the end-to-end test use here."""
    prom = services(compose)["prometheus"]["image"]
    am = services(compose)["alertmanager"]["image"]
    assert prom == f"prom/prometheus:v{debian_version('prometheus')}"
    assert am == f"prom/alertmanager:v{debian_version('prometheus-alertmanager')}"


def test_grafana_matches_the_dashboard_sdk(compose: dict[str, Any]) -> None:
    sdk = version("grafana-foundation-sdk")  # "<build>!<grafana version>"
    grafana_version = sdk.split("!", 1)[1]
    assert grafana_version.startswith("11.")
    assert services(compose)["grafana"]["image"] == f"grafana/grafana:{grafana_version}"


def test_ports_are_loopback_and_distinct(compose: dict[str, Any]) -> None:
    published = {}
    for name, svc in services(compose).items():
        for port in svc.get("ports", []):
            host_ip, host_port, _container = str(port).split(":")
            assert host_ip == "127.0.0.1", f"{name}: {port}"
            assert host_port not in published, f"{name} and {published[host_port]}: {port}"
            published[host_port] = name
    assert {
        "3000": "grafana",
        "9090": "prometheus",
        "9093": "alertmanager",
        "9092": "kafka",
        "6066": "worker-1",
        "6067": "worker-2",
    }.items() <= published.items()


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    mounts = 0
    for name, svc in services(compose).items():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
                mounts += 1
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
    assert mounts >= 6


def test_services_agree_with_the_configs(compose: dict[str, Any]) -> None:
    svc = services(compose)
    prom = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "stream-app")
    port = svc["worker-1"]["environment"]["CS_WEB_PORT"]
    assert job["static_configs"][0]["targets"] == [f"worker-1:{port}", f"worker-2:{port}"]
    for worker in ("worker-1", "worker-2"):
        assert svc[worker]["environment"]["CS_WEB_HOST"] == "0.0.0.0"  # reachable by Prometheus
    targets = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    mounted = {str(v).split(":")[1] for v in svc["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules"} <= mounted
    am = yaml.safe_load((ROOT / "alertmanager/alertmanager.yml").read_text())
    url = am["receivers"][0]["webhook_configs"][0]["url"]
    command = svc["alert-log"]["command"]
    assert url.startswith(f"http://alert-log:{command[command.index('--port') + 1]}/")


def test_topics_match_the_worker_defaults(compose: dict[str, Any]) -> None:
    script = services(compose)["kafka-init"]["command"][0]
    topics = re.search(r"for topic in ([^;]+);", script)
    assert topics
    defaults = Settings()
    assert topics.group(1).split() == [
        *defaults.topic_names().values(),
        defaults.topic_dead_letters,
    ]
    partitions = re.search(r"--partitions (\d+)", script)
    assert (
        partitions
        and partitions.group(1) == services(compose)["worker-1"]["environment"]["CS_PARTITIONS"]
    )
    assert services(compose)["generator"]["restart"] == "no"  # a rerun would resend history


def test_compose_file_has_no_tabs_and_parses_strictly() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "\t" not in text

    # duplicate keys would silently override each other in a lenient parser
    class Strict(yaml.SafeLoader):
        pass

    def no_duplicates(loader: Strict, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        dupes = {k for k in keys if keys.count(k) > 1 and k != "<<"}
        assert not dupes, dupes
        return loader.construct_mapping(node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, no_duplicates)
    assert yaml.load(text, Loader=Strict)["name"] == "stream-app"


def test_the_collector_reaches_kafka_and_is_published_on_loopback(
    compose: dict[str, Any],
) -> None:
    from stream_app.collect.settings import CollectSettings

    svc = services(compose)["collector"]
    env = svc["environment"]
    assert svc["command"] == ["stream-app", "collect"]
    assert env["CS_BROKER"] == services(compose)["worker-1"]["environment"]["CS_BROKER"]
    assert env["CS_COLLECT_HOST"] == "0.0.0.0"  # inside its container; published below
    assert svc["ports"] == [f"127.0.0.1:{env['CS_COLLECT_PORT']}:{env['CS_COLLECT_PORT']}"]
    assert "CS_COLLECT_TOKEN" not in env  # a secret never lives in this file
    prom = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "collector")
    assert job["static_configs"][0]["targets"] == [f"collector:{env['CS_COLLECT_PORT']}"]
    parsed = CollectSettings(**{k.removeprefix("CS_").lower(): v for k, v in env.items()})
    assert parsed.collect_origins and all(o.startswith("http") for o in parsed.collect_origins)


def _listeners(text: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` -> name -> (host, port)."""
    out = {}
    for item in text.split(","):
        name, _, address = item.partition("://")
        host, _, port = address.rpartition(":")
        out[name] = (host, int(port))
    return out


def test_kafka_writes_its_data_into_the_volume(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    mounts = dict(str(v).split(":")[:2] for v in kafka["volumes"])
    assert "kafka-data" in compose["volumes"]
    # the apache/kafka image writes to /tmp/kraft-combined-logs unless KAFKA_LOG_DIRS says
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == mounts["kafka-data"]


def test_a_producer_on_the_host_reaches_kafka_on_9092(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    env = kafka["environment"]
    bound = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    published = {}
    for port in kafka["ports"]:
        host_ip, host_port, container = str(port).split(":")
        published[int(container)] = (host_ip, int(host_port))
    host_side = [n for n, (h, _) in advertised.items() if h in ("127.0.0.1", "localhost")]
    assert host_side, "no listener advertises an address the host can reach"
    for name in host_side:
        container_port = bound[name][1]
        # what the broker tells a host client to connect to is the published port
        assert published[container_port] == ("127.0.0.1", advertised[name][1])
        assert advertised[name][1] == 9092
    # the containers use a listener advertised under the service name
    internal = [n for n, (h, _) in advertised.items() if h == "kafka"]
    assert internal and env["KAFKA_INTER_BROKER_LISTENER_NAME"] in internal
    inside = f"kafka:{advertised[internal[0]][1]}"
    svc = services(compose)
    assert svc["worker-1"]["environment"]["CS_BROKER"] == f"kafka://{inside}"
    assert f"kafka://{inside}" in svc["generator"]["command"]
    assert f"--bootstrap-server {inside}" in svc["kafka-init"]["command"][0]
    assert set(advertised) | {"CONTROLLER"} == set(bound) == set(protocols)


def test_it_says_compose_v2_is_required(compose: dict[str, Any]) -> None:
    header = (ROOT / "docker-compose.yml").read_text().split("\nname:")[0]
    assert "Compose v2" in header
    assert compose["name"] == "stream-app"  # the top-level name needs Compose v2
