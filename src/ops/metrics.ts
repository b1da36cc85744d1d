// Prometheus metrics (text exposition format 0.0.4, written here: a few dozen lines
// do not need a client library). Counts that several workers share — mails received,
// sent and failed, the delivery queue, leases, stalled accounts — are read from the
// database at scrape time, so any `yubin serve` front end reports the whole cluster.
// So are the receive run durations (a histogram every worker adds its runs to).
import { sql } from 'kysely';
import type { AppContext } from '../services/context.ts';
import { readReceiveRunHistograms, RUN_DURATION_BUCKETS } from '../store/receive-run-stats.ts';

type Labels = Record<string, string>;

function histogramLines(name: string, histograms: Awaited<ReturnType<typeof readReceiveRunHistograms>>): string[] {
  const out: string[] = [];
  for (const h of histograms) {
    const labels = { outcome: h.outcome };
    RUN_DURATION_BUCKETS.forEach((b, i) => out.push(sample(`${name}_bucket`, { ...labels, le: String(b) }, h.cumulative[i]!)));
    out.push(sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count));
    out.push(sample(`${name}_sum`, labels, h.sum));
    out.push(sample(`${name}_count`, labels, h.count));
  }
  return out;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sample(name: string, labels: Labels, value: number): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',');
  return `${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`;
}

function family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, lines: string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines];
}

const HELP: Record<string, string> = {
  yubin_mails_received_total: 'Mails received and stored, by account and mail server (from the database).',
  yubin_mails_sent_total: 'Recipients sent, by sending account and mail server (from the database).',
  yubin_mails_failed_total: 'Recipients that failed for good, by sending account and mail server (from the database).',
  yubin_account_stalled: '1 when the account is stalled (README "Stalled accounts").',
  yubin_account_consecutive_failures: 'Failed receive runs in a row, by account.',
  yubin_account_last_success_timestamp_seconds: 'When the account was last received successfully (Unix time; 0 = never).',
};

/** The whole exposition, read from the database now. */
export async function renderMetrics(ctx: AppContext, now = new Date()): Promise<string> {
  const k = ctx.db.kysely;
  const nowIso = now.toISOString();
  const accounts = await k
    .selectFrom('mail_accounts')
    .innerJoin('mail_servers', 'mail_servers.id', 'mail_accounts.server_id')
    .select(['mail_accounts.id', 'mail_accounts.address', 'mail_servers.name as server', 'mail_accounts.last_success_at', 'mail_accounts.consecutive_failures'])
    .orderBy('mail_accounts.address_key')
    .execute();
  const received = new Map(
    (await k.selectFrom('messages').select(['account_id', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('account_id').execute()).map((r) => [r.account_id, Number(r.n)]),
  );
  const recipients = await k
    .selectFrom('delivery_recipients')
    .select(['account_id', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['account_id', 'status'])
    .execute();
  const byStatus = (status: string) => new Map(recipients.filter((r) => r.status === status).map((r) => [r.account_id, Number(r.n)]));
  const sent = byStatus('sent');
  const failed = byStatus('failed');
  const queue = new Map<string, number>();
  for (const r of recipients) if (['queued', 'deferred', 'sending'].includes(r.status)) queue.set(r.status, (queue.get(r.status) ?? 0) + Number(r.n));
  const stalled = new Set((await k.selectFrom('account_stalls').select('account_id').execute()).map((r) => r.account_id));
  const leases = new Map<string, number>([['receive', 0]]);
  for (const l of await k.selectFrom('leases').select('name').where('expires_at', '>', nowIso).execute()) {
    const kind = l.name.split(':')[0] ?? l.name;
    leases.set(kind, (leases.get(kind) ?? 0) + 1);
  }
  const deliveryLeases = await k
    .selectFrom('delivery_recipients')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    // a literal, so that both engines read the partial index of 'sending' recipients only
    .where(sql<boolean>`status = 'sending'`)
    .where('lease_expires_at', '>', nowIso)
    .executeTakeFirstOrThrow();
  leases.set('delivery', Number(deliveryLeases.n));

  const perAccount = (name: string, value: (a: (typeof accounts)[number]) => number) =>
    family(name, name.endsWith('_total') ? 'counter' : 'gauge', HELP[name]!, accounts.map((a) => sample(name, { account: a.address, server: a.server }, value(a))));
  const out = [
    ...perAccount('yubin_mails_received_total', (a) => received.get(a.id) ?? 0),
    ...perAccount('yubin_mails_sent_total', (a) => sent.get(a.id) ?? 0),
    ...perAccount('yubin_mails_failed_total', (a) => failed.get(a.id) ?? 0),
    ...family(
      'yubin_delivery_queue',
      'gauge',
      'Recipients waiting to be sent, by status (queued, deferred, sending).',
      ['queued', 'deferred', 'sending'].map((s) => sample('yubin_delivery_queue', { status: s }, queue.get(s) ?? 0)),
    ),
    ...family(
      'yubin_leases',
      'gauge',
      'Unexpired leases held by workers, by kind (receive: accounts being received; delivery: recipients being sent).',
      [...leases].sort().map(([kind, n]) => sample('yubin_leases', { kind }, n)),
    ),
    ...perAccount('yubin_account_stalled', (a) => (stalled.has(a.id) ? 1 : 0)),
    ...family('yubin_accounts_stalled', 'gauge', 'Stalled accounts.', [sample('yubin_accounts_stalled', {}, stalled.size)]),
    ...perAccount('yubin_account_consecutive_failures', (a) => Number(a.consecutive_failures)),
    ...perAccount('yubin_account_last_success_timestamp_seconds', (a) => (a.last_success_at ? Date.parse(a.last_success_at) / 1000 : 0)),
    ...family('yubin_receive_run_duration_seconds', 'histogram', 'Receive runs of every process, by outcome.', histogramLines('yubin_receive_run_duration_seconds', await readReceiveRunHistograms(ctx.db))),
  ];
  return out.join('\n') + '\n';
}
