// The storefront's shell: header, language switch, and the page for the current path. The drop
// page and the home page are in this bundle (they must be fast); the shop, account and operator
// pages load when first visited.
import './style.css';
import { Component, render, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, session } from './api';
import { formatPrice, setLang, t, useLang } from './i18n';
import { match, route } from './router';
import { useStore } from './store';
import type { Page, Product } from './types';
import { Loading, Notice, PageFrame, StateBadge, errorText } from './ui';
import { DropPage } from './pages/drop';

type Loader<M> = () => Promise<M>;

function Lazy<M>({ load, render: show }: { load: Loader<M>; render: (m: M) => ComponentChildren }) {
  const [mod, setMod] = useState<M | null>(null);
  const [failed, setFailed] = useState<unknown>(null);
  useEffect(() => {
    load().then(setMod, setFailed);
  }, [load]);
  if (failed) return <Notice kind="error">{errorText(failed)}</Notice>;
  return mod ? <>{show(mod)}</> : <Loading />;
}

const shop = () => import('./pages/shop');
const account = () => import('./pages/account');
const operator = () => import('./pages/operator');

function Home() {
  useLang();
  const [drops, setDrops] = useState<Product[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<Page<Product>>('/products?limit=100&sort=newest').then(
      (p) => setDrops(p.items.filter((x) => x.sale && x.saleState !== 'ended' && x.saleState !== 'none')),
      setError,
    );
  }, []);
  return (
    <PageFrame title={t('home.title')}>
      <p class="lead">{t('home.lead')}</p>
      {error ? <Notice kind="error">{errorText(error)}</Notice> : null}
      {!drops && !error && <Loading />}
      {drops && drops.length === 0 && <p>{t('home.none')}</p>}
      <ul class="cards">
        {drops?.map((p) => (
          <li key={p.id} class="card">
            <a href={`/drop/${p.id}`} class="card-link">
              <span class="card-title">{p.name}</span>
              <span class="card-price">{formatPrice(p.price)}</span>
              <StateBadge state={p.saleState} />
            </a>
          </li>
        ))}
      </ul>
      <p>
        <a href="/shop">{t('home.toShop')}</a>
      </p>
    </PageFrame>
  );
}

function NotFound() {
  return (
    <PageFrame title={t('notFound.title')}>
      <p>
        <a href="/">{t('notFound.home')}</a>
      </p>
    </PageFrame>
  );
}

function Current() {
  const { path } = useStore(route);
  let p: Record<string, string> | null;
  if (path === '/') return <Home />;
  if ((p = match('/drop/{id}', path))) return <DropPage key={p.id} id={Number(p.id)} />;
  if (path === '/shop' || path.startsWith('/shop/')) return <Lazy load={shop} render={(m) => <m.ShopRoutes path={path} />} />;
  if (path === '/account' || path.startsWith('/account/'))
    return <Lazy load={account} render={(m) => <m.AccountRoutes path={path} />} />;
  if (path === '/operator' || path.startsWith('/operator/'))
    return <Lazy load={operator} render={(m) => <m.OperatorRoutes path={path} />} />;
  return <NotFound />;
}

function Header() {
  const l = useLang();
  const s = useStore(session);
  const other = l === 'ko' ? 'en' : 'ko';
  return (
    <header class="top">
      <a class="skip" href="#main">
        {t('nav.skip')}
      </a>
      <a class="brand" href="/">
        Rocket Mart
      </a>
      <nav aria-label={t('nav.label')}>
        <ul>
          <li>
            <a href="/">{t('nav.drops')}</a>
          </li>
          <li>
            <a href="/shop">{t('nav.shop')}</a>
          </li>
          <li>
            <a href="/shop/cart">{t('nav.cart')}</a>
          </li>
          <li>
            <a href={s ? '/account/me' : '/account/login'}>{s ? t('nav.myPage') : t('nav.login')}</a>
          </li>
          {s?.role === 'admin' && (
            <li>
              <a href="/operator">{t('nav.operator')}</a>
            </li>
          )}
        </ul>
      </nav>
      <button type="button" class="lang" lang={other} onClick={() => setLang(other)} data-testid="lang-switch">
        {other === 'ko' ? '한국어' : 'English'}
      </button>
    </header>
  );
}

// A page that fails while rendering shows a message instead of going blank; the next navigation
// starts afresh.
class Boundary extends Component<{ path: string; children: ComponentChildren }, { failed: string | null }> {
  state = { failed: null as string | null };
  componentDidCatch(error: unknown) {
    console.error(error);
    this.setState({ failed: this.props.path });
  }
  render() {
    if (this.state.failed && this.state.failed === this.props.path) {
      return <Notice kind="error">{t('err.UNKNOWN')}</Notice>;
    }
    return this.props.children;
  }
}

function App() {
  useLang();
  const { path } = useStore(route);
  return (
    <>
      <Header />
      <main id="main">
        <Boundary path={path}>
          <Current />
        </Boundary>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
