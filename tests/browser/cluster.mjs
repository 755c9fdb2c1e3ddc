// Runs a small cluster on loopback for the browser tests — a real
// nats-server, one publisher and two edges (marketfeed-server processes) —
// and lets the tests break parts of it over a small HTTP API.
//
//   node cluster.mjs --server PATH [--ready-file FILE] [--log FILE] -- [edge and publisher args...]
//
// Once every edge has relayed a tick it prints (and writes to --ready-file)
// one JSON line: {"wsUrls": [edge0, edge1], "controlUrl"}.
//
// Control API (loopback only, CORS open, every answer is JSON):
//   GET /status              {edges: [{running, clients}], publisher, broker}
//   GET /kill-busy-edge      SIGKILL every edge that has clients now: {killed: [i…]}
//   GET /start-edge?i=N      start edge N again on its port
//   GET /kill-publisher      SIGKILL the publisher
//   GET /start-publisher     start a publisher (a new epoch)
//   GET /shutdown            stop everything and exit
// SIGTERM/SIGINT stop everything too.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import net from "node:net";
import { appendFileSync, writeFileSync } from "node:fs";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const own = dash < 0 ? argv : argv.slice(0, dash);
const nodeArgs = dash < 0 ? [] : argv.slice(dash + 1);
const opt = (name) => {
  const i = own.indexOf(name);
  return i < 0 ? undefined : own[i + 1];
};
const serverBin = opt("--server");
const readyFile = opt("--ready-file");
const logFile = opt("--log");
if (!serverBin) {
  console.error("usage: cluster.mjs --server PATH [--ready-file FILE] [--log FILE] -- [node args]");
  process.exit(2);
}

const log = (line) => {
  const text = `[cluster ${new Date().toISOString()}] ${line}\n`;
  if (logFile) appendFileSync(logFile, text);
  else process.stderr.write(text);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
    sock.setTimeout(500, () => done(false));
  });
}

async function metric(port, name) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(" ")[1]) : NaN;
  } catch {
    return NaN;
  }
}

// One child process, restartable.
class Proc {
  constructor(name, bin, args, port) {
    Object.assign(this, { name, bin, args, port, child: null });
  }
  async start() {
    if (this.child) return;
    log(`starting ${this.name}: ${this.bin} ${this.args.join(" ")}`);
    const proc = spawn(this.bin, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = proc;
    const pipe = (stream) => stream.on("data", (d) => {
      for (const line of d.toString().split("\n")) if (line.trim()) log(`${this.name}: ${line}`);
    });
    pipe(proc.stdout);
    pipe(proc.stderr);
    proc.once("exit", (code, signal) => {
      log(`${this.name} exited (code ${code}, signal ${signal})`);
      if (this.child === proc) this.child = null;
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.child !== proc) throw new Error(`${this.name} exited during start-up`);
      if (await accepts(this.port)) return;
      await sleep(25);
    }
    throw new Error(`${this.name} did not accept connections within 30 s`);
  }
  async kill(signal = "SIGKILL") {
    const proc = this.child;
    if (!proc) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await exited;
  }
}

const natsPort = await freePort();
const natsUrl = `nats://127.0.0.1:${natsPort}`;
const subject = "browser.ticks";
const broker = new Proc("nats-server", "nats-server", ["-a", "127.0.0.1", "-p", String(natsPort)], natsPort);
const edges = [];
for (let i = 0; i < 2; i++) {
  const port = await freePort();
  edges.push(new Proc(`edge${i}`, serverBin,
    ["--bind", `127.0.0.1:${port}`, "--feed", `${natsUrl}/${subject}`, ...nodeArgs], port));
}
let publisher = null;
async function startPublisher() {
  const port = await freePort();
  publisher = new Proc("publisher", serverBin,
    ["publish", "--nats", natsUrl, "--subject", subject, "--bind", `127.0.0.1:${port}`, ...nodeArgs], port);
  await publisher.start();
}

async function waitTicks(edge) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await metric(edge.port, "marketfeed_ticks_total")) > 0) return;
    await sleep(50);
  }
  throw new Error(`${edge.name} relayed no tick within 30 s`);
}

let shuttingDown = false;
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  try {
    for (const p of [publisher, ...edges, broker]) if (p) await p.kill("SIGTERM");
  } finally {
    control.close();
    process.exit(code);
  }
}

const control = createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const reply = (status, body) => {
    res.writeHead(status, {
      "content-type": "application/json",
      "access-control-allow-origin": "*",
      "cache-control": "no-store",
    });
    res.end(JSON.stringify(body));
  };
  try {
    switch (url.pathname) {
      case "/status": {
        const list = [];
        for (const e of edges) list.push({ running: !!e.child, clients: await metric(e.port, "marketfeed_clients") });
        return reply(200, { edges: list, publisher: !!publisher?.child, broker: !!broker.child });
      }
      case "/kill-busy-edge": {
        const killed = [];
        for (const [i, e] of edges.entries()) {
          if (e.child && (await metric(e.port, "marketfeed_clients")) > 0) {
            await e.kill("SIGKILL");
            killed.push(i);
          }
        }
        return reply(200, { killed, at: Date.now() });
      }
      case "/start-edge": {
        const e = edges[Number(url.searchParams.get("i"))];
        if (!e) return reply(400, { error: "no such edge" });
        await e.start();
        await waitTicks(e);
        return reply(200, { startedAt: Date.now() });
      }
      case "/kill-publisher":
        await publisher?.kill("SIGKILL");
        return reply(200, { at: Date.now() });
      case "/start-publisher":
        await startPublisher();
        return reply(200, { startedAt: Date.now() });
      case "/shutdown":
        reply(200, { bye: true });
        return shutdown(0);
      default:
        return reply(404, { error: `no such endpoint ${url.pathname}` });
    }
  } catch (e) {
    log(`control ${url.pathname} failed: ${e.message}`);
    return reply(500, { error: String(e.message ?? e) });
  }
});

for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => shutdown(0));
process.on("uncaughtException", (e) => { log(`uncaught: ${e.stack ?? e}`); shutdown(1); });

try {
  await broker.start();
  for (const e of edges) await e.start();
  await startPublisher();
  for (const e of edges) await waitTicks(e);
} catch (e) {
  log(e.message);
  await shutdown(1);
}
control.listen(0, "127.0.0.1", () => {
  const info = {
    wsUrls: edges.map((e) => `ws://127.0.0.1:${e.port}/ws/market`),
    controlUrl: `http://127.0.0.1:${control.address().port}`,
  };
  const line = JSON.stringify(info);
  if (readyFile) writeFileSync(readyFile, line + "\n");
  process.stdout.write(line + "\n");
  log(`ready: ${line}`);
});
