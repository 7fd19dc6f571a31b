"""The Python examples run and do what their docstrings say."""
import os
import subprocess
import sys

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "python"


def run(script, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_validate_flows_passes_valid_flows():
    r = run("validate_flows.py", "--strict", ROOT / "flows")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: 0 error(s), 0 warning(s)")


def test_validate_flows_fails_with_gcc_style_lines():
    bad = ROOT / "tests" / "flows" / "invalid" / "action-without-next.yaml"
    r = run("validate_flows.py", bad)
    assert r.returncode == 1
    assert f"{bad}:4:3: error:" in r.stderr
    assert "FAILED: 1 error(s)" in r.stderr


def test_back_office_day_prints_kpis_deterministically(tmp_path):
    first = run("back_office_day.py", "--seed", 3, "--db", f"sqlite:{tmp_path / 'day.db'}")
    assert first.returncode == 0, first.stderr
    assert "40 requests" in first.stdout
    assert "Escalations: level 1:" in first.stdout
    assert "Work queues at the end:" in first.stdout
    again = run("back_office_day.py", "--seed", 3)
    assert again.stdout == first.stdout
