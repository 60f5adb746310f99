"""A certificate authority made at run time, so impersonated https origins can be served.

The private keys live in a temporary directory that is removed when the run ends.
Browsers are told to ignore certificate errors for probe contexts, so the CA does
not need to be installed anywhere; it exists so that TLS works at all for any name.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import trustme


class RunCA:
    """A throwaway CA plus one leaf certificate covering every name the run serves."""

    def __init__(self, names: list[str]) -> None:
        self._ca = trustme.CA(organization_name="corsproof run CA")
        self._dir = Path(tempfile.mkdtemp(prefix="corsproof-ca-"))
        # Names with characters DNS forbids cannot go in a SAN; the browser ignores
        # certificate errors for probe contexts anyway, so they are simply left out.
        sans = sorted({n for n in names if _san_ok(n)} | {"localhost", "127.0.0.1"})
        leaf = self._ca.issue_cert(*sans)
        self.certfile = self._dir / "leaf.pem"
        self.keyfile = self._dir / "leaf.key"
        self.cafile = self._dir / "ca.pem"
        leaf.cert_chain_pems[0].write_to_path(str(self.certfile))
        for pem in leaf.cert_chain_pems[1:]:
            pem.write_to_path(str(self.certfile), append=True)
        leaf.private_key_pem.write_to_path(str(self.keyfile))
        self._ca.cert_pem.write_to_path(str(self.cafile))

    def close(self) -> None:
        """Delete the key material."""
        shutil.rmtree(self._dir, ignore_errors=True)


def _san_ok(name: str) -> bool:
    host = name.strip("[]")
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-.:")
    return bool(host) and set(host.lower()) <= allowed
