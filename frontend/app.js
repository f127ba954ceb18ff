// The camera page: wires the controls to the frame streamer and shows the live figures.
import { FrameStreamer, MAX_IN_FLIGHT, describeError } from './stream.js';
import { Stats } from './stats.js';

const SHADES = [
  { name: 'Classic red', color: '#b0303f' },
  { name: 'Nude rose', color: '#b86f6a' },
  { name: 'Coral', color: '#e0604f' },
  { name: 'Berry', color: '#8e2043' },
  { name: 'Plum', color: '#5e2350' },
  { name: 'Fuchsia', color: '#c2185b' },
];
const STORAGE_KEY = 'tintcam.settings';

const $ = (id) => document.getElementById(id);
const els = {
  video: $('camera'), tinted: $('tinted'), placeholder: $('placeholder'), message: $('message'),
  start: $('start'), stop: $('stop'), save: $('save'), palette: $('palette'), color: $('color'),
  intensity: $('intensity'), intensityValue: $('intensity-value'), fps: $('fps'), fpsValue: $('fps-value'),
  shimmer: $('shimmer'), shimmerValue: $('shimmer-value'),
  mirror: $('mirror'), stage: $('stage'), settingsForm: $('settings'), apiUrl: $('api-url'), apiKey: $('api-key'),
  settingsNote: $('settings-note'), chart: $('chart'), connection: $('connection'),
};

const state = { apiUrl: '', siteApiUrl: '', apiKey: '', color: SHADES[0].color, stream: null, shown: false };
// Patch answers (only the tinted lips come back) unless the page is opened with ?answer=full, which asks
// for whole tinted frames as before (for comparison: bench/camera_page.py measures both).
const ANSWER = new URLSearchParams(location.search).get('answer') === 'full' ? 'full' : 'patch';
const stats = new Stats();

function showMessage(text, kind = 'error') {
  els.message.textContent = text;
  els.message.dataset.kind = kind;
  els.message.hidden = !text;
}

async function loadConfig() {
  // config.json is written by the deployment (or `make start`); local storage holds what the person saved.
  let config = {};
  try {
    const resp = await fetch('config.json', { cache: 'no-store' });
    if (resp.ok) config = await resp.json();
  } catch { /* no config file: the person sets the address */ }
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}'); } catch { saved = {}; }
  state.siteApiUrl = config.apiUrl || '';
  state.apiUrl = saved.apiUrl || config.apiUrl || '';
  state.apiKey = saved.apiKey || config.apiKey || '';
  els.apiUrl.value = state.apiUrl;
  els.apiKey.value = state.apiKey;
  if (!state.apiUrl) els.connection.open = true;
}

function saveSettings(event) {
  event.preventDefault();
  state.apiUrl = els.apiUrl.value.trim();
  state.apiKey = els.apiKey.value.trim();
  // The address is kept only when it is not the site's own (config.json), so that a redeploy that moves
  // the API reaches everyone who merely saved a key.
  const ownApiUrl = state.apiUrl === state.siteApiUrl ? '' : state.apiUrl;
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ apiUrl: ownApiUrl, apiKey: state.apiKey }));
  els.settingsNote.textContent = 'Saved in this browser.';
  if (streamer) streamer.pausedUntil = 0;
}

function buildPalette() {
  for (const shade of SHADES) {
    const button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('role', 'radio');
    button.setAttribute('aria-label', shade.name);
    button.title = shade.name;
    button.style.background = shade.color;
    button.dataset.color = shade.color;
    button.addEventListener('click', () => pickColor(shade.color));
    els.palette.append(button);
  }
  pickColor(state.color);
}

function pickColor(color) {
  state.color = color.toLowerCase();
  els.color.value = state.color;
  for (const button of els.palette.children) {
    button.setAttribute('aria-checked', String(button.dataset.color === state.color));
  }
}

// Browsers give the camera only to secure contexts: pages served over HTTPS, or from localhost.
function insecureContextProblem() {
  if (window.isSecureContext) return '';
  const port = location.port ? `:${location.port}` : '';
  return `The camera cannot work on this page: it was opened over plain HTTP (${location.origin}), and browsers `
    + 'give the camera only to pages served over HTTPS or from localhost. Open the site\'s https:// address '
    + `instead, or http://localhost${port}${location.pathname} on the computer that serves it. To try it from `
    + 'a phone, use the deployed https site or an HTTPS tunnel to this one (see "Try it from a phone" in docs/camera-page.md).';
}

function cameraProblem(err) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return insecureContextProblem()
      || 'This browser gives no camera access to web pages. Try a current Chrome, Edge, Firefox or Safari.';
  }
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera permission was refused. Allow the camera for this site (the camera icon in the address bar), then press Start again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Connect a camera (or enable it in your system settings), then press Start again.';
    case 'NotReadableError':
      return 'The camera is busy in another application. Close it there, then press Start again.';
    default:
      return `The camera could not be started (${err?.message || err}). Press Start to try again.`;
  }
}

let streamer = null;

async function start() {
  if (!state.apiUrl) {
    showMessage('Set the API address first (under “API address and key”).');
    els.connection.open = true;
    return;
  }
  els.start.disabled = true;
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('no mediaDevices');
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
  } catch (err) {
    showMessage(cameraProblem(err));
    document.body.dataset.camera = 'refused';
    els.start.disabled = false;
    return;
  }
  document.body.dataset.camera = 'on';
  els.video.srcObject = state.stream;
  await els.video.play().catch(() => {});
  showMessage('');
  streamer = new FrameStreamer({
    video: els.video,
    getSettings: () => ({
      apiUrl: state.apiUrl, apiKey: state.apiKey, color: state.color, answer: ANSWER,
      intensity: Number(els.intensity.value), fps: Number(els.fps.value),
      finish: document.querySelector('input[name="finish"]:checked')?.value || 'satin',
      shimmer: Number(els.shimmer.value),
    }),
    onSent: (now) => stats.frameSent(now),
    onFrame: showFrame,
    onError: (err) => showMessage(describeError(err)),
    onRecover: () => showMessage(''),
  });
  streamer.start();
  els.stop.disabled = false;
}

