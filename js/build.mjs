// Bundles the widget (and the standalone page bootstrap) into ncut_widget/static/.
import * as esbuild from "esbuild";
import { existsSync } from "node:fs";

const watch = process.argv.includes("--watch");
const entryPoints = ["js/widget.js", "js/standalone.js"].filter((p) => existsSync(p));
const options = {
  entryPoints,
  bundle: true,
  format: "esm",
  minify: !watch,
  target: ["es2020"],
  outdir: "ncut_widget/static",
  loader: { ".css": "css" },
  logLevel: "info",
};
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
