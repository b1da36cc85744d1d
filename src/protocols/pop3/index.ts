// Public surface of the POP3 client (see pop3-client.ts for the overview and RFCs).
export { Pop3Client, connectPop3 } from './pop3-client.ts';
export type { Pop3ClientOptions, Pop3Encryption, Pop3Greeting } from './pop3-client.ts';
export type { Pop3AuthMethod, Pop3AuthOptions } from './commands/auth.ts';
export type { Pop3MessageInfo } from './commands/list-messages.ts';
export type { OnMessage } from './commands/retr.ts';
export type { Pop3Stat } from './commands/stat.ts';
export type { ListEntry, UidlEntry, Pop3Capabilities } from './protocol/response.ts';
export type { Pop3Logger } from './logger.ts';
export { classifyPop3Error } from './classify.ts';
export * from './timeouts.ts';
