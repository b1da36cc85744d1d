// A tiny scripted IMAP4 server for what Dovecot cannot be made to do (no UIDPLUS, a refused
// EXPUNGE): just enough of RFC 3501 for imapflow and the receive run (LOGIN, SELECT, FETCH
// UID/RFC822.SIZE, UID FETCH BODY.PEEK[], UID STORE, EXPUNGE).
import net from 'node:net';

export interface ImapMail {
  uid: number;
  bytes: Buffer;
  flags: Set<string>;
}

export interface FakeImapOptions {
  mails: ImapMail[];
  uidplus: boolean;
  /** answer these commands (upper-case verb, "UID EXPUNGE", "UID STORE") with NO */
  refuse?: Set<string>;
}

export async function startFakeImap(opts: FakeImapOptions) {
  const log: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const caps = `IMAP4rev1${opts.uidplus ? ' UIDPLUS' : ''}`;
    socket.write(`* OK [CAPABILITY ${caps}] fake ready\r\n`);
    let rx = '';
    const seqOf = (uid: number) => opts.mails.findIndex((m) => m.uid === uid) + 1;
    const uidsIn = (set: string): number[] => {
      const out: number[] = [];
      for (const part of set.split(',')) {
        const [a, b] = part.split(':');
        const lo = Number(a);
        const hi = b === undefined ? lo : b === '*' ? Infinity : Number(b);
        for (const m of opts.mails) if (m.uid >= Math.min(lo, hi) && m.uid <= Math.max(lo, hi)) out.push(m.uid);
      }
      return out;
    };
    socket.on('data', (chunk) => {
      rx += chunk.toString('latin1');
      let nl: number;
      while ((nl = rx.indexOf('\r\n')) !== -1) {
        const line = rx.slice(0, nl);
        rx = rx.slice(nl + 2);
        log.push(line);
        const m = /^(\S+) (UID )?(\S+)(?: (.*))?$/i.exec(line);
        if (!m) continue;
        const [, tag, uidPrefix, verbRaw, args = ''] = m;
        const verb = (uidPrefix ? 'UID ' : '') + verbRaw!.toUpperCase();
        const w = (s: string | Buffer) => socket.write(s);
        if (opts.refuse?.has(verb)) {
          w(`${tag} NO [CANNOT] ${verb} refused by the fake\r\n`);
          continue;
        }
        switch (verb) {
          case 'CAPABILITY':
            w(`* CAPABILITY ${caps}\r\n${tag} OK done\r\n`);
            break;
          case 'LOGIN':
          case 'AUTHENTICATE':
            w(`${tag} OK [CAPABILITY ${caps}] logged in\r\n`);
            break;
          case 'SELECT':
          case 'EXAMINE':
            w(`* FLAGS (\\Deleted \\Seen)\r\n* ${opts.mails.length} EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT ${Math.max(0, ...opts.mails.map((x) => x.uid)) + 1}] n\r\n${tag} OK [READ-WRITE] selected\r\n`);
            break;
          case 'FETCH': // FETCH 1:* (UID RFC822.SIZE)
            for (const [i, mail] of opts.mails.entries()) w(`* ${i + 1} FETCH (UID ${mail.uid} RFC822.SIZE ${mail.bytes.length})\r\n`);
            w(`${tag} OK fetched\r\n`);
            break;
          case 'UID FETCH': {
            const [set = ''] = args.split(' ');
            for (const uid of uidsIn(set)) {
              const mail = opts.mails.find((x) => x.uid === uid)!;
              if (/BODY\.PEEK\[HEADER\]/i.test(args)) {
                const h = mail.bytes.subarray(0, mail.bytes.indexOf('\r\n\r\n') + 4);
                w(Buffer.concat([Buffer.from(`* ${seqOf(uid)} FETCH (UID ${uid} BODY[HEADER] {${h.length}}\r\n`), h, Buffer.from(')\r\n')]));
              } else {
                w(Buffer.concat([Buffer.from(`* ${seqOf(uid)} FETCH (UID ${uid} BODY[] {${mail.bytes.length}}\r\n`), mail.bytes, Buffer.from(')\r\n')]));
              }
            }
            w(`${tag} OK fetched\r\n`);
            break;
          }
          case 'UID STORE': {
            const [set = ''] = args.split(' ');
            for (const uid of uidsIn(set)) opts.mails.find((x) => x.uid === uid)!.flags.add('\\Deleted');
            w(`${tag} OK stored\r\n`);
            break;
          }
          case 'UID EXPUNGE':
          case 'EXPUNGE': {
            const only = verb === 'UID EXPUNGE' ? new Set(uidsIn(args.trim())) : undefined;
            for (let i = opts.mails.length - 1; i >= 0; i--) {
              const mail = opts.mails[i]!;
              if (mail.flags.has('\\Deleted') && (!only || only.has(mail.uid))) {
                opts.mails.splice(i, 1);
                w(`* ${i + 1} EXPUNGE\r\n`);
              }
            }
            w(`${tag} OK expunged\r\n`);
            break;
          }
          case 'LOGOUT':
            w(`* BYE bye\r\n${tag} OK logged out\r\n`);
            socket.end();
            break;
          case 'LIST':
            w(args.endsWith('""') ? `* LIST (\\Noselect) "/" ""\r\n${tag} OK listed\r\n` : `* LIST (\\HasNoChildren) "/" INBOX\r\n${tag} OK listed\r\n`);
            break;
          case 'UID SEARCH': // UID SEARCH DELETED
            w(`* SEARCH ${opts.mails.filter((x) => x.flags.has('\\Deleted')).map((x) => x.uid).join(' ')}\r\n${tag} OK searched\r\n`);
            break;
          case 'NOOP':
          case 'CHECK':
            w(`${tag} OK done\r\n`);
            break;
          default:
            w(`${tag} BAD unknown command\r\n`);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    log,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
