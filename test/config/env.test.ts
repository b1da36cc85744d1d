// The environment bootstrap (loadConfig), the secret key file (loadSecretKey) and
// the sealing of secrets at rest (SecretBox).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { KEY_FILE_NAME, loadSecretKey } from '../../src/config/secret-key.ts';
import { SecretBox } from '../../src/config/secrets.ts';
import { langFromEnv } from '../../src/i18n/index.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'yubin-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults: ./data, SQLite, key file, 127.0.0.1:8080', () => {
    assert.deepEqual(loadConfig({}), {
      dataDir: resolve('./data'),
      databaseUrl: undefined,
      secretKey: undefined,
      host: '127.0.0.1',
      receiveMaxMessages: undefined,
      receiveMaxBytes: undefined,
      publicUrl: undefined,
      stallCheckSeconds: undefined,
      unsubscribeUrl: undefined,
      metricsToken: undefined,
      port: 8080,
    });
  });

  it('YUBIN_PUBLIC_URL: the OAuth redirect URI base, without a trailing slash; anything else stops the start', () => {
    assert.equal(loadConfig({ YUBIN_PUBLIC_URL: 'https://yubin.example.com/' }).publicUrl, 'https://yubin.example.com');
    assert.equal(loadConfig({ YUBIN_PUBLIC_URL: 'https://example.com/yubin' }).publicUrl, 'https://example.com/yubin');
    for (const bad of ['yubin.example.com', 'ftp://example.com', 'https://example.com/?a=1']) {
      assert.throws(() => loadConfig({ YUBIN_PUBLIC_URL: bad }), /YUBIN_PUBLIC_URL/);
    }
  });

  it('YUBIN_UNSUBSCRIBE_URL: the base of bulk mail’s unsubscribe links, ASCII, without a trailing slash; unset = no links', () => {
    assert.equal(loadConfig({}).unsubscribeUrl, undefined);
    assert.equal(loadConfig({ YUBIN_UNSUBSCRIBE_URL: 'https://news.example.com/unsubscribe/' }).unsubscribeUrl, 'https://news.example.com/unsubscribe');
    // what goes into a header: the host as punycode, the path percent-encoded
    assert.equal(loadConfig({ YUBIN_UNSUBSCRIBE_URL: 'https://例え.jp/配信停止' }).unsubscribeUrl, 'https://xn--r8jz45g.jp/%E9%85%8D%E4%BF%A1%E5%81%9C%E6%AD%A2');
    for (const bad of ['news.example.com/unsubscribe', 'mailto:stop@example.com', 'https://example.com/u?x=1', 'https://example.com/u#top', 'https://example.com/u?']) {
      assert.throws(() => loadConfig({ YUBIN_UNSUBSCRIBE_URL: bad }), (err: Error) => err.message.includes('YUBIN_UNSUBSCRIBE_URL') && err.message.includes(bad));
    }
  });

  it('YUBIN_TRUST_PROXY: named ranges, addresses and CIDR ranges, comma-separated; never everyone', () => {
    assert.equal(loadConfig({}).trustProxy, undefined);
    assert.deepEqual(loadConfig({ YUBIN_TRUST_PROXY: 'loopback, 10.0.0.0/8,192.168.1.5, fd00::/8,::1' }).trustProxy, ['loopback', '10.0.0.0/8', '192.168.1.5', 'fd00::/8', '::1']);
    for (const bad of ['true', '*', '0.0.0.0/33', '10.0.0.0/8/1', 'proxy.example.com', 'loopback,', '10.0.0.1/x', '::1/129']) {
      assert.throws(() => loadConfig({ YUBIN_TRUST_PROXY: bad }), (err: Error) => err.message.includes('YUBIN_TRUST_PROXY') && err.message.includes(bad), bad);
    }
  });

  it('YUBIN_STALL_CHECK_SECONDS and YUBIN_METRICS_TOKEN', () => {
    const c = loadConfig({ YUBIN_STALL_CHECK_SECONDS: '5', YUBIN_METRICS_TOKEN: 'a'.repeat(24) });
    assert.equal(c.stallCheckSeconds, 5);
    assert.equal(c.metricsToken, 'a'.repeat(24));
    assert.equal(configError(() => loadConfig({ YUBIN_STALL_CHECK_SECONDS: '0' })).variable, 'YUBIN_STALL_CHECK_SECONDS');
    assert.equal(configError(() => loadConfig({ YUBIN_METRICS_TOKEN: 'short' })).variable, 'YUBIN_METRICS_TOKEN');
  });

  it('empty and blank values count as unset', () => {
    assert.deepEqual(loadConfig({ YUBIN_DATA_DIR: '', YUBIN_DATABASE_URL: '  ', YUBIN_SECRET_KEY: '', HOST: ' ', PORT: '' }), loadConfig({}));
  });

  it('reads every variable', () => {
    const key = randomBytes(32);
    const cfg = loadConfig({
      YUBIN_DATA_DIR: '/srv/yubin',
      YUBIN_DATABASE_URL: 'postgres://yubin:pw@db.internal:5432/yubin',
      YUBIN_SECRET_KEY: key.toString('base64'),
      HOST: '0.0.0.0',
      PORT: '3000',
    });
    assert.equal(cfg.dataDir, '/srv/yubin');
    assert.equal(cfg.databaseUrl, 'postgres://yubin:pw@db.internal:5432/yubin');
    assert.ok(cfg.secretKey?.equals(key));
    assert.equal(cfg.host, '0.0.0.0');
    assert.equal(cfg.port, 3000);
    assert.equal(loadConfig({ YUBIN_DATABASE_URL: 'postgresql://db/yubin' }).databaseUrl, 'postgresql://db/yubin');
    assert.equal(loadConfig({ YUBIN_DATA_DIR: 'rel/dir' }).dataDir, resolve('rel/dir'));
    assert.equal(loadConfig({ PORT: '1' }).port, 1);
    assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  });

  const bad: [variable: string, value: string][] = [
    ['YUBIN_DATABASE_URL', 'mysql://x'],
    ['YUBIN_DATABASE_URL', 'not a url'],
    ['YUBIN_DATABASE_URL', 'sqlite:///tmp/db'],
    ['YUBIN_SECRET_KEY', Buffer.alloc(16, 7).toString('base64')],
    ['YUBIN_SECRET_KEY', Buffer.alloc(33, 7).toString('base64')],
    ['YUBIN_SECRET_KEY', 'this is not base64 at all, nope!!!!!!!!!!!!!'],
    // 64 hex digits: valid base64 characters, but 48 bytes
    ['YUBIN_SECRET_KEY', Buffer.alloc(32, 0xab).toString('hex')],
    // base64url alphabet: Node would decode it to 32 bytes, the documented form is base64
    ['YUBIN_SECRET_KEY', Buffer.alloc(32, 0xfb).toString('base64url')],
    ['PORT', '0'],
    ['PORT', '70000'],
    ['PORT', '65536'],
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '1e3'],
    ['HOST', 'my host'],
    ['HOST', 'host\tname'],
  ];
  for (const [variable, value] of bad) {
    it(`refuses ${variable}=${JSON.stringify(value)} naming the variable`, () => {
      const err = configError(() => loadConfig({ [variable]: value }));
      assert.equal(err.variable, variable);
      assert.match(err.message, new RegExp(`\\b${variable}\\b`));
      assert.equal(err.name, 'ConfigError');
    });
  }

  it('the secret key is never echoed in its error', () => {
    const key = randomBytes(20).toString('base64');
    const err = configError(() => loadConfig({ YUBIN_SECRET_KEY: key }));
    assert.ok(!err.message.includes(key));
  });
});

