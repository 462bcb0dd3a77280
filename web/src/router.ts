// A small history router: the server answers index.html for every page path and the page picks
// what to show from location.pathname. Links with a same-origin href navigate without a reload.
import { Store } from './store';

export interface Location {
  path: string;
  query: URLSearchParams;
}

const read = (): Location => ({ path: location.pathname, query: new URLSearchParams(location.search) });
export const route = new Store<Location>(read());

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  route.set(read());
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => route.set(read()));

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element).closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  if (a.hash && a.pathname === location.pathname) return; // an anchor on this page
  if (a.pathname.startsWith('/assets/') || a.pathname.startsWith('/member/')) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});

/** Matches "/drop/{id}" against a path; returns the parameters or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith('{')) {
      if (!s[i]) return null;
      params[p[i].slice(1, -1)] = decodeURIComponent(s[i]);
    } else if (p[i] !== s[i]) {
      return null;
    }
  }
  return params;
}
