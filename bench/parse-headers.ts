// Micro-benchmark of the receive-time metadata parse (src/mail/metadata.ts): extractMetadata on
// 10,000 generated mails of about 10 KB (Japanese headers; multipart with a base64 attachment,
// single-part QP, alternative text+HTML), three rounds, then the chunked collector, then
// mailparser's simpleParser on a sample for comparison. Prints mails/s; asserts nothing.
// Run: node --import tsx bench/parse-headers.ts [count]
import { simpleParser } from 'mailparser';
import { createMetadataCollector, extractMetadata } from '../src/mail/metadata.ts';

const COUNT = Number(process.argv[2] ?? 10_000);
const TARGET_BYTES = 10 * 1024;
const CHUNK = 16 * 1024;
const MAILPARSER_SAMPLE = 300;
const ROUNDS = 3;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function filler(seed: number, bytes: number): string {
  const words = ['お世話になっております。', 'ご確認ください。', 'Lorem ipsum dolor sit amet, ', '明日の会議は十時からです。', 'Thanks and regards. '];
  let s = '';
  let i = seed;
  while (Buffer.byteLength(s) < bytes) {
    s += words[i++ % words.length];
    if (i % 4 === 0) s += '\r\n';
  }
  return s;
}

function commonHeader(i: number): string[] {
  return [
    `Received: from mx${i % 7}.example.net (mx${i % 7}.example.net [192.0.2.${i % 250}]) by mail.example.jp with ESMTPS id ${i.toString(36)}; Mon, 15 Jan 2024 09:30:${String(i % 60).padStart(2, '0')} +0900`,
    'Received: from localhost (localhost [127.0.0.1]) by mx.example.net (Postfix) with ESMTP id 4TJ2xQ0b3Hz9sT; Mon, 15 Jan 2024 09:29:58 +0900',
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=sel; h=from:to:subject:date:message-id;',
    '\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR',
    `From: =?UTF-8?B?${b64('山田 太郎')}?= <yamada${i % 100}@example.jp>`,
    `To: "Sales" <sales@example.co.jp>, =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <b${i}@example.jp>`,
    'Cc: c@example.jp',
    `Subject: =?UTF-8?B?${b64(`【第${i}号】ご案内とお見積もりの件`)}?=`,
    `Date: Mon, 15 Jan 2024 09:${String(i % 60).padStart(2, '0')}:00 +0900`,
    `Message-ID: <${i}.${i * 7919}@example.jp>`,
    'MIME-Version: 1.0',
    'X-Mailer: bench',
  ];
}

function makeMail(i: number): Buffer {
  const shape = i % 3;
  const head = commonHeader(i);
  let body: string;
  if (shape === 0) {
    head.push('Content-Type: multipart/mixed; boundary="mixed-' + i + '"');
    const attachment = Buffer.alloc(5000, i & 0xff).toString('base64').replace(/.{76}/g, '$&\r\n');
    body = [
      '--mixed-' + i,
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: base64',
      '',
      b64(filler(i, 1500)).replace(/.{76}/g, '$&\r\n'),
      '--mixed-' + i,
      `Content-Type: application/pdf; name="=?UTF-8?B?${b64('見積書.pdf')}?="`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf`,
      '',
      attachment,
      '--mixed-' + i + '--',
      '',
    ].join('\r\n');
  } else if (shape === 1) {
    head.push('Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: quoted-printable');
    body = Buffer.from(filler(i, 3000), 'utf8')
      .toString('hex')
      .toUpperCase()
      .replace(/(..)/g, '=$1')
      .replace(/.{72}/g, '$&=\r\n');
  } else {
    head.push('Content-Type: multipart/alternative; boundary="alt-' + i + '"');
    const text = filler(i, 3500);
    body = [
      '--alt-' + i,
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      text,
      '--alt-' + i,
      'Content-Type: text/html; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      '<html><body><p>' + text.replace(/\r\n/g, '<br>\r\n') + '</p></body></html>',
      '--alt-' + i + '--',
      '',
    ].join('\r\n');
  }
  let raw = Buffer.from(head.join('\r\n') + '\r\n\r\n' + body, 'utf8');
  if (raw.length < TARGET_BYTES) raw = Buffer.concat([raw, Buffer.from('\r\n' + 'x'.repeat(TARGET_BYTES - raw.length - 2))]);
  return raw;
}

const mails = Array.from({ length: COUNT }, (_, i) => makeMail(i));
const totalBytes = mails.reduce((n, m) => n + m.length, 0);
console.log(`${COUNT} mails, average ${(totalBytes / COUNT / 1024).toFixed(1)} KB`);

interface Clock {
  wall: number;
  cpu: NodeJS.CpuUsage;
}
const start = (): Clock => ({ wall: performance.now(), cpu: process.cpuUsage() });

// CPU time is printed too: on a shared 2-core machine wall time mostly measures the neighbours
function report(label: string, count: number, bytes: number, from: Clock): void {
  const ms = performance.now() - from.wall;
  const cpu = process.cpuUsage(from.cpu);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const rate = (n: number): string => Math.round((count / n) * 1000).toLocaleString('en');
  console.log(`${label}: ${rate(ms)} mails/s, ${((bytes / 1024 / 1024 / ms) * 1000).toFixed(0)} MB/s (${ms.toFixed(0)} ms wall; ${rate(cpuMs)} mails per CPU-second)`);
}

// warm-up so the JIT and the lazy ISO-2022-JP table do not count
for (let i = 0; i < Math.min(1000, COUNT); i++) extractMetadata(mails[i]!);

let attachments = 0;
for (let round = 1; round <= ROUNDS; round++) {
  attachments = 0;
  const t = start();
  for (const m of mails) if (extractMetadata(m).hasAttachments) attachments++;
  report(`extractMetadata, round ${round}`, COUNT, totalBytes, t);
}

for (let round = 1; round <= ROUNDS; round++) {
  const t = start();
  for (const m of mails) {
    const c = createMetadataCollector();
    for (let i = 0; i < m.length; i += CHUNK) c.update(m.subarray(i, i + CHUNK));
    c.end();
  }
  report(`collector (${CHUNK / 1024} KB chunks), round ${round}`, COUNT, totalBytes, t);
}

const sample = mails.slice(0, Math.min(MAILPARSER_SAMPLE, COUNT));
const t = start();
for (const m of sample) await simpleParser(m);
report('mailparser simpleParser (sample, for comparison)', sample.length, sample.reduce((n, m) => n + m.length, 0), t);
console.log(`(${attachments} mails with attachments)`);
