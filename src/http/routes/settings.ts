// /api/v1/settings/notifications: where stall notifications go (システム設定 → 通知).
// /api/v1/settings/unsubscribe-links: whether bulk mail carries unsubscribe links
// (YUBIN_UNSUBSCRIBE_URL, read only: it is the process's environment).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { UNSUBSCRIBE_FIELD } from '../../send/unsubscribe.ts';
import { getNotificationSettings, NotificationSettingsSchema, setNotificationSettings } from '../../ops/notification-settings.ts';
import type { AppContext } from '../../services/context.ts';
import { errorResponses } from '../schemas.ts';

const tags = ['settings'];

export function settingsRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/settings/notifications',
      { schema: { tags, summary: 'Stall notifications: the sending mail account (null = off) and the recipients', response: { 200: NotificationSettingsSchema, ...errorResponses } } },
      async () => getNotificationSettings(ctx),
    );
    app.put(
      '/settings/notifications',
      { schema: { tags, summary: 'Change where stall notifications go', body: NotificationSettingsSchema, response: { 200: NotificationSettingsSchema, ...errorResponses } } },
      async (req) => setNotificationSettings(ctx, req.actor, req.body),
    );
    app.get(
      '/settings/unsubscribe-links',
      {
        schema: {
          tags,
          summary: 'Whether bulk mail carries one-click unsubscribe links (List-Unsubscribe), from YUBIN_UNSUBSCRIBE_URL',
          response: {
            200: Type.Object({
              enabled: Type.Boolean(),
              baseUrl: Type.Union([Type.String(), Type.Null()], { description: 'YUBIN_UNSUBSCRIBE_URL: each link is this, a slash and the recipient’s token' }),
              field: Type.String({ description: 'the merge field that puts the link into a template' }),
            }),
            ...errorResponses,
          },
        },
      },
      async () => ({ enabled: ctx.config.unsubscribeUrl !== undefined, baseUrl: ctx.config.unsubscribeUrl ?? null, field: UNSUBSCRIBE_FIELD }),
    );
  };
}
