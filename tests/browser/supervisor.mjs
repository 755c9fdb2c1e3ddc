// Runs the real marketfeed server on a fixed free loopback port and lets
// browser tests stop, restart, freeze and thaw it over a small HTTP API.
//
//   node supervisor.mjs --server PATH [--ready-file FILE] [--log FILE] -- [server args...]
//
// Once the server accepts connections it prints (and writes to --ready-file)
// one JSON line: {"httpUrl","wsUrl","controlUrl","port"}.
//
// Control API (loopback only, CORS open, every answer is JSON):
//   GET /status                  {running, frozen, pid}
//   GET /stop                    SIGTERM the server, wait for it to exit
//   GET /start                   start it again on the same port, wait until it accepts
//   GET /restart?downMs=N        stop, wait N ms, start (answers when it is back)
//   GET /freeze                  SIGSTOP: the TCP stays open but nothing is sent
//   GET /thaw                    SIGCONT
//   GET /token?subject=S&ttl=T   {token}: `marketfeed-server token` run with the
//                                supervisor's environment (so with the server's
//                                MARKETFEED_AUTH_SECRET), for servers with auth on
//   GET /shutdown                stop the server and exit
// SIGTERM/SIGINT to the supervisor stop the server too.
import { execFile, spawn } from "node:child_process";
import { createServer } from "node:http";
import net from "node:net";
import { appendFileSync, writeFileSync } from "node:fs";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const own = dash < 0 ? argv : argv.slice(0, dash);
const serverArgs = dash < 0 ? [] : argv.slice(dash + 1);
const opt = (name) => {
  const i = own.indexOf(name);
  return i < 0 ? undefined : own[i + 1];
};
const serverBin = opt("--server");
const readyFile = opt("--ready-file");
const logFile = opt("--log");
if (!serverBin) {
  console.error("usage: supervisor.mjs --server PATH [--ready-file FILE] [--log FILE] -- [server args]");
  process.exit(2);
}

const log = (line) => {
  const text = `[supervisor ${new Date().toISOString()}] ${line}\n`;
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

const port = await freePort();
let child = null;
let frozen = false;

async function start() {
  if (child) return;
  const args = ["--bind", `127.0.0.1:${port}`, ...serverArgs];
  log(`starting ${serverBin} ${args.join(" ")}`);
  const proc = spawn(serverBin, args, { stdio: ["ignore", "pipe", "pipe"] });
  child = proc;
  frozen = false;
  const pipe = (stream) => stream.on("data", (d) => {
    for (const line of d.toString().split("\n")) if (line.trim()) log(`server: ${line}`);
  });
  pipe(proc.stdout);
  pipe(proc.stderr);
  proc.once("exit", (code, signal) => {
    log(`server exited (code ${code}, signal ${signal})`);
    if (child === proc) child = null;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child !== proc) throw new Error("server exited during start-up");
    if (await accepts(port)) return;
    await sleep(25);
  }
  throw new Error("server did not accept connections within 30 s");
}

async function stop() {
  const proc = child;
  if (!proc) return null;
  const exited = new Promise((r) => proc.once("exit", (code, signal) => r({ code, signal })));
  if (frozen) proc.kill("SIGCONT");
  proc.kill("SIGTERM");
  const timer = setTimeout(() => { log("server ignored SIGTERM for 5 s: SIGKILL"); proc.kill("SIGKILL"); }, 5_000);
  const result = await exited;
  clearTimeout(timer);
  frozen = false;
  return result;
}

function signal(sig) {
  if (!child) throw new Error("server not running");
  child.kill(sig);
  frozen = sig === "SIGSTOP";
}

let shuttingDown = false;
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  try { await stop(); } finally { control.close(); process.exit(code); }
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
    const t0 = Date.now();
    switch (url.pathname) {
      case "/status":
        return reply(200, { running: !!child, frozen, pid: child?.pid ?? null });
      case "/stop":
        return reply(200, { exit: await stop(), ms: Date.now() - t0 });
      case "/start":
        await start();
        return reply(200, { startedAt: Date.now(), ms: Date.now() - t0 });
      case "/restart": {
        const downMs = Number(url.searchParams.get("downMs") ?? "0");
        if (!Number.isFinite(downMs) || downMs < 0 || downMs > 60_000) return reply(400, { error: "downMs must be 0..60000" });
        const exit = await stop();
        await sleep(downMs);
        await start();
        return reply(200, { exit, startedAt: Date.now(), ms: Date.now() - t0 });
      }
      case "/freeze":
        signal("SIGSTOP");
        return reply(200, { frozen: true });
      case "/thaw":
        signal("SIGCONT");
        return reply(200, { frozen: false });
      case "/token": {
        const subject = url.searchParams.get("subject") ?? "browser-test";
        const ttl = url.searchParams.get("ttl") ?? "60s";
        const token = await new Promise((resolve, reject) => {
          execFile(serverBin, ["token", "--subject", subject, "--ttl", ttl], (err, stdout, stderr) => {
            if (err) reject(new Error(`token: ${stderr.trim() || err.message}`));
            else resolve(stdout.trim());
          });
        });
        return reply(200, { token });
      }
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
  await start();
} catch (e) {
  log(e.message);
  await shutdown(1);
}
control.listen(0, "127.0.0.1", () => {
  const info = {
    port,
    httpUrl: `http://127.0.0.1:${port}/`,
    wsUrl: `ws://127.0.0.1:${port}/ws/market`,
    controlUrl: `http://127.0.0.1:${control.address().port}`,
  };
  const line = JSON.stringify(info);
  if (readyFile) writeFileSync(readyFile, line + "\n");
  process.stdout.write(line + "\n");
  log(`ready: ${line}`);
});
