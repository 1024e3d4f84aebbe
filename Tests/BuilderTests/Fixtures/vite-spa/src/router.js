// A tiny history-API router: the server answers every client route with
// index.html (the SPA fallback) and this code picks the view.
const routes = [];

export function route(pattern, view) {
  const names = [];
  const source = pattern.replace(/:([a-z]+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  routes.push({ regex: new RegExp(`^${source}$`), names, view });
}

export function resolve(path) {
  for (const { regex, names, view } of routes) {
    const match = path.match(regex);
    if (match) {
      const params = Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(match[index + 1])]));
      return view(params);
    }
  }
  return notFound(path);
}

function notFound(path) {
  return `<h1>Not found</h1><p>No page at <code>${path.replace(/[<>&]/g, '')}</code>.</p>`;
}

export function start(root) {
  const render = () => {
    root.innerHTML = resolve(window.location.pathname);
  };
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-link]');
    if (!link) return;
    event.preventDefault();
    window.history.pushState({}, '', link.getAttribute('href'));
    render();
  });
  window.addEventListener('popstate', render);
  render();
}
