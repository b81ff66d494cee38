"""The bench's end of bench/worker.py: one long-lived contender process, asked over stdin/stdout in JSON lines.

Every measurement that needs a warm process (warm rounds, counts, batches, load, one instance) drives it the same
way, so a contender's figures never include starting it.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from environment import BENCH, VENV_PYTHON


class WorkerProcess:
    """A long-lived contender process speaking bench/worker.py's JSON-lines protocol."""

    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.kind = kind
        self.process = subprocess.Popen(
            [str(VENV_PYTHON), str(BENCH / "worker.py"), kind],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._read()

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise SystemExit(f"bench: the {self.kind} worker exited (code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"bench: the {self.kind} worker failed: {answer['error']}")
        return answer

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.ask_quit()
        self.process.wait(timeout=30)

    def ask_quit(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.process.stdin.close()
