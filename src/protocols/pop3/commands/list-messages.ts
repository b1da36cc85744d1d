// LIST + UIDL joined by message number: what a receive run needs to decide, by UID,
// which messages are new. Both commands go out together when the server pipelines.

import { MailError } from '../../mail-error.ts';
import { list } from './list.ts';
import type { Pop3Session } from './session.ts';
import { uidl, uidlUnsupported } from './uidl.ts';

export interface Pop3MessageInfo {
  seq: number;
  uid: string;
  size: number;
}

export async function listMessages(session: Pop3Session): Promise<Pop3MessageInfo[]> {
  if (session.capabilities && !session.capabilities.uidl) throw uidlUnsupported('not in CAPA');
  const [sizes, uids] = await session.conn.batch(() => Promise.all([list(session), uidl(session)]));
  const uidBySeq = new Map(uids.map((u) => [u.seq, u.uid]));
  const out: Pop3MessageInfo[] = [];
  for (const { seq, size } of sizes) {
    const uid = uidBySeq.get(seq);
    if (uid === undefined) {
      throw new MailError('PROTOCOL_ERROR', `POP3 message ${seq} is in LIST but not in UIDL`, { kind: 'transient', command: 'UIDL' });
    }
    out.push({ seq, uid, size });
  }
  return out.sort((a, b) => a.seq - b.seq);
}
