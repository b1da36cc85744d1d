// A fault-injecting TCP proxy for tests: listens on 127.0.0.1 (ephemeral port), forwards every
// connection to a real server (Dovecot of the mailbed) and, as the current plan says, cuts
// both sides after N bytes from the server or from the client (FIN or RST), delays or drips
// the server's bytes in small pieces. The plan is read when a connection opens, so a test can
// change it between runs; `plan` may also be a function of the connection's number.
//
//   const proxy = await startFaultProxy({ host: '127.0.0.1', port: bed.ports.pop3 });
//   proxy.setPlan({ cutAfterServerBytes: 12_345, cutMode: 'reset' });
//   ... point the client at proxy.port ...
//   proxy.stats  // bytes each way, connections, cuts
//   await proxy.close();
import { connect, createServer, type AddressInfo } from 'node:net';

export type CutMode = 'close' | 'reset';

export interface FaultPlan {
  /** Forward this many bytes from the server, then cut both sides (the byte at this offset is never delivered). */
  cutAfterServerBytes?: number;
  /** Forward this many bytes from the client, then cut both sides. */
  cutAfterClientBytes?: number;
  /**
   * Once the client has sent `match` (e.g. 'QUIT\r\n', 'UID EXPUNGE'), forward it and
   * `extraBytes` more (default 0) — or, with throughLineEnd, the rest of that line up to and
   * including its CRLF — then cut both sides: a fault at a chosen protocol step.
   */
  cutAfterClientMatch?: { match: string; extraBytes?: number; throughLineEnd?: boolean };
  /** How to cut: FIN on both sides ('close', default) or TCP RST ('reset'). */
  cutMode?: CutMode;
  /** Hold each chunk from the server this long before forwarding it (ms). */
  delayMs?: number;
  /** Split the server's bytes into pieces of 1..fragmentBytes bytes, each written on its own turn of the event loop. */
  fragmentBytes?: number;
}

export interface FaultProxyStats {
  connections: number;
  cuts: number;
  /** bytes forwarded server → client, all connections */
  serverBytes: number;
  /** bytes forwarded client → server, all connections */
  clientBytes: number;
}

export interface FaultProxy {
  host: '127.0.0.1';
  port: number;
  readonly stats: FaultProxyStats;
  /** The plan for connections opened from now on; a function gets the connection's number (0-based). */
  setPlan(plan: FaultPlan | ((connection: number) => FaultPlan)): void;
  /** Cut every open connection now. */
  cutAll(mode?: CutMode): void;
  close(): Promise<void>;
}

