"""Runs a test's script in a fresh Python (logical devices need one)."""

import json
import subprocess
import sys


def run_json_script(folder, source, timeout=300) -> dict:
    """Runs `source` as `folder/script.py`; returns its last stdout line, as JSON."""
    script = folder / "script.py"
    script.write_text(source)
    completed = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
