#!/usr/bin/env python3
"""dlad through its socket, as users run it: a release dlad on a fresh state directory with the
firmware models, loaded by h2load (nghttp2-client, HTTP/1.1 over the UNIX socket) and by
`dlactl bench` (percentiles), beside a bare GET /v1/health on the same socket in the same run.
Also: time to READY with 10 models registered, idle RSS, RSS over 1,000 push/activate/rollback/
infer cycles, and the stripped binary's size. Standard library only.

usage: bench.py BIN_DIR OUT.json [--seconds S]
"""
import http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIRMWARE = os.path.join(ROOT, "firmware-models")
SAMPLES = os.path.join(FIRMWARE, "samples", "lenet-300-100", "inputs.npy")


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def request(conn, method, path, body=None, ctype=None):
    headers = {"Content-Type": ctype} if ctype else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(bin_dir, state, sock, extra=()):
    """Starts dlad; returns (process, seconds from exec until /v1/health answers)."""
    started = time.monotonic()
    proc = subprocess.Popen([os.path.join(bin_dir, "dlad"), "--state-dir", state, "--socket", sock,
                             "--firmware-models", FIRMWARE, *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            status, _ = request(UnixHTTP(sock), "GET", "/v1/health")
            if status == 200:
                return proc, time.monotonic() - started
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit(f"dlad exited with {proc.returncode}")
        time.sleep(0.002)


def stop(proc):
    proc.terminate()
    proc.wait(timeout=60)


def npy_one_sample():
    """The first sample of the shipped inputs as its own .npy (header rewritten to [1, 784])."""
    with open(SAMPLES, "rb") as f:
        raw = f.read()
    header_len = int.from_bytes(raw[8:10], "little")
    header = raw[10:10 + header_len].decode("latin1")
    data = raw[10 + header_len:10 + header_len + 784 * 4]
    new_header = re.sub(r"'shape': \([^)]*\)", "'shape': (1, 784)", header).rstrip()
    pad = 64 - (10 + len(new_header) + 1) % 64
    new_header = new_header + " " * pad + "\n"
    return raw[:8] + len(new_header).to_bytes(2, "little") + new_header.encode("latin1") + data, data


def fdatasync_micros(directory, count=200):
    """Median time of a 4 KiB append + fdatasync in `directory`: the floor under synchronous=FULL
    (16 clients with one request each in flight make at most 16 rows per group commit)."""
    path = os.path.join(directory, "fsync.probe")
    times = []
    with open(path, "ab") as f:
        for _ in range(count):
            f.write(b"x" * 4096)
            f.flush()
            started = time.perf_counter()
            os.fdatasync(f.fileno())
            times.append((time.perf_counter() - started) * 1e6)
    os.remove(path)
    return sorted(times)[len(times) // 2]


def h2load(sock, path, seconds, body=None, ctype=None, clients=16):
    args = ["h2load", "--h1", "-c", str(clients), "-D", str(seconds), "-B", "unix:" + sock]
    if body is not None:
        args += ["-d", body, "-H", "content-type: " + ctype]
    args.append("http://localhost" + path)
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", out).group(1))
    done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out).group(1)
    return {"requestsPerSecond": rps, "succeeded": int(done.group(3)), "failed": int(done.group(4)) + int(done.group(5)),
            "meanLatency": mean, "clients": clients, "seconds": seconds}


def dlactl_bench(bin_dir, sock, seconds, body_kind):
    out = subprocess.run([os.path.join(bin_dir, "dlactl"), "bench", "lenet-300-100", "--input", body_kind[1], "--body", body_kind[0],
                          "--concurrency", "16", "--duration", f"{seconds}s", "--socket", sock, "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    bin_dir, out_path = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 10
    work = tempfile.mkdtemp(prefix="dlad-bench-")
    state, sock = os.path.join(work, "state"), os.path.join(work, "dlad.sock")
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadAverageBefore": os.getloadavg()[0],
               "cpus": os.cpu_count(), "durability": "full"}
    npy, raw = npy_one_sample()
    npy_path = os.path.join(work, "one.npy")
    with open(npy_path, "wb") as f:
        f.write(npy)
    floats = [v for v in memoryview(raw).cast("f")]
    json_path = os.path.join(work, "one.json")
    with open(json_path, "w") as f:
        json.dump({"inputs": [[float(v) for v in floats]]}, f)

    # Ten models registered (the four firmware models and six more pushed), then a fresh start.
    proc, _ = start(bin_dir, state, sock)
    conn = UnixHTTP(sock)
    with open(os.path.join(FIRMWARE, "lenet-5-int8.dla"), "rb") as f:
        lenet5 = f.read()
    for index in range(6):
        status, _ = request(conn, "POST", f"/v1/models/extra-{index}/versions?activate=true", lenet5, "application/octet-stream")
        assert status in (200, 201), status
    stop(proc)
    readies = []
    for _ in range(5):
        proc, ready = start(bin_dir, state, sock)
        readies.append(ready)
        stop(proc)
    results["readySeconds"] = {"models": 10, "median": sorted(readies)[2], "all": readies}

    proc, _ = start(bin_dir, state, sock)
    time.sleep(3)
    status, _ = request(UnixHTTP(sock), "POST", "/v1/models/lenet-300-100/infer", npy, "application/x-npy")
    assert status == 200
    time.sleep(1)
    results["idleRSSMiB"] = rss_kib(proc.pid) / 1024

    fsync = fdatasync_micros(work)
    results["fdatasyncMicros"] = fsync
    results["fullDurabilityCeilingPerSecond"] = 16 / (fsync / 1e6)
    results["h2load"] = {
        "health": h2load(sock, "/v1/health", seconds),
        "inferNpy": h2load(sock, "/v1/models/lenet-300-100/infer", seconds, npy_path, "application/x-npy"),
        "inferJson": h2load(sock, "/v1/models/lenet-300-100/infer", seconds, json_path, "application/json"),
    }
    results["dlactlBench"] = {
        "inferNpy": dlactl_bench(bin_dir, sock, seconds, ("npy", npy_path)),
        "inferJson": dlactl_bench(bin_dir, sock, seconds, ("json", npy_path)),
    }
    results["historyRows"] = json.loads(request(UnixHTTP(sock), "GET", "/v1/health")[1])["inferencesServed"]

    # 1,000 cycles of push / activate / rollback / infer on one model: RSS must not grow.
    conn = UnixHTTP(sock)
    with open(os.path.join(FIRMWARE, "lenet-300-100-int8.dla"), "rb") as f:
        a = f.read()
    with open(os.path.join(FIRMWARE, "lenet-300-100-fp8e4m3.dla"), "rb") as f:
        b = f.read()
    request(conn, "POST", "/v1/models/cycle/versions?activate=true", a, "application/octet-stream")
    def cycle():
        assert request(conn, "POST", "/v1/models/cycle/versions?activate=true", b, "application/octet-stream")[0] in (200, 201)
        assert request(conn, "POST", "/v1/models/cycle/rollback")[0] == 200
        assert request(conn, "POST", "/v1/models/cycle/infer", npy, "application/x-npy")[0] == 200
        assert request(conn, "POST", "/v1/models/cycle/activate", b'{"version": 2}', "application/json")[0] == 200
        assert request(conn, "POST", "/v1/models/cycle/infer", npy, "application/x-npy")[0] == 200
        assert request(conn, "POST", "/v1/models/cycle/rollback")[0] == 200
    for _ in range(50):
        cycle()
    before = rss_kib(proc.pid)
    started = time.monotonic()
    for _ in range(1000):
        cycle()
    after = rss_kib(proc.pid)
    results["cycles"] = {"count": 1000, "rssBeforeMiB": before / 1024, "rssAfterMiB": after / 1024,
                         "growthPercent": 100.0 * (after - before) / before, "seconds": time.monotonic() - started}
    stop(proc)

    stripped = os.path.join(work, "dlad.stripped")
    shutil.copy(os.path.join(bin_dir, "dlad"), stripped)
    subprocess.run(["strip", "--strip-all", stripped], check=True)
    results["strippedDladMiB"] = os.path.getsize(stripped) / (1 << 20)
    results["loadAverageAfter"] = os.getloadavg()[0]
    shutil.rmtree(work)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
