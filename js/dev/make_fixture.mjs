// Writes a self-contained page with a synthetic-but-plausible NCUT result, laid out exactly as
// docs/wire-format.md describes, so the frontend can be looked at (and timed) in a browser without
// Python. Usage:
//   node js/dev/make_fixture.mjs [--out js/dev/out/fixture.html] [--images 2] [--res 16,32]
//                                [--k 10] [--theme light|dark] [--select 5] [--pending] [--error MSG]
// --pending leaves the payload out and shows a running job (the loading state); --error a failed one.
// Build first (npm run build): the page inlines ncut_widget/static/standalone.{js,css}.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { encodePayload } from "./encode.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const nImages = Number(arg("images", 2));
const sides = arg("res", "16,32").split(",").map(Number);
const k = Number(arg("k", 10));
const theme = arg("theme", "light");
const select = arg("select", "");
const pendingJob = process.argv.includes("--pending");
const errorText = arg("error", "");
const out = resolve(arg("out", resolve(root, "js/dev/out/fixture.html")));

// Deterministic pseudo-random numbers so screenshots are comparable run to run.
let seed = 7;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);

// Scene classes shared by all images: background, "animal", "ground". Each has a direction in
// eigenvector space, so patches of one class are similar across images and resolutions.
const classDirs = [0, 1, 2].map(() => Array.from({ length: k }, () => rand() * 2 - 1));
const classColors = ["#8fb8de", "#c77d3a", "#6b9a4b"];
const scenes = Array.from({ length: nImages }, () => ({
  cx: 0.3 + rand() * 0.4,
  cy: 0.35 + rand() * 0.25,
  rx: 0.15 + rand() * 0.12,
  ry: 0.12 + rand() * 0.1,
  horizon: 0.65 + rand() * 0.15,
}));

function membership(scene, x, y) {
  const d = ((x - scene.cx) / scene.rx) ** 2 + ((y - scene.cy) / scene.ry) ** 2;
  const animal = 1 / (1 + Math.exp((d - 1) * 8));
  const ground = (1 - animal) / (1 + Math.exp((scene.horizon - y) * 30));
  return [1 - animal - ground, animal, ground];
}

const resolutions = [];
let nNodes = 0;
for (const s of sides) {
  resolutions.push({ label: String(s * 14), h: s, w: s, offset: nNodes });
  nNodes += nImages * s * s;
}

const vecs = new Float32Array(nNodes * k);
for (const [ri, res] of resolutions.entries()) {
  for (let i = 0; i < nImages; i++) {
    for (let r = 0; r < res.h; r++) {
      for (let c = 0; c < res.w; c++) {
        const x = (c + 0.5) / res.w;
        const y = (r + 0.5) / res.h;
        const m = membership(scenes[i], x, y);
        const node = res.offset + i * res.h * res.w + r * res.w + c;
        for (let j = 0; j < k; j++) {
          let v = m[0] * classDirs[0][j] + m[1] * classDirs[1][j] + m[2] * classDirs[2][j];
          v += 0.25 * Math.sin(6 * x * (j + 1) + i) * Math.cos(5 * y + j) + 0.05 * ri + 0.08 * (rand() - 0.5);
          vecs[node * k + j] = v;
        }
      }
    }
  }
}

// Positions: the first three eigenvector coordinates (colors are those, rescaled).
const positions = new Float32Array(nNodes * 3);
for (let n = 0; n < nNodes; n++) for (let d = 0; d < 3; d++) positions[n * 3 + d] = vecs[n * k + d];

const W = 480;
const H = 320;
const thumbnails = scenes.map((s, i) => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#5d8fc7"/><stop offset="1" stop-color="${classColors[0]}"/></linearGradient></defs>
<rect width="${W}" height="${H}" fill="url(#g)"/>
<rect y="${s.horizon * H}" width="${W}" height="${H}" fill="${classColors[2]}"/>
<ellipse cx="${s.cx * W}" cy="${s.cy * H}" rx="${s.rx * W}" ry="${s.ry * H}" fill="${classColors[1]}"/>
<circle cx="${(s.cx + s.rx * 0.5) * W}" cy="${(s.cy - s.ry * 0.3) * H}" r="${s.ry * H * 0.15}" fill="#222"/>
<text x="12" y="26" font-family="sans-serif" font-size="18" fill="#fff">image ${i}</text></svg>`;
  return { bytes: new TextEncoder().encode(svg), mime: "image/svg+xml" };
});
const images = scenes.map((_, i) => ({ name: `image_${i}`, width: W, height: H }));
const { meta, payload } = encodePayload({ positions, eigvecs: vecs, k, images, resolutions, thumbnails });


const traits = {
  meta,
  selected: select ? select.split(",").map(Number) : [],
  n_eig_view: k,
  threshold: 0.5,
  color_mode: "rgb",
  stage: pendingJob ? "eigenvectors" : "done",
  progress: pendingJob ? 0.42 : 1,
  status: pendingJob ? "solving the top eigenvectors…" : `${nNodes} nodes · ${nImages} images · ${sides.length} resolutions`,
  error: errorText,
};
// A JupyterLab-dark-like set of variables, to check the widget follows the notebook theme.
const darkVars = `--jp-layout-color0:#111;--jp-layout-color1:#1e1e1e;--jp-layout-color2:#2a2a2a;
--jp-ui-font-color1:#e0e0e0;--jp-ui-font-color2:#a0a0a0;--jp-border-color2:#3c3c3c;--jp-brand-color1:#4a9eff;`;
const bodyStyle = theme === "dark" ? `${darkVars}background:#111;` : "background:#fff;";
const esc = (s) => s.replace(/<\/(script|style)/gi, "<\\/$1");
const js = readFileSync(resolve(root, "ncut_widget/static/standalone.js"), "utf8");
const css = readFileSync(resolve(root, "ncut_widget/static/widget.css"), "utf8");
const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ncut_widget fixture</title>
<style>body{margin:16px;${bodyStyle}}</style>
<style>${esc(css)}</style></head>
<body><div id="ncut-root"></div>
<script type="application/json" id="ncut-state">${esc(JSON.stringify({ traits, payload: pendingJob ? "" : Buffer.from(payload).toString("base64") }))}</script>
<script type="module">${esc(js)}</script>
</body></html>`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, html);
console.log(`wrote ${out}: ${nNodes} nodes, ${(html.length / 1e6).toFixed(1)} MB`);