describe('loadSecretKey', () => {
  it('creates secret.key with mode 0600 on first start and reuses it next time', (t) => {
    const dataDir = join(tempDir(t), 'nested', 'data');
    const key = loadSecretKey({ dataDir, secretKey: undefined });
    assert.equal(key.length, 32);
    const file = join(dataDir, KEY_FILE_NAME);
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').equals(key));
    const again = loadSecretKey({ dataDir, secretKey: undefined });
    assert.ok(again.equals(key));
  });

  it('tightens a key file that others can read', (t) => {
    const dataDir = tempDir(t);
    const key = loadSecretKey({ dataDir, secretKey: undefined });
    const file = join(dataDir, KEY_FILE_NAME);
    chmodSync(file, 0o644);
    assert.ok(loadSecretKey({ dataDir, secretKey: undefined }).equals(key));
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('a key file that is a directory is an error naming the data folder and the file, not EISDIR alone', (t) => {
    const dataDir = tempDir(t);
    mkdirSync(join(dataDir, KEY_FILE_NAME));
    assert.throws(
      () => loadSecretKey({ dataDir, secretKey: undefined }),
      (err: Error & { variable?: string }) => err instanceof ConfigError && err.variable === 'YUBIN_DATA_DIR' && err.message.includes(KEY_FILE_NAME) && err.message.includes('EISDIR'),
    );
  });

  it('YUBIN_SECRET_KEY overrides the file and creates none', (t) => {
    const dataDir = tempDir(t);
    const fromEnv = randomBytes(32);
    assert.ok(loadSecretKey({ dataDir, secretKey: fromEnv }).equals(fromEnv));
    assert.ok(!existsSync(join(dataDir, KEY_FILE_NAME)));
    const fileKey = loadSecretKey({ dataDir, secretKey: undefined });
    assert.ok(!fileKey.equals(fromEnv));
    assert.ok(loadSecretKey({ dataDir, secretKey: fromEnv }).equals(fromEnv));
  });

  it('through loadConfig: the variable wins over an existing file', (t) => {
    const dataDir = tempDir(t);
    const fileKey = loadSecretKey({ dataDir, secretKey: undefined });
    const envKey = randomBytes(32);
    const cfg = loadConfig({ YUBIN_DATA_DIR: dataDir, YUBIN_SECRET_KEY: envKey.toString('base64') });
    const key = loadSecretKey(cfg);
    assert.ok(key.equals(envKey));
    assert.ok(!key.equals(fileKey));
  });

  it('a damaged key file is a ConfigError, not a silently new key', (t) => {
    const dataDir = tempDir(t);
    writeFileSync(join(dataDir, KEY_FILE_NAME), 'c2hvcnQ=\n', { mode: 0o600 });
    const err = configError(() => loadSecretKey({ dataDir, secretKey: undefined }));
    assert.equal(err.variable, 'YUBIN_DATA_DIR');
    assert.match(err.message, /secret\.key/);
  });

  it('a data folder that cannot be one is a ConfigError naming YUBIN_DATA_DIR: a file, a path through a file, an unwritable place; nested folders are made', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    assert.match(configError(() => loadSecretKey({ dataDir: file, secretKey: undefined })).message, /^YUBIN_DATA_DIR: .*a-file is a file, not a folder/);
    assert.match(configError(() => loadSecretKey({ dataDir: join(file, 'data'), secretKey: undefined })).message, /a-file \(a part of .*\) is a file, not a folder/);
    // /proc takes no new folders (Node's recursive mkdir looped there forever)
    assert.match(configError(() => loadSecretKey({ dataDir: '/proc/yubin-test/data', secretKey: undefined })).message, /cannot create the folder \/proc\/yubin-test/);
    loadSecretKey({ dataDir: join(dir, 'x', 'y', 'data'), secretKey: undefined });
    assert.equal(statSync(join(dir, 'x', 'y', 'data')).mode & 0o777, 0o700);
    assert.ok(existsSync(join(dir, 'x', 'y', 'data', KEY_FILE_NAME)));
  });

  it('each refusal reads in Japanese too, naming the variable', (t) => {
    assert.equal(configError(() => loadConfig({ PORT: 'abc' })).localized('ja'), 'PORT: 1から65535までの整数にしてください（指定された値: "abc"）');
    const file = join(tempDir(t), 'a-file');
    writeFileSync(file, 'x');
    assert.equal(configError(() => loadSecretKey({ dataDir: file, secretKey: undefined })).localized('ja'), `YUBIN_DATA_DIR: ${file} はファイルです。フォルダーを指定してください`);
    assert.match(configError(() => loadSecretKey({ dataDir: '/proc/yubin-test/data', secretKey: undefined })).localized('ja'), /^YUBIN_DATA_DIR: フォルダー \/proc\/yubin-test を作成できません（ここにはフォルダーを作成できません）$/);
  });

  it('YUBIN_LOG_LEVEL must be a pino level', () => {
    assert.equal(configError(() => loadConfig({ YUBIN_LOG_LEVEL: 'bogus' })).variable, 'YUBIN_LOG_LEVEL');
    assert.equal(loadConfig({ YUBIN_LOG_LEVEL: 'debug' }).logLevel, 'debug');
    // empty is unset, spaces around are dropped (pino itself refuses both)
    assert.equal(loadConfig({ YUBIN_LOG_LEVEL: '' }).logLevel, undefined);
    assert.equal(loadConfig({ YUBIN_LOG_LEVEL: ' warn ' }).logLevel, 'warn');
  });

  it('YUBIN_LANG must be ja or en; an empty one is unset and LANG decides', () => {
    const e = configError(() => loadConfig({ YUBIN_LANG: 'fr' }));
    assert.equal(e.variable, 'YUBIN_LANG');
    assert.equal(e.localized('ja'), 'YUBIN_LANG: ja か en にしてください（指定された値: "fr"）');
    loadConfig({ YUBIN_LANG: 'en' });
    loadConfig({ YUBIN_LANG: '' });
    assert.equal(langFromEnv({ YUBIN_LANG: '', LANG: 'en_US.UTF-8' }), 'en');
    assert.equal(langFromEnv({ YUBIN_LANG: 'ja', LANG: 'en_US.UTF-8' }), 'ja');
    assert.equal(langFromEnv({}), 'ja');
  });
});

describe('SecretBox', () => {
  it('round-trips text, including non-ASCII and empty', () => {
    const box = new SecretBox(randomBytes(32));
    for (const plain of ['hunter2', 'パスワード🔑', '', 'x'.repeat(10_000)]) {
      const sealed = box.seal(plain);
      assert.ok(sealed.startsWith('v1:'));
      if (plain) assert.ok(!sealed.includes(plain));
      assert.equal(box.open(sealed), plain);
    }
  });

  it('seals the same text differently each time', () => {
    const box = new SecretBox(randomBytes(32));
    const a = box.seal('same password');
    const b = box.seal('same password');
    assert.notEqual(a, b);
    assert.equal(box.open(a), 'same password');
    assert.equal(box.open(b), 'same password');
  });

  it('detects tampering anywhere in nonce, tag or ciphertext', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('do not change me');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    for (const i of [0, 11, 12, 27, 28, raw.length - 1]) {
      const copy = Buffer.from(raw);
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      assert.throws(() => box.open('v1:' + copy.toString('base64')), Error, `byte ${i}`);
    }
    assert.throws(() => box.open('v1:' + raw.subarray(0, raw.length - 1).toString('base64')));
    assert.throws(() => box.open(sealed.slice(3)), /unknown secret format/);
    assert.throws(() => box.open('v2:' + sealed.slice(3)), /unknown secret format/);
  });

  it('refuses a shortened authentication tag', () => {
    // GCM accepts tags cut to 4 bytes unless the length is pinned: a 4-byte tag can be forged
    // in 2^32 tries. Cutting the tag of an empty secret keeps nonce | tag-prefix valid.
    const box = new SecretBox(randomBytes(32));
    const raw = Buffer.from(box.seal('').slice(3), 'base64');
    assert.equal(raw.length, 28);
    for (const tagBytes of [15, 12, 8, 4]) {
      assert.throws(() => box.open('v1:' + raw.subarray(0, 12 + tagBytes).toString('base64')), Error, `${tagBytes}-byte tag accepted`);
    }
  });

  it('a different key cannot open it', () => {
    const sealed = new SecretBox(randomBytes(32)).seal('secret');
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed));
  });

  it('refuses a key that is not 32 bytes', () => {
    assert.throws(() => new SecretBox(randomBytes(16)), /32-byte/);
  });
});
