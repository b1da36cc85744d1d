// Mail servers (メールサーバー, PRODUCT.md §2): the TypeBox schemas that drive API
// validation, TypeScript types, OpenAPI and the CLI, and the rules a schema
// cannot say (host syntax, APOP only with POP3, what a preset may change).
import Type, { type Static } from 'typebox';
import type { FieldIssue } from './errors.ts';
import { normalizeHost } from './host.ts';
import { CONTROL_CHARS } from './validation.ts';
import { PRESETS, type PresetKey } from './presets.ts';

/** Size limits are bytes up to 2 GiB − 1 (stored as a 32-bit integer on both engines). */
export const MAX_SIZE_LIMIT = 2_147_483_647;
export const MAX_PER_MINUTE_LIMIT = 1_000_000;
export const MAX_NAME_LENGTH = 100;

export const Protocol = Type.Union([Type.Literal('pop3'), Type.Literal('imap4')]);
export const Encryption = Type.Union([Type.Literal('none'), Type.Literal('starttls'), Type.Literal('tls')]);
export const SmtpMechanism = Type.Union([Type.Literal('PLAIN'), Type.Literal('LOGIN'), Type.Literal('CRAM-MD5'), Type.Literal('XOAUTH2')]);
export type Protocol = Static<typeof Protocol>;
export type Encryption = Static<typeof Encryption>;
export type SmtpMechanism = Static<typeof SmtpMechanism>;

const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Host = Type.String({ maxLength: 1000, description: 'domain name or IP address, e.g. pop.example.com' });
const SizeLimit = Type.Union([Type.Integer({ minimum: 1, maximum: MAX_SIZE_LIMIT }), Type.Null()], {
  'x-error': 'validation.positiveOrNull',
  description: 'bytes, or null for no limit',
});
const PerMinute = Type.Union([Type.Integer({ minimum: 1, maximum: MAX_PER_MINUTE_LIMIT }), Type.Null()], {
  'x-error': 'validation.positiveOrNull',
  description: 'mails per minute for bulk delivery, or null for no limit',
});

