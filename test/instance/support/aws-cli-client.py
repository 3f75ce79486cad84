"""The caller's side of aws-cli-server.py: run as `python3 -S aws-cli-client.py <aws args>` by the `aws` shim.

Hands this process's argv, environment, working folder and stdin/stdout/stderr to the fork server, forwards
the signals a script may send (TERM, INT, HUP, QUIT) to the aws process it started, and exits as that
process did (same code, or killed by the same signal). Standard library only, and -S (no site-packages), so it
starts in a few milliseconds.
"""

import json
import os
import signal
import socket
import struct
import sys
import time

REAL_AWS = "/usr/bin/aws"


def connect():
    """The server's socket appears a few milliseconds after the server starts; without one, the real aws runs."""
    deadline = time.monotonic() + 30
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(os.environ["SHIM_AWS_SERVER"])
            return conn
        except OSError:
            conn.close()
            if time.monotonic() > deadline:
                os.execv(REAL_AWS, [REAL_AWS, *sys.argv[1:]])
            time.sleep(0.02)


def main():
    conn = connect()
    body = json.dumps({"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    data = struct.pack("!I", len(body)) + body
    sent = socket.send_fds(conn, [data[: 1 << 15]], [0, 1, 2])
    conn.sendall(data[sent:])
    reader = conn.makefile("r")
    first = reader.readline().split()
    if len(first) != 2 or first[0] != "pid":
        sys.stderr.write("aws (test fork server): no answer\n")
        sys.exit(255)
    pid = int(first[1])

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    last = reader.readline().split()
    if len(last) == 2 and last[0] == "signal":
        sig = int(last[1])
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    sys.exit(int(last[1]) if len(last) == 2 and last[0] == "exit" else 255)


main()
