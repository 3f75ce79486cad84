# A slow network link for tests: ssh's ProxyCommand. Relays stdin/stdout to host:port, passing the
# client->board direction at `rate` bytes per second, so a test can cut the connection mid-upload.
import os
import select
import socket
import sys
import time

host, port, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.create_connection((host, port))
stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
chunk = max(1, rate // 20)
sources = [stdin, sock]
while True:
    readable, _, _ = select.select(sources, [], [])
    if sock in readable:
        data = sock.recv(65536)
        if not data:
            break
        os.write(stdout, data)
    if stdin in readable:
        data = os.read(stdin, chunk)
        if not data:
            sock.shutdown(socket.SHUT_WR)
            sources.remove(stdin)
            continue
        sock.sendall(data)
        time.sleep(len(data) / rate)
