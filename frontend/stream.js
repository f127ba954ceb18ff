// The frame loop: capture from the camera at a capped rate, post binary JPEGs with a bounded number of
// requests in flight (frames are skipped, never queued), show answers in order.
// Patch answers (the default): each sent frame is kept as an ImageBitmap until its answer comes; the
// answer is only the tinted lips (a WebP with alpha and the box it goes in), drawn over that frame.

export const MAX_IN_FLIGHT = 3;
export const MAX_FPS = 15;
const MAX_WIDTH = 640;
const MAX_HEIGHT = 480;
const JPEG_QUALITY = 0.8;
// What each answer format asks for: `patch` only the tinted lips, `full` the whole tinted frame.
export const ANSWER_TYPES = { patch: 'image/webp', full: 'image/jpeg' };

// "x,y,w,h" -> {x, y, w, h}, or null.
export function parseBox(header) {
  const values = (header || '').split(',').map(Number);
  if (values.length !== 4 || values.some((v) => !Number.isInteger(v) || v < 0)) return null;
  const [x, y, w, h] = values;
  return { x, y, w, h };
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Human words for what went wrong, from the API's JSON error or the failure itself.
export function describeError(err) {
  if (!(err instanceof ApiError)) {
    return 'Cannot reach the API. Check the API address; retrying automatically.';
  }
  const detail = err.message ? ` (${err.message})` : '';
  switch (err.status) {
    case 401: return `The API needs a key: enter your API key under “API address and key”${detail}.`;
    case 403: return `The API key was refused: check it under “API address and key”${detail}.`;
    case 429: return `Your frame quota is used up or you are sending too fast${detail}. Retrying later.`;
    case 503: return `The API is temporarily unavailable${detail}. Retrying automatically.`;
    default:
      if (err.status >= 500) return `The API failed${detail}. Retrying automatically.`;
      return `The API refused the frame${detail}.`;
  }
}

export class FrameStreamer {
  constructor({ video, onFrame, onError, onRecover, onSent, getSettings }) {
    this.video = video;
    this.onFrame = onFrame;
    this.onError = onError;
    this.onRecover = onRecover;
    this.onSent = onSent;
    this.getSettings = getSettings;
    this.canvas = document.createElement('canvas');
    this.running = false;
    this.inFlight = 0;
    this.peakInFlight = 0;
    this.seq = 0;
    this.lastShownSeq = 0;
    this.lastSentAt = -Infinity;
    this.pausedUntil = 0;
    this.failing = false;
    this.trackState = null;
    this.counts = { sent: 0, shown: 0, skipped: 0, failed: 0 };
    this.timer = null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this._tick();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.trackState = null;
  }

  _tick() {
    if (!this.running) return;
    const { fps } = this.getSettings();
    const interval = 1000 / Math.min(MAX_FPS, Math.max(1, fps));
    const now = performance.now();
    const due = this.lastSentAt + interval;
    if (now >= due) {
      if (now < this.pausedUntil || this.video.readyState < 2) {
        // waiting for the camera or backing off after an error
      } else if (this.inFlight >= MAX_IN_FLIGHT) {
        this.counts.skipped += 1;
        this.lastSentAt = now;  // the slot is spent: skip this frame rather than queue it
      } else {
        this.lastSentAt = now;
        this._send(now);
      }
    }
    const wait = Math.max(4, Math.min(interval, this.lastSentAt + interval - performance.now()));
    this.timer = setTimeout(() => this._tick(), wait);
  }

  // The frame as the JPEG to send and, for patch answers, as a bitmap to draw the patch over: both taken
  // from the canvas before anything else draws on it.
  _capture(keepBitmap) {
    const vw = this.video.videoWidth;
    const vh = this.video.videoHeight;
    const scale = Math.min(1, MAX_WIDTH / vw, MAX_HEIGHT / vh);
    this.canvas.width = Math.round(vw * scale);
    this.canvas.height = Math.round(vh * scale);
    this.canvas.getContext('2d').drawImage(this.video, 0, 0, this.canvas.width, this.canvas.height);
    const bitmap = keepBitmap ? createImageBitmap(this.canvas) : Promise.resolve(null);
    const blob = new Promise((resolve) => this.canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY));
    return Promise.all([blob, bitmap]);
  }

  // The picture to show for an answer: {frame, patch, box} (patch answers) or {frame} (full answers),
  // frame and patch as ImageBitmaps; `down` is the answer's body bytes.
  async _picture(resp, sent) {
    const body = await resp.blob();
    if (sent === null) return { picture: { frame: await createImageBitmap(body) }, down: body.size };
    if (resp.status === 204 || !body.size) return { picture: { frame: sent, patch: null }, down: 0 };
    const box = parseBox(resp.headers.get('X-Patch-Box'));
    if (!box) throw new Error('the patch answer has no X-Patch-Box');
    return { picture: { frame: sent, patch: await createImageBitmap(body), box }, down: body.size };
  }

  async _send(tickTime) {
    const seq = ++this.seq;
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    const settings = this.getSettings();
    const answer = settings.answer === 'full' ? 'full' : 'patch';
    let sent = null;
    let picture = null;
    try {
      const [blob, bitmap] = await this._capture(answer === 'patch');
      sent = bitmap;
      if (!blob) throw new Error('the camera frame could not be encoded');
      this.counts.sent += 1;
      this.onSent?.(tickTime, blob);
      const params = new URLSearchParams({
        color: settings.color.replace('#', ''),
        intensity: settings.intensity.toFixed(2),
      });
      if (settings.finish && settings.finish !== 'satin') params.set('finish', settings.finish);
      if (settings.shimmer > 0) params.set('shimmer', settings.shimmer.toFixed(2));
      if (answer === 'patch') params.set('answer', 'patch');
      const headers = { 'Content-Type': 'image/jpeg', Accept: ANSWER_TYPES[answer] };
      if (settings.apiKey) headers['x-api-key'] = settings.apiKey;
      const sentState = this.trackState;
      if (sentState) headers['X-Track-State'] = sentState;
      const started = performance.now();
      const resp = await fetch(`${settings.apiUrl.replace(/\/+$/, '')}/v1/tint?${params}`, {
        method: 'POST', body: blob, headers, mode: 'cors', cache: 'no-store',
      });
      if (!resp.ok) {
        let body = {};
        try { body = await resp.json(); } catch { /* not JSON */ }
        throw new ApiError(resp.status, body.code || `http_${resp.status}`, body.message || resp.statusText,
          Number(resp.headers.get('Retry-After')) || 0);
      }
      const answered = await this._picture(resp, sent);
      picture = answered.picture;
      const rtt = performance.now() - started;
      const state = resp.headers.get('X-Track-State');
      if (this.running && seq > this.lastShownSeq) {
        this.lastShownSeq = seq;
        if (state !== null) this.trackState = state || null;
        this.counts.shown += 1;
        this.onFrame(picture, {
          seq, rtt, sentBlob: blob, answer, query: params.toString(), trackState: sentState,
          server: parseFloat(resp.headers.get('X-Processing-Ms')),
          faces: parseInt(resp.headers.get('X-Faces') ?? 'NaN', 10),
          boxes: resp.headers.get('X-Face-Boxes') || '',
          quotaRemaining: resp.headers.get('X-Quota-Remaining'),
          up: blob.size, down: answered.down,
        });
        picture = null;  // onFrame owns the bitmaps now
        sent = null;
      }
      if (this.failing) {
        this.failing = false;
        this.onRecover?.();
      }
    } catch (err) {
      this.counts.failed += 1;
      this.failing = true;
      // Back off: a refused key or a spent quota will not fix itself within a second.
      const pause = err instanceof ApiError
        ? (err.retryAfter ? Math.min(err.retryAfter, 30) * 1000 : (err.status === 401 || err.status === 403 ? 3000 : 1000))
        : 1000;
      this.pausedUntil = performance.now() + pause;
      if (this.running) this.onError?.(err);
    } finally {
      this.inFlight -= 1;
      // an answer not shown (too late, or stopped) releases the frame kept for it
      sent?.close();
      picture?.frame?.close();
      picture?.patch?.close();
    }
  }
}
