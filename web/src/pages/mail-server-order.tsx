// 順番変更: the other mail servers in a multi-select list. Click selects one,
// Shift+click a range, Ctrl/Cmd+click toggles; the keyboard does the same (arrows,
// Shift+arrows, Space, Ctrl+A). 一番上へ / 上へ / 下へ / 一番下へ move the whole
// selection; 変更する saves the order (PUT /mail-servers/order), キャンセル discards it.
import { useEffect, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { useNavigate } from 'react-router';
import { api, ApiError } from '../api/client.ts';
import type { MailServer } from '../api/types.ts';
import { ErrorBanner, Notice } from '../components/form.tsx';
import { Page, SERVERS, useSettingsCrumbs } from '../components/layout.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { ServerSummary } from './mail-servers.tsx';

export type Move = 'top' | 'up' | 'down' | 'bottom';

/** The list after moving the selected ids; the selection keeps its relative order. */
export function moveSelection<T extends { id: string }>(items: T[], selected: ReadonlySet<string>, move: Move): T[] {
  const chosen = items.filter((x) => selected.has(x.id));
  const rest = items.filter((x) => !selected.has(x.id));
  if (move === 'top') return [...chosen, ...rest];
  if (move === 'bottom') return [...rest, ...chosen];
  const out = [...items];
  if (move === 'up') {
    for (let i = 1; i < out.length; i++) {
      if (selected.has(out[i]!.id) && !selected.has(out[i - 1]!.id)) [out[i - 1], out[i]] = [out[i]!, out[i - 1]!];
    }
  } else {
    for (let i = out.length - 2; i >= 0; i--) {
      if (selected.has(out[i]!.id) && !selected.has(out[i + 1]!.id)) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
    }
  }
  return out;
}

export function MailServerOrderPage() {
  const { t } = useI18n();
  const crumbs = useSettingsCrumbs();
  const navigate = useNavigate();
  const [items, setItems] = useState<MailServer[] | undefined>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [anchor, setAnchor] = useState<number | null>(null);
  const [focus, setFocus] = useState(0);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const list = useRef<HTMLUListElement>(null);
  /** the item to scroll into view after the next render (the list scrolls; aria-activedescendant does not) */
  const reveal = useRef<string | null>(null);

  useEffect(() => {
    if (reveal.current === null) return;
    document.getElementById(`order-${reveal.current}`)?.scrollIntoView({ block: 'nearest' });
    reveal.current = null;
  });

  useEffect(() => {
    api<{ items: MailServer[] }>('GET', '/api/v1/mail-servers').then(
      (r) => setItems(r.items.filter((s) => !s.preset)),
      (e: unknown) => setError(e instanceof ApiError ? e : undefined),
    );
  }, []);

  const rows = items ?? [];
  const idsBetween = (a: number, b: number) => rows.slice(Math.min(a, b), Math.max(a, b) + 1).map((s) => s.id);

  function click(i: number, e: MouseEvent) {
    const id = rows[i]!.id;
    if (e.shiftKey && anchor !== null) {
      const range = idsBetween(anchor, i);
      setSelected(e.ctrlKey || e.metaKey ? new Set([...selected, ...range]) : new Set(range));
    } else if (e.ctrlKey || e.metaKey) {
      const next = new Set(selected);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      setSelected(next);
      setAnchor(i);
    } else {
      setSelected(new Set([id]));
      setAnchor(i);
    }
    setFocus(i);
    list.current?.focus();
  }

  function key(e: KeyboardEvent) {
    if (!rows.length) return;
    const last = rows.length - 1;
    let to: number | null = null;
    if (e.key === 'ArrowDown') to = Math.min(focus + 1, last);
    else if (e.key === 'ArrowUp') to = Math.max(focus - 1, 0);
    else if (e.key === 'Home') to = 0;
    else if (e.key === 'End') to = last;
    if (to !== null) {
      e.preventDefault();
      if (e.shiftKey) {
        const from = anchor ?? focus;
        setAnchor(from);
        setSelected(new Set(idsBetween(from, to)));
      } else if (!(e.ctrlKey || e.metaKey)) {
        setSelected(new Set([rows[to]!.id]));
        setAnchor(to);
      }
      setFocus(to);
      reveal.current = rows[to]!.id;
      return;
    }
    if (e.key === ' ') {
      e.preventDefault();
      const id = rows[focus]!.id;
      const next = new Set(selected);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      setSelected(next);
      setAnchor(focus);
    } else if ((e.key === 'a' || e.key === 'A') && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      setSelected(new Set(rows.map((s) => s.id)));
    }
  }

  function move(m: Move) {
    const next = moveSelection(rows, selected, m);
    setItems(next);
    // the focus follows the item it was on
    const focusedId = rows[focus]?.id;
    const at = next.findIndex((s) => s.id === focusedId);
    if (at >= 0) setFocus(at);
    const firstSelected = next.findIndex((s) => selected.has(s.id));
    if (firstSelected >= 0) setAnchor(firstSelected);
    // show where the selection went: its first item going up, its last going down
    const lastSelected = next.findLastIndex((s) => selected.has(s.id));
    const shown = m === 'top' || m === 'up' ? firstSelected : lastSelected;
    if (shown >= 0) reveal.current = next[shown]!.id;
  }

  async function save() {
    setBusy(true);
    try {
      await api('PUT', '/api/v1/mail-servers/order', { ids: rows.map((s) => s.id) });
      navigate(SERVERS);
    } catch (e) {
      setError(e instanceof ApiError ? e : undefined);
      setBusy(false);
    }
  }

  const none = selected.size === 0;
  return (
    <Page crumbs={[...crumbs, { label: t('settings.mailServers'), to: SERVERS }, { label: t('servers.reorder') }]} title={t('order.title')}>
      <p className="lead">{t('order.lead')}</p>
      <ErrorBanner error={error} />
      {items && items.length === 0 ? <Notice>{t('order.empty')}</Notice> : null}
      <p className="hint">{t('order.hint')}</p>
      <div className="order-editor">
        <ul
          ref={list}
          className="order-list"
          role="listbox"
          aria-multiselectable="true"
          aria-label={t('servers.others')}
          tabIndex={0}
          aria-activedescendant={rows[focus] ? `order-${rows[focus].id}` : undefined}
          onKeyDown={key}
        >
          {rows.map((s, i) => (
            <li
              key={s.id}
              id={`order-${s.id}`}
              role="option"
              aria-selected={selected.has(s.id)}
              className={(selected.has(s.id) ? 'selected' : '') + (i === focus ? ' focused' : '')}
              onMouseDown={(e) => {
                // keep Shift+click from selecting the page's text
                if (e.shiftKey) e.preventDefault();
              }}
              onClick={(e) => click(i, e)}
            >
              <span className="order-name">{s.name}</span>
              <span className="order-detail">
                <ServerSummary server={s} side="incoming" />
              </span>
            </li>
          ))}
        </ul>
        <div className="order-buttons">
          <button type="button" onClick={() => move('top')} disabled={none}>
            {t('order.top')}
          </button>
          <button type="button" onClick={() => move('up')} disabled={none}>
            {t('order.up')}
          </button>
          <button type="button" onClick={() => move('down')} disabled={none}>
            {t('order.down')}
          </button>
          <button type="button" onClick={() => move('bottom')} disabled={none}>
            {t('order.bottom')}
          </button>
        </div>
      </div>
      <div className="buttons">
        <button type="button" className="primary" onClick={save} disabled={busy || !items || items.length === 0}>
          {t('common.change')}
        </button>
        <button type="button" onClick={() => navigate(SERVERS)}>
          {t('common.cancel')}
        </button>
      </div>
    </Page>
  );
}
