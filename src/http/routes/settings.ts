// /api/v1/settings/notifications: where stall notifications go (システム設定 → 通知).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
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
  };
}
