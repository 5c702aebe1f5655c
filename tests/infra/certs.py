"""A throw-away certificate authority and a broker keystore, made with the JDK's keytool
(Java is installed wherever the local broker runs; no other tool is needed)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.prereqs import find_java

# Each keytool run is a short JVM: the C1 JIT and serial GC start it fastest.
_QUICK_JVM = ["-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC"]


@dataclass(frozen=True)
class BrokerCertificates:
    ca_pem: Path  # what clients trust (TWIN_KAFKA_SSL_CA_LOCATION)
    keystore: Path  # PKCS12: the broker's key and its certificate chain, signed by the CA
    password: str


def make_broker_certificates(folder: Path, host_ip: str = "127.0.0.1") -> BrokerCertificates:
    """A CA and a broker certificate for `host_ip` (as an IP SAN, so clients verify it)."""
    folder.mkdir(parents=True, exist_ok=True)
    keytool = str(find_java(None).resolve().parent / "keytool")
    password = "test-keystore-pass"
    ca, keystore = folder / "ca.p12", folder / "broker.p12"
    csr, signed, ca_pem = folder / "broker.csr", folder / "broker.pem", folder / "ca.pem"
    store = ["-storetype", "PKCS12", "-storepass", password]
    new_key = ["-keyalg", "RSA", "-keysize", "2048", "-validity", "2", "-keypass", password]
    san = f"SAN=ip:{host_ip}"
    steps = [
        ["-genkeypair", "-alias", "ca", "-keystore", ca, *store, *new_key,
         "-dname", "CN=invtwin-test-ca", "-ext", "bc:c"],
        ["-genkeypair", "-alias", "broker", "-keystore", keystore, *store, *new_key,
         "-dname", f"CN={host_ip}", "-ext", san],
        ["-certreq", "-alias", "broker", "-keystore", keystore, *store, "-file", csr],
        ["-gencert", "-alias", "ca", "-keystore", ca, *store, "-infile", csr,
         "-outfile", signed, "-rfc", "-validity", "2", "-ext", san],
        ["-exportcert", "-alias", "ca", "-keystore", ca, *store, "-rfc", "-file", ca_pem],
        ["-importcert", "-alias", "ca", "-file", ca_pem, "-keystore", keystore, *store,
         "-noprompt"],
        ["-importcert", "-alias", "broker", "-file", signed, "-keystore", keystore, *store],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(
            [keytool, *_QUICK_JVM, *map(str, step)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return BrokerCertificates(ca_pem=ca_pem, keystore=keystore, password=password)
