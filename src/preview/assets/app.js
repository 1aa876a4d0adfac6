// lettermerge preview: the recipient list, the selected letter, its email and PDF, kept up to
// date through server-sent events. Every text from the campaign goes in with textContent, never
// as markup; the letter itself is a page of its own in a sandboxed frame that runs no script.
'use strict';

const state = {
  version: 0,
  entries: [],
  shown: [],     // the entries the search lets through, in file order
  key: null,     // the selected entry
  tab: 'letter',
  letter: null,  // the selected entry's /api/letters answer
  pdfShown: null,
};

// What the page last showed and when: read by the tests and bench/preview.sh.
window.lettermerge = { version: 0, key: null, shownAt: 0 };

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function plural(n, word) {
  return n + ' ' + word + (n === 1 ? '' : 's');
}

async function getJSON(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(url + ': ' + response.status);
  return response.json();
}

// Lowercase, without accents: "Genève" is found by "geneve".
function folded(text) {
  return (text || '').normalize('NFD').replace(/\p{Diacritic}/gu, '').toLowerCase();
}

function problemNode(p) {
  const box = el('div', 'problem ' + p.severity);
  box.append(el('h3', null, (p.severity === 'error' ? 'Error: ' : 'Warning: ') + p.message));
  const where = [];
  if (p.file) where.push(p.line ? p.file + ', line ' + p.line + (p.column ? ', column ' + p.column : '') : p.file);
  if (p.recipient) where.push('recipient ' + p.recipient);
  if (where.length) box.append(el('p', 'where', where.join(' · ')));
  if (p.hint) box.append(el('p', 'hint', 'What to do: ' + p.hint));
  if (p.report) box.append(el('pre', null, p.report));
  return box;
}

function showProblems(section, problems) {
  section.replaceChildren(...problems.map(problemNode));
  section.hidden = problems.length === 0;
}

// The page arrives with the campaign in it; later readings are fetched.
function initialCampaign() {
  const data = document.getElementById('campaign-data');
  return data ? JSON.parse(data.textContent) : null;
}

async function loadCampaign(initial) {
  const c = initial || await getJSON('/api/campaign');
  state.version = c.version;
  state.entries = c.entries;
  $('campaign').textContent = c.campaign || '';
  const email = c.entries.filter((e) => e.email).length;
  $('tally').textContent = plural(c.entries.length, 'recipient') + ' (' + email + ' by email) · '
    + plural(c.errors, 'error') + ', ' + plural(c.warnings, 'warning');
  showProblems($('campaign-problems'), c.problems);
  if (!state.entries.some((e) => e.key === state.key)) {
    const wanted = decodeURIComponent(location.hash.slice(1));
    const found = state.entries.find((e) => e.key === wanted);
    state.key = found ? found.key : (state.entries[0] ? state.entries[0].key : null);
  }
  // The letter is asked for before the list is drawn, so the two overlap.
  const shown = showLetter();
  const rest = renderList(true);
  await shown;
  rest();
  window.lettermerge.listedAt = performance.now();
}

// Drawn at once: enough for the first screen. The rest of a long list follows.
const FIRST_SCREEN = 60;
let listDrawn = 0;

function listItem(e) {
  const li = el('li');
  li.dataset.key = e.key;
  if (e.errors) {
    li.classList.add('broken');
    li.append(el('span', 'badge error', plural(e.errors, 'error')));
  } else if (e.warnings) {
    li.append(el('span', 'badge warning', plural(e.warnings, 'warning')));
  }
  li.append(el('span', 'name', e.name || (e.id ? e.id : 'entry on line ' + e.line)));
  li.append(el('span', 'sub', [e.id || e.key, e.country].filter(Boolean).join(' · ')));
  if (e.key === state.key) li.classList.add('selected');
  return li;
}

// Draws the list the search lets through. With `later`, only the first screen is drawn now and
// the returned function draws the rest (after the letter is shown); otherwise all of it.
function renderList(later) {
  const words = folded($('search').value).split(/\s+/).filter(Boolean);
  state.shown = state.entries.filter((e) => {
    if (e.folded === undefined) {
      e.folded = folded([e.name, e.country, e.key, e.email, e.language].join(' '));
    }
    return words.every((w) => e.folded.includes(w));
  });
  const list = $('recipients');
  const drawing = ++listDrawn;
  const cut = later ? FIRST_SCREEN : state.shown.length;
  list.replaceChildren(...state.shown.slice(0, cut).map(listItem));
  const rest = () => {
    if (drawing === listDrawn && cut < state.shown.length) {
      list.append(...state.shown.slice(cut).map(listItem));
    }
  };
  $('count').textContent = state.shown.length === state.entries.length
    ? plural(state.entries.length, 'recipient')
    : state.shown.length + ' of ' + plural(state.entries.length, 'recipient');
  updateButtons();
  return rest;
}

function updateButtons() {
  const i = state.shown.findIndex((e) => e.key === state.key);
  $('prev').disabled = i <= 0;
  $('next').disabled = i < 0 || i >= state.shown.length - 1;
}

async function select(key) {
  if (key === null || key === undefined) return;
  state.key = key;
  history.replaceState(null, '', '#' + encodeURIComponent(key));
  for (const li of $('recipients').children) {
    li.classList.toggle('selected', li.dataset.key === key);
    if (li.dataset.key === key) li.scrollIntoView({ block: 'nearest' });
  }
  updateButtons();
  await showLetter();
}

