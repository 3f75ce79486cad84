"""A fork server for the real Debian aws CLI, so the instance tests do not pay its ~0.5 s of CPU (most of it
importing awscli and botocore) on every `aws s3 ...` call the scripts make.

The server imports awscli once, then for each request forks: the child takes the caller's argv, environment,
working folder and stdin/stdout/stderr (passed as file descriptors), runs `awscli.clidriver.main()` exactly as
/usr/bin/aws does, and exits with its code. So each call is still the real aws CLI in a process of its own,
with the caller's environment and streams; only the imports are done ahead. aws-cli-client.py is the caller's
side (the `aws` shim runs it); it forwards signals to the child and exits as the child did.

Protocol on a Unix socket, one connection per call: the client sends a 4-byte big-endian length, then that
many bytes of JSON {"argv": [...], "env": {...}, "cwd": "..."}, with fds 0, 1, 2 attached (SCM_RIGHTS) to
the first chunk. The server answers "pid <n>\n" once the child runs, then "exit <code>\n" or
"signal <n>\n". If the client goes away first, the child is killed, as the real process would be with it.

Usage: python3 aws-cli-server.py <socket path>   (runs until killed; single-threaded: fork-safe)
"""

import json
import os
import selectors
import signal
import socket
import struct
import sys

# Listen first (callers queue in the backlog while the imports run), then import what /usr/bin/aws imports.
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1])
server.listen(64)

if os.environ.get("LC_CTYPE", "") == "UTF-8":  # as /usr/bin/aws does
    os.environ["LC_CTYPE"] = "en_US.UTF-8"
import awscli  # noqa: E402
import awscli.clidriver  # noqa: E402

# The modules an `aws s3` / `aws s3api` call imports after start-up.
import awscli.customizations.s3.subcommands  # noqa: E402,F401
import botocore.session  # noqa: E402,F401


def run_child(request, fds):
    """In the forked child: become the caller's aws process, run the CLI, exit with its code."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        if fd > 2:
            os.close(fd)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own default, as in a fresh interpreter
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if os.environ.get("LC_CTYPE", "") == "UTF-8":  # /usr/bin/aws
        os.environ["LC_CTYPE"] = "en_US.UTF-8"
    # What importing awscli does to the environment (awscli/__init__.py), redone on the caller's environment.
    data_path = [
        os.path.expanduser(os.path.expandvars(p)) for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p
    ] if "AWS_DATA_PATH" in os.environ else []
    data_path.append(os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), "data"))
    os.environ["AWS_DATA_PATH"] = os.pathsep.join(data_path)
    sys.argv = ["/usr/bin/aws", *request["argv"]]
    code = 0
    try:
        code = awscli.clidriver.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code if isinstance(code, int) else 1)


def read_request(conn):
    """The length-prefixed JSON request and the fds attached to it."""
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    if len(data) < 4:
        raise ValueError("short request")
    (length,) = struct.unpack("!I", data[:4])
    body = data[4:]
    while len(body) < length:
        more = conn.recv(length - len(body))
        if not more:
            raise ValueError("truncated request")
        body += more
    return json.loads(body), fds


def main():
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    # A self-pipe wakes the loop when a child exits.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel.register(wake_r, selectors.EVENT_READ)
    children = {}  # pid -> client connection
    by_conn = {}  # connection fd -> pid

    def reap():
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = children.pop(pid, None)
            if conn is None:
                continue
            by_conn.pop(conn.fileno(), None)
            if os.WIFSIGNALED(status):
                answer = f"signal {os.WTERMSIG(status)}\n"
            else:
                answer = f"exit {os.WEXITSTATUS(status)}\n"
            try:
                sel.unregister(conn)
            except (KeyError, ValueError):
                pass
            try:
                conn.sendall(answer.encode())
            except OSError:
                pass
            conn.close()

    while True:
        for key, _ in sel.select():
            if key.fileobj is server:
                conn, _ = server.accept()
                try:
                    request, fds = read_request(conn)
                except (ValueError, OSError):
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    server.close()
                    conn.close()
                    run_child(request, fds)
                for fd in fds:
                    os.close(fd)
                children[pid] = conn
                by_conn[conn.fileno()] = pid
                conn.sendall(f"pid {pid}\n".encode())
                sel.register(conn, selectors.EVENT_READ)
            elif key.fileobj == wake_r:
                os.read(wake_r, 4096)
                reap()
            else:
                # The client said nothing more is coming: it went away (killed). Kill its aws process too.
                conn = key.fileobj
                if conn.recv(1) == b"":
                    pid = by_conn.get(conn.fileno())
                    sel.unregister(conn)
                    if pid is not None:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                reap()


if __name__ == "__main__":
    main()
