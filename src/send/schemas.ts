// Deliveries and bulk deliveries (PRODUCT.md §5, INTERFACE.md "Deliveries"): the TypeBox
// schemas that validate the API's and the CLI's input, type the services and document the
// OpenAPI. One schema per concept.
import Type, { type Static, type TSchema } from 'typebox';

/** Recipients of one single send (To + Cc + Bcc). */
export const MAX_RECIPIENTS_PER_MAIL = 100;
/** Recipients of one bulk delivery. */
export const MAX_BULK_RECIPIENTS = 100_000;
export const MAX_SUBJECT_LENGTH = 1000;
/** Body text / HTML and CSV text, in characters. */
export const MAX_TEXT_LENGTH = 10_000_000;

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Address = Type.String({ maxLength: 1000, description: 'mail address, e.g. a@example.com' });
const Charset = Type.Union([Type.Literal('utf-8'), Type.Literal('iso-2022-jp')], {
  description: 'utf-8 (default) or iso-2022-jp; a mail ISO-2022-JP cannot carry is sent as UTF-8 (see charsetFallback)',
});
export type Charset = Static<typeof Charset>;

const STATUS_LITERALS = [
  Type.Literal('queued'),
  Type.Literal('sending'),
  Type.Literal('sent'),
  Type.Literal('deferred'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
] as const;

export const RecipientStatus = Type.Union([...STATUS_LITERALS], { description: 'queued → sending → sent | deferred (retried later) | failed; cancelled when its bulk delivery was cancelled' },
);

export const Attachment = Type.Object(
  {
    // a file name goes into two headers: no control characters (a name no file system gives)
    filename: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
    contentType: Type.String({ minLength: 1, maxLength: 255, pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+/[!#$%&\'*+.^_`|~0-9A-Za-z-]+$', 'x-error': 'send.contentType' }),
    contentBase64: Type.String({ maxLength: 70_000_000 }),
  },
  { additionalProperties: false },
);

export const DeliveryInput = Type.Object(
  {
    accountId: Type.String({ maxLength: 200, description: 'the mail account that sends (From and envelope sender)' }),
    to: Type.Array(Address, { maxItems: MAX_RECIPIENTS_PER_MAIL }),
    cc: Type.Optional(Type.Array(Address, { maxItems: MAX_RECIPIENTS_PER_MAIL })),
    bcc: Type.Optional(Type.Array(Address, { maxItems: MAX_RECIPIENTS_PER_MAIL })),
    subject: Type.String({ maxLength: MAX_SUBJECT_LENGTH }),
    text: Type.Optional(Nullable(Type.String({ maxLength: MAX_TEXT_LENGTH }))),
    html: Type.Optional(Nullable(Type.String({ maxLength: MAX_TEXT_LENGTH }))),
    attachments: Type.Optional(Type.Array(Attachment, { maxItems: 100 })),
    charset: Type.Optional(Charset),
    replyTo: Type.Optional(Nullable(Type.String({ maxLength: 1000, description: 'Reply-To: the address replies should go to' }))),
    inReplyTo: Type.Optional(Nullable(Type.String({ maxLength: 1000, description: 'In-Reply-To: the Message-ID of the mail this one answers (angle brackets optional)' }))),
    references: Type.Optional(Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 100, description: 'References: the Message-IDs of the thread, oldest first' })),
  },
  { additionalProperties: false, $id: 'DeliveryInput' },
);
export type DeliveryInput = Static<typeof DeliveryInput>;

export const DeliveryRecipient = Type.Object({
  address: Type.String(),
  kind: Type.Union([Type.Literal('to'), Type.Literal('cc'), Type.Literal('bcc')]),
  status: RecipientStatus,
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String({ description: 'deferred: when the next attempt is due' })),
  code: Nullable(Type.Integer({ description: 'the SMTP reply code of the last attempt' })),
  reply: Nullable(Type.String({ description: "the server's reply text of the last attempt" })),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String({ description: 'in the request’s language' }), detail: Type.String({ description: 'the error’s own text' }) })),
  sentAt: Nullable(Type.String()),
});
export type DeliveryRecipient = Static<typeof DeliveryRecipient>;

export const Delivery = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    bulkDeliveryId: Nullable(Type.String()),
    status: Type.Union([...STATUS_LITERALS], {
      description: 'sending, deferred or queued while any recipient is; then sent, or failed when any recipient failed',
    }),
    subject: Nullable(Type.String()),
    messageId: Nullable(Type.String()),
    size: Nullable(Type.Integer({ description: 'bytes' })),
    charset: Charset,
    charsetFallback: Nullable(Type.Array(Type.String(), { description: 'characters ISO-2022-JP cannot carry; the mail went out as UTF-8' })),
    createdAt: Type.String(),
    recipients: Type.Array(DeliveryRecipient),
  },
  { $id: 'Delivery' },
);
export type Delivery = Static<typeof Delivery>;

