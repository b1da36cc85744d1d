// OAuth 2.0 rows: provider settings per preset, pending authorization flows, and an
// account's grant. The grant is written only by compare-and-swap on its version, so two
// workers refreshing one grant at once never overwrite each other: the second write
// loses and re-reads (a rotated refresh token is never dropped for an older one).
import type { Kysely, Transaction } from 'kysely';
import type { Database, OAuthProviderTable, OAuthStateTable } from './schema.ts';

type Q = Kysely<Database> | Transaction<Database>;

export interface GrantRow {
  tokenEnc: string | null;
  version: number;
  status: string | null;
  errorCode: string | null;
  errorMessage: string | null;
}

export class OAuthRepository {
  constructor(private readonly db: Kysely<Database>) {}

  // ---- provider settings -------------------------------------------------------------

  async provider(preset: string, q: Q = this.db): Promise<OAuthProviderTable | undefined> {
    return q.selectFrom('oauth_providers').selectAll().where('preset', '=', preset).executeTakeFirst();
  }

  async saveProvider(q: Q, row: OAuthProviderTable): Promise<void> {
    const { preset: _preset, ...values } = row;
    await q
      .insertInto('oauth_providers')
      .values(row)
      .onConflict((oc) => oc.column('preset').doUpdateSet(values))
      .execute();
  }

  // ---- pending authorization flows ---------------------------------------------------

  async insertState(q: Q, row: OAuthStateTable): Promise<void> {
    await q.insertInto('oauth_states').values(row).execute();
  }

  /** Take a state out (single use): the row, or undefined when unknown or already used. */
  async takeState(stateHash: string): Promise<OAuthStateTable | undefined> {
    // DELETE … RETURNING (SQLite ≥ 3.35, PostgreSQL): of two callbacks with one state, one wins
    return this.db.deleteFrom('oauth_states').where('state_hash', '=', stateHash).returningAll().executeTakeFirst();
  }

  async pruneStates(nowIso: string): Promise<void> {
    await this.db.deleteFrom('oauth_states').where('expires_at', '<', nowIso).execute();
  }

  // ---- an account's grant ---------------------------------------------------------------

  async grant(accountId: string, q: Q = this.db): Promise<GrantRow | undefined> {
    const r = await q
      .selectFrom('mail_accounts')
      .select(['oauth_token_enc', 'oauth_token_version', 'oauth_status', 'oauth_error_code', 'oauth_error_message'])
      .where('id', '=', accountId)
      .executeTakeFirst();
    if (!r) return undefined;
    return { tokenEnc: r.oauth_token_enc, version: Number(r.oauth_token_version), status: r.oauth_status, errorCode: r.oauth_error_code, errorMessage: r.oauth_error_message };
  }

  /**
   * Store a new grant (first connection, re-authorization) whatever the version: the
   * administrator's fresh consent replaces anything a worker holds.
   */
  async replaceGrant(q: Q, accountId: string, tokenEnc: string): Promise<void> {
    await q
      .updateTable('mail_accounts')
      .set((eb) => ({
        oauth_token_enc: tokenEnc,
        oauth_token_version: eb('oauth_token_version', '+', 1),
        oauth_status: 'connected',
        oauth_error_code: null,
        oauth_error_message: null,
        // a due receive run at once, rather than after the back-off of the failed ones
        next_run_at: null,
        consecutive_failures: 0,
      }))
      .where('id', '=', accountId)
      .execute();
  }

  /**
   * Forget the grant (the account now names another mailbox or provider): not connected, and
   * a worker holding the old token can no longer store a refreshed one (the version moves on).
   */
  async dropGrant(q: Q, accountId: string): Promise<void> {
    await q
      .updateTable('mail_accounts')
      .set((eb) => ({
        oauth_token_enc: null,
        oauth_token_version: eb('oauth_token_version', '+', 1),
        oauth_status: null,
        oauth_error_code: null,
        oauth_error_message: null,
      }))
      .where('id', '=', accountId)
      .execute();
  }

  /** Compare-and-swap: true when `expectedVersion` was still current and the token is stored. */
  async swapToken(accountId: string, expectedVersion: number, tokenEnc: string): Promise<boolean> {
    const r = await this.db
      .updateTable('mail_accounts')
      .set({ oauth_token_enc: tokenEnc, oauth_token_version: expectedVersion + 1 })
      .where('id', '=', accountId)
      .where('oauth_token_version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The grant is dead (revoked, expired, consent withdrawn): stop using it until re-authorized. */
  async flagReauthorize(accountId: string, expectedVersion: number, code: string, message: string): Promise<boolean> {
    const r = await this.db
      .updateTable('mail_accounts')
      .set({ oauth_status: 'reauthorize', oauth_error_code: code, oauth_error_message: message.slice(0, 2000) })
      .where('id', '=', accountId)
      .where('oauth_token_version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Deliveries held back for re-authorization go out now. */
  async wakeHeldDeliveries(q: Q, accountId: string, nowIso: string): Promise<void> {
    await q
      .updateTable('delivery_recipients')
      .set({ next_attempt_at: nowIso })
      .where('account_id', '=', accountId)
      .where('status', '=', 'deferred')
      .where('error_code', 'in', ['OAUTH_REAUTHORIZE', 'OAUTH_NOT_CONNECTED'])
      .execute();
  }
}
