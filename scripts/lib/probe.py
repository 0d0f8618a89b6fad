#!/usr/bin/env python3
"""Stdlib-only protocol probes used by `scripts/services check`.

Each sub-command seeds a small backlog on one server and reads it back the way
a scaler would, printing the numbers it read on stdout (one line).  No third
party packages: it must run with a bare Debian python3.

  probe.py amqp URL QUEUE N          publish N persistent msgs with confirms,
                                     print passive queue.declare message_count
  probe.py nats URL MONITOR N        create stream+durable consumer, publish N,
                                     print num_pending read from MONITOR/jsz
  probe.py azqueue ENDPOINT ACCOUNT KEY N
                                     create a queue, put N messages, print
                                     x-ms-approximate-messages-count
  probe.py azblob ENDPOINT ACCOUNT KEY N
                                     create a container with N blobs (one with
                                     checkpoint metadata), print "count seq"
  probe.py http-get-json URL PATH... GET URL, print the JSON value at PATH
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

TIMEOUT = 15


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------- AMQP 0-9-1
class Amqp:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        vhost = urllib.parse.unquote(u.path[1:]) if len(u.path) > 1 else "/"
        self.s = socket.create_connection((u.hostname or "127.0.0.1", u.port or 5672), TIMEOUT)
        self.buf = b""
        self.s.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect(0, 10, 10)  # connection.start
        user = urllib.parse.unquote(u.username or "guest")
        pw = urllib.parse.unquote(u.password or "guest")
        resp = b"\x00" + user.encode() + b"\x00" + pw.encode()
        self.method(0, 10, 11, struct.pack(">I", 0) + self.ss("PLAIN") + self.ls(resp) + self.ss("en_US"))
        args = self.expect(0, 10, 30)  # connection.tune
        chmax, fmax, _hb = struct.unpack(">HIH", args[:8])
        self.method(0, 10, 31, struct.pack(">HIH", chmax, fmax, 0))
        self.method(0, 10, 40, self.ss(vhost) + self.ss("") + b"\x00")
        self.expect(0, 10, 41)
        self.method(1, 20, 10, self.ss(""))
        self.expect(1, 20, 11)

    @staticmethod
    def ss(s):
        b = s.encode() if isinstance(s, str) else s
        return bytes([len(b)]) + b

    @staticmethod
    def ls(b):
        return struct.pack(">I", len(b)) + b

    def frame(self, typ, ch, payload):
        self.s.sendall(struct.pack(">BHI", typ, ch, len(payload)) + payload + b"\xce")

    def method(self, ch, cls, mth, args=b""):
        self.frame(1, ch, struct.pack(">HH", cls, mth) + args)

    def read_frame(self):
        while True:
            while len(self.buf) < 7:
                d = self.s.recv(65536)
                if not d:
                    die("amqp: connection closed by server")
                self.buf += d
            typ, ch, size = struct.unpack(">BHI", self.buf[:7])
            while len(self.buf) < 8 + size:
                d = self.s.recv(65536)
                if not d:
                    die("amqp: connection closed by server")
                self.buf += d
            payload = self.buf[7:7 + size]
            self.buf = self.buf[8 + size:]
            if typ == 8:  # heartbeat
                continue
            return typ, ch, payload

    def expect(self, ch, cls, mth):
        while True:
            typ, fch, p = self.read_frame()
            if typ != 1:
                continue
            c, m = struct.unpack(">HH", p[:4])
            if (c, m) in ((10, 50), (20, 40)):
                code = struct.unpack(">H", p[4:6])[0]
                die(f"amqp: server closed {'connection' if c == 10 else 'channel'}: {code} {p[7:7 + p[6]].decode(errors='replace')}")
            if fch == ch and (c, m) == (cls, mth):
                return p[4:]

    def declare(self, queue, passive=False, durable=True):
        bits = (1 if passive else 0) | (2 if durable else 0)
        self.method(1, 50, 10, struct.pack(">H", 0) + self.ss(queue) + bytes([bits]) + struct.pack(">I", 0))
        p = self.expect(1, 50, 11)
        n = p[0]
        msgs, consumers = struct.unpack(">II", p[1 + n:9 + n])
        return msgs, consumers

    def purge(self, queue):
        self.method(1, 50, 30, struct.pack(">H", 0) + self.ss(queue) + b"\x00")
        self.expect(1, 50, 31)

    def confirm_select(self):
        self.method(1, 85, 10, b"\x00")
        self.expect(1, 85, 11)

    def publish(self, routing_key, body, persistent=True):
        self.method(1, 60, 40, struct.pack(">H", 0) + self.ss("") + self.ss(routing_key) + b"\x00")
        props = struct.pack(">H", 0x1000) + bytes([2 if persistent else 1])
        self.frame(2, 1, struct.pack(">HHQ", 60, 0, len(body)) + props)
        self.frame(3, 1, body)

    def wait_acks(self, n):
        acked = 0
        while acked < n:
            p = self.expect(1, 60, 80)  # basic.ack
            tag = struct.unpack(">Q", p[:8])[0]
            multiple = p[8] & 1
            acked = tag if multiple else max(acked, tag)

    def close(self):
        self.method(0, 10, 50, struct.pack(">H", 200) + self.ss("bye") + struct.pack(">HH", 0, 0))
        try:
            self.expect(0, 10, 51)
        except SystemExit:
            pass
        self.s.close()


def cmd_amqp(url, queue, n):
    n = int(n)
    c = Amqp(url)
    c.declare(queue, durable=True)
    c.purge(queue)
    c.confirm_select()
    for i in range(n):
        c.publish(queue, f"m{i}".encode())
    c.wait_acks(n)
    msgs, _ = c.declare(queue, passive=True)
    c.close()
    print(msgs)


# --------------------------------------------------------------------- NATS JetStream
class Nats:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.s = socket.create_connection((u.hostname or "127.0.0.1", u.port or 4222), TIMEOUT)
        self.f = self.s.makefile("rb")
        info = self.f.readline()
        if not info.startswith(b"INFO"):
            die(f"nats: unexpected greeting {info!r}")
        self.info = json.loads(info[5:])
        conn = {"verbose": False, "pedantic": False, "lang": "python-stdlib", "version": "0",
                "protocol": 1, "headers": True, "no_responders": True}
        self.s.sendall(b"CONNECT " + json.dumps(conn).encode() + b"\r\nPING\r\n")
        self.wait_pong()
        self.inbox = f"_INBOX.ebbprobe{os.getpid()}"
        self.s.sendall(f"SUB {self.inbox}.* 1\r\n".encode())
        self.seq = 0

    def wait_pong(self):
        while True:
            line = self.f.readline()
            if not line:
                die("nats: connection closed")
            if line.startswith(b"PONG"):
                return
            if line.startswith(b"-ERR"):
                die(f"nats: {line.decode().strip()}")

    def request(self, subject, payload):
        self.seq += 1
        reply = f"{self.inbox}.{self.seq}"
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.s.sendall(f"PUB {subject} {reply} {len(data)}\r\n".encode() + data + b"\r\n")
        while True:
            line = self.f.readline()
            if not line:
                die("nats: connection closed")
            if line.startswith(b"PING"):
                self.s.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"-ERR"):
                die(f"nats: {line.decode().strip()}")
            parts = line.split()
            if parts and parts[0] in (b"MSG", b"HMSG"):
                size = int(parts[-1])
                body = self.f.read(size + 2)[:size]
                if parts[1].decode() != reply:
                    continue
                if parts[0] == b"HMSG":
                    hlen = int(parts[-2])
                    hdr, body = body[:hlen], body[hlen:]
                    if b" 503" in hdr.split(b"\r\n")[0]:
                        die(f"nats: no responders for {subject} (JetStream not enabled?)")
                return json.loads(body) if body else {}

    def close(self):
        self.s.close()


def http_json(url):
    u = urllib.parse.urlsplit(url)
    headers = {}
    if u.username is not None:
        cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        url = urllib.parse.urlunsplit((u.scheme, u.hostname + (f":{u.port}" if u.port else ""), u.path, u.query, ""))
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT) as r:
        return json.load(r)


def cmd_nats(url, monitor, n):
    n = int(n)
    stream, consumer = f"EBBCHECK{os.getpid()}", "worker"
    c = Nats(url)
    c.request(f"$JS.API.STREAM.DELETE.{stream}", b"")
    r = c.request(f"$JS.API.STREAM.CREATE.{stream}",
                  {"name": stream, "subjects": [f"ebbcheck{os.getpid()}.>"], "storage": "memory"})
    if "error" in r:
        die(f"nats: stream create: {r['error']}")
    r = c.request(f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
                  {"stream_name": stream, "config": {"durable_name": consumer, "ack_policy": "explicit",
                                                     "deliver_policy": "all"}})
    if "error" in r:
        die(f"nats: consumer create: {r['error']}")
    for i in range(n):
        r = c.request(f"ebbcheck{os.getpid()}.new", f"m{i}".encode())
        if "error" in r:
            die(f"nats: publish: {r['error']}")
    pending = None
    base = monitor if monitor.startswith("http") else f"http://{monitor}"
    for _ in range(40):
        d = http_json(f"{base}/jsz?acc=%24G&consumers=true&config=true")
        found = [cd["num_pending"] for a in d.get("account_details", []) for s in a.get("stream_detail", [])
                 if s["name"] == stream for cd in s.get("consumer_detail", []) if cd["name"] == consumer]
        if found:
            pending = found[0]
            if pending == n:
                break
        time.sleep(0.25)
    c.request(f"$JS.API.STREAM.DELETE.{stream}", b"")
    c.close()
    print(pending)


# --------------------------------------------------------------------- Azure (azurite) SharedKey
def az_request(method, url, account, key, body=b"", headers=None):
    headers = dict(headers or {})
    headers["x-ms-date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers["x-ms-version"] = "2021-08-06"
    send_body = bool(body) or method in ("PUT", "POST")
    if send_body:  # urllib would add its own form content type, which must be part of the signature
        headers.setdefault("Content-Type", "application/xml")
    u = urllib.parse.urlsplit(url)
    canon_headers = "".join(f"{k.lower()}:{v}\n" for k, v in sorted(headers.items(), key=lambda kv: kv[0].lower())
                            if k.lower().startswith("x-ms-"))
    canon_res = f"/{account}{u.path}"
    q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
    for k in sorted(q, key=str.lower):
        canon_res += f"\n{k.lower()}:{','.join(sorted(q[k]))}"
    sts = "\n".join([method, "", "", str(len(body)) if body else "", "", headers.get("Content-Type", ""),
                     "", "", "", "", "", ""]) + "\n" + canon_headers + canon_res
    sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()).decode()
    headers["Authorization"] = f"SharedKey {account}:{sig}"
    req = urllib.request.Request(url, data=body if send_body else None,
                                 method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def az_ok(what, res, *codes):
    if res[0] not in codes:
        die(f"azurite: {what}: HTTP {res[0]} {res[2][:300]!r}")


def cmd_azqueue(endpoint, account, key, n):
    n = int(n)
    q = f"{endpoint.rstrip('/')}/ebbcheck{os.getpid()}"
    az_request("DELETE", q, account, key)
    az_ok("create queue", az_request("PUT", q, account, key), 201, 204)
    for i in range(n):
        body = f"<QueueMessage><MessageText>m{i}</MessageText></QueueMessage>".encode()
        az_ok("put message", az_request("POST", f"{q}/messages", account, key, body), 201)
    st, hd, _ = az_request("GET", f"{q}?comp=metadata", account, key)
    az_ok("get metadata", (st, hd, b""), 200)
    cnt = {k.lower(): v for k, v in hd.items()}.get("x-ms-approximate-messages-count")
    az_request("DELETE", q, account, key)
    print(cnt)


def cmd_azblob(endpoint, account, key, n):
    n = int(n)
    c = f"{endpoint.rstrip('/')}/ebbcheck{os.getpid()}"
    az_ok("create container", az_request("PUT", f"{c}?restype=container", account, key), 201, 409)
    for i in range(n):
        name = f"ns.servicebus.windows.net/hub/$default/checkpoint/{i}"
        hdrs = {"x-ms-blob-type": "BlockBlob", "x-ms-meta-sequencenumber": str(40 + i), "x-ms-meta-offset": str(4096 * i),
                "Content-Type": "application/octet-stream"}
        az_ok("put blob", az_request("PUT", f"{c}/{urllib.parse.quote(name)}", account, key, b"x", hdrs), 201)
    st, _, body = az_request("GET", f"{c}?restype=container&comp=list&include=metadata", account, key)
    az_ok("list blobs", (st, {}, body), 200)
    root = ET.fromstring(body)
    blobs = root.findall(".//Blob")
    # NB: azurite 3.35 capitalises metadata names in list XML (<Sequencenumber>); real Azure keeps the case
    seq = [m.text for b in blobs for m in b.findall("Metadata/*") if m.tag.lower() == "sequencenumber"]
    az_request("DELETE", f"{c}?restype=container", account, key)
    print(len(blobs), max(int(s) for s in seq if s) if any(seq) else "")


def cmd_http_get_json(url, *path):
    d = http_json(url)
    for p in path:
        d = d[int(p)] if isinstance(d, list) else d.get(p)
    print(d)


CMDS = {"amqp": cmd_amqp, "nats": cmd_nats, "azqueue": cmd_azqueue, "azblob": cmd_azblob,
        "http-get-json": cmd_http_get_json}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CMDS:
        die(__doc__)
    try:
        CMDS[sys.argv[1]](*sys.argv[2:])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        die(f"{sys.argv[1]}: {type(e).__name__}: {e}")