const incomingFields = {
  protocol: Protocol,
  host: Host,
  port: Port,
  encryption: Encryption,
  apop: Type.Boolean(),
  maxMessageBytes: SizeLimit,
  allowInvalidCertificate: Type.Boolean(),
};
const Mechanism = Type.Union([SmtpMechanism, Type.Null()], { description: 'null = no SMTP authentication; XOAUTH2 only on the Gmail and Exchange Online presets' });
const SmtpAuth = Type.Object(
  {
    // PLAIN when left out (PRODUCT.md §2), here as when `auth` itself is
    mechanism: Type.Optional(Mechanism),
    useAccountCredentials: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const outgoingFields = {
  host: Host,
  port: Port,
  encryption: Encryption,
  auth: SmtpAuth,
  maxMessageBytes: SizeLimit,
  perMinuteLimit: PerMinute,
  allowInvalidCertificate: Type.Boolean(),
};

export const IncomingInput = Type.Object(
  {
    protocol: incomingFields.protocol,
    host: incomingFields.host,
    port: Type.Optional(Port),
    encryption: Type.Optional(Encryption),
    apop: Type.Optional(Type.Boolean()),
    maxMessageBytes: Type.Optional(SizeLimit),
    allowInvalidCertificate: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const OutgoingInput = Type.Object(
  {
    host: outgoingFields.host,
    port: Type.Optional(Port),
    encryption: Type.Optional(Encryption),
    auth: Type.Optional(SmtpAuth),
    maxMessageBytes: Type.Optional(SizeLimit),
    perMinuteLimit: Type.Optional(PerMinute),
    allowInvalidCertificate: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const MailServerInput = Type.Object(
  { name: Type.String({ maxLength: 10_000 }), incoming: IncomingInput, outgoing: OutgoingInput },
  { additionalProperties: false, $id: 'MailServerInput' },
);
export type MailServerInput = Static<typeof MailServerInput>;

export const MailServerPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 10_000 })),
    // Type.Partial drops the object's own options: additionalProperties is given again, or a
    // typo such as `incoming.encrypton` was taken with a 200 and an audit entry, changing nothing
    incoming: Type.Optional(Type.Partial(Type.Object(incomingFields), { additionalProperties: false })),
    outgoing: Type.Optional(
      Type.Partial(
        Type.Object({ ...outgoingFields, auth: Type.Partial(SmtpAuth, { additionalProperties: false }) }),
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: 'MailServerPatch' },
);
export type MailServerPatch = Static<typeof MailServerPatch>;

export const MailServer = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    preset: Type.Union([Type.Literal('gmail'), Type.Literal('exchange_online'), Type.Null()]),
    position: Type.Integer(),
    incoming: Type.Object(incomingFields),
    outgoing: Type.Object({ ...outgoingFields, auth: Type.Object({ mechanism: Mechanism, useAccountCredentials: Type.Boolean() }) }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'MailServer' },
);
export type MailServer = Static<typeof MailServer>;
export type IncomingSettings = MailServer['incoming'];
export type OutgoingSettings = MailServer['outgoing'];

/** The UI's default ports (seed: POP3 110/995, IMAP4 143/993, SMTP 587/465). */
export function defaultIncomingPort(protocol: Protocol, encryption: Encryption): number {
  if (protocol === 'pop3') return encryption === 'tls' ? 995 : 110;
  return encryption === 'tls' ? 993 : 143;
}
export function defaultOutgoingPort(encryption: Encryption): number {
  return encryption === 'tls' ? 465 : 587;
}

 
const CONTROL = CONTROL_CHARS;

/** Trimmed name or issues. */
export function checkName(raw: string, issues: FieldIssue[]): string {
  const name = raw.trim();
  if (CONTROL.test(raw)) issues.push({ path: 'name', key: 'validation.controlChars' });
  else if (name.length === 0) issues.push({ path: 'name', key: raw.length ? 'validation.blank' : 'validation.required' });
  else if ([...name].length > MAX_NAME_LENGTH) issues.push({ path: 'name', key: 'validation.maxLength', params: { limit: MAX_NAME_LENGTH } });
  return name;
}

export function nameKey(name: string): string {
  return name.trim().normalize('NFKC').toLowerCase();
}

function checkHost(path: string, raw: string, issues: FieldIssue[]): string {
  const host = normalizeHost(raw);
  if (host === null) issues.push({ path, key: raw.length === 0 ? 'validation.required' : 'validation.host' });
  return host ?? raw;
}

/** A complete server from a validated MailServerInput (defaults filled), or issues. */
export function buildServerSettings(input: MailServerInput, issues: FieldIssue[]): Pick<MailServer, 'name' | 'incoming' | 'outgoing'> {
  const name = checkName(input.name, issues);
  const inc = input.incoming;
  const out = input.outgoing;
  const incEnc = inc.encryption ?? 'none';
  const outEnc = out.encryption ?? 'none';
  const incoming: IncomingSettings = {
    protocol: inc.protocol,
    host: checkHost('incoming.host', inc.host, issues),
    port: inc.port ?? defaultIncomingPort(inc.protocol, incEnc),
    encryption: incEnc,
    apop: inc.apop ?? false,
    maxMessageBytes: inc.maxMessageBytes ?? null,
    allowInvalidCertificate: inc.allowInvalidCertificate ?? false,
  };
  const outgoing: OutgoingSettings = {
    host: checkHost('outgoing.host', out.host, issues),
    port: out.port ?? defaultOutgoingPort(outEnc),
    encryption: outEnc,
    auth: {
      mechanism: out.auth?.mechanism === undefined ? 'PLAIN' : out.auth.mechanism,
      useAccountCredentials: out.auth?.useAccountCredentials ?? true,
    },
    maxMessageBytes: out.maxMessageBytes ?? null,
    perMinuteLimit: out.perMinuteLimit ?? null,
    allowInvalidCertificate: out.allowInvalidCertificate ?? false,
  };
  checkCombination(incoming, issues);
  // only a preset's accounts get an OAuth 2.0 access token (src/oauth): on any other server
  // XOAUTH2 would be saved and every send would fail
  if (outgoing.auth.mechanism === 'XOAUTH2') issues.push({ path: 'outgoing.auth.mechanism', key: 'validation.xoauth2PresetOnly' });
  return { name, incoming, outgoing };
}

function checkCombination(incoming: IncomingSettings, issues: FieldIssue[]): void {
  if (incoming.apop && incoming.protocol !== 'pop3') issues.push({ path: 'incoming.apop', key: 'validation.apopImap' });
}

const PRESET_EDITABLE = new Set(['incoming.protocol', 'incoming.maxMessageBytes', 'outgoing.maxMessageBytes', 'outgoing.perMinuteLimit']);

/**
 * Apply a validated patch to a server. Presets accept only the protocol, the size
 * limits and the per-minute limit; any other field given with a different value
 * is an issue naming that field (the same value is accepted, so a form that
 * sends everything still works).
 */
export function applyServerPatch(current: MailServer, patch: MailServerPatch, issues: FieldIssue[]): Pick<MailServer, 'name' | 'incoming' | 'outgoing'> {
  const next = {
    name: current.name,
    incoming: { ...current.incoming },
    outgoing: { ...current.outgoing, auth: { ...current.outgoing.auth } },
  };
  const preset = current.preset;
  const changed = (path: string, before: unknown, after: unknown): boolean => {
    if (after === undefined || before === after) return false;
    if (preset && !PRESET_EDITABLE.has(path)) {
      issues.push({ path, key: 'validation.presetFixed', params: { name: current.name } });
      return false;
    }
    return true;
  };
  if (patch.name !== undefined) {
    if (preset) {
      if (patch.name.trim() !== current.name) issues.push({ path: 'name', key: 'validation.presetFixed', params: { name: current.name } });
    } else {
      next.name = checkName(patch.name, issues);
    }
  }
  const inc = patch.incoming ?? {};
  // A preset's incoming host and port follow its protocol: compare what the
  // client sent with the values for the protocol it asks for.
  const nextProtocol = preset && inc.protocol !== undefined ? inc.protocol : current.incoming.protocol;
  const presetIncoming = preset ? { ...current.incoming, ...PRESETS[preset as PresetKey].incoming[nextProtocol] } : current.incoming;
  for (const key of Object.keys(inc) as (keyof IncomingSettings)[]) {
    if (key === 'host' && inc.host !== undefined && !preset) {
      next.incoming.host = checkHost('incoming.host', inc.host, issues);
      continue;
    }
    const before = key === 'host' || key === 'port' ? presetIncoming[key] : current.incoming[key];
    if (changed(`incoming.${key}`, before, inc[key])) (next.incoming as Record<string, unknown>)[key] = inc[key];
  }
  const out = patch.outgoing ?? {};
  for (const key of Object.keys(out) as (keyof OutgoingSettings)[]) {
    if (key === 'auth') {
      const a = out.auth ?? {};
      if (changed('outgoing.auth.mechanism', current.outgoing.auth.mechanism, a.mechanism)) {
        if (a.mechanism === 'XOAUTH2') issues.push({ path: 'outgoing.auth.mechanism', key: 'validation.xoauth2PresetOnly' });
        else next.outgoing.auth.mechanism = a.mechanism!;
      }
      if (changed('outgoing.auth.useAccountCredentials', current.outgoing.auth.useAccountCredentials, a.useAccountCredentials)) {
        next.outgoing.auth.useAccountCredentials = a.useAccountCredentials!;
      }
      continue;
    }
    if (key === 'host' && out.host !== undefined && !preset) {
      next.outgoing.host = checkHost('outgoing.host', out.host, issues);
      continue;
    }
    if (changed(`outgoing.${key}`, current.outgoing[key], out[key])) (next.outgoing as Record<string, unknown>)[key] = out[key];
  }
  if (preset) {
    // A preset's incoming host and port follow its protocol.
    const p = PRESETS[preset as PresetKey].incoming[next.incoming.protocol];
    next.incoming.host = p.host;
    next.incoming.port = p.port;
  }
  checkCombination(next.incoming, issues);
  return next;
}
