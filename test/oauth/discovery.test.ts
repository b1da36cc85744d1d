// A discovery document that never comes: the request gives up after its timeout and says so
// (the other failures — not JSON, an HTTP error, no token endpoint, unreachable — are tested
// through the API in test/http/oauth.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DiscoveryError, discoverEndpoints } from '../../src/oauth/discovery.ts';

test('a discovery URL that accepts the request and never answers fails as a timeout, naming the URL', async (t) => {
  const held: import('node:http').ServerResponse[] = [];
  // answers /warm at once (a 404), never anything else
  const server: Server = createServer((req, res) => (req.url === '/warm' ? res.writeHead(404).end() : void held.push(res)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // the first fetch of a process loads the HTTP client: not what this test times
  await assert.rejects(discoverEndpoints(`${base}/warm`), (err) => err instanceof DiscoveryError && err.failure === 'http');
  const url = `${base}/.well-known/openid-configuration`;
  await assert.rejects(discoverEndpoints(url, Date.now(), 500), (err) => {
    assert.ok(err instanceof DiscoveryError);
    assert.equal(err.failure, 'timeout');
    assert.equal(err.url, url);
    assert.equal(err.detail, '0.5 s');
    return true;
  });
  assert.equal(held.length, 1, 'the request reached the server');
});
