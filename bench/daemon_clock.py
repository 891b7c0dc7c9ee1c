#!/usr/bin/python3
"""Runs `sluice run` for a benchmark and times it from the outside, through /status.

  daemon_clock.py catchup --sluice BIN --config FILE --subscriber NAME --event-id ID --tx XID
      Starts sluice (the clock starts just before the process is spawned), polls /status every
      --poll-ms until the subscriber's position is (XID, ID) or past it (a larger log goes on
      beyond it; the clock stops at the first poll that sees it), reads the process's peak RSS
      (VmHWM) and CPU time, stops it with SIGTERM and prints one JSON line:
      {"seconds": ..., "vmhwm_kb": ..., "cpu_seconds": ..., "events": ..., "batches": ...}
      Each --also NAME (repeatable) must reach the same position too; seconds is when the last
      of them did.

  daemon_clock.py around --sluice BIN --config FILE --subscriber NAME --events N -- CMD...
      Starts sluice, waits until the subscriber is running, runs CMD (its output goes to
      stderr), waits until the subscriber has applied N events, then prints the same
      JSON line (seconds = from CMD's start to the Nth event applied) and stops sluice.

With --rss-log FILE, the process's resident set (VmRSS) is also written to FILE every
--rss-every seconds (default 1) while waiting, one "SECONDS_SINCE_START KB" line each.

The HTTP port is a free one chosen here and handed to the config as SLUICE_BENCH_HTTP_PORT.
sluice's own log goes to --log. Every wait is bounded by --timeout seconds; on a timeout or an
early exit of sluice the last /status is printed to stderr and the exit status is 1.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


class Failure(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid, field):
    """A kB field of /proc/PID/status: VmHWM (peak resident set) or VmRSS (current)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Daemon:
    def __init__(self, args):
        self.port = free_port()
        env = dict(os.environ, SLUICE_BENCH_HTTP_PORT=str(self.port))
        self.log = open(args.log, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [args.sluice, "run", "--config", args.config],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.subscriber = args.subscriber
        self.timeout = args.timeout
        self.poll = args.poll_ms / 1000.0
        self.last = None
        self.rss_log = open(args.rss_log, "w", encoding="ascii") if args.rss_log else None
        self.rss_every = args.rss_every
        self.next_rss = self.started + self.rss_every  # not before the process has started

    def sample_rss(self):
        now = time.monotonic()
        if self.rss_log is None or now < self.next_rss:
            return
        self.next_rss += self.rss_every
        kb = status_kb(self.proc.pid, "VmRSS")
        self.rss_log.write(f"{now - self.started:.1f} {kb}\n")
        self.rss_log.flush()

    def status(self):
        """The subscriber's entry of /status, or None while the endpoint is not up yet."""
        if self.proc.poll() is not None:
            raise Failure(f"sluice exited early with status {self.proc.returncode}")
        url = f"http://127.0.0.1:{self.port}/status"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.load(r)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        self.last = body
        for sub in body.get("subscribers", []):
            if sub.get("name") == self.subscriber:
                return sub
        return None

    def wait_for(self, what, predicate):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.sample_rss()
            sub = self.status()
            if sub is not None and predicate(sub):
                return sub, time.monotonic()
            time.sleep(self.poll)
        raise Failure(f"timed out after {self.timeout}s waiting for {what}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.rss_log is not None:
            self.rss_log.close()

    def report(self, seconds, sub):
        return {"seconds": round(seconds, 4), "vmhwm_kb": status_kb(self.proc.pid, "VmHWM"),
                "cpu_seconds": round(cpu_seconds(self.proc.pid), 2),
                "events": sub.get("events"), "batches": sub.get("batches")}


def catchup(args, daemon):
    target = (args.tx, args.event_id)
    def at_target(s):  # reached or passed
        return (int(s["position"]["transaction_id"]), s["position"]["event_id"]) >= target
    sub, reached = daemon.wait_for(f"position {target}", at_target)
    main_subscriber = daemon.subscriber
    for name in args.also:
        daemon.subscriber = name
        _, also_reached = daemon.wait_for(f"{name} at position {target}", at_target)
        reached = max(reached, also_reached)
    daemon.subscriber = main_subscriber
    return daemon.report(reached - daemon.started, sub)


def around(args, daemon):
    daemon.wait_for("the subscriber to run", lambda s: s.get("state") == "running")
    started = time.monotonic()
    rc = subprocess.call(args.command, stdout=sys.stderr)
    if rc != 0:
        raise Failure(f"{' '.join(args.command)} exited with status {rc}")
    sub, reached = daemon.wait_for(f"{args.events} events applied",
                                   lambda s: s.get("events", 0) >= args.events)
    return daemon.report(reached - started, sub)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["catchup", "around"])
    p.add_argument("--sluice", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--subscriber", required=True)
    p.add_argument("--also", action="append", default=[])
    p.add_argument("--event-id", type=int)
    p.add_argument("--tx", type=int)
    p.add_argument("--events", type=int)
    p.add_argument("--log", default="/dev/null")
    p.add_argument("--poll-ms", type=float, default=20)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--rss-log")
    p.add_argument("--rss-every", type=float, default=1.0)
    argv = sys.argv[1:]
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    args = p.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.command = command
    if args.mode == "catchup" and (args.event_id is None or args.tx is None):
        p.error("catchup needs --event-id and --tx")
    if args.mode == "around" and (args.events is None or not args.command):
        p.error("around needs --events and a command after --")

    daemon = Daemon(args)
    try:
        result = catchup(args, daemon) if args.mode == "catchup" else around(args, daemon)
    except Failure as e:
        print(f"daemon_clock: {e}", file=sys.stderr)
        if daemon.last is not None:
            print(json.dumps(daemon.last), file=sys.stderr)
        daemon.stop()
        return 1
    daemon.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
