"""Finds the Java runtime and Maven the local broker needs, with actionable errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from infra.errors import JavaMissing, MavenMissing

MIN_JAVA = 17

_INSTALL_JAVA = (
    "Install a Java runtime 17 or newer, e.g. `sudo apt-get install -y openjdk-17-jre-headless` "
    "(Debian/Ubuntu), `brew install openjdk@17` (macOS), or set JAVA_HOME to one."
)
_INSTALL_MAVEN = (
    "Install Maven, e.g. `sudo apt-get install -y maven` (Debian/Ubuntu) or `brew install maven` "
    "(macOS); it resolves the official Kafka jars once into .cache/kafka/."
)


def find_java(java_home: str | None = None) -> Path:
    """Return the `java` executable (JAVA_HOME first, then PATH) after checking its version."""
    candidate: str | None = None
    if java_home:
        home_java = Path(java_home) / "bin" / "java"
        if home_java.is_file():
            candidate = str(home_java)
    if candidate is None:
        candidate = shutil.which("java")
    if candidate is None:
        raise JavaMissing(f"Java was not found (no JAVA_HOME, no `java` on PATH). {_INSTALL_JAVA}")
    major = java_major_version(candidate)
    if major < MIN_JAVA:
        raise JavaMissing(
            f"{candidate} is Java {major}; Kafka 4 needs Java {MIN_JAVA}+. {_INSTALL_JAVA}"
        )
    return Path(candidate)


def java_major_version(java: str) -> int:
    """Parse the major version out of `java -version` (e.g. 17 from '17.0.15', 8 from '1.8.0')."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise JavaMissing(f"{java} cannot be run ({exc}). {_INSTALL_JAVA}") from exc
    text = out.stderr + out.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if match is None:
        raise JavaMissing(f"cannot tell the version of {java}: {text.strip()!r}. {_INSTALL_JAVA}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0" style
        major = int(match.group(2))
    return major


def find_maven() -> Path:
    """Return the `mvn` executable or explain how to install it."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenMissing(f"Maven (`mvn`) was not found on PATH. {_INSTALL_MAVEN}")
    return Path(mvn)
