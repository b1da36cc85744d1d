// The CLI's own numeric and enum options (src/cli/options.ts) and commander's usage errors
// in the CLI's voice (src/cli/usage-error.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, CommanderError } from 'commander';
import { integerOption, parseChoice, parseInteger } from '../../src/cli/options.ts';
import { usageMessage } from '../../src/cli/usage-error.ts';
import { AppError } from '../../src/domain/errors.ts';
import { refusal } from '../support/refusal.ts';


test('an integer option takes a plain integer in its range, and names itself otherwise', () => {
  const page = { min: 1, max: 1000 };
  assert.equal(parseInteger('--limit', '50', page), 50);
  assert.equal(parseInteger('--limit', ' 1000 ', page), 1000);
  for (const value of ['abc', '0', '-5', '1001', '1.5', '1e3', '', '0x10']) {
    const r = refusal(() => parseInteger('--limit', value, page));
    assert.equal(r.code, 'VALIDATION', value);
    assert.equal(r.ja, `--limit には1から1000までの整数を指定してください（指定された値: 「${value}」）。`);
    assert.equal(r.en, `--limit must be an integer from 1 to 1000 (got "${value}").`);
  }
  assert.equal(parseInteger('--max-messages', '123456789', { min: 1 }), 123456789);
  assert.equal(refusal(() => parseInteger('--max-messages', '99999999999999999999', { min: 1 })).en, '--max-messages must be an integer of at least 1 (got "99999999999999999999").');
  assert.equal(refusal(() => parseInteger('--max-messages', 'abc', { min: 1 })).ja, '--max-messages には1以上の整数を指定してください（指定された値: 「abc」）。');
});

test('a choice option lists what it takes', () => {
  assert.equal(parseChoice('--status', 'failed', ['sent', 'failed']), 'failed');
  const r = refusal(() => parseChoice('--status', 'Failed', ['sent', 'failed']));
  assert.equal(r.ja, '--status には次のいずれかを指定してください: sent, failed（指定された値: 「Failed」）');
  assert.equal(r.en, '--status must be one of: sent, failed (got "Failed").');
});

test('commander runs the parser while reading the command line, before any action', async () => {
  let ran = false;
  const program = new Command('yubin').exitOverride();
  program.addOption(integerOption('--limit <n>', 'how many', { min: 1, max: 10 })).action(() => {
    ran = true;
  });
  await assert.rejects(program.parseAsync(['--limit', '11'], { from: 'user' }), (err) => err instanceof AppError && err.localized('en').message.startsWith('--limit must be'));
  assert.equal(ran, false);
  await program.parseAsync(['--limit', '7'], { from: 'user' });
  assert.equal(program.opts().limit, 7);
});

test("commander's usage errors in Japanese and English", () => {
  const e = (code: string, message: string) => new CommanderError(1, code, message);
  const required = e('commander.missingMandatoryOptionValue', "error: required option '--account <address>' not specified");
  assert.equal(usageMessage('ja', required), 'オプション --account <address> を指定してください。');
  assert.equal(usageMessage('en', required), 'The option --account <address> is required.');
  const unknown = e('commander.unknownOption', "error: unknown option '--nme'\n(Did you mean --name?)");
  assert.equal(usageMessage('ja', unknown), '--nme というオプションはありません。（もしかして: --name）');
  assert.equal(usageMessage('en', unknown), 'Unknown option: --nme (Did you mean --name?)');
  assert.equal(usageMessage('ja', e('commander.unknownCommand', "error: unknown command 'frob'")), 'frob というコマンドはありません。');
  assert.equal(usageMessage('ja', e('commander.optionMissingArgument', "error: option '--limit <n>' argument missing")), 'オプション --limit <n> の値を指定してください。');
  assert.equal(usageMessage('en', e('commander.missingArgument', "error: missing required argument 'server'")), 'The argument server is required.');
  assert.equal(usageMessage('en', e('commander.excessArguments', "error: too many arguments for 'list'. Expected 0 arguments but got 1.")), 'Too many arguments: expected at most 0, got 1.');
  assert.equal(usageMessage('ja', e('commander.conflictingOption', "error: option '--a' cannot be used with option '--b'")), '--a と --b は同時に指定できません。');
  // one this catalogue does not know is shown as commander said it
  assert.equal(usageMessage('ja', e('commander.invalidArgument', "error: option '--x' argument 'y' is invalid.")), "option '--x' argument 'y' is invalid.");
});
