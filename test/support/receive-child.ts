// One receive run in a child process, for crash tests (test/receive/crash.test.ts): the parent
// kills it with SIGKILL at a moment of its choosing and starts another. It opens the app
// context from the environment like the real CLI does (YUBIN_DATA_DIR, YUBIN_SECRET_KEY in
// base64, YUBIN_DATABASE_URL for PostgreSQL) and calls receiveAccount on one account.
//
//   node --import tsx test/support/receive-child.ts ACCOUNT_ID
//   env: YUBIN_RECEIVE_CA_FILE   extra trusted CA (PEM) for TLS servers
//        YUBIN_RECEIVE_MAX       maxMessages for the run
//        YUBIN_RECEIVE_WAIT=1    load everything, print {"event":"ready"}, then wait for one line
//                                on stdin: {"accountId":"…","env":{…}} (added to the environment
//                                above) starts the run. Loading the modules takes seconds; a
//                                parent keeps a warm child so that crash points do not wait.
//
// stdout carries one JSON object per line, flushed at once (pipes are synchronous on Linux):
//   {"event":"progress","phase":"receiving","total":1000,"done":12,"bytes":24000}
//   {"event":"done","summary":{...}}                      then exit 0
//   {"event":"failed","code":"CONNECTION_CLOSED","message":"..."}   then exit 3
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/env.ts';
import { isMailError } from '../../src/protocols/mail-error.ts';
import { receiveAccount } from '../../src/receive/receive-run.ts';
import { openContext } from '../../src/services/context.ts';

/** A run that failed cleanly (a MailError or other error caught by receiveAccount's caller). */
const EXIT_RUN_FAILED = 3;

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

interface GoLine {
  accountId?: string;
  env?: Record<string, string>;
}

function readGoLine(): Promise<GoLine> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      process.stdin.off('data', onData);
      process.stdin.pause();
      try {
        resolve(JSON.parse(buf.slice(0, nl) || '{}') as GoLine);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', () => reject(new Error('stdin closed before the go line')));
  });
}

async function main(): Promise<number> {
  let accountId = process.argv[2];
  if (process.env.YUBIN_RECEIVE_WAIT === '1') {
    emit({ event: 'ready' });
    const go = await readGoLine();
    Object.assign(process.env, go.env ?? {});
    accountId = go.accountId ?? accountId;
  }
  if (!accountId) throw new Error('usage: receive-child.ts ACCOUNT_ID');
  const caFile = process.env.YUBIN_RECEIVE_CA_FILE;
  const max = process.env.YUBIN_RECEIVE_MAX;
  const ctx = await openContext(loadConfig(), { log: pino({ level: 'silent' }) });
  try {
    const summary = await receiveAccount(ctx, ctx.repos.messages, accountId, {
      ...(caFile ? { ca: readFileSync(caFile) } : {}),
      ...(max ? { maxMessages: Number(max) } : {}),
      onProgress: (p) => emit({ event: 'progress', ...p }),
    });
    emit({ event: 'done', summary });
    return 0;
  } catch (err) {
    emit({ event: 'failed', code: isMailError(err) ? err.code : 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
    return EXIT_RUN_FAILED;
  } finally {
    await ctx.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
