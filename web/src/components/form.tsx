// Form building blocks: a labelled row with its help text and the API's error for
// that field right next to it, and the banner with the API's message. Inside a
// Form, a row's error goes away once its field is edited (the answer was about the old
// value) and comes back only with the next answer that names it.
import { createContext, useContext, useEffect, useId, useState, type FormHTMLAttributes, type ReactNode } from 'react';
import type { ApiError } from '../api/client.ts';

/** The API's answer that the rows' errors come from: a new one (each submit) shows them all again. */
const ErrorScope = createContext<object | undefined>(undefined);

/** A <form> whose rows show `error`'s field errors until their fields are edited. */
export function Form({ error, children, ...props }: FormHTMLAttributes<HTMLFormElement> & { error: ApiError | undefined | null }) {
  return (
    <form {...props}>
      <ErrorScope.Provider value={error ?? undefined}>{children}</ErrorScope.Provider>
    </form>
  );
}

export interface RowProps {
  /** the API path of the field (e.g. "incoming.port"): errors for it show in this row */
  path?: string;
  label: ReactNode;
  /** id of the control the label is for; a fieldset-like row (radios) passes none */
  htmlFor?: string;
  help?: ReactNode;
  error?: string | undefined;
  required?: boolean;
  children: ReactNode;
}

export function Row({ path, label, htmlFor, help, error: given, required, children }: RowProps) {
  const answer = useContext(ErrorScope);
  // the answer whose error for this row was edited away
  const [editedAfter, setEditedAfter] = useState<object | undefined>();
  const error = answer !== undefined && editedAfter === answer ? undefined : given;
  const edited = () => {
    if (given && answer !== undefined && editedAfter !== answer) setEditedAfter(answer);
  };
  const errorId = htmlFor ? htmlFor + '-error' : undefined;
  // the control names its error, so a screen reader reads it with the field, not only once
  useEffect(() => {
    const control = htmlFor ? document.getElementById(htmlFor) : null;
    if (!control || !errorId) return;
    if (error) control.setAttribute('aria-describedby', errorId);
    else if (control.getAttribute('aria-describedby') === errorId) control.removeAttribute('aria-describedby');
  }, [htmlFor, errorId, error]);
  return (
    <div className={'form-row' + (error ? ' has-error' : '')} data-field={path} onInput={edited} onChange={edited}>
      <div className="form-label">
        {htmlFor ? <label htmlFor={htmlFor}>{label}</label> : <span>{label}</span>}
        {required ? <span className="required" aria-hidden="true">*</span> : null}
      </div>
      <div className="form-control">
        {children}
        {error ? (
          <p className="field-error" role="alert" id={errorId}>
            {error}
          </p>
        ) : null}
        {help ? <div className="help">{help}</div> : null}
      </div>
    </div>
  );
}

/** The API's message; field errors that no row shows are listed under it. */
export function ErrorBanner({ error, shownPaths = [], otherLabel }: { error: ApiError | undefined | null; shownPaths?: string[]; otherLabel?: string }) {
  if (!error) return null;
  const validation = error.code === 'VALIDATION' && error.fields.length > 0;
  const rest = validation ? error.fields.filter((f) => !shownPaths.includes(f.path)) : [];
  // the API's validation message repeats every field message after its summary
  const message = validation ? summaryOf(error.message, error.fields) : error.message;
  return (
    <div className="banner banner-error" role="alert" data-testid="error-banner">
      <p>{message}</p>
      {rest.length ? (
        <>
          {otherLabel && rest.length < error.fields.length ? <p>{otherLabel}</p> : null}
          <ul>
            {rest.map((f) => (
              <li key={f.path + f.message}>{f.message}</li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

function summaryOf(message: string, fields: { message: string }[]): string {
  const first = fields[0]?.message;
  const at = first ? message.indexOf(first) : -1;
  return at > 0 ? message.slice(0, at).trim() : message;
}

export function Notice({ kind = 'info', children }: { kind?: 'info' | 'warning' | 'success'; children: ReactNode }) {
  return (
    <div className={`banner banner-${kind}`} role={kind === 'warning' ? 'note' : 'status'}>
      {children}
    </div>
  );
}

/** A stable id for a control, for label htmlFor and aria-describedby. */
export function useFieldId(name: string): string {
  return useId().replace(/:/g, '') + '-' + name.replace(/\W/g, '-');
}
