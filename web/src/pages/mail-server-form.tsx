// 追加する / 変更する for a mail server (seed: メールサーバーを追加する, 受信・送信メール
// サーバーの設定項目). The port follows the protocol and encryption (110/995,
// 143/993, 587/465) until the administrator types one. The API validates: its
// field errors show next to their fields and the form keeps what was typed.
// For Gmail and Exchange Online only the fields the API lets change are enabled.
// A size limit the administrator left alone is sent as the bytes it was loaded with
// (./mail-server-form-size.ts); XOAUTH2 is offered only for the presets.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { useNavigate, useParams } from 'react-router';
import { PRESETS, type PresetKey } from '@yubin/domain/presets.ts';
import { api, ApiError } from '../api/client.ts';
import type { Encryption, MailServer, MailServerInput, MailServerPatch, Protocol, SmtpMechanism } from '../api/types.ts';
import { ErrorBanner, Form, Notice, Row, useFieldId } from '../components/form.tsx';
import { Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { mbText, sizeLimitBytes } from './mail-server-form-size.ts';

type Method = Exclude<Encryption, 'none'>;
const MECHANISMS: SmtpMechanism[] = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'];

/**
 * The SMTP mechanisms offered. XOAUTH2 needs an OAuth access token, which only the
 * presets (Gmail, Exchange Online) can get: other servers are offered it only when
 * it is already stored, so the form shows what is there instead of changing it.
 */
function mechanismsFor(preset: string | null, stored: SmtpMechanism | null): SmtpMechanism[] {
  if (preset !== null || stored === 'XOAUTH2') return MECHANISMS;
  return MECHANISMS.filter((m) => m !== 'XOAUTH2');
}

export interface SideForm {
  host: string;
  port: string;
  /** the administrator typed the port: protocol and encryption changes leave it alone */
  portTyped: boolean;
  encrypt: boolean;
  method: Method;
  /** the administrator picked the method: a port typed afterwards no longer changes it */
  methodChosen: boolean;
  sizeLimited: boolean;
  sizeMB: string;
  /** the stored limit in bytes (null: none or a new server); sent as it is while sizeMB still shows it */
  sizeBytes: number | null;
  allowInvalidCertificate: boolean;
}
export interface ServerForm {
  name: string;
  incoming: SideForm & { protocol: Protocol; apop: boolean };
  outgoing: SideForm & { authOn: boolean; mechanism: SmtpMechanism; useAccountCredentials: boolean; perMinuteLimited: boolean; perMinute: string };
}

export function incomingPort(protocol: Protocol, encryption: Encryption): number {
  if (protocol === 'pop3') return encryption === 'tls' ? 995 : 110;
  return encryption === 'tls' ? 993 : 143;
}
export function outgoingPort(encryption: Encryption): number {
  return encryption === 'tls' ? 465 : 587;
}
const IMPLICIT_TLS_PORTS = new Set([995, 993, 465]);

/** The method a port implies (995/993/465 → SSL/TLS, anything else → STARTTLS). */
function methodForPort(port: string): Method {
  return IMPLICIT_TLS_PORTS.has(Number(port.trim())) ? 'tls' : 'starttls';
}

/** The port to send: an empty field is the default for the protocol and encryption shown. */
function portToSend(raw: string, fallback: number): number | string {
  return raw.trim() === '' ? fallback : num(raw);
}

function encryptionOf(side: SideForm): Encryption {
  return side.encrypt ? side.method : 'none';
}

const EMPTY: ServerForm = {
  name: '',
  incoming: { protocol: 'pop3', host: '', port: '110', portTyped: false, encrypt: false, method: 'tls', methodChosen: false, apop: false, sizeLimited: false, sizeMB: '', sizeBytes: null, allowInvalidCertificate: false },
  outgoing: {
    host: '',
    port: '587',
    portTyped: false,
    encrypt: false,
    method: 'tls',
    methodChosen: false,
    authOn: true,
    mechanism: 'PLAIN',
    useAccountCredentials: true,
    sizeLimited: false,
    sizeMB: '',
    sizeBytes: null,
    perMinuteLimited: false,
    perMinute: '',
    allowInvalidCertificate: false,
  },
};

function fromServer(s: MailServer): ServerForm {
  const inc = s.incoming;
  const out = s.outgoing;
  return {
    name: s.name,
    incoming: {
      protocol: inc.protocol,
      host: inc.host,
      port: String(inc.port),
      portTyped: inc.port !== incomingPort(inc.protocol, inc.encryption),
      encrypt: inc.encryption !== 'none',
      method: inc.encryption === 'starttls' ? 'starttls' : 'tls',
      methodChosen: inc.encryption !== 'none' && inc.encryption !== methodForPort(String(inc.port)),
      apop: inc.apop,
      sizeLimited: inc.maxMessageBytes !== null,
      sizeMB: mbText(inc.maxMessageBytes),
      sizeBytes: inc.maxMessageBytes,
      allowInvalidCertificate: inc.allowInvalidCertificate,
    },
    outgoing: {
      host: out.host,
      port: String(out.port),
      portTyped: out.port !== outgoingPort(out.encryption),
      encrypt: out.encryption !== 'none',
      method: out.encryption === 'starttls' ? 'starttls' : 'tls',
      methodChosen: out.encryption !== 'none' && out.encryption !== methodForPort(String(out.port)),
      authOn: out.auth.mechanism !== null,
      mechanism: out.auth.mechanism ?? 'PLAIN',
      useAccountCredentials: out.auth.useAccountCredentials,
      sizeLimited: out.maxMessageBytes !== null,
      sizeMB: mbText(out.maxMessageBytes),
      sizeBytes: out.maxMessageBytes,
      perMinuteLimited: out.perMinuteLimit !== null,
      perMinute: out.perMinuteLimit === null ? '' : String(out.perMinuteLimit),
      allowInvalidCertificate: out.allowInvalidCertificate,
    },
  };
}

/** A whole number as a number; anything else as typed, for the API to name the mistake. */
function num(raw: string): number | string {
  const v = raw.trim();
  return /^-?\d+$/.test(v) ? Number(v) : raw;
}
function bytes(side: SideForm): number | string | null {
  return sizeLimitBytes(side.sizeLimited, side.sizeMB, side.sizeBytes);
}

/** The request body. Values that are not numbers go as typed: the API's field error names them. */
function toInput(f: ServerForm): MailServerInput {
  const i = f.incoming;
  const o = f.outgoing;
  const body = {
    name: f.name,
    incoming: {
      protocol: i.protocol,
      host: i.host,
      port: portToSend(i.port, incomingPort(i.protocol, encryptionOf(i))),
      encryption: encryptionOf(i),
      apop: i.protocol === 'pop3' && i.apop,
      maxMessageBytes: bytes(i),
      allowInvalidCertificate: i.allowInvalidCertificate,
    },
    outgoing: {
      host: o.host,
      port: portToSend(o.port, outgoingPort(encryptionOf(o))),
      encryption: encryptionOf(o),
      auth: { mechanism: o.authOn ? o.mechanism : null, useAccountCredentials: o.useAccountCredentials },
      maxMessageBytes: bytes(o),
      perMinuteLimit: o.perMinuteLimited ? num(o.perMinute) : null,
      allowInvalidCertificate: o.allowInvalidCertificate,
    },
  };
  return body as MailServerInput;
}

/** What a preset may change (the API refuses the rest). */
function toPresetPatch(f: ServerForm): MailServerPatch {
  return {
    incoming: { protocol: f.incoming.protocol, maxMessageBytes: bytes(f.incoming) },
    outgoing: { maxMessageBytes: bytes(f.outgoing), perMinuteLimit: f.outgoing.perMinuteLimited ? num(f.outgoing.perMinute) : null },
  } as MailServerPatch;
}

export function MailServerFormPage() {
  const { id } = useParams();
  const { t } = useI18n();
  const crumbs = useSettingsCrumbs();
  const navigate = useNavigate();
  const [server, setServer] = useState<MailServer | undefined>();
  const [form, setForm] = useState<ServerForm | undefined>(id ? undefined : EMPTY);
  const [loadError, setLoadError] = useState<ApiError | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!id) return;
    api<MailServer>('GET', `/api/v1/mail-servers/${encodeURIComponent(id)}`).then(
      (s) => {
        setServer(s);
        setForm(fromServer(s));
      },
      (e: unknown) => setLoadError(e instanceof ApiError ? e : undefined),
    );
  }, [id]);

  const title = id ? t('serverForm.changeTitle') : t('serverForm.addTitle');
  const pageCrumbs = [...crumbs, { label: t('settings.mailServers'), to: SERVERS }, { label: id ? t('common.change') : t('common.add') }];

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!form) return;
    setBusy(true);
    try {
      if (!id) await api<MailServer>('POST', '/api/v1/mail-servers', toInput(form));
      else await api<MailServer>('PATCH', `/api/v1/mail-servers/${encodeURIComponent(id)}`, server?.preset ? toPresetPatch(form) : toInput(form));
      navigate(SERVERS);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'ERROR', String(err)));
      setBusy(false);
      window.scrollTo({ top: 0 });
    }
  }

  return (
    <Page crumbs={pageCrumbs} title={title}>
      <ErrorBanner error={loadError} />
      {form ? (
        <ServerFormView
          form={form}
          setForm={setForm}
          preset={(server?.preset as PresetKey | null | undefined) ?? null}
          storedMechanism={server?.outgoing.auth.mechanism ?? null}
          error={error}
          busy={busy}
          submitLabel={id ? t('common.change') : t('common.add')}
          onSubmit={submit}
          onCancel={() => navigate(SERVERS)}
        />
      ) : loadError ? null : (
        <p>{t('common.loading')}</p>
      )}
    </Page>
  );
}

