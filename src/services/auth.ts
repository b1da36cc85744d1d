// Administrators, API tokens and the first-run setup token.
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { AppError, notFound, ValidationError, type FieldIssue } from '../domain/errors.ts';
import { CONTROL_CHARS } from '../domain/validation.ts';
import { sha256 } from '../store/auth.ts';
import type { AppContext } from './context.ts';

export const SETUP_TOKEN_KEY = 'setup_token_hash';
export const MIN_ADMIN_PASSWORD = 8;
export const MAX_ADMIN_PASSWORD = 1024;
/** A hash to verify against when the user does not exist, so timing does not tell. */
let dummyHash: Promise<string> | undefined;

export class AuthService {
  constructor(private readonly ctx: AppContext) {}

  async createAdmin(username: string, password: string, actor = 'cli'): Promise<string> {
    const issues: FieldIssue[] = [];
    const name = username.trim();
    if (!name) issues.push({ path: 'username', key: 'validation.required' });
    else if (name.length > 100 || /\s/.test(name) || CONTROL_CHARS.test(name)) issues.push({ path: 'username', key: 'validation.adminUsername', params: { max: 100 } });
    if (password.length < MIN_ADMIN_PASSWORD || password.length > MAX_ADMIN_PASSWORD) {
      issues.push({ path: 'password', key: 'validation.adminPasswordLength', params: { min: MIN_ADMIN_PASSWORD, max: MAX_ADMIN_PASSWORD } });
    }
    if (!issues.length && (await this.ctx.repos.admins.findByUsername(name))) {
      issues.push({ path: 'username', key: 'validation.duplicateAdmin', params: { name } });
    }
    if (issues.length) throw new ValidationError(issues);
    const id = await this.ctx.repos.admins.insert(name, await hash(password));
    await this.ctx.repos.audit.append(this.ctx.db.kysely, { actor, action: 'admin.create', targetType: 'admin', targetId: id, targetName: name, fields: [] });
    await this.ctx.repos.settings.delete(SETUP_TOKEN_KEY);
    return id;
  }

  /** The admin's id when the password is right. */
  async verifyPassword(username: string, password: string): Promise<{ id: string; username: string } | undefined> {
    const admin = await this.ctx.repos.admins.findByUsername(username);
    if (!admin) {
      dummyHash ??= hash('not-a-password-' + randomBytes(8).toString('hex'));
      await verify(await dummyHash, password).catch(() => false);
      return undefined;
    }
    return (await verify(admin.password_hash, password).catch(() => false)) ? { id: admin.id, username: admin.username } : undefined;
  }

  async needsSetup(): Promise<boolean> {
    return (await this.ctx.repos.admins.count()) === 0;
  }

  /** A new one-time setup token (printed by `serve` as a URL when no administrator exists). */
  async issueSetupToken(): Promise<string> {
    const token = randomBytes(24).toString('base64url');
    await this.ctx.repos.settings.set(SETUP_TOKEN_KEY, sha256(token));
    return token;
  }

  async completeSetup(token: string, username: string, password: string): Promise<string> {
    if (!(await this.needsSetup())) throw new AppError('SETUP_DONE', 'error.setupDone');
    const stored = await this.ctx.repos.settings.get(SETUP_TOKEN_KEY);
    if (!stored || stored !== sha256(token)) throw new AppError('SETUP_TOKEN', 'error.setupToken');
    return this.createAdmin(username, password, 'setup');
  }

  async createToken(name: string): Promise<string> {
    const n = name.trim();
    // one line: `token list` prints one per line
    if (!n) throw new ValidationError([{ path: 'tokenName', key: 'validation.required' }]);
    if (n.length > 100 || CONTROL_CHARS.test(n)) throw new ValidationError([{ path: 'tokenName', key: 'validation.tokenName', params: { max: 100 } }]);
    if (await this.ctx.repos.tokens.findActiveByName(n)) throw new AppError('CONFLICT', 'error.tokenName', { name: n });
    const token = 'ybn_' + randomBytes(32).toString('base64url');
    const id = await this.ctx.repos.tokens.insert(n, token);
    await this.ctx.repos.audit.append(this.ctx.db.kysely, { actor: 'cli', action: 'api_token.create', targetType: 'api_token', targetId: id, targetName: n, fields: [] });
    return token;
  }

  async revokeToken(name: string): Promise<void> {
    if (!(await this.ctx.repos.tokens.revoke(name.trim()))) throw notFound('what.apiToken');
    await this.ctx.repos.audit.append(this.ctx.db.kysely, { actor: 'cli', action: 'api_token.revoke', targetType: 'api_token', targetId: null, targetName: name.trim(), fields: [] });
  }
}
