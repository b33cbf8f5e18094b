// The dashboard page: find the key, read the state from the address, draw.
// Every figure comes from the Stats API (api.js); the address holds the
// view (state.js); the key stays in this browser (key.js).
import { createClient } from './api.js';
import { createDashboard } from './dashboard.js';
import { askForKey, forgetKey, lastSite, storedKey, takeKeyFromFragment } from './key.js';
import { readState, writeSearch } from './state.js';
import './styles.css';

const root = document.getElementById('app');

async function start(problem = '') {
  const site = takeKeyFromFragment() || readState(location.search).site || lastSite();
  let key = storedKey(site);
  let chosen = site;
  if (!site || !key || problem) {
    ({ site: chosen, key } = await askForKey(root, { site, problem }));
  }
  const client = createClient({ site: chosen, key });

  const dashboard = createDashboard(root, {
    site: chosen,
    client,
    navigate(state) {
      history.pushState(null, '', `${location.pathname}${writeSearch(state)}`);
      dashboard.show(state);
    },
    onRefused(message) {
      forgetKey(chosen);
      restart(`The key was refused (${message}).`);
    },
    onSignOut() {
      forgetKey(chosen);
      restart();
    },
  });

  const state = { ...readState(location.search), site: chosen };
  history.replaceState(null, '', `${location.pathname}${writeSearch(state)}`);
  document.title = `${chosen} · Footfall`;
  window.onpopstate = () => dashboard.show({ ...readState(location.search), site: chosen });
  dashboard.show(state);
}

// restart begins again from the key form; a reload is the simplest way to
// drop the old dashboard's timers and handlers.
let restarting = false;
function restart(problem) {
  if (restarting) return;
  restarting = true;
  if (problem) sessionStorage.setItem('footfall.problem', problem);
  location.reload();
}

const problem = sessionStorage.getItem('footfall.problem') || '';
sessionStorage.removeItem('footfall.problem');
start(problem);
