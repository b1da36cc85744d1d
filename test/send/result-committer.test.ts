// The send worker's group commit (src/send/result-committer.ts): results wait a moment for
// company, unless the worker says nothing more is coming.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pino } from 'pino';
import { COMMIT_DELAY_MS, ResultCommitter } from '../../src/send/result-committer.ts';
import type { DeliveryRepository, RecipientResult } from '../../src/store/deliveries.ts';

function recordingRepo(): { repo: DeliveryRepository; commits: RecipientResult[][] } {
  const commits: RecipientResult[][] = [];
  const repo = {
    applyResults: async (_holder: string, results: RecipientResult[]) => {
      commits.push(results);
      return new Set<string>();
    },
    finishBulks: async () => undefined,
  } as unknown as DeliveryRepository;
  return { repo, commits };
}

const result = (id: string): RecipientResult => ({ id, deliveryId: `d-${id}`, bulkId: null, status: 'sent', attempted: true, code: 250, reply: '250 ok' });

it(`a result waits up to ${COMMIT_DELAY_MS} ms for others to share its commit; commitNow commits at once`, async (t) => {
  const { repo, commits } = recordingRepo();
  const committer = new ResultCommitter(repo, 'holder', pino({ level: 'silent' }));
  t.after(() => committer.close());
  await committer.push([result('a')]);
  await new Promise((r) => setImmediate(r));
  assert.equal(commits.length, 0, 'committed before the delay without being asked');
  await committer.push([result('b')]);
  committer.commitNow();
  assert.deepEqual(
    commits.map((c) => c.map((r) => r.id)),
    [['a', 'b']],
  );
  await committer.flush();
  assert.equal(commits.length, 1);
});
