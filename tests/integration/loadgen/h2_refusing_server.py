#!/usr/bin/python3
"""An HTTP/2 (h2c, prior knowledge) server on 127.0.0.1 that refuses streams, for the curl engine's
test that a refused stream is counted and never hangs the run. Every stream is answered with
RST_STREAM(REFUSED_STREAM), or with --answer-every N every N-th stream (server-wide) gets a 200
instead. Prints its port, then serves until killed or --lifetime seconds pass (bounded).
Needs python3-h2 (Debian)."""
import argparse
import select
import socket
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events

lock = threading.Lock()
streams_seen = 0


def serve(conn, answer_every):
    global streams_seen
    h2c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    h2c.initiate_connection()
    conn.sendall(h2c.data_to_send())
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for event in h2c.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    with lock:
                        streams_seen += 1
                        n = streams_seen
                    if answer_every > 0 and n % answer_every == 0:
                        body = b"hello, world\n"
                        h2c.send_headers(event.stream_id, [(":status", "200"), ("content-length", str(len(body)))])
                        h2c.send_data(event.stream_id, body, end_stream=True)
                    else:
                        h2c.reset_stream(event.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
            out = h2c.data_to_send()
            if out:
                conn.sendall(out)
    except (ConnectionError, h2.exceptions.ProtocolError):
        return
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--answer-every", type=int, default=0)
    p.add_argument("--lifetime", type=float, default=60)
    a = p.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    print(srv.getsockname()[1], flush=True)
    deadline = time.monotonic() + a.lifetime
    while time.monotonic() < deadline:
        ready, _, _ = select.select([srv], [], [], 0.2)
        if ready:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn, a.answer_every), daemon=True).start()


if __name__ == "__main__":
    main()
