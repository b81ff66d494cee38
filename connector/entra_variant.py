"""Writes connector/entra/apiDefinition.swagger.json, the connector that signs in with Microsoft Entra ID, for
"Import an OpenAPI file" and paconn: the key definition turned into the Entra ID variant by the one helper the
OpenApi function serves it with (shared/openapi.py). tests/test_entra_connector.py fails while the file is stale.

    python3 connector/entra_variant.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILE = ROOT / "connector" / "entra" / "apiDefinition.swagger.json"


def text() -> str:
    """The file's content, formatted as the key definition is."""
    sys.path.insert(0, str(ROOT))
    from shared.openapi import DEFINITION, entra_variant

    return json.dumps(entra_variant(json.loads(DEFINITION.read_text(encoding="utf-8"))), indent=2) + "\n"


if __name__ == "__main__":
    FILE.write_text(text(), encoding="utf-8")
    print(f"wrote {FILE.relative_to(ROOT)}")
