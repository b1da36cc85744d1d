// The API's shapes, taken from the server's own schemas and interfaces (types only:
// nothing of the server's code reaches the browser bundle).
import type { Static } from 'typebox';
import type { AuditEntry as AuditEntrySchema } from '@yubin/http/routes/audit-log.ts';

export type { MailServer, MailServerInput, MailServerPatch, Encryption, Protocol, SmtpMechanism } from '@yubin/domain/mail-server.ts';
export type { MailAccount, MailAccountInput, MailAccountPatch, LeaveOnServer } from '@yubin/domain/mail-account.ts';
export type { OAuthProvider } from '@yubin/domain/oauth-provider.ts';
export type { MessageSummary } from '@yubin/store/messages.ts';
export type { DecodedMessage, DecodedAttachment } from '@yubin/mail/decode-body.ts';
export type { ReceiveStatus } from '@yubin/receive/receive-service.ts';
export type { ReceiveSummary } from '@yubin/receive/receive-run.ts';
export type { ConnectionTestResult, Stage } from '@yubin/receive/connection-test.ts';

export type AuditEntry = Static<typeof AuditEntrySchema>;

export interface SessionInfo {
  signedIn: boolean;
  username: string | null;
  /** the administrator's UI language stored on the server; null until chosen */
  language?: 'ja' | 'en' | null;
  csrfToken: string | null;
  needsSetup: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