/** After a FIN cut, how long each side may take to close before it is destroyed. */
const CLOSE_GRACE_MS = 1_000;
const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startFaultProxy(target: { host: string; port: number }, initial: FaultPlan = {}): Promise<FaultProxy> {
  let planFor: (n: number) => FaultPlan = () => initial;
  const stats: FaultProxyStats = { connections: 0, cuts: 0, serverBytes: 0, clientBytes: 0 };
  const open = new Set<{ cut(mode: CutMode): void }>();

  const server = createServer((client) => {
    const n = stats.connections++;
    const plan = planFor(n);
    const mode = plan.cutMode ?? 'close';
    const upstream = connect({ host: target.host, port: target.port });
    let fromServer = 0;
    let fromClient = 0;
    let cut = false;
    const conn = {
      cut(how: CutMode) {
        if (cut) return;
        cut = true;
        stats.cuts++;
        open.delete(conn);
        if (how === 'reset') {
          for (const s of [client, upstream]) {
            if (s.readyState !== 'opening') s.resetAndDestroy();
            else s.destroy();
          }
          return;
        }
        // FIN both ways, after what was already written (a destroy() could drop a last
        // command still in our write buffer); whoever does not close in time is destroyed
        client.end();
        upstream.end();
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, CLOSE_GRACE_MS).unref();
      },
    };
    open.add(conn);
    // server → client goes through this queue (delays, fragments): a server that closes has
    // its last bytes delivered first
    let queue: Promise<void> = Promise.resolve();
    const end = () => {
      open.delete(conn);
      client.destroy();
      // after a FIN cut the server side is ending by itself: its last command must get through
      if (!cut) upstream.destroy();
    };
    client.on('error', end);
    client.on('close', end);
    upstream.on('error', () => void queue.then(end));
    upstream.on('close', () => void queue.then(end));

    // client → server: forwarded as is, up to cutAfterClientBytes or past cutAfterClientMatch
    const needle = plan.cutAfterClientMatch ? Buffer.from(plan.cutAfterClientMatch.match, 'latin1') : undefined;
    let seen = Buffer.alloc(0); // the client's last bytes, to find a match split across chunks
    let matchLimit: number | undefined;
    let lineFrom: number | undefined;
    client.on('data', (chunk: Buffer) => {
      if (cut) return;
      if (needle && matchLimit === undefined) {
        const window = Buffer.concat([seen, chunk]);
        const at = window.indexOf(needle);
        if (at >= 0) {
          const matchEnd = fromClient - seen.length + at + needle.length; // stream offset just past the match
          if (plan.cutAfterClientMatch!.throughLineEnd) lineFrom = matchEnd;
          else matchLimit = matchEnd + (plan.cutAfterClientMatch!.extraBytes ?? 0);
        } else seen = window.subarray(Math.max(0, window.length - needle.length + 1));
      }
      if (lineFrom !== undefined && matchLimit === undefined) {
        // the CRLF that ends the matched line, in this chunk (maybe after a CR at the end of the last one)
        const from = Math.max(0, lineFrom - fromClient);
        const lf = chunk.indexOf(0x0a, from);
        if (lf >= 0) matchLimit = fromClient + lf + 1;
      }
      const limit = Math.min(plan.cutAfterClientBytes ?? Infinity, matchLimit ?? Infinity);
      if (fromClient + chunk.length >= limit) {
        const head = chunk.subarray(0, Math.max(0, limit - fromClient));
        fromClient += head.length;
        stats.clientBytes += head.length;
        if (head.length) upstream.write(head);
        conn.cut(mode);
        return;
      }
      fromClient += chunk.length;
      stats.clientBytes += chunk.length;
      upstream.write(chunk);
    });

    // server → client: in order, through a queue so that delays and fragments keep the order
    const send = async (piece: Buffer) => {
      if (cut) return;
      if (!client.write(piece)) await new Promise<void>((r) => client.once('drain', r).once('close', r));
    };
    upstream.on('data', (chunk: Buffer) => {
      if (cut) return;
      const limit = plan.cutAfterServerBytes;
      let data = chunk;
      let cutAfter = false;
      if (limit !== undefined && fromServer + chunk.length >= limit) {
        data = chunk.subarray(0, limit - fromServer);
        cutAfter = true;
      }
      fromServer += data.length;
      upstream.pause(); // one chunk in flight: the client's pace is the server's
      queue = queue.then(async () => {
        if (plan.delayMs) await sleep(plan.delayMs);
        if (plan.fragmentBytes) {
          for (let i = 0; i < data.length && !cut; ) {
            const size = 1 + Math.floor(Math.random() * plan.fragmentBytes);
            await send(data.subarray(i, i + size));
            stats.serverBytes += Math.min(size, data.length - i);
            i += size;
            await tick();
          }
        } else {
          await send(data);
          stats.serverBytes += data.length;
        }
        if (cutAfter) {
          // let the delivered bytes leave before the cut, as a real half-received stream would
          await tick();
          conn.cut(mode);
        } else if (!cut) upstream.resume();
      });
    });
    upstream.on('end', () => {
      void queue.then(() => client.end());
    });
    client.on('end', () => upstream.end());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    stats,
    setPlan(plan) {
      planFor = typeof plan === 'function' ? plan : () => plan;
    },
    cutAll(mode = 'close') {
      for (const c of [...open]) c.cut(mode);
    },
    async close() {
      for (const c of [...open]) c.cut('close');
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
