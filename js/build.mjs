// Bundles the widget (and the standalone page bootstrap) into ncut_widget/static/.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const common = {
  bundle: true,
  format: "esm",
  minify: !watch,
  target: ["es2020"],
  outdir: "ncut_widget/static",
  logLevel: "info",
};
const builds = [
  // widget.js + widget.css: what anywidget loads in Jupyter.
  { ...common, entryPoints: ["js/widget.js"], loader: { ".css": "css" } },
  // standalone.js: the exported page inlines widget.css itself, so the CSS import is dropped here.
  { ...common, entryPoints: ["js/standalone.js"], loader: { ".css": "empty" } },
];
if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
