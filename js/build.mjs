// Bundles the widget (and the standalone page bootstrap) into ncut_widget/static/.
import { readFileSync } from "node:fs";
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const threeRevision = JSON.parse(readFileSync(new URL("../node_modules/three/package.json", import.meta.url))).version.split(".")[1];

// anywidget imports this bundle once per widget (a fresh blob URL each), so every widget evaluates
// its own copy of three.js, and three.js warns "Multiple instances of Three.js being imported" when
// it finds window.__THREE__ already set. Those copies are ours and never share objects (the 3D views
// all use one copy through js/sharedgl.js), so the marker our own revision left is cleared before
// three.js runs; a different three.js revision elsewhere on the page still gets its warning.
const forgetOurThree = `if (typeof window !== "undefined" && window.__THREE__ === "${threeRevision}") delete window.__THREE__;`;

const common = {
  bundle: true,
  format: "esm",
  // NCUT_NO_MINIFY=1 keeps names readable (for profiling pages in Chromium's profiler).
  minify: !watch && !process.env.NCUT_NO_MINIFY,
  target: ["es2020"],
  outdir: "ncut_widget/static",
  logLevel: "info",
};
const builds = [
  // widget.js + widget.css: what anywidget loads in Jupyter.
  { ...common, entryPoints: ["js/widget.js"], loader: { ".css": "css" }, banner: { js: forgetOurThree } },
  // standalone.js: the exported page inlines widget.css itself, so the CSS import is dropped here.
  { ...common, entryPoints: ["js/standalone.js"], loader: { ".css": "empty" } },
];
if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
