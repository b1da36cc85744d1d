// The connection test's human messages, Japanese and English. A local table until the
// keys move into the shared catalogue (src/i18n/ja.ts, en.ts); the keys are already
// named the way the catalogue names them (`connectionTest.*`). Placeholders are {name}.
import type { Lang } from '../i18n/index.ts';

const ja = {
  'connectionTest.dns.ip': '{host}はIPアドレスのため、名前解決は不要です。',
  'connectionTest.dns.ok': '{host}の名前解決に成功しました: {addresses}。',
  'connectionTest.dns.fail': '{host}の名前解決に失敗しました（{reason}）。ホスト名の綴りとDNSの設定を確認してください。',
  'connectionTest.tcp.ok': '{address}のポート{port}に接続しました（{ms}ミリ秒）。',
  'connectionTest.tcp.fail': '{host}のポート{port}に接続できませんでした（{reason}）。ポート番号とファイアウォールの設定を確認してください。',
  'connectionTest.tls.none': 'この接続は暗号化されていません。パスワードとメールが平文のまま送られます。',
  'connectionTest.tls.ok': '{protocol}で暗号化されています。証明書は有効です（発行先: {subject}、発行者: {issuer}、有効期限: {validTo}、残り{days}日）。',
  'connectionTest.tls.unverified':
    '{protocol}で暗号化されていますが、証明書を検証できません（{reason}）。このサーバーは「証明書を検証しない」設定のため続行します（発行先: {subject}、発行者: {issuer}、有効期限: {validTo}）。',
  'connectionTest.tls.expiresSoon': '証明書の有効期限まで残り{days}日です。更新を確認してください。',
  'connectionTest.tls.certFail':
    '証明書を検証できません（{reason}）。発行先: {subject}、発行者: {issuer}、有効期限: {validTo}。自己署名の証明書を使うサーバーでは「証明書を検証しない」を設定してください。',
  'connectionTest.tls.handshakeFail': 'TLSの接続に失敗しました（{reason}）。暗号化の方式とポート番号の組み合わせを確認してください。',
  'connectionTest.tls.starttlsFail': 'サーバーがSTARTTLSに応じませんでした。暗号化の設定を確認してください。',
  'connectionTest.greeting.ok': 'サーバーの挨拶:「{text}」',
  'connectionTest.greeting.apop': 'APOP用のタイムスタンプがあります。',
  'connectionTest.greeting.apopMissing': 'APOP認証が設定されていますが、サーバーの挨拶にAPOP用のタイムスタンプがありません。APOP認証をオフにしてください。',
  'connectionTest.greeting.preauth': 'サーバーは認証済みの状態で接続を受け付けました（PREAUTH）。',
  'connectionTest.greeting.fail': 'サーバーが接続を受け付けませんでした（{reason}）。',
  'connectionTest.greeting.portHint': 'ポート番号と暗号化の方式の組み合わせを確認してください（TLSが必要なポートや、別のプロトコルのポートかもしれません）。',
  'connectionTest.capabilities.list': 'サーバーの対応機能: {list}。',
  'connectionTest.capabilities.uidl': 'UIDLに対応しています。',
  'connectionTest.capabilities.noUidl': 'サーバーがUIDLに対応していません。YubinはUIDLのないPOP3サーバーからは受信できません（何も受信せず、何も削除しません）。',
  'connectionTest.capabilities.noCapa': 'サーバーがCAPAに対応していないため、UIDLへの対応はログイン後に確認します。',
  'connectionTest.capabilities.sasl': '認証方式: {list}。',
  'connectionTest.capabilities.starttlsOffered': 'サーバーはSTARTTLSに対応しています。暗号化を「STARTTLS」にすることをおすすめします。',
  'connectionTest.capabilities.uidplus': 'UIDPLUSに対応しています。',
  'connectionTest.capabilities.size': '受け付けるメールの大きさ: {size}まで。',
  'connectionTest.capabilities.sizeBelowLimit': 'サーバーが受け付けるメールは{size}までで、設定した上限（{limit}）より小さいです。',
  'connectionTest.capabilities.smtpAuthMissing': '認証方式{mechanism}が設定されていますが、サーバーはSMTP認証を提供していません。',
  'connectionTest.capabilities.smtpAuthAfterTls': 'サーバーはSTARTTLSの後でのみSMTP認証を提供している可能性があります。',
  'connectionTest.capabilities.smtpMechanismMissing': '認証方式{mechanism}が設定されていますが、サーバーが対応していません（対応している方式: {offered}）。',
  'connectionTest.capabilities.fail': '対応機能を確認できませんでした（{reason}）。',
  'connectionTest.auth.ok': '{user}としてログインしました（{method}）。',
  'connectionTest.auth.okImap': '{user}としてログインしました。',
  'connectionTest.auth.fail': 'ログインに失敗しました（{reason}）。',
  'connectionTest.auth.noPassword': 'パスワードが保存されていないため、ログインを確認できません。',
  'connectionTest.auth.smtpNone': 'SMTP認証は設定されていません（認証なしで送信します）。',
  'connectionTest.auth.smtpNoCredentials': 'SMTP用のユーザー名とパスワードが設定されていないため、ログインを確認できません。',
  'connectionTest.auth.oauthNotTested': 'XOAUTH2（OAuth 2.0）のログインは、この接続テストでは確認していません。',
  'connectionTest.mailbox.pop3': 'メールボックスに{count}通（合計{size}）あります。何も削除していません。',
  'connectionTest.mailbox.imap': 'INBOXに{count}通あります（UIDVALIDITY {uidValidity}）。読み取り専用で開いたため、何も変更していません。',
  'connectionTest.mailbox.noUidplus': 'サーバーがUIDPLUSに対応していません。メールを削除するとき、ほかのメールソフトが削除の印を付けたメールも一緒に消える可能性があります。',
  'connectionTest.mailbox.fail': 'メールボックスを確認できませんでした（{reason}）。',
  'connectionTest.reply': 'サーバーの応答:「{reply}」',
  'connectionTest.bytes': '{n}バイト',
  // reasons: an error code, a socket errno or a certificate problem, in a few words
  'connectionTest.reason.CONNECT_FAILED': '接続できません',
  'connectionTest.reason.CONNECTION_CLOSED': 'サーバーが接続を切断しました',
  'connectionTest.reason.TIMEOUT': '時間内に応答がありません',
  'connectionTest.reason.TLS_FAILED': 'TLSのハンドシェイクでエラーが発生しました',
  'connectionTest.reason.STARTTLS_UNSUPPORTED': 'サーバーがSTARTTLSに対応していません',
  'connectionTest.reason.GREETING_FAILED': 'サーバーがエラーで応答しました',
  'connectionTest.reason.WRONG_PROTOCOL': 'このポートでは別のプロトコルのサーバーが応答しました（ポート番号を確認してください）',
  'connectionTest.reason.AUTH_FAILED': 'ユーザー名またはパスワードが正しくありません',
  'connectionTest.reason.AUTH_UNSUPPORTED': 'サーバーと共通の認証方式がありません',
  'connectionTest.reason.APOP_UNSUPPORTED': 'サーバーがAPOPに対応していません',
  'connectionTest.reason.UIDL_UNSUPPORTED': 'サーバーがUIDLに対応していません',
  'connectionTest.reason.MAILBOX_IN_USE': 'メールボックスがほかの接続で使用中です',
  'connectionTest.reason.SERVER_TEMPORARY': 'サーバーの一時的なエラーです',
  'connectionTest.reason.SERVER_PERMANENT': 'サーバーがエラーで応答しました',
  'connectionTest.reason.PROTOCOL_ERROR': 'サーバーの応答を解釈できません',
  'connectionTest.reason.COMMAND_FAILED': 'サーバーがコマンドを拒否しました',
  'connectionTest.reason.MESSAGE_TOO_LARGE': 'メールが大きすぎます',
  'connectionTest.reason.MAILBOX_NOT_FOUND': 'INBOXがありません',
  'connectionTest.reason.ENOTFOUND': 'そのホスト名は見つかりません',
  'connectionTest.reason.EAI_AGAIN': 'DNSサーバーから応答がありません',
  'connectionTest.reason.ECONNREFUSED': '接続を拒否されました。ポートが閉じています',
  'connectionTest.reason.EHOSTUNREACH': 'ホストに到達できません',
  'connectionTest.reason.ENETUNREACH': 'ネットワークに到達できません',
  'connectionTest.reason.ECONNRESET': '接続がリセットされました',
  'connectionTest.reason.ERR_SSL_WRONG_VERSION_NUMBER': 'サーバーがTLSで応答しません。暗号化なしのポートかもしれません',
  'connectionTest.reason.ERR_SSL_UNSUPPORTED_PROTOCOL': 'サーバーのTLSのバージョンが古すぎます（TLS 1.2以上が必要です）',
  'connectionTest.reason.ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION': 'サーバーのTLSのバージョンが古すぎます（TLS 1.2以上が必要です）',
  'connectionTest.reason.DEPTH_ZERO_SELF_SIGNED_CERT': '自己署名の証明書です',
  'connectionTest.reason.SELF_SIGNED_CERT_IN_CHAIN': '証明書チェーンに自己署名の証明書があります',
  'connectionTest.reason.UNABLE_TO_VERIFY_LEAF_SIGNATURE': '証明書の発行者を確認できません',
  'connectionTest.reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY': '証明書の発行者を確認できません',
  'connectionTest.reason.CERT_HAS_EXPIRED': '証明書の有効期限が切れています',
  'connectionTest.reason.CERT_NOT_YET_VALID': '証明書の有効期間がまだ始まっていません',
  'connectionTest.reason.ERR_TLS_CERT_ALTNAME_INVALID': '証明書がホスト名{host}と一致しません',
  'connectionTest.reason.other': '{detail}',
} as const;

