// Everything a service needs, built once per process (serve, worker, CLI) and
// passed down. Opening it runs the migrations and loads the secret key.
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { AppConfig } from '../config/env.ts';
import { loadSecretKey } from '../config/secret-key.ts';
import { SecretBox } from '../config/secrets.ts';
import { AuditLogRepository } from '../store/audit-log.ts';
import { AdminRepository, ApiTokenRepository, SessionRepository, SettingsRepository } from '../store/auth.ts';
import { openDatabase, type Db } from '../store/database.ts';
import { MailAccountRepository } from '../store/mail-accounts.ts';
import { MailServerRepository } from '../store/mail-servers.ts';
import { MessageRepository } from '../store/messages.ts';
import { DeliveryRepository } from '../store/deliveries.ts';
import { LeaseRepository } from '../store/leases.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { OAuthRepository } from '../store/oauth.ts';

export interface AppContext {
  config: AppConfig;
  db: Db;
  secrets: SecretBox;
  /** HKDF-free derivation is enough here: one key, distinct purposes by label */
  secretKey: Buffer;
  log: Logger;
  repos: {
    servers: MailServerRepository;
    accounts: MailAccountRepository;
    audit: AuditLogRepository;
    admins: AdminRepository;
    sessions: SessionRepository;
    tokens: ApiTokenRepository;
    settings: SettingsRepository;
    messages: MessageRepository;
    deliveries: DeliveryRepository;
    leases: LeaseRepository;
    oauth: OAuthRepository;
  };
  close(): Promise<void>;
}

export interface OpenContextOptions {
  log?: Logger;
  migrate?: boolean;
  /** SQLite: checkpoint the WAL in a background thread (the long-running serve and worker) */
  backgroundCheckpoint?: boolean;
}

export async function openContext(config: AppConfig, opts: OpenContextOptions = {}): Promise<AppContext> {
  const secretKey = loadSecretKey(config);
  const log =
    opts.log ??
    pino({
      // the checked value: an empty or padded YUBIN_LOG_LEVEL made pino throw before any message
      level: config.logLevel ?? 'info',
      redact: { paths: ['password', 'smtpPassword', '*.password', '*.smtpPassword', 'req.headers.authorization', 'req.headers.cookie'], censor: '****' },
    });
  const db = openDatabase({
    ...config,
    backgroundCheckpoint: opts.backgroundCheckpoint,
    onCheckpointError: (message) => log.warn({ event: 'db.checkpoint.failed', message }, 'background WAL checkpoint failed; the next one tries again'),
  });
  if (opts.migrate !== false) await migrateToLatest(db);
  const k = db.kysely;
  return {
    config,
    db,
    secrets: new SecretBox(secretKey),
    secretKey,
    log,
    repos: {
      servers: new MailServerRepository(k),
      accounts: new MailAccountRepository(k),
      audit: new AuditLogRepository(k),
      admins: new AdminRepository(k),
      sessions: new SessionRepository(k),
      tokens: new ApiTokenRepository(k),
      settings: new SettingsRepository(k),
      messages: new MessageRepository(db),
      deliveries: new DeliveryRepository(db),
      leases: new LeaseRepository(k),
      oauth: new OAuthRepository(k),
    },
    close: () => db.close(),
  };
}
