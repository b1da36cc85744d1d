// Inline icons (no icon font: the UI must not depend on the fonts a machine has).
export function ClipIcon({ label }: { label?: string }) {
  return (
    <svg className="icon" width="14" height="14" viewBox="0 0 24 24" role={label ? 'img' : undefined} aria-label={label} aria-hidden={label ? undefined : true}>
      {label ? <title>{label}</title> : null}
      <path
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
        d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9"
      />
    </svg>
  );
}