function stop() {
  streamer?.stop();
  streamer = null;
  state.stream?.getTracks().forEach((track) => track.stop());
  state.stream = null;
  els.video.srcObject = null;
  els.start.disabled = false;
  els.stop.disabled = true;
  document.body.dataset.camera = 'off';
}

// Draw an answer: the frame that was sent with the patch of tinted lips over it (or a whole tinted
// frame); the canvas keeps the picture, so the bitmaps are released at once.
function showFrame(picture, info) {
  const canvas = els.tinted;
  const { frame, patch, box } = picture;
  if (canvas.width !== frame.width || canvas.height !== frame.height) {
    canvas.width = frame.width;
    canvas.height = frame.height;
  }
  const ctx = canvas.getContext('2d');
  ctx.drawImage(frame, 0, 0);
  if (patch) ctx.drawImage(patch, box.x, box.y);
  frame.close();
  patch?.close();
  state.shown = true;
  canvas.hidden = false;
  els.placeholder.hidden = true;
  els.save.disabled = false;
  canvas.dataset.seq = String(info.seq);
  canvas.dataset.faces = String(info.faces);
  canvas.dataset.boxes = info.boxes;
  canvas.dataset.answer = info.answer;
  canvas.dataset.patchBox = box ? `${box.x},${box.y},${box.w},${box.h}` : '';
  lastSent = { frame: info.sentBlob, query: info.query, trackState: info.trackState };
  stats.frameShown(performance.now(), info);
}

let lastSent = { frame: null, query: '', trackState: null };
// For tests and debugging: the frame that produced the tinted picture now shown, and the query and
// X-Track-State it was sent with (sending them again gives the same answer).
window.tintcamLastSentFrame = () => lastSent.frame;
window.tintcamLastRequest = () => ({ query: lastSent.query, trackState: lastSent.trackState });

function savePicture() {
  if (!state.shown) return;
  els.tinted.toBlob((blob) => {
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `tintcam-${new Date().toISOString().replace(/[:.]/g, '-')}.jpg`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }, 'image/jpeg', 0.92);
}

const fmt = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const bytes = (v) => {
  if (!Number.isFinite(v)) return '–';
  return v < 1024 ? `${Math.round(v)} B` : `${(v / 1024).toFixed(1)} KB`;
};

function render() {
  const now = performance.now();
  const s = stats.summary(now);
  $('sent-fps').textContent = fmt(s.sentFps);
  $('shown-fps').textContent = fmt(s.shownFps);
  $('rtt-median').textContent = fmt(s.rttMedian, 0);
  $('rtt-p95').textContent = fmt(s.rttP95, 0);
  $('server-ms').textContent = fmt(s.serverMs);
  $('faces').textContent = Number.isFinite(s.faces) ? String(s.faces) : '–';
  $('bytes-up').textContent = bytes(s.bytesUp);
  $('bytes-down').textContent = bytes(s.bytesDown);
  $('rate-up').textContent = fmt(s.kbitUp, 0);
  $('rate-down').textContent = fmt(s.kbitDown, 0);
  if (streamer) {
    $('in-flight').textContent = String(streamer.inFlight);
    $('peak-in-flight').textContent = String(streamer.peakInFlight);
    $('frames-sent').textContent = String(streamer.counts.sent);
    $('frames-shown').textContent = String(streamer.counts.shown);
    $('frames-skipped').textContent = String(streamer.counts.skipped);
    $('frames-failed').textContent = String(streamer.counts.failed);
  }
  stats.drawChart(els.chart, now);
}

function init() {
  $('max-in-flight').textContent = String(MAX_IN_FLIGHT);
  buildPalette();
  els.color.addEventListener('input', () => pickColor(els.color.value));
  els.intensity.addEventListener('input', () => { els.intensityValue.textContent = Number(els.intensity.value).toFixed(2); });
  els.shimmer.addEventListener('input', () => { els.shimmerValue.textContent = Number(els.shimmer.value).toFixed(1); });
  els.fps.addEventListener('input', () => { els.fpsValue.textContent = els.fps.value; });
  els.mirror.addEventListener('change', () => els.stage.classList.toggle('mirrored', els.mirror.checked));
  els.stage.classList.toggle('mirrored', els.mirror.checked);
  for (const radio of document.querySelectorAll('input[name="layout"]')) {
    radio.addEventListener('change', () => { els.stage.dataset.layout = radio.value; });
  }
  els.start.addEventListener('click', start);
  els.stop.addEventListener('click', stop);
  els.save.addEventListener('click', savePicture);
  els.settingsForm.addEventListener('submit', saveSettings);
  const insecure = insecureContextProblem();
  if (insecure) {  // said at once, not after a press of Start that cannot work
    showMessage(insecure);
    els.start.disabled = true;
    els.placeholder.textContent = 'No camera on this page: see the message below.';
    document.body.dataset.camera = 'insecure';
  }
  setInterval(render, 250);
  loadConfig().then(() => { document.body.dataset.ready = 'true'; });
}

init();
