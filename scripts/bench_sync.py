#!/usr/bin/env python3
"""Full-sync benchmark: mapsync against the sandbox, each in its own process, on loopback.

Usage:
  python3 scripts/bench_sync.py --direction outbound --records 1000 --limits on
  python3 scripts/bench_sync.py --direction inbound  --records 2000 --limits off --runs 3

It first runs `cargo build --release -p mapsync -p sandbox` (a no-op when both are fresh), so it
never measures a stale sandbox or mapsync (`--no-build` skips that), and honours
CARGO_TARGET_DIR. Each of `--runs` runs (default 3) starts a fresh sandbox process and a fresh
state store; the JSON line gives every run and the median, with the machine's 1-minute load
average before each run, its CPU count, and the CPU seconds mapsync and the sandbox each used
(the sandbox's from /proc), so a figure can be told apart from a busy machine or a slow
sandbox.

With --limits on, the sandbox enforces HubSpot's documented private-app burst limit (100 per
10 s) and mapsync keeps to the limits the reference mapping declares (10to8: 5/s, its own choice
since 10to8 publishes none; HubSpot: 100 per 10 s). The script then reports the wall time and the
lower bound those limits imply for the requests the sync made (per system: requests beyond the
burst divided by the rate; the slowest system bounds the run), and their ratio.

With --limits off, it reports records/s and mapsync's peak RSS (from /usr/bin/time -v).
Prints one JSON line; BENCHMARKS.md records the figures with the command.
"""
import argparse, json, os, re, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")


def put(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


def get(url):
    return json.load(urllib.request.urlopen(url))


def cpu_seconds(pid):
    """User + system CPU seconds of a running process, from /proc (None elsewhere)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, IndexError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--direction", choices=["outbound", "inbound"], required=True)
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--limits", choices=["on", "off"], default="off")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "mapsync", "-p", "sandbox"], cwd=ROOT, check=True)
    runs = [one_run(a) for _ in range(a.runs)]
    walls = sorted(r["wall_s"] for r in runs)
    median = walls[len(walls) // 2]
    med = next(r for r in runs if r["wall_s"] == median)
    out = {"direction": a.direction, "records": a.records, "limits": a.limits, "runs": len(runs),
           "median_wall_s": median, "median_records_per_s": med["records_per_s"],
           "cpus": os.cpu_count(), "load_1m_before": [r["load_1m_before"] for r in runs],
           "each": runs}
    if a.limits == "on":
        out["median_ratio"] = med.get("ratio")
    print(json.dumps(out))


def one_run(a):
    customers = a.records if a.direction == "outbound" else 0
    contacts = a.records if a.direction == "inbound" else 0
    sb = subprocess.Popen([os.path.join(REL, "sandbox"), "--customers", str(customers), "--contacts", str(contacts),
                           "--precreate-custom-properties"], stdout=subprocess.PIPE, text=True)
    env = dict(os.environ)
    try:
        for line in sb.stdout:
            m = re.match(r"export (\w+)=(.*)", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
            if line.startswith("Serving"):
                break
        # Keep reading the sandbox's output (its logs go to stdout with RUST_LOG set): a full
        # pipe would stall it and the run would measure the pipe.
        threading.Thread(target=lambda: [None for _ in sb.stdout], daemon=True).start()
        tte_root = env["TTE_BASE_URL"].split("/api/")[0]
        hub_root = env["HUBSPOT_BASE_URL"]
        mapping_src = open(os.path.join(ROOT, "mappings", "hubspot.yaml")).read()
        if a.limits == "on":
            put(tte_root + "/_sandbox/ratelimit", {"enabled": True, "per_second": 10, "burst": 10})
            put(hub_root + "/_sandbox/ratelimit", {"enabled": True, "private_app_per_10s": 100, "oauth_per_10s": 110,
                                                   "search_per_second": 5})
        else:
            # Limits off: lift the mapping's own pacing too, to measure mapsync itself.
            mapping_src = mapping_src.replace("rate_limit: { requests: 5, per: 1s }", "rate_limit: { requests: 100000, per: 1s }")
            mapping_src = mapping_src.replace("requests: 100\n      per: 10s", "requests: 100000\n      per: 1s")
        tmp = tempfile.mkdtemp()
        mapping = os.path.join(tmp, "mapping.yaml")
        open(mapping, "w").write(mapping_src)
        cmd = ["/usr/bin/time", "-v", os.path.join(REL, "mapsync"), "sync", "-m", mapping, "--state",
               os.path.join(tmp, "state.db"), "--direction", a.direction, "--json"]
        if a.direction == "inbound":
            cmd.append("--allow-unmatched")
        load = round(os.getloadavg()[0], 2)
        sb_cpu0 = cpu_seconds(sb.pid)
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t0
        sb_cpu1 = cpu_seconds(sb.pid)
        report = json.loads(p.stdout.strip().splitlines()[-1])["report"]
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
        user = float(re.search(r"User time \(seconds\): ([\d.]+)", p.stderr).group(1))
        system = float(re.search(r"System time \(seconds\): ([\d.]+)", p.stderr).group(1))
        out = {"exit": p.returncode, "load_1m_before": load,
               "mapsync_cpu_s": round(user + system, 2),
               "sandbox_cpu_s": None if sb_cpu0 is None or sb_cpu1 is None else round(sb_cpu1 - sb_cpu0, 2),
               "wall_s": round(wall, 2), "peak_rss_mb": round(rss_kb / 1024, 1), "counts": report["counts"],
               "requests": {k: v["requests"] for k, v in report["requests"].items()},
               "records_per_s": round(report["counts"]["seen"] / wall, 1)}
        if a.limits == "on":
            # Declared limits (reference mapping): tte 5/s burst 5; hubspot 100 per 10 s burst 100.
            declared = {"tte": (5.0, 5), "hubspot": (10.0, 100)}
            bound = max((max(0, n - declared[s][1]) / declared[s][0]) for s, n in out["requests"].items())
            out["lower_bound_s"] = round(bound, 2)
            out["ratio"] = round(wall / bound, 3) if bound > 0 else None
        return out
    finally:
        sb.terminate()
        sb.wait()


if __name__ == "__main__":
    sys.exit(main())