export type ConnectionTestMessageKey = keyof typeof ja;

const en: Record<ConnectionTestMessageKey, string> = {
  'connectionTest.dns.ip': '{host} is an IP address; no name lookup needed.',
  'connectionTest.dns.ok': '{host} resolves to {addresses}.',
  'connectionTest.dns.fail': 'Could not resolve {host} ({reason}). Check the host name and the DNS settings.',
  'connectionTest.tcp.ok': 'Connected to {address} port {port} in {ms} ms.',
  'connectionTest.tcp.fail': 'Could not connect to {host} port {port} ({reason}). Check the port number and the firewall.',
  'connectionTest.tls.none': 'This connection is NOT encrypted: passwords and mail travel in clear text.',
  'connectionTest.tls.ok': 'Encrypted with {protocol}. The certificate is valid (subject: {subject}, issuer: {issuer}, expires {validTo}, in {days} days).',
  'connectionTest.tls.unverified':
    'Encrypted with {protocol}, but the certificate cannot be verified ({reason}). Going on because this server is set not to verify certificates (subject: {subject}, issuer: {issuer}, expires {validTo}).',
  'connectionTest.tls.expiresSoon': 'The certificate expires in {days} days. Make sure it gets renewed.',
  'connectionTest.tls.certFail':
    'The certificate cannot be verified ({reason}). Subject: {subject}, issuer: {issuer}, expires {validTo}. For a server with a self-signed certificate, turn off certificate verification.',
  'connectionTest.tls.handshakeFail': 'The TLS connection failed ({reason}). Check that the encryption setting matches the port.',
  'connectionTest.tls.starttlsFail': 'The server did not accept STARTTLS. Check the encryption setting.',
  'connectionTest.greeting.ok': 'Server greeting: "{text}".',
  'connectionTest.greeting.apop': 'The greeting has an APOP timestamp.',
  'connectionTest.greeting.apopMissing': 'APOP is set for this server, but its greeting has no APOP timestamp. Turn APOP off.',
  'connectionTest.greeting.preauth': 'The server accepted the connection as already authenticated (PREAUTH).',
  'connectionTest.greeting.fail': 'The server did not accept the connection ({reason}).',
  'connectionTest.greeting.portHint': 'Check that the port number and the encryption setting go together (the port may need TLS, or belong to another protocol).',
  'connectionTest.capabilities.list': 'Server capabilities: {list}.',
  'connectionTest.capabilities.uidl': 'UIDL is supported.',
  'connectionTest.capabilities.noUidl': 'The server does not support UIDL. Yubin cannot receive from a POP3 server without UIDL (nothing is received, nothing is deleted).',
  'connectionTest.capabilities.noCapa': 'The server does not support CAPA; UIDL is checked after login.',
  'connectionTest.capabilities.sasl': 'Authentication mechanisms: {list}.',
  'connectionTest.capabilities.starttlsOffered': 'The server supports STARTTLS. Setting the encryption to STARTTLS is recommended.',
  'connectionTest.capabilities.uidplus': 'UIDPLUS is supported.',
  'connectionTest.capabilities.size': 'Largest message accepted: {size}.',
  'connectionTest.capabilities.sizeBelowLimit': 'The server accepts messages up to {size}, less than the configured limit ({limit}).',
  'connectionTest.capabilities.smtpAuthMissing': 'Authentication {mechanism} is set, but the server offers no SMTP authentication.',
  'connectionTest.capabilities.smtpAuthAfterTls': 'The server may offer SMTP authentication only after STARTTLS.',
  'connectionTest.capabilities.smtpMechanismMissing': 'Authentication {mechanism} is set, but the server does not offer it (it offers: {offered}).',
  'connectionTest.capabilities.fail': 'Could not read the server capabilities ({reason}).',
  'connectionTest.auth.ok': 'Logged in as {user} ({method}).',
  'connectionTest.auth.okImap': 'Logged in as {user}.',
  'connectionTest.auth.fail': 'Login failed ({reason}).',
  'connectionTest.auth.noPassword': 'No password is stored, so the login cannot be tested.',
  'connectionTest.auth.smtpNone': 'No SMTP authentication is set (mail is sent without logging in).',
  'connectionTest.auth.smtpNoCredentials': 'No SMTP user name and password are set, so the login cannot be tested.',
  'connectionTest.auth.oauthNotTested': 'XOAUTH2 (OAuth 2.0) login is not tested by the connection test.',
  'connectionTest.mailbox.pop3': 'Messages in the mailbox: {count} ({size} in all). Nothing was deleted.',
  'connectionTest.mailbox.imap': 'Messages in INBOX: {count} (UIDVALIDITY {uidValidity}). Opened read-only; nothing was changed.',
  'connectionTest.mailbox.noUidplus': 'The server does not support UIDPLUS: deleting mail may also remove mail that another mail program marked as deleted.',
  'connectionTest.mailbox.fail': 'Could not check the mailbox ({reason}).',
  'connectionTest.reply': 'Server reply: "{reply}".',
  'connectionTest.bytes': '{n} bytes',
  'connectionTest.reason.CONNECT_FAILED': 'cannot connect',
  'connectionTest.reason.CONNECTION_CLOSED': 'the server closed the connection',
  'connectionTest.reason.TIMEOUT': 'no answer in time',
  'connectionTest.reason.TLS_FAILED': 'an error in the TLS handshake',
  'connectionTest.reason.STARTTLS_UNSUPPORTED': 'the server does not support STARTTLS',
  'connectionTest.reason.GREETING_FAILED': 'the server answered with an error',
  'connectionTest.reason.WRONG_PROTOCOL': 'a server of another protocol answered on this port (check the port number)',
  'connectionTest.reason.AUTH_FAILED': 'wrong user name or password',
  'connectionTest.reason.AUTH_UNSUPPORTED': 'no authentication mechanism in common with the server',
  'connectionTest.reason.APOP_UNSUPPORTED': 'the server does not support APOP',
  'connectionTest.reason.UIDL_UNSUPPORTED': 'the server does not support UIDL',
  'connectionTest.reason.MAILBOX_IN_USE': 'the mailbox is in use by another connection',
  'connectionTest.reason.SERVER_TEMPORARY': 'a temporary server error',
  'connectionTest.reason.SERVER_PERMANENT': 'the server answered with an error',
  'connectionTest.reason.PROTOCOL_ERROR': 'the server reply cannot be understood',
  'connectionTest.reason.COMMAND_FAILED': 'the server refused the command',
  'connectionTest.reason.MESSAGE_TOO_LARGE': 'the message is too large',
  'connectionTest.reason.MAILBOX_NOT_FOUND': 'there is no INBOX',
  'connectionTest.reason.ENOTFOUND': 'no such host name',
  'connectionTest.reason.EAI_AGAIN': 'the DNS server does not answer',
  'connectionTest.reason.ECONNREFUSED': 'connection refused: the port is closed',
  'connectionTest.reason.EHOSTUNREACH': 'the host is unreachable',
  'connectionTest.reason.ENETUNREACH': 'the network is unreachable',
  'connectionTest.reason.ECONNRESET': 'the connection was reset',
  'connectionTest.reason.ERR_SSL_WRONG_VERSION_NUMBER': 'the server does not answer in TLS; the port may be one without encryption',
  'connectionTest.reason.ERR_SSL_UNSUPPORTED_PROTOCOL': 'the server’s TLS version is too old (TLS 1.2 or later is needed)',
  'connectionTest.reason.ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION': 'the server’s TLS version is too old (TLS 1.2 or later is needed)',
  'connectionTest.reason.DEPTH_ZERO_SELF_SIGNED_CERT': 'the certificate is self-signed',
  'connectionTest.reason.SELF_SIGNED_CERT_IN_CHAIN': 'a self-signed certificate is in the chain',
  'connectionTest.reason.UNABLE_TO_VERIFY_LEAF_SIGNATURE': 'the certificate issuer cannot be verified',
  'connectionTest.reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY': 'the certificate issuer cannot be verified',
  'connectionTest.reason.CERT_HAS_EXPIRED': 'the certificate has expired',
  'connectionTest.reason.CERT_NOT_YET_VALID': 'the certificate is not valid yet',
  'connectionTest.reason.ERR_TLS_CERT_ALTNAME_INVALID': 'the certificate does not match the host name {host}',
  'connectionTest.reason.other': '{detail}',
};

const TABLES: Record<Lang, Record<ConnectionTestMessageKey, string>> = { ja, en };

/** The message in `lang` with {placeholders} filled. */
export function ctMessage(lang: Lang, key: ConnectionTestMessageKey, params: Record<string, unknown> = {}): string {
  return TABLES[lang][key].replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** A reason key for an error code or errno, if the table has one. */
export function reasonKey(code: string): ConnectionTestMessageKey | undefined {
  const key = `connectionTest.reason.${code}`;
  return key in ja ? (key as ConnectionTestMessageKey) : undefined;
}

/** Sentences joined the way each language joins them. */
export function joinSentences(lang: Lang, parts: string[]): string {
  return parts.filter(Boolean).join(lang === 'ja' ? '' : ' ');
}

export function formatBytes(lang: Lang, n: number): string {
  return ctMessage(lang, 'connectionTest.bytes', { n: n.toLocaleString('en-US') });
}
