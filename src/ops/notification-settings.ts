// Where stall notifications go (システム設定 → 通知): the mail account that sends them and the
// administrators' addresses. Kept in the settings table under one key; changed through this
// service by the API and the UI, audited like every other setting. `accountId: null` turns
// notifications off (stalls are still shown in the status, the UI and /metrics).
import Type, { type Static } from 'typebox';
import { ValidationError, type FieldIssue } from '../domain/errors.ts';
import { validateSchema } from '../domain/validation.ts';
import type { AppContext } from '../services/context.ts';
import { normalizeRecipient, recipientKey } from '../send/address.ts';

export const NOTIFICATION_SETTINGS_KEY = 'notifications';
export const MAX_NOTIFICATION_RECIPIENTS = 20;

export const NotificationSettingsSchema = Type.Object(
  {
    accountId: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]),
    recipients: Type.Array(Type.String({ maxLength: 320 }), { maxItems: MAX_NOTIFICATION_RECIPIENTS }),
  },
  { additionalProperties: false },
);
export type NotificationSettings = Static<typeof NotificationSettingsSchema>;

const OFF: NotificationSettings = { accountId: null, recipients: [] };

export async function getNotificationSettings(ctx: AppContext): Promise<NotificationSettings> {
  const raw = await ctx.repos.settings.get(NOTIFICATION_SETTINGS_KEY);
  return raw ? (JSON.parse(raw) as NotificationSettings) : OFF;
}

export async function setNotificationSettings(ctx: AppContext, actor: string, body: unknown): Promise<NotificationSettings> {
  const input = validateSchema<NotificationSettings>(NotificationSettingsSchema, body);
  const issues: FieldIssue[] = [];
  const recipients: string[] = [];
  const seen = new Set<string>();
  input.recipients.forEach((raw, i) => {
    const address = normalizeRecipient(raw);
    if (!address) issues.push({ path: `recipients.${i}`, key: 'notify.recipient', params: { address: raw } });
    else if (!seen.has(recipientKey(address))) {
      seen.add(recipientKey(address));
      recipients.push(address);
    }
  });
  if (input.accountId !== null) {
    if (!(await ctx.repos.accounts.getRow(input.accountId))) issues.push({ path: 'accountId', key: 'send.accountNotFound', params: { id: input.accountId } });
    if (input.recipients.length === 0) issues.push({ path: 'recipients', key: 'notify.noRecipient' });
  }
  if (issues.length) throw new ValidationError(issues);
  const settings: NotificationSettings = { accountId: input.accountId, recipients };
  await ctx.db.transaction(async (trx) => {
    await trx
      .insertInto('settings')
      .values({ key: NOTIFICATION_SETTINGS_KEY, value: JSON.stringify(settings) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(settings) }))
      .execute();
    await ctx.repos.audit.append(trx, { actor, action: 'settings.notifications', targetType: 'settings', targetId: null, targetName: NOTIFICATION_SETTINGS_KEY, fields: ['accountId', 'recipients'] });
  });
  return settings;
}