export const BulkDeliveryInput = Type.Object(
  {
    accountId: Type.String({ maxLength: 200 }),
    subject: Type.String({ maxLength: MAX_SUBJECT_LENGTH, description: 'template: {{column}} is replaced by the row’s CSV column' }),
    text: Type.Optional(Nullable(Type.String({ maxLength: MAX_TEXT_LENGTH }))),
    html: Type.Optional(Nullable(Type.String({ maxLength: MAX_TEXT_LENGTH, description: 'template; values are HTML-escaped' }))),
    charset: Type.Optional(Charset),
    replyTo: Type.Optional(Nullable(Type.String({ maxLength: 1000, description: 'Reply-To: the address replies to every mail should go to' }))),
    recipientsCsv: Type.Optional(Type.String({ maxLength: MAX_TEXT_LENGTH, description: 'CSV text with a header row; one column holds the address' })),
    recipientsCsvBase64: Type.Optional(
      Type.String({ maxLength: 2 * MAX_TEXT_LENGTH, description: 'the CSV file’s bytes, base64: UTF-8 (with or without BOM), Shift_JIS or UTF-16 with BOM' }),
    ),
    addressColumn: Type.Optional(Type.String({ maxLength: 200, description: 'the address column’s header; default: email, e-mail, mail, address, メールアドレス, メール or 宛先' })),
  },
  { additionalProperties: false, $id: 'BulkDeliveryInput' },
);
export type BulkDeliveryInput = Static<typeof BulkDeliveryInput>;

export const SkippedRow = Type.Object({
  row: Type.Integer({ description: 'CSV row as a spreadsheet shows it: the header is row 1' }),
  line: Type.Integer({ description: 'the line of the file the row starts on' }),
  address: Type.String(),
  reason: Type.Union([Type.Literal('invalid_address'), Type.Literal('duplicate'), Type.Literal('suppressed')]),
  message: Type.String(),
});
export type SkippedRow = Static<typeof SkippedRow>;

export const BulkDeliveryCreated = Type.Object({ id: Type.String(), total: Type.Integer(), skipped: Type.Array(SkippedRow) });

export const BulkStatus = Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('done'), Type.Literal('cancelled')]);

export const BulkDelivery = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    status: BulkStatus,
    pauseReason: Nullable(
      Type.String({
        description:
          'why it paused itself: auth_failed (the server refused the login), server_failed (the connection failed for a reason of the settings: TLS, another protocol’s port, STARTTLS not offered); null when paused by hand',
      }),
    ),
    pauseError: Nullable(
      Type.Object(
        { code: Type.String(), message: Type.String({ description: 'one sentence in the request’s language' }), detail: Type.String({ description: 'the error’s own text' }) },
        { description: 'the error that paused it, until it resumes' },
      ),
    ),
    subject: Type.String({ description: 'the subject template' }),
    charset: Charset,
    replyTo: Nullable(Type.String({ description: 'the Reply-To address of every mail' })),
    total: Type.Integer(),
    sent: Type.Integer(),
    failed: Type.Integer(),
    pending: Type.Integer({ description: 'queued, sending or deferred' }),
    cancelled: Type.Integer(),
    skipped: Type.Array(SkippedRow),
    accountError: Nullable(Type.Object({ code: Type.String(), message: Type.String(), at: Type.String() })),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    finishedAt: Nullable(Type.String()),
  },
  { $id: 'BulkDelivery' },
);
export type BulkDelivery = Static<typeof BulkDelivery>;

export const BulkRecipient = Type.Object({
  row: Type.Integer(),
  deliveryId: Type.String(),
  address: Type.String(),
  status: RecipientStatus,
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  code: Nullable(Type.Integer()),
  reply: Nullable(Type.String()),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String({ description: 'in the request’s language' }), detail: Type.String({ description: 'the error’s own text' }) })),
  sentAt: Nullable(Type.String()),
});
export type BulkRecipient = Static<typeof BulkRecipient>;

export const BulkListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'default 20' })),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the page before' })),
  },
  { additionalProperties: false },
);
export type BulkListQuery = Static<typeof BulkListQuery>;

export const BulkRecipientsQuery = Type.Object(
  {
    status: Type.Optional(RecipientStatus),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ maxLength: 20 })),
  },
  { additionalProperties: false },
);
export type BulkRecipientsQuery = Static<typeof BulkRecipientsQuery>;

export const SuppressionInput = Type.Object(
  {
    addresses: Type.Array(Address, { minItems: 1, maxItems: 10_000 }),
    reason: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  },
  { additionalProperties: false, $id: 'SuppressionInput' },
);
export type SuppressionInput = Static<typeof SuppressionInput>;

export const Suppression = Type.Object({ address: Type.String(), reason: Nullable(Type.String()), createdBy: Type.String(), createdAt: Type.String() });
export type Suppression = Static<typeof Suppression>;
