// The SMTP settings of one send: the account's mail server (encryption, certificate checks,
// size limit, AUTH mechanism) and the credentials the server says to use — the account's
// user name and password, or the account's own SMTP user name and password when the server
// is set not to use the account's (PRODUCT.md §2), or on the presets XOAUTH2 with the
// access token of src/oauth (the caller gets it, refreshed, through mailLogin()).
import type { MailAccount } from '../domain/mail-account.ts';
import type { MailServer } from '../domain/mail-server.ts';
import { MailError } from '../protocols/mail-error.ts';
import type { SmtpLogger, SmtpSendOptions } from '../protocols/smtp/smtp-client.ts';
import type { MailLogin } from '../oauth/mail-login.ts';

export interface SmtpExtras {
  /** extra trusted CA certificates (PEM), e.g. a company CA or a test server's */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  logger?: SmtpLogger | undefined;
}

export function smtpOptionsFor(server: MailServer, account: MailAccount, creds: MailLogin, extras: SmtpExtras = {}): SmtpSendOptions {
  const out = server.outgoing;
  let auth: SmtpSendOptions['auth'] = null;
  if (out.auth.mechanism === 'XOAUTH2') {
    if (!creds.accessToken) {
      throw new MailError('AUTH_UNSUPPORTED', `${server.name}: sending with XOAUTH2 (OAuth 2.0) needs an access token; ${account.address} is not on a preset with a grant`, {
        kind: 'config',
        command: 'AUTH XOAUTH2',
      });
    }
    auth = { mechanism: 'XOAUTH2', user: creds.username, accessToken: creds.accessToken };
  } else if (out.auth.mechanism !== null) {
    const user = out.auth.useAccountCredentials ? creds.username : creds.smtpUsername;
    const pass = out.auth.useAccountCredentials ? creds.password : creds.smtpPassword;
    if (!user || pass === null) {
      throw new MailError('AUTH_FAILED', `${account.address}: SMTP AUTH needs ${out.auth.useAccountCredentials ? 'the account’s user name and password' : 'the account’s SMTP user name and password'}, which are not set`, {
        kind: 'config',
        command: `AUTH ${out.auth.mechanism}`,
      });
    }
    auth = { mechanism: out.auth.mechanism, user, pass };
  }
  return {
    host: out.host,
    port: out.port,
    encryption: out.encryption,
    allowInvalidCertificate: out.allowInvalidCertificate,
    auth,
    maxMessageBytes: out.maxMessageBytes,
    ca: extras.ca,
    logger: extras.logger,
  };
}
