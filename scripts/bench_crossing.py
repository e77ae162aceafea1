#!/usr/bin/env python3
"""Crossing time of live edits while a full sync runs beside `serve` at the declared limits.

Usage:
  cargo build --release -p mapsync -p sandbox
  python3 scripts/bench_crossing.py [--records 2000] [--pairs 10] [--every 10] [--runs 1]
                                    [--profile release|debug]

Per run: the release sandbox seeds N HubSpot contacts and enforces HubSpot's documented limit
(100 per 10 s) and 10/s on 10to8. `--pairs` customers are created in 10to8 and linked by a small
`sync --direction outbound`. Then `mapsync serve` starts on the same state store, with HubSpot's
webhooks pointed at it (contact property changes; 10to8's notifications are not subscribed, so
the sync's own writes do not come back as live work), and `mapsync sync --direction inbound`
starts on the N contacts: it creates their customers at the mapping's declared 10to8 limit (5/s),
the back-fill. Every `--every` seconds while it runs, one linked contact's phone is changed in
HubSpot; the crossing time is from that edit until the customer's first number in 10to8 holds it
(polled every 50 ms through the sandbox's control API, which spends no budget).

Prints one JSON line per run (crossing times, sync wall time, the load average) and a summary
line with the median over all edits and runs; BENCHMARKS.md records the figures.
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
TOKEN = "bench-webhook-token-0123456789abcdef"


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None


def one_run(a):
    sb = subprocess.Popen([os.path.join(REL, "sandbox"), "--customers", "0", "--contacts", str(a.records),
                           "--precreate-custom-properties"], stdout=subprocess.PIPE, text=True)
    env = dict(os.environ)
    procs = []
    try:
        for line in sb.stdout:
            m = re.match(r"export (\w+)=(.*)", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
            if line.startswith("Serving"):
                break
        env["TTE_WEBHOOK_TOKEN"] = TOKEN
        env["HUBSPOT_WRITER_ID"] = "98765"
        tte_root = env["TTE_BASE_URL"].split("/api/")[0]
        hub = env["HUBSPOT_BASE_URL"]
        call("PUT", tte_root + "/_sandbox/ratelimit", {"enabled": True, "per_second": 10, "burst": 10})
        call("PUT", hub + "/_sandbox/ratelimit", {"enabled": True, "private_app_per_10s": 100,
                                                 "oauth_per_10s": 110, "search_per_second": 5})
        tmp = tempfile.mkdtemp()
        mapping = os.path.join(tmp, "mapping.yaml")
        open(mapping, "w").write(open(os.path.join(ROOT, "mappings", "hubspot.yaml")).read())
        state = os.path.join(tmp, "state.db")
        bin_ = os.path.join(REL, "mapsync")
        base = [bin_]
        for i in range(a.pairs):
            call("POST", tte_root + "/_sandbox/ui/customers",
                 {"name": f"Live Pair{i}", "emails": [f"live{i}@bench.example"], "numbers": [f"+44 1000 {i:04}"]})
        p = subprocess.run(base + ["sync", "-m", mapping, "--state", state, "--direction", "outbound", "--json"],
                           env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        customers = {c["resource_uri"]: c for c in call("GET", tte_root + "/_sandbox/records")}
        pairs = [(uri, c["custom_fields"]["External ID"]) for uri, c in customers.items()
                 if c["name"].startswith("Live Pair")]
        assert len(pairs) == a.pairs, pairs

        serve = subprocess.Popen(base + ["serve", "-m", mapping, "--state", state, "--listen", "127.0.0.1:0"],
                                 env=env, stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "serve.log"), "w"),
                                 text=True)
        procs.append(serve)
        addr = None
        for line in serve.stdout:
            if line.startswith("Listening on "):
                addr = line.split("Listening on ")[1].strip()
                break
        key = env["HUBSPOT_DEVELOPER_API_KEY"]
        app = env["HUBSPOT_APP_ID"]
        call("PUT", f"{hub}/webhooks/v3/{app}/settings?hapikey={key}",
             {"targetUrl": f"{addr}/webhooks/hubspot", "throttling": {"maxConcurrentRequests": 10}})
        call("POST", f"{hub}/webhooks/v3/{app}/subscriptions?hapikey={key}",
             {"eventType": "contact.propertyChange", "propertyName": "phone", "active": True})

        load = os.getloadavg()[0]
        t0 = time.monotonic()
        # Its output goes to files: a pipe nobody reads while the sync runs fills up (one log line
        # per record) and stalls the sync in a write to stderr.
        sync_out = open(os.path.join(tmp, "sync.json"), "w+")
        sync = subprocess.Popen(base + ["sync", "-m", mapping, "--state", state, "--direction", "inbound",
                                        "--allow-unmatched", "--json"],
                                env=env, stdout=sync_out, stderr=open(os.path.join(tmp, "sync.log"), "w"),
                                text=True)
        procs.append(sync)
        crossings = []
        n = 0
        next_edit = t0 + a.every
        while sync.poll() is None:
            if time.monotonic() < next_edit:
                time.sleep(0.05)
                continue
            uri, contact = pairs[n % len(pairs)]
            phone = f"+44 2000 {n:04}"
            call("PATCH", f"{hub}/_sandbox/ui/contacts/{contact}", {"phone": phone})
            t_edit = time.monotonic()
            while True:
                c = [c for c in call("GET", tte_root + "/_sandbox/records") if c["resource_uri"] == uri][0]
                if c["numbers"] and c["numbers"][0] == phone:
                    crossings.append(round(time.monotonic() - t_edit, 2))
                    break
                if time.monotonic() - t_edit > 120:
                    crossings.append(None)
                    break
                time.sleep(0.05)
            n += 1
            next_edit = t_edit + a.every
        sync.wait()
        wall = time.monotonic() - t0
        sync_out.seek(0)
        out_text = sync_out.read()
        report = json.loads(out_text.strip().splitlines()[-1])["report"]
        return {"records": a.records, "sync_exit": sync.returncode, "sync_wall_s": round(wall, 1),
                "sync_counts": {k: report["counts"][k] for k in ("seen", "created", "failed")},
                "crossings_s": crossings, "load_1m_at_start": round(load, 2),
                "load_1m_at_end": round(os.getloadavg()[0], 2)}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
        sb.terminate()
        sb.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--every", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--profile", default="release", help="the cargo profile whose binaries to run")
    a = ap.parse_args()
    global REL
    REL = os.path.join(os.path.dirname(REL), a.profile)
    all_crossings = []
    for _ in range(a.runs):
        r = one_run(a)
        print(json.dumps(r), flush=True)
        all_crossings += [c for c in r["crossings_s"] if c is not None]
    if all_crossings:
        print(json.dumps({"edits": len(all_crossings), "median_s": statistics.median(all_crossings),
                          "max_s": max(all_crossings)}))


if __name__ == "__main__":
    sys.exit(main())
