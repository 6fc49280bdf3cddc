// The scale curve as a small hand-written SVG: users on a log axis; time per user (left axis) and
// peak RSS (right axis) of `mailcron broadcast`. No dependency, readable in a browser or on GitHub.

const W = 640;
const H = 360;
const M = { left: 70, right: 70, top: 40, bottom: 50 };

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtUsers(n) {
  if (n >= 1e6) return `${n / 1e6}M`;
  if (n >= 1e3) return `${n / 1e3}k`;
  return String(n);
}

/** scale: [{users, secondsPerUser, peakRssMB}] (null values are left out). Returns SVG text. */
export function scaleSvg(scale, { title = 'mailcron broadcast: time per user and peak RSS', rssLimitMB = 150 } = {}) {
  const pts = scale.filter((p) => p.users > 0);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xs = pts.map((p) => Math.log10(p.users));
  const xMin = xs.length ? Math.min(...xs) - 0.15 : 3;
  const xMax = xs.length ? Math.max(...xs) + 0.15 : 6;
  const x = (users) => M.left + ((Math.log10(users) - xMin) / (xMax - xMin || 1)) * pw;
  const us = pts.filter((p) => p.secondsPerUser != null).map((p) => p.secondsPerUser * 1e6);
  const usMax = niceMax(Math.max(0, ...us) * 1.1);
  const rssMax = niceMax(Math.max(rssLimitMB, ...pts.filter((p) => p.peakRssMB != null).map((p) => p.peakRssMB)) * 1.1);
  const yL = (v) => M.top + ph - (v / usMax) * ph;
  const yR = (v) => M.top + ph - (v / rssMax) * ph;

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  // Grid and left axis (µs per user).
  for (let i = 0; i <= 5; i++) {
    const v = (usMax / 5) * i;
    const y = yL(v);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end" fill="#1f77b4">${+v.toPrecision(3)}</text>`);
    out.push(`<text x="${W - M.right + 6}" y="${yR((rssMax / 5) * i) + 4}" fill="#d62728">${+((rssMax / 5) * i).toPrecision(3)}</text>`);
  }
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#1f77b4">time per user (µs)</text>`);
  out.push(`<text transform="translate(${W - 14} ${M.top + ph / 2}) rotate(90)" text-anchor="middle" fill="#d62728">peak RSS (MB)</text>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`);
  for (const p of pts) {
    out.push(`<text x="${x(p.users)}" y="${M.top + ph + 18}" text-anchor="middle">${fmtUsers(p.users)}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">users (log scale)</text>`);
  // The RSS budget.
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${yR(rssLimitMB)}" y2="${yR(rssLimitMB)}" stroke="#d62728" stroke-dasharray="4 4" opacity="0.6"/>`);
  out.push(`<text x="${W - M.right - 4}" y="${yR(rssLimitMB) - 4}" text-anchor="end" fill="#d62728" opacity="0.8">${rssLimitMB} MB target</text>`);
  const series = (key, toY, color, fmt) => {
    const ok = pts.filter((p) => p[key] != null);
    if (ok.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${ok.map((p) => `${x(p.users)},${toY(p[key])}`).join(' ')}"/>`);
    for (const p of ok) {
      out.push(`<circle cx="${x(p.users)}" cy="${toY(p[key])}" r="4" fill="${color}"/>`);
      out.push(`<text x="${x(p.users) + 6}" y="${toY(p[key]) - 6}" fill="${color}">${esc(fmt(p[key]))}</text>`);
    }
  };
  series('secondsPerUser', (v) => yL(v * 1e6), '#1f77b4', (v) => `${(v * 1e6).toFixed(0)} µs`);
  series('peakRssMB', yR, '#d62728', (v) => `${v} MB`);
  const missing = scale.filter((p) => p.secondsPerUser == null).map((p) => fmtUsers(p.users));
  if (missing.length) out.push(`<text x="${M.left + 4}" y="${M.top + 12}" fill="#888">not measured: ${esc(missing.join(', '))}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
