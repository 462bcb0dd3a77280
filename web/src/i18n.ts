// Korean and English. The language comes from the browser (navigator.languages) until the person
// picks one with the switch; the choice is remembered.
import { Store, useStore } from './store';
import { en, type Messages } from './messages.en';
import { ko } from './messages.ko';

export type Lang = 'ko' | 'en';
const KEY = 'rm.lang';
const dictionaries: Record<Lang, Messages> = { en, ko };

function initial(): Lang {
  const saved = localStorage.getItem(KEY);
  if (saved === 'ko' || saved === 'en') return saved;
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = l.toLowerCase().slice(0, 2);
    if (base === 'ko' || base === 'en') return base;
  }
  return 'en';
}

export const lang = new Store<Lang>(initial());
document.documentElement.lang = lang.get();

export function setLang(l: Lang): void {
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
  lang.set(l);
}

export type MessageKey = keyof Messages;

/** The message in the current language, with {name} placeholders filled in. */
export function t(key: MessageKey, vars?: Record<string, string | number>): string {
  let text: string = dictionaries[lang.get()][key] ?? en[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) text = text.split(`{${k}}`).join(String(v));
  return text;
}

/** Re-renders the calling component when the language changes. */
export function useLang(): Lang {
  return useStore(lang);
}

export function formatPrice(amount: number): string {
  return new Intl.NumberFormat(lang.get() === 'ko' ? 'ko-KR' : 'en-US', {
    style: 'currency',
    currency: 'KRW',
  }).format(amount);
}

export function formatDateTime(iso: string): string {
  return new Intl.DateTimeFormat(lang.get() === 'ko' ? 'ko-KR' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(new Date(iso));
}
