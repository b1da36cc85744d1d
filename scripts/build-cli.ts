// The `yubin` command as it ships: src/cli/main.ts bundled by esbuild into dist/yubin/, which
// bin/yubin.js runs. Why a bundle: the CLI's first command cost ~0.6 s, most of it Node.js's
// ESM loader reading and linking ~1,000 small module files (TypeBox's ~680 and Kysely's ~260
// above all); one file per command loads in ~0.25 s.
//
// Our code, TypeBox and Kysely go into the bundle (nothing outside our code imports them at run
// time, so there is one copy of each); every other package stays in node_modules: native ones
// (better-sqlite3, argon2), ones that find their own files on disk (Fastify's plugins, pino)
// and the rest, loaded as before. Each command is its own chunk (main.ts imports them lazily).
//
// Paths found from `import.meta.url` (web/dist for the UI, packages through createRequire) work
// because the bundle sits two folders below the root, as src/http/ and dist/http/ do.
//
// Run: tsx scripts/build-cli.ts [OUTDIR=dist/yubin]  (part of `npm run build`)
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Packages bundled with our code; any other bare import stays external. */
const BUNDLED = /^(typebox|kysely)(\/|$)/;

/** Bundle the CLI into `outdir` (emptied first); returns the path of its main.js. */
export async function buildCli(outdir: string): Promise<string> {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/cli/main.ts'],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    sourcemap: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'external-packages',
        setup(b) {
          // bare specifiers (packages and node: builtins), not relative or absolute paths
          b.onResolve({ filter: /^[^./]/ }, (args) => (BUNDLED.test(args.path) ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
  return `${outdir}/main.js`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildCli(process.argv[2] ?? `${ROOT}dist/yubin`);
}