/** Every field path this form shows an error next to. */
export const SHOWN_PATHS = [
  'name',
  'incoming.protocol',
  'incoming.host',
  'incoming.port',
  'incoming.encryption',
  'incoming.apop',
  'incoming.maxMessageBytes',
  'incoming.allowInvalidCertificate',
  'outgoing.host',
  'outgoing.port',
  'outgoing.encryption',
  'outgoing.auth',
  'outgoing.auth.mechanism',
  'outgoing.auth.useAccountCredentials',
  'outgoing.maxMessageBytes',
  'outgoing.perMinuteLimit',
  'outgoing.allowInvalidCertificate',
];

interface ViewProps {
  form: ServerForm;
  setForm: (f: ServerForm) => void;
  preset: PresetKey | null;
  /** the SMTP mechanism stored for the server being changed (null: none, or a new server) */
  storedMechanism: SmtpMechanism | null;
  error: ApiError | undefined;
  busy: boolean;
  submitLabel: string;
  onSubmit: (e: FormEvent) => void;
  onCancel: () => void;
}

function ServerFormView({ form, setForm, preset, storedMechanism, error, busy, submitLabel, onSubmit, onCancel }: ViewProps) {
  const { t, field } = useI18n();
  const ids = {
    name: useFieldId('name'),
    inHost: useFieldId('incoming-host'),
    inPort: useFieldId('incoming-port'),
    inMethod: useFieldId('incoming-method'),
    inSize: useFieldId('incoming-size'),
    outHost: useFieldId('outgoing-host'),
    outPort: useFieldId('outgoing-port'),
    outMethod: useFieldId('outgoing-method'),
    outMech: useFieldId('outgoing-mechanism'),
    outSize: useFieldId('outgoing-size'),
    perMinute: useFieldId('per-minute'),
  };
  const fixed = preset !== null;
  const inc = form.incoming;
  const out = form.outgoing;
  const err = (path: string) => error?.field(path);
  const invalid = (path: string) => (err(path) ? { 'aria-invalid': true as const } : {});

  // A preset's incoming host and port follow its protocol (fixed by the API).
  const presetIncoming = preset ? PRESETS[preset].incoming[inc.protocol] : null;

  const setInc = (patch: Partial<ServerForm['incoming']>) => {
    const next = { ...inc, ...patch };
    // a typed port that is the old protocol's usual one becomes the new protocol's (110 ↔ 143, 995 ↔ 993)
    if (patch.protocol && patch.protocol !== inc.protocol && inc.portTyped) {
      const port = Number(inc.port.trim());
      if (port === incomingPort(inc.protocol, 'none')) next.port = String(incomingPort(patch.protocol, 'none'));
      else if (port === incomingPort(inc.protocol, 'tls')) next.port = String(incomingPort(patch.protocol, 'tls'));
    }
    if (!next.portTyped) next.port = String(incomingPort(next.protocol, encryptionOf(next)));
    if (next.protocol !== 'pop3') next.apop = false;
    setForm({ ...form, incoming: next });
  };
  const setOut = (patch: Partial<ServerForm['outgoing']>) => {
    const next = { ...out, ...patch };
    if (!next.portTyped) next.port = String(outgoingPort(encryptionOf(next)));
    setForm({ ...form, outgoing: next });
  };
  /** Ticking 通信を暗号化する: the method follows a typed port (995/993/465 → SSL/TLS, else STARTTLS); otherwise SSL/TLS. */
  const tickEncrypt = (side: SideForm, on: boolean): Partial<SideForm> => {
    if (!on) return { encrypt: false, methodChosen: false };
    if (side.portTyped && side.port.trim() !== '') return { encrypt: true, method: methodForPort(side.port), methodChosen: false };
    return { encrypt: true, method: 'tls', portTyped: false, methodChosen: false };
  };
  /**
   * A typed port. While it is being typed an empty field stays empty (it is not refilled
   * on every keystroke); with encryption on and no method picked, the method follows it.
   */
  const typedPort = (side: SideForm, raw: string): Partial<SideForm> => ({
    port: raw,
    portTyped: true,
    ...(side.encrypt && !side.methodChosen && raw.trim() !== '' ? { method: methodForPort(raw) } : {}),
  });
  /** Leaving the port empty gives back the usual port. */
  const portLeft = (side: SideForm): Partial<SideForm> | null => (side.port.trim() === '' ? { portTyped: false } : null);

  return (
    <Form error={error} onSubmit={onSubmit} noValidate className="server-form">
      <ErrorBanner error={error} shownPaths={SHOWN_PATHS} otherLabel={t('serverForm.otherErrors')} />
      {fixed ? <Notice>{t('serverForm.presetNote')}</Notice> : null}

      <Row path="name" label={t('serverForm.name')} htmlFor={ids.name} error={err('name')} required>
        <input id={ids.name} aria-label={field('name')} value={form.name} disabled={fixed} maxLength={1000} onChange={(e) => setForm({ ...form, name: e.target.value })} {...invalid('name')} />
      </Row>

      <fieldset className="form-section">
        <legend>{field('incoming')}</legend>
        <p className="section-lead">{t('serverForm.sectionLead')}</p>
        <Row path="incoming.protocol" label={t('serverForm.protocol')} error={err('incoming.protocol')} help={t('serverForm.help.protocol')}>
          <div role="radiogroup" aria-label={field('incoming.protocol')} className="inline-choices">
            {(['pop3', 'imap4'] as const).map((p) => (
              <label key={p}>
                <input type="radio" name="incoming-protocol" value={p} checked={inc.protocol === p} onChange={() => setInc({ protocol: p })} />
                {p === 'pop3' ? 'POP3' : 'IMAP4'}
              </label>
            ))}
          </div>
          {inc.protocol === 'imap4' ? (
            <p className="warning-text" data-testid="imap-inbox-only">
              {t('serverForm.imapInboxOnly')}
            </p>
          ) : null}
        </Row>
        <Row path="incoming.host" label={t('serverForm.host')} htmlFor={ids.inHost} error={err('incoming.host')} required help={<Help example={t('serverForm.example.incoming')} text={t('serverForm.help.incomingHost')} />}>
          <input
            id={ids.inHost}
            aria-label={field('incoming.host')}
            value={presetIncoming ? presetIncoming.host : inc.host}
            disabled={fixed}
            placeholder={t('serverForm.example.incoming')}
            onChange={(e) => setInc({ host: e.target.value })}
            {...invalid('incoming.host')}
          />
        </Row>
        <Row path="incoming.port" label={t('serverForm.port')} htmlFor={ids.inPort} error={err('incoming.port')} help={t('serverForm.help.incomingPort')}>
          <input
            id={ids.inPort}
            aria-label={field('incoming.port')}
            className="port"
            inputMode="numeric"
            value={presetIncoming ? String(presetIncoming.port) : inc.port}
            disabled={fixed}
            onChange={(e) => setInc(typedPort(inc, e.target.value))}
            onBlur={() => {
              const patch = portLeft(inc);
              if (patch) setInc(patch);
            }}
            {...invalid('incoming.port')}
          />
        </Row>
        <Row path="incoming.encryption" label={t('serverForm.encrypt')} error={err('incoming.encryption')} help={t('serverForm.help.encrypt')}>
          <EncryptionControl side={inc} fixed={fixed} label={field('incoming.encryption')} methodId={ids.inMethod} onTick={(on) => setInc(tickEncrypt(inc, on))} onMethod={(m) => setInc({ method: m, methodChosen: true })} />
        </Row>
        {inc.protocol === 'pop3' ? (
          <Row path="incoming.apop" label={field('incoming.apop')} error={err('incoming.apop')} help={t('serverForm.help.apop')}>
            <label className="check">
              <input type="checkbox" checked={inc.apop} disabled={fixed} onChange={(e) => setInc({ apop: e.target.checked })} />
              {field('incoming.apop')}
            </label>
          </Row>
        ) : null}
        <Row path="incoming.maxMessageBytes" label={t('serverForm.sizeLimit')} error={err('incoming.maxMessageBytes')} help={t('serverForm.help.incomingSize')}>
          <SizeLimit
            id={ids.inSize}
            label={field('incoming.maxMessageBytes')}
            limited={inc.sizeLimited}
            value={inc.sizeMB}
            onChange={(sizeLimited, sizeMB) => setInc({ sizeLimited, sizeMB })}
            invalid={!!err('incoming.maxMessageBytes')}
          />
        </Row>
        <Row path="incoming.allowInvalidCertificate" label={t('serverForm.invalidCert')} error={err('incoming.allowInvalidCertificate')}>
          <CertificateControl label={field('incoming.allowInvalidCertificate')} checked={inc.allowInvalidCertificate} disabled={fixed} onChange={(v) => setInc({ allowInvalidCertificate: v })} />
        </Row>
      </fieldset>

      <fieldset className="form-section">
        <legend>{field('outgoing')}</legend>
        <p className="section-lead">{t('serverForm.sectionLead')}</p>
        <Row path="outgoing.host" label={t('serverForm.host')} htmlFor={ids.outHost} error={err('outgoing.host')} required help={<Help example={t('serverForm.example.outgoing')} text={t('serverForm.help.outgoingHost')} />}>
          <input
            id={ids.outHost}
            aria-label={field('outgoing.host')}
            value={out.host}
            disabled={fixed}
            placeholder={t('serverForm.example.outgoing')}
            onChange={(e) => setOut({ host: e.target.value })}
            {...invalid('outgoing.host')}
          />
        </Row>
        <Row path="outgoing.port" label={t('serverForm.port')} htmlFor={ids.outPort} error={err('outgoing.port')} help={t('serverForm.help.outgoingPort')}>
          <input
            id={ids.outPort}
            aria-label={field('outgoing.port')}
            className="port"
            inputMode="numeric"
            value={out.port}
            disabled={fixed}
            onChange={(e) => setOut(typedPort(out, e.target.value))}
            onBlur={() => {
              const patch = portLeft(out);
              if (patch) setOut(patch);
            }}
            {...invalid('outgoing.port')}
          />
        </Row>
        <Row path="outgoing.encryption" label={t('serverForm.encrypt')} error={err('outgoing.encryption')} help={t('serverForm.help.encrypt')}>
          <EncryptionControl side={out} fixed={fixed} label={field('outgoing.encryption')} methodId={ids.outMethod} onTick={(on) => setOut(tickEncrypt(out, on))} onMethod={(m) => setOut({ method: m, methodChosen: true })} />
        </Row>
        <Row path="outgoing.auth.mechanism" label={field('outgoing.auth')} error={err('outgoing.auth.mechanism') ?? err('outgoing.auth') ?? err('outgoing.auth.useAccountCredentials')} help={t('serverForm.help.smtpAuth')}>
          <label className="check">
            <input type="checkbox" checked={out.authOn} disabled={fixed} onChange={(e) => setOut({ authOn: e.target.checked })} />
            {field('outgoing.auth')}
          </label>
          {!out.authOn ? (
            <p className="warning-text" data-testid="smtp-auth-recommended">
              {t('serverForm.smtpAuthRecommended')}
            </p>
          ) : null}
          {out.authOn ? (
            <div className="sub-options">
              <label htmlFor={ids.outMech}>{t('serverForm.mechanism')}</label>{' '}
              <select id={ids.outMech} aria-label={field('outgoing.auth.mechanism')} value={out.mechanism} disabled={fixed} onChange={(e) => setOut({ mechanism: e.target.value as SmtpMechanism })}>
                {mechanismsFor(preset, storedMechanism).map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
              {!fixed && out.mechanism === 'XOAUTH2' ? <p className="warning-text">{t('serverForm.xoauth2PresetOnly')}</p> : null}
              {fixed ? null : (
                // a preset signs in with the account's OAuth 2.0 grant, never a user name and password
                <label className="check">
                  <input type="checkbox" checked={out.useAccountCredentials} onChange={(e) => setOut({ useAccountCredentials: e.target.checked })} />
                  {field('outgoing.auth.useAccountCredentials')}
                </label>
              )}
            </div>
          ) : null}
        </Row>
        <Row path="outgoing.maxMessageBytes" label={t('serverForm.sizeLimit')} error={err('outgoing.maxMessageBytes')} help={t('serverForm.help.outgoingSize')}>
          <SizeLimit
            id={ids.outSize}
            label={field('outgoing.maxMessageBytes')}
            limited={out.sizeLimited}
            value={out.sizeMB}
            onChange={(sizeLimited, sizeMB) => setOut({ sizeLimited, sizeMB })}
            invalid={!!err('outgoing.maxMessageBytes')}
          />
        </Row>
        <Row path="outgoing.perMinuteLimit" label={field('outgoing.perMinuteLimit')} error={err('outgoing.perMinuteLimit')} help={t('serverForm.help.perMinute')}>
          <LimitChoice
            id={ids.perMinute}
            label={field('outgoing.perMinuteLimit')}
            limited={out.perMinuteLimited}
            value={out.perMinute}
            unit={t('serverForm.perMinuteUnit')}
            onChange={(perMinuteLimited, perMinute) => setOut({ perMinuteLimited, perMinute })}
            invalid={!!err('outgoing.perMinuteLimit')}
          />
        </Row>
        <Row path="outgoing.allowInvalidCertificate" label={t('serverForm.invalidCert')} error={err('outgoing.allowInvalidCertificate')}>
          <CertificateControl label={field('outgoing.allowInvalidCertificate')} checked={out.allowInvalidCertificate} disabled={fixed} onChange={(v) => setOut({ allowInvalidCertificate: v })} />
        </Row>
      </fieldset>

      <div className="buttons">
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </Form>
  );
}

function Help({ example, text }: { example: string; text: string }) {
  return (
    <>
      <span className="example">{example}</span> {text}
    </>
  );
}

function EncryptionControl(props: { side: SideForm; fixed: boolean; label: string; methodId: string; onTick: (on: boolean) => void; onMethod: (m: Method) => void }) {
  const { t } = useI18n();
  const { side } = props;
  return (
    <div className="encryption">
      <label className="check">
        <input type="checkbox" aria-label={props.label} checked={side.encrypt} disabled={props.fixed} onChange={(e) => props.onTick(e.target.checked)} />
        {t('serverForm.encrypt')}
      </label>
      {side.encrypt ? (
        <span className="sub-inline">
          <label htmlFor={props.methodId}>{t('serverForm.encryptMethod')}</label>{' '}
          <select id={props.methodId} value={side.method} disabled={props.fixed} onChange={(e) => props.onMethod(e.target.value as Method)}>
            <option value="tls">{t('enc.tls')}</option>
            <option value="starttls">{t('enc.starttls')}</option>
          </select>
        </span>
      ) : null}
    </div>
  );
}

function LimitChoice(props: { id: string; label: string; limited: boolean; value: string; unit: ReactNode; invalid: boolean; onChange: (limited: boolean, value: string) => void }) {
  const { t } = useI18n();
  return (
    <div className="limit" role="radiogroup" aria-label={props.label}>
      <label>
        <input type="radio" name={props.id} checked={!props.limited} onChange={() => props.onChange(false, props.value)} />
        {t('common.unlimited')}
      </label>
      <label>
        <input type="radio" name={props.id} checked={props.limited} onChange={() => props.onChange(true, props.value)} />
        {t('common.limited')}
      </label>{' '}
      <input
        id={props.id}
        aria-label={props.label}
        className="number"
        inputMode="decimal"
        value={props.value}
        disabled={!props.limited}
        onChange={(e) => props.onChange(true, e.target.value)}
        {...(props.invalid ? { 'aria-invalid': true } : {})}
      />{' '}
      {props.unit}
    </div>
  );
}

function SizeLimit(props: { id: string; label: string; limited: boolean; value: string; invalid: boolean; onChange: (limited: boolean, value: string) => void }) {
  const { t } = useI18n();
  return <LimitChoice {...props} unit={t('serverForm.sizeUnit')} />;
}

function CertificateControl({ label, checked, disabled, onChange }: { label: string; checked: boolean; disabled: boolean; onChange: (v: boolean) => void }) {
  const { t } = useI18n();
  return (
    <>
      <label className="check">
        <input type="checkbox" aria-label={label} checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
        {t('serverForm.invalidCert')}
      </label>
      {checked ? <p className="warning-text">{t('serverForm.invalidCertWarning')}</p> : null}
    </>
  );
}