function step(by) {
  const i = state.shown.findIndex((e) => e.key === state.key);
  const next = state.shown[i + by];
  if (next) select(next.key);
}

// Sets a frame's address and waits until it has loaded (or a few seconds at most).
function load(frame, url) {
  return new Promise((resolve) => {
    const done = () => { frame.removeEventListener('load', done); resolve(); };
    frame.addEventListener('load', done);
    setTimeout(done, 5000);
    frame.src = url;
  });
}

async function showLetter() {
  const key = state.key;
  const version = state.version;
  if (key === null) {
    $('name').textContent = 'No recipients';
    $('meta').textContent = 'Add recipients to the recipients file and save it.';
    return;
  }
  const v = await getJSON('/api/letters/' + encodeURIComponent(key));
  if (key !== state.key || version !== state.version) return; // a newer request is under way
  state.letter = v;
  // The frame first: its request goes out while the rest of the page is filled in.
  const waits = [];
  if (v.letter && $('letter-frame').getAttribute('src') !== v.letter.page) {
    waits.push(load($('letter-frame'), v.letter.page));
  }
  const entry = state.entries.find((e) => e.key === key) || {};
  $('name').textContent = v.name || v.id || 'Entry on line ' + v.line;
  const meta = [v.id, entry.country, entry.language, v.line ? 'line ' + v.line : null];
  $('meta').textContent = meta.filter(Boolean).join(' · ');
  showProblems($('problems'), v.problems);
  $('no-letter').hidden = Boolean(v.letter);
  $('no-letter').textContent = v.letter ? '' : (v.no_letter || 'This letter cannot be shown.');
  for (const tab of ['letter', 'email', 'pdf']) {
    $('panel-' + tab).hidden = !v.letter || state.tab !== tab;
  }
  showEmail(v);
  state.pdfShown = null;
  if (v.letter) {
    $('pdf-link').href = v.letter.pdf || '#';
    if (state.tab === 'pdf') waits.push(showPdf());
  } else {
    $('letter-frame').removeAttribute('src');
  }
  await Promise.all(waits);
  // shownAt: the wall clock (to compare with a file's write); sinceStart: since navigation began.
  window.lettermerge = { version, key, shownAt: Date.now(), sinceStart: performance.now() };
  document.body.dataset.shown = key + '@' + version;
}

function showEmail(v) {
  const e = v.email;
  $('email').hidden = !e;
  $('no-email').hidden = Boolean(e);
  $('no-email').textContent = e ? '' : (v.no_email || '');
  if (!e) return;
  $('h-from').textContent = e.from;
  $('h-to').textContent = e.to;
  $('h-cc').textContent = e.cc.join(', ') || '—';
  $('h-bcc').textContent = e.bcc.join(', ') || '—';
  $('h-subject').textContent = e.subject;
  $('h-date').textContent = e.date + ' (the time it is sent)';
  $('h-attachment').textContent = e.attachment || '—';
  $('email-text').textContent = e.text;
  $('eml-link').href = v.letter && v.letter.eml ? v.letter.eml : '#';
}

// The PDF is typeset only when its tab is open; a letter without one shows why in the frame.
async function showPdf() {
  const v = state.letter;
  if (!v || !v.letter || !v.letter.pdf || state.pdfShown === v.letter.pdf) return;
  state.pdfShown = v.letter.pdf;
  await load($('pdf-frame'), v.letter.pdf);
}

function showTab(tab) {
  state.tab = tab;
  for (const button of $('tabs').children) {
    button.setAttribute('aria-selected', String(button.dataset.tab === tab));
  }
  const hasLetter = Boolean(state.letter && state.letter.letter);
  for (const name of ['letter', 'email', 'pdf']) {
    $('panel-' + name).hidden = !hasLetter || name !== tab;
  }
  if (tab === 'pdf') showPdf();
}

function listen() {
  const live = $('live');
  const events = new EventSource('/events');
  events.addEventListener('version', (e) => {
    live.className = 'ok';
    live.textContent = 'following your edits';
    // After the server restarts, the page catches up.
    if (state.version && Number(e.data) !== state.version) loadCampaign();
  });
  events.addEventListener('change', async () => {
    await loadCampaign();
    live.textContent = 'updated at ' + new Date().toLocaleTimeString();
    live.className = 'ok flash';
  });
  events.onerror = () => {
    live.className = 'lost';
    live.textContent = 'lost contact: is `lettermerge preview` still running?';
  };
}

document.addEventListener('DOMContentLoaded', () => {
  $('search').addEventListener('input', () => renderList());
  $('search').addEventListener('change', () => renderList());
  $('recipients').addEventListener('click', (e) => {
    const li = e.target.closest('li');
    if (li) select(li.dataset.key);
  });
  $('prev').addEventListener('click', () => step(-1));
  $('next').addEventListener('click', () => step(1));
  for (const button of $('tabs').children) {
    button.addEventListener('click', () => showTab(button.dataset.tab));
  }
  document.addEventListener('keydown', (e) => {
    if (e.target === $('search') || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'j' || e.key === 'ArrowDown') { step(1); e.preventDefault(); }
    if (e.key === 'k' || e.key === 'ArrowUp') { step(-1); e.preventDefault(); }
  });
  window.addEventListener('hashchange', () => select(decodeURIComponent(location.hash.slice(1))));
  loadCampaign(initialCampaign()).catch((e) => { $('live').textContent = 'cannot load the campaign: ' + e.message; });
  listen();
});
