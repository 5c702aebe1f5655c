"""Resolves the official Apache Kafka jars with Maven into the repo's ignored cache folder."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from infra.errors import JarResolutionFailed
from infra.prereqs import find_maven
from infra.settings import KAFKA_VERSION, REPO_ROOT

POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
LOG4J2_CONFIG = REPO_ROOT / "infra" / "kafka" / "log4j2.xml"
_MARKER = ".complete"


def libs_dir(version: str = KAFKA_VERSION) -> Path:
    """Folder holding the broker's runtime classpath."""
    return REPO_ROOT / ".cache" / "kafka" / version / "libs"


def jars_ready(version: str = KAFKA_VERSION) -> bool:
    """True when a complete resolution of this version is in the cache."""
    return (libs_dir(version) / _MARKER).is_file()


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Resolve the jars once; later calls return the cached folder immediately.

    Maven copies into a fresh temporary folder that is renamed into place, so a stale or
    half-copied classpath (e.g. an old logging binding) is never used.
    """
    target = libs_dir(version)
    if jars_ready(version):
        return target
    find_maven()  # fail with install advice before touching the cache
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two processes resolving at once (parallel test sessions) take turns.
    with (target.parent / ".resolve.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if jars_ready(version):
            return target
        _resolve(version, target)
    return target


def _resolve(version: str, target: Path) -> None:
    mvn = find_maven()
    staging = target.with_name(f"libs.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        str(mvn),
        "-q",
        "-B",
        "package",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        f"-Dkafka.lib.dir={staging}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        shutil.rmtree(staging, ignore_errors=True)
        raise JarResolutionFailed(
            f"Maven could not resolve Apache Kafka {version} ({' '.join(cmd)}):\n{tail}\n"
            "Check network access to Maven Central (or your mirror in ~/.m2/settings.xml)."
        )
    (staging / _MARKER).write_text(version + "\n")
    old = target.with_name(f"libs.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
