// Small shared pieces: page frame (title and focus on navigation), form fields, messages.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError, NetworkError } from './api';
import { t, type MessageKey } from './i18n';
import type { SaleState } from './stock';

export function PageFrame({ title, children, wide }: { title: string; children: ComponentChildren; wide?: boolean }) {
  const h1 = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Rocket Mart`;
  }, [title]);
  useEffect(() => {
    // Focus the heading after a navigation so keyboard and screen-reader users start at the top.
    if (document.activeElement && document.activeElement !== document.body) h1.current?.focus();
  }, []);
  return (
    <section class={wide ? 'page wide' : 'page'} aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1} ref={h1}>
        {title}
      </h1>
      {children}
    </section>
  );
}

type FieldProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, 'onInput' | 'label' | 'value'> & {
  label: string;
  name: string;
  value: string | number;
  onValue: (v: string) => void;
  hint?: string;
  error?: string;
};

export function Field({ label, name, value, onValue, hint, error, ...rest }: FieldProps) {
  const id = `f-${name}`;
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        value={value}
        onInput={(e) => onValue((e.target as HTMLInputElement).value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={described}
        {...rest}
      />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

export function Notice({ kind, children, testId }: { kind: 'info' | 'success' | 'error'; children: ComponentChildren; testId?: string }) {
  return (
    <div class={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'} data-testid={testId}>
      {children}
    </div>
  );
}

/** The person-readable text of a failed request, in the current language. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const key = `err.${e.code}` as MessageKey;
    const text = t(key);
    return text === key ? e.message : text;
  }
  if (e instanceof NetworkError) return t('err.NETWORK');
  return t('err.UNKNOWN');
}

export function StateBadge({ state }: { state: SaleState }) {
  if (state === 'none') return null;
  return <span class={`badge state-${state}`}>{t(`state.${state}` as MessageKey)}</span>;
}

export function Loading() {
  return (
    <p class="loading" role="status">
      {t('common.loading')}
    </p>
  );
}
