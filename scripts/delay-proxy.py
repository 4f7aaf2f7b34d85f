#!/usr/bin/env python3
"""A userspace delay line: forwards TCP connections (or UDP datagrams) and delays every chunk.

    delay-proxy.py --listen 10.77.0.1:2480 --connect 10.77.0.1:2380 --delay 60 --jitter 5
    delay-proxy.py --udp --listen 0.0.0.0:8620 --connect 127.0.0.1:862 --delay 60

Each direction of each connection is delayed independently: a chunk read at time t is written
at max(t + delay + U(-jitter, +jitter), the previous chunk's due time), so the byte stream keeps
its order (a TCP connection cannot reorder) and jitter never makes a chunk overtake another.
UDP datagrams get the same treatment per client, both ways, so a STAMP probe through the proxy
sees an RTT of about 2 x delay, the same as a message and its reply through the TCP mode.

Placed in front of every Raft member's peer port (the port the other members are told to dial),
each message between two members crosses exactly one proxy — the one in front of the member
whose port the connection was made to — so the one-way delay between members is `delay`.
Prints one line, "listening on HOST:PORT", once it accepts connections;
exits on SIGTERM or SIGINT and prints its counters to stderr.
"""

import argparse
import asyncio
import collections
import os
import random
import signal
import sys
import time


def host_port(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{s!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class Line:
    """Due times for one direction: delay +- jitter, never earlier than the previous one."""

    def __init__(self, delay_s, jitter_s, rng):
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.rng = rng
        self.last_due = 0.0

    def due(self, now):
        d = self.delay_s
        if self.jitter_s > 0:
            d += self.rng.uniform(-self.jitter_s, self.jitter_s)
        due = max(now + max(d, 0.0), self.last_due)
        self.last_due = due
        return due


class Counters:
    def __init__(self):
        self.connections = 0
        self.chunks = 0
        self.bytes = 0
        self.datagrams = 0


# asyncio holds tasks weakly: a task waiting on a connection that is being torn down can be
# collected mid-flight ("Task was destroyed but it is pending"). Hold every task until it ends.
TASKS = set()


def keep(task):
    TASKS.add(task)
    task.add_done_callback(TASKS.discard)
    return task


async def pump(reader, writer, line, counters):
    """Copies reader to writer, each chunk delayed by `line`, order kept."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = keep(asyncio.create_task(send()))
    try:
        while True:
            data = await reader.read(65536)
            if data:
                counters.chunks += 1
                counters.bytes += len(data)
            queue.put_nowait((line.due(loop.time()), data or None))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()


async def serve_tcp(args, rng, counters):
    async def handle(c_reader, c_writer):
        keep(asyncio.current_task())
        counters.connections += 1
        try:
            u_reader, u_writer = await asyncio.open_connection(*args.connect)
        except OSError as e:
            print(f"delay-proxy: cannot connect to {args.connect}: {e}", file=sys.stderr)
            c_writer.close()
            return
        except asyncio.CancelledError:
            return
        up = Line(args.delay / 1e3, args.jitter / 1e3, rng)
        down = Line(args.delay / 1e3, args.jitter / 1e3, rng)
        try:
            await asyncio.gather(
                pump(c_reader, u_writer, up, counters),
                pump(u_reader, c_writer, down, counters),
            )
        except asyncio.CancelledError:
            # Shutting down: end quietly (asyncio would log a cancelled handler's traceback).
            pass
        finally:
            for w in (u_writer, c_writer):
                try:
                    w.close()
                except OSError:
                    pass

    server = await asyncio.start_server(handle, *args.listen, reuse_address=True)
    return server


class UdpLine:
    """One direction of one UDP flow: datagrams leave in arrival order at their due times.

    (asyncio's timers do not keep the order of timers due at the same instant, so the queue
    is drained by one timer at a time.)"""

    def __init__(self, proxy):
        self.line = Line(proxy.delay_s, proxy.jitter_s, proxy.rng)
        self.queue = collections.deque()
        self.timer = None
        self.counters = proxy.counters

    def push(self, send, data):
        loop = asyncio.get_running_loop()
        self.counters.datagrams += 1
        self.queue.append((self.line.due(loop.time()), send, data))
        if self.timer is None:
            self.timer = loop.call_at(self.queue[0][0], self.fire)

    def fire(self):
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self.queue and self.queue[0][0] <= now:
            _, send, data = self.queue.popleft()
            send(data)
        self.timer = loop.call_at(self.queue[0][0], self.fire) if self.queue else None


class UdpUpstream(asyncio.DatagramProtocol):
    """The proxy's socket towards the server, one per client address."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.transport = None
        self.down = UdpLine(proxy)

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.down.push(lambda d: self.proxy.transport.sendto(d, self.client), data)


class UdpProxy(asyncio.DatagramProtocol):
    def __init__(self, args, rng, counters):
        self.args = args
        self.delay_s = args.delay / 1e3
        self.jitter_s = args.jitter / 1e3
        self.rng = rng
        self.counters = counters
        self.transport = None
        self.flows = {}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        flow = self.flows.get(addr)
        if flow is None:
            task = asyncio.get_running_loop().create_task(self.open(addr))
            flow = self.flows[addr] = (task, UdpLine(self))
        task, up = flow
        up.push(lambda d: self.forward(task, d), data)

    async def open(self, addr):
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: UdpUpstream(self, addr), remote_addr=self.args.connect
        )
        return transport

    @staticmethod
    def forward(task, data):
        if task.done():
            if task.exception() is None:
                task.result().sendto(data)
        else:
            task.add_done_callback(
                lambda t: t.exception() is None and t.result().sendto(data)
            )


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=host_port, required=True, help="HOST:PORT to accept on")
    p.add_argument("--connect", type=host_port, required=True, help="HOST:PORT to forward to")
    p.add_argument("--delay", type=float, default=0.0, help="one-way delay per direction, ms")
    p.add_argument("--jitter", type=float, default=0.0, help="uniform +- jitter, ms")
    p.add_argument("--udp", action="store_true", help="forward UDP datagrams instead of TCP")
    p.add_argument("--seed", type=int, default=1, help="seed of the jitter")
    args = p.parse_args()
    if args.delay < 0 or args.jitter < 0 or args.jitter > args.delay:
        p.error("need 0 <= jitter <= delay")

    rng = random.Random(args.seed)
    counters = Counters()
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

    if args.udp:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: UdpProxy(args, rng, counters), local_addr=args.listen
        )
        closer = transport.close
    else:
        server = await serve_tcp(args, rng, counters)
        closer = server.close
    mode = "udp" if args.udp else "tcp"
    print(
        f"listening on {args.listen[0]}:{args.listen[1]} ({mode}, delay {args.delay} ms "
        f"+- {args.jitter} ms, to {args.connect[0]}:{args.connect[1]})",
        flush=True,
    )
    started = time.monotonic()
    await stop
    closer()
    print(
        f"delay-proxy: {time.monotonic() - started:.1f} s, {counters.connections} connections, "
        f"{counters.chunks} chunks, {counters.bytes} bytes, {counters.datagrams} datagrams",
        file=sys.stderr,
        flush=True,
    )
    # Nothing is left to flush: leave without cancelling the connections one by one (asyncio
    # would report each pending task).
    os._exit(0)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OSError as e:
        print(f"delay-proxy: {e}", file=sys.stderr)
        sys.exit(1)
