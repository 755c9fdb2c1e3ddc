#!/usr/bin/env python3
"""Turn a CSV of trades and quotes into marketfeed ingest lines.

Plain Python 3, no third-party packages. Reads the day's universe from a
reference CSV and the events from a ticks CSV, and writes newline-delimited
JSON ingest messages to stdout, ready for `marketfeed-server --feed stdin`:

    python3 adapter.py reference.csv ticks.csv | marketfeed-server --feed stdin

reference.csv: symbol,reference,ceiling,floor   (integer VND, one row a stock)
ticks.csv:     time,symbol,event,price,volume,bid1,bid1_vol,bid2,bid2_vol,
               bid3,bid3_vol,ask1,ask1_vol,ask2,ask2_vol,ask3,ask3_vol
  event "trade": a match of `volume` shares at `price`
  event "book":  the best three bids and asks (empty cells: no level)
  time: seconds since midnight or HH:MM:SS; with --pace, lines are written
  at the recorded spacing (divided by --speed), otherwise at once.

The adapter keeps each stock's session totals (volume, value, high, low),
so every quote line it writes is consistent; the server still checks each
line (band, volume that only grows) and refuses bad ones without stopping.
"""

import argparse
import csv
import json
import sys
import time

BOOK = 3


def parse_time(text):
    text = text.strip()
    if ":" in text:
        h, m, s = (text.split(":") + ["0", "0"])[:3]
        return int(h) * 3600 + int(m) * 60 + float(s)
    return float(text)


def integer(text, what, row_no):
    try:
        value = int(text)
    except ValueError:
        raise SystemExit(f"adapter: row {row_no}: {what} {text!r} is not an integer")
    if value < 0:
        raise SystemExit(f"adapter: row {row_no}: {what} {value} is negative")
    return value


def read_universe(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    quotes = []
    for n, row in enumerate(rows, start=2):
        quotes.append(
            {
                "symbol": row["symbol"].strip(),
                "reference": integer(row["reference"], "reference", n),
                "ceiling": integer(row["ceiling"], "ceiling", n),
                "floor": integer(row["floor"], "floor", n),
            }
        )
    if not quotes:
        raise SystemExit(f"adapter: {path}: no stock")
    return quotes


def levels(row, side, row_no):
    out = []
    for i in range(1, BOOK + 1):
        price, vol = row.get(f"{side}{i}", "").strip(), row.get(f"{side}{i}_vol", "").strip()
        if price and vol:
            out.append({"price": integer(price, f"{side}{i}", row_no), "volume": integer(vol, f"{side}{i}_vol", row_no)})
    return out


class Stock:
    def __init__(self):
        self.volume = 0
        self.value = 0

    def trade(self, price, volume):
        self.volume += volume
        self.value += price * volume
        return {"last": price, "totalVolume": self.volume, "totalValue": self.value}


def emit(message, out):
    out.write(json.dumps(message, separators=(",", ":")) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", help="CSV: symbol,reference,ceiling,floor")
    ap.add_argument("ticks", help="CSV of trades and book updates")
    ap.add_argument("--phase", default="continuous", help="trading phase to announce (default: continuous)")
    ap.add_argument("--pace", action="store_true", help="write at the recorded spacing")
    ap.add_argument("--speed", type=float, default=1.0, help="with --pace: replay this many times faster")
    args = ap.parse_args(argv)
    if args.speed <= 0:
        raise SystemExit("adapter: --speed must be positive")

    out = sys.stdout
    universe = read_universe(args.reference)
    emit({"type": "snapshot", "phase": args.phase, "quotes": universe}, out)
    stocks = {q["symbol"]: Stock() for q in universe}

    started, first = time.monotonic(), None
    with open(args.ticks, newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            symbol = row["symbol"].strip()
            if symbol not in stocks:
                print(f"adapter: row {n}: unknown symbol {symbol!r}, skipped", file=sys.stderr)
                continue
            if args.pace:
                t = parse_time(row["time"])
                first = t if first is None else first
                wait = started + (t - first) / args.speed - time.monotonic()
                if wait > 0:
                    out.flush()
                    time.sleep(wait)
            event = row["event"].strip()
            if event == "trade":
                price = integer(row["price"], "price", n)
                volume = integer(row["volume"], "volume", n)
                emit({"type": "quote", "symbol": symbol, **stocks[symbol].trade(price, volume)}, out)
            elif event == "book":
                emit({"type": "quote", "symbol": symbol, "bids": levels(row, "bid", n), "asks": levels(row, "ask", n)}, out)
            else:
                print(f"adapter: row {n}: unknown event {event!r}, skipped", file=sys.stderr)
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.exit(0)
