import { route, start } from './router.js';

route('/', () => '<h1>Home</h1><p>Served by Slipway from the active build.</p>');
route('/about', () => '<h1>About</h1><p>This page exists only on the client.</p>');
route('/users/:id', ({ id }) => `<h1>User ${id}</h1><p>Profile of user ${id}, rendered in the browser.</p>`);

start(document.getElementById('app'));
