#!/usr/bin/python3
"""A Modbus server for the Modbus connector's tests, on Debian's python3-pymodbus (3.0).

The server is pymodbus' own (nobody here wrote the protocol side); this file only sets up
its data store and lets the test drive it. It serves Modbus TCP on --port, or Modbus RTU on
the serial device --serial (one end of a socat pty pair), for the unit ids of --units, each
with --size coils, discrete inputs, input registers and holding registers at addresses
0 .. size-1 (anything beyond answers IllegalDataAddress; a unit id not served answers
GatewayTargetDeviceFailedToRespond, as a gateway does).

Control: one JSON object per line on stdin, one JSON answer per line on stdout:
  {"op": "set", "unit": 1, "table": "hr", "address": 0, "values": [1, 2]}  -> {"ok": true}
  {"op": "get", "unit": 1, "table": "hr", "address": 0, "count": 2}      -> {"values": [1, 2]}
  {"op": "stats"}                      -> {"requests": N} (Modbus requests served so far)
Tables: "co", "di", "ir", "hr". The first line on stdout is {"ready": true, "port": N}.

Run with /usr/bin/python3: Debian's pymodbus is installed for the system interpreter.
"""
import argparse
import asyncio
import json
import sys
import threading

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

# pymodbus' function codes for each table (getValues/setValues are keyed by them).
FC = {"co": 1, "di": 2, "ir": 4, "hr": 3}

REQUESTS = [0]  # Modbus requests served (a list: the server's thread and the control's share it)


class CountingSlaveContext(ModbusSlaveContext):
    """pymodbus validates every read and write request against the store once, and the
    control lines below never do: counting validate() counts requests on the wire."""

    def validate(self, fc_as_hex, address, count=1):
        REQUESTS[0] += 1
        return super().validate(fc_as_hex, address, count)


def control(context, out):
    """Serve the control lines of stdin (a thread: pymodbus' loop serves the wire)."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            if req["op"] == "stats":
                out.write(json.dumps({"requests": REQUESTS[0]}) + "\n")
                out.flush()
                continue
            slave = context[int(req.get("unit", 1))]
            fc = FC[req["table"]]
            if req["op"] == "set":
                slave.setValues(fc, int(req["address"]), [int(v) for v in req["values"]])
                answer = {"ok": True}
            elif req["op"] == "get":
                vals = slave.getValues(fc, int(req["address"]), int(req.get("count", 1)))
                answer = {"values": [int(v) for v in vals]}
            else:
                answer = {"error": "unknown op"}
        except Exception as exc:  # pylint: disable=broad-except
            answer = {"error": str(exc)}
        out.write(json.dumps(answer) + "\n")
        out.flush()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="Modbus TCP port on 127.0.0.1")
    ap.add_argument("--serial", help="serve Modbus RTU on this serial device instead")
    ap.add_argument("--baud", type=int, default=19200)
    ap.add_argument("--units", default="1", help="unit ids served, comma-separated")
    ap.add_argument("--size", type=int, default=1000, help="addresses per table")
    args = ap.parse_args()

    def block(value):
        return ModbusSequentialDataBlock(0, [value] * args.size)

    slaves = {
        int(u): CountingSlaveContext(
            co=block(False), di=block(False), ir=block(0), hr=block(0), zero_mode=True
        )
        for u in args.units.split(",")
    }
    context = ModbusServerContext(slaves=slaves, single=False)
    if args.serial:
        # Parity "N": a pseudo-terminal refuses parity settings (EINVAL from tcsetattr) and
        # carries bytes without framing anyway, so the client's even parity meets no check.
        server = ModbusSerialServer(
            context, ModbusRtuFramer, port=args.serial, baudrate=args.baud, parity="N"
        )
        await server.start()
        if getattr(server, "transport", None) is None:
            # pymodbus logs the failure and goes on without a line: a peer that serves
            # nothing must not say it is ready.
            sys.exit(f"cannot open the serial device {args.serial}")
        port = 0
    else:
        server = ModbusTcpServer(
            context,
            ModbusSocketFramer,
            address=("127.0.0.1", args.port),
            allow_reuse_address=True,
        )
        port = args.port
    task = asyncio.create_task(server.serve_forever())
    if not args.serial:
        await server.serving  # resolved once the socket listens
    sys.stdout.write(json.dumps({"ready": True, "port": port}) + "\n")
    sys.stdout.flush()
    threading.Thread(target=control, args=(context, sys.stdout), daemon=True).start()
    await task


if __name__ == "__main__":
    asyncio.run(main())
