"""The twilio SDK: TwiML speed side by side with twilio 9.13 (outputs compared
byte for byte), ``from twilio.rest import Client`` import time, and
``calls.create`` latency against the sandbox over loopback.

The real twilio 9.13 is installed into ``.bench/twilio-9.13`` (git-ignored),
for this benchmark only; both packages are called ``twilio``, so each runs in
its own interpreter.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.common import Row, SandboxProcess, percentile

ROOT = Path(__file__).resolve().parents[2]
REAL_TWILIO = ROOT / ".bench" / "twilio-9.13"

# Builds and serialises a 20-verb response; prints best per-document time and the XML.
TWIML_WORKER = r"""
import json, sys, time
from twilio.twiml.voice_response import VoiceResponse

def build():
    r = VoiceResponse()
    r.say("Welcome to Acme & Co. <support>", voice="Polly.Joanna", language="en-US")
    r.pause(length=1)
    g = r.gather(num_digits=1, action="/handle-menu", method="POST", timeout=8,
                 finish_on_key="#")
    g.say("For sales, press 1", loop=2)
    g.pause(length=1)
    g.say("For support, press 2")
    r.say("We did not receive any input.")
    r.play("https://example.com/hold.mp3", loop=3)
    r.record(max_length=30, play_beep=True, transcribe=True, action="/rec")
    d = r.dial(caller_id="+15551234567", timeout=20, record="record-from-answer")
    d.number("+15557654321", status_callback_event="initiated ringing answered")
    r.say("Bienvenido", language="es-ES", loop=2)
    r.redirect("/next", method="GET")
    s = r.say("Your code is")
    s.say_as("1234", interpret_as="digits")
    s.break_(time="500ms")
    r.pause(length=2)
    r.reject(reason="busy")
    r.hangup()
    return str(r)

n = int(sys.argv[1])
xml = build()
best = float("inf")
for _ in range(7):
    started = time.perf_counter()
    for _ in range(n):
        build()
    best = min(best, (time.perf_counter() - started) / n)
print(json.dumps({"seconds": best, "xml": xml}))
"""


def ensure_real_twilio() -> bool:
    if (REAL_TWILIO / "twilio" / "twiml" / "voice_response.py").exists():
        return True
    REAL_TWILIO.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(REAL_TWILIO),
            "twilio==9.13.0",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(
            f"could not install twilio 9.13 for the comparison: {result.stderr[-400:]}",
            file=sys.stderr,
        )
    return result.returncode == 0


def run_worker(code: str, pythonpath: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd="/",
    )
    return dict(json.loads(out.stdout))


def import_ms(pythonpath: Path, runs: int = 9) -> float:
    """Median cumulative import time of ``from twilio.rest import Client``."""
    samples = []
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "from twilio.rest import Client"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd="/",
        )
        total = 0
        for line in out.stderr.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
            if match and not match.group(2) and match.group(3).startswith("twilio"):
                total += int(match.group(1))
        samples.append(total / 1000)
    return statistics.median(samples)


def create_latency(calls: int = 300) -> tuple[float, float]:
    from twilio.rest import Client

    sandbox = SandboxProcess("--time-scale", "100")
    try:
        client = Client("AC1", SandboxProcess.KEY, base_url=sandbox.url, environment={})
        client.calls.create(to="+15551230000", from_="+" + SandboxProcess.CALLER_ID)  # warm up
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            client.calls.create(to="+15551230000", from_="+" + SandboxProcess.CALLER_ID)
            latencies.append((time.perf_counter() - started) * 1000)
        client.close()
    finally:
        sandbox.stop()
    return percentile(latencies, 50), percentile(latencies, 99)


def run() -> list[Row]:
    rows: list[Row] = []
    ours = run_worker(TWIML_WORKER, ROOT, "2000")
    our_us = float(ours["seconds"]) * 1e6  # type: ignore[arg-type]
    if ensure_real_twilio():
        theirs = run_worker(TWIML_WORKER, REAL_TWILIO, "2000")
        their_us = float(theirs["seconds"]) * 1e6  # type: ignore[arg-type]
        identical = "identical" if ours["xml"] == theirs["xml"] else "DIFFERENT"
        rows.append(
            Row(
                "sdk: 20-verb VoiceResponse build + str(), ours / twilio 9.13",
                f"{our_us:.0f} / {their_us:.0f} us = {their_us / our_us:.1f}x faster",
                ">= 2x",
            )
        )
        rows.append(Row("sdk: TwiML output vs twilio 9.13, byte for byte", identical, "identical"))
        rows.append(
            Row(
                "sdk: import time of `from twilio.rest import Client`, ours / 9.13",
                f"{import_ms(ROOT):.1f} / {import_ms(REAL_TWILIO):.1f} ms",
                "<= 20 ms",
            )
        )
    else:
        rows.append(
            Row(
                "sdk: 20-verb VoiceResponse build + str()",
                f"{our_us:.0f} us (twilio 9.13 not installable here)",
                ">= 2x",
            )
        )
        rows.append(
            Row(
                "sdk: import time of `from twilio.rest import Client`",
                f"{import_ms(ROOT):.1f} ms",
                "<= 20 ms",
            )
        )
    p50, p99 = create_latency()
    rows.append(
        Row("sdk: calls.create against the sandbox, p50 / p99", f"{p50:.1f} / {p99:.1f} ms")
    )
    return rows
