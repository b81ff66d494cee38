"""Modules only rare paths use, marked to load on first use instead of at import.

azure-identity's package imports every credential it has, and with them cryptography's X.509 module: about
8 ms of a ~85 ms cold start (and ~1 MB), used only by certificate credentials, which a managed identity never
builds. `importlib.util.LazyLoader` keeps azure-identity whole: the first attribute read on the module runs it
for real (EnvironmentCredential with a certificate does, once, under the app's build lock). Only modules that
do not replace themselves in sys.modules can be deferred: cryptography's `serialization` does (a deprecation
wrapper), so it is not on the list.
"""

from __future__ import annotations

import importlib.util
import sys

CERTIFICATE_ONLY = ("cryptography.x509",)


def defer(*names: str) -> None:
    """Put a lazy module in sys.modules for each name not imported yet; an absent module is left alone."""
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
