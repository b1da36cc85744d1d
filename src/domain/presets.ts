// The two preset mail servers (PRODUCT.md §1, seed: "GmailとExchange Onlineのメールサーバー
// 情報があらかじめ設定されています"). Their hosts, ports, encryption and authentication
// are fixed; only the protocol, the size limits and the per-minute limit can change.

export type PresetKey = 'gmail' | 'exchange_online';
export const PRESET_ORDER: readonly PresetKey[] = ['gmail', 'exchange_online'];

export interface PresetDefinition {
  key: PresetKey;
  name: string;
  incoming: Record<'pop3' | 'imap4', { host: string; port: number }>;
  incomingEncryption: 'tls';
  outgoing: { host: string; port: number; encryption: 'tls' | 'starttls' };
  authMechanism: 'XOAUTH2';
}

export const PRESETS: Record<PresetKey, PresetDefinition> = {
  gmail: {
    key: 'gmail',
    name: 'Gmail',
    incoming: { imap4: { host: 'imap.gmail.com', port: 993 }, pop3: { host: 'pop.gmail.com', port: 995 } },
    incomingEncryption: 'tls',
    outgoing: { host: 'smtp.gmail.com', port: 465, encryption: 'tls' },
    authMechanism: 'XOAUTH2',
  },
  exchange_online: {
    key: 'exchange_online',
    name: 'Exchange Online',
    incoming: { imap4: { host: 'outlook.office365.com', port: 993 }, pop3: { host: 'outlook.office365.com', port: 995 } },
    incomingEncryption: 'tls',
    outgoing: { host: 'smtp.office365.com', port: 587, encryption: 'starttls' },
    authMechanism: 'XOAUTH2',
  },
};

export function isPresetKey(value: unknown): value is PresetKey {
  return value === 'gmail' || value === 'exchange_online';
}
