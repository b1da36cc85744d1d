// The reasons an unsubscribe link stores on the suppression list: kept as these words in the
// database (scripts read them), shown in its own language by the web UI. No imports: the web
// bundle takes it as it is.
export const UNSUBSCRIBE_REASONS = { oneClick: 'List-Unsubscribe (one-click)', page: 'unsubscribe link' } as const;
