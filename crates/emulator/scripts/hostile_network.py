"""Issue 18 measurements against a built emulator binary (see RELIABILITY.md, section 7).

    python3 hostile_network.py exhaustion BINARY NOFILE IDLE CONNS [EMULATOR ARGS...]
        Run BINARY under `ulimit -n NOFILE` (IDLE: its --idle-timeout, or - to omit the
        flag), hold CONNS idle connections, then time a signed GET / and count the
        "accept failed" lines it logged.
    python3 hostile_network.py oversized BINARY
        Install an `oversized` 256 MiB fault on GET / and fetch it four times at once;
        print the binary's peak RSS (VmHWM).

Standard library only; Linux (/proc). Stops every process it starts.
"""
import base64, hashlib, hmac, json, os, socket, subprocess, sys, tempfile, threading, time, urllib.parse
from email.utils import formatdate

def spawn(binary, nofile, args):
    # stderr to a file: a pipe nobody reads would fill and block the logger.
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen(["sh", "-c", f'ulimit -n {nofile} && exec "$0" "$@"', binary,
                          "--port", "0", "--regions", "West US"] + args,
                         stdout=subprocess.PIPE, stderr=err, text=True)
    p.errfile = err
    ready = json.loads(p.stdout.readline())
    return p, ready

def signed_get(host, port, key, timeout=180):
    date = formatdate(usegmt=True)
    mac = hmac.new(base64.b64decode(key), f"get\n\n\n{date.lower()}\n\n".encode(), hashlib.sha256)
    auth = urllib.parse.quote(f"type=master&ver=1.0&sig={base64.b64encode(mac.digest()).decode()}", safe="")
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(f"GET / HTTP/1.1\r\nhost: x\r\nx-ms-date: {date}\r\nauthorization: {auth}\r\nconnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    return data.split(b" ")[1].decode()

def exhaustion(binary, nofile, idle, conns, extra):
    p, ready = spawn(binary, nofile, (["--idle-timeout", idle] if idle != "-" else []) + extra)
    host, port = ready["global"][7:-1].rsplit(":", 1)
    port = int(port)
    held = [socket.create_connection((host, port), timeout=10) for _ in range(conns)]
    t0 = time.time()
    status = signed_get(host, port, ready["key"])
    waited = time.time() - t0
    p.terminate(); p.communicate(timeout=30)
    p.errfile.seek(0); err = p.errfile.read()
    for s in held: s.close()
    warnings = err.count("accept failed")
    print(f"{os.path.basename(binary)} ulimit -n {nofile}, idle {idle}, {conns} idle conns {extra}: "
          f"GET / -> {status} after {waited:.1f} s; {warnings} 'accept failed' lines", flush=True)

def oversized(binary):
    p, ready = spawn(binary, 4096, [])
    host, port = ready["global"][7:-1].rsplit(":", 1)
    body = json.dumps({"match": {"class": "account"}, "action": {"kind": "oversized", "bytes": 256 * 1024 * 1024}}).encode()
    s = socket.create_connection((host, int(port)))
    s.sendall(b"POST /_emulator/faults HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
    while s.recv(65536): pass
    def fetch(out, i):
        c = socket.create_connection((host, int(port)))
        c.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        n = 0
        while True:
            chunk = c.recv(1 << 20)
            if not chunk: break
            n += len(chunk)
        out[i] = n
    out = [0] * 4
    threads = [threading.Thread(target=fetch, args=(out, i)) for i in range(4)]
    [t.start() for t in threads]; [t.join() for t in threads]
    hwm = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmHWM")][0].split()[1]
    p.terminate(); p.communicate(timeout=30)
    print(f"{os.path.basename(binary)} oversized 4 x 256 MiB: received {[n >> 20 for n in out]} MiB, peak RSS {int(hwm) // 1024} MiB", flush=True)

if __name__ == "__main__":
    what = sys.argv[1]
    if what == "exhaustion":
        exhaustion(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6:])
    else:
        oversized(sys.argv[2])
