// Every ```ts block in packages/*/README.md must type-check against the built packages, so the
// docs cannot drift from the API. Each block is its own module (its own file). A block whose info
// string says `no-check` (```ts no-check) is skipped, for deliberate fragments.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { exportSubpaths, repoRoot, run, workspacePackages } from "./workspace.js";

interface Block {
  line: number;
  code: string;
}

function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)(.*)$/.exec(lines[i] ?? "");
    if (!open) continue;
    const [, indent = "", fence = "```", lang = "", rest = ""] = open;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !(lines[j] ?? "").trimStart().startsWith(fence)) {
      body.push((lines[j] ?? "").slice(indent.length));
      j++;
    }
    if (lang === "ts" && !/\bno-check\b/.test(rest)) blocks.push({ line: i + 1, code: body.join("\n") });
    i = j;
  }
  return blocks;
}

// Every workspace package's export subpaths map to its built .d.ts, so a README may import any
// @tidemark/* package (e.g. core's README showing @tidemark/sqlite) even if it is not a dependency.
function workspacePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const p of workspacePackages("packages", "apps", "tools")) {
    const exportsMap = p.manifest.exports as Record<string, { types?: string }> | undefined;
    for (const sub of exportSubpaths(p.manifest)) {
      const types = exportsMap?.[sub]?.types;
      if (types) paths[sub === "." ? p.manifest.name : `${p.manifest.name}${sub.slice(1)}`] = [join(p.dir, types)];
    }
  }
  return paths;
}

const withReadme = workspacePackages("packages").filter((p) => existsSync(join(p.dir, "README.md")));

describe.each(withReadme.map((p) => ({ rel: p.rel, pkg: p })))("$rel/README.md", ({ pkg }) => {
  const blocks = tsBlocks(readFileSync(join(pkg.dir, "README.md"), "utf8"));

  it.skipIf(blocks.length === 0)(`its ${blocks.length} \`\`\`ts blocks type-check`, async () => {
    // Inside the package (so its node_modules resolve) under .tmp/, which .gitignore covers.
    const dir = join(pkg.dir, ".tmp", "readme");
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const names = blocks.map((b) => `readme-line-${b.line}.ts`);
    for (const [i, block] of blocks.entries()) {
      // `export {}` keeps each block a module even when it imports nothing.
      await writeFile(join(dir, names[i] ?? ""), `${block.code}\nexport {};\n`);
    }
    const tsconfig = {
      extends: existsSync(join(pkg.dir, "tsconfig.json")) ? "../../tsconfig.json" : "../../../../tsconfig.base.json",
      compilerOptions: { rootDir: ".", noEmit: true, paths: workspacePaths() },
      include: ["*.ts"],
    };
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    const res = await run(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", join(dir, "tsconfig.json")], {
      cwd: dir,
    });
    // tsc names the temp files: readme-line-N.ts(L,C) is line N + L of the README.
    const output = `${relative(repoRoot, pkg.dir)}/README.md, blocks type-checked in ${relative(repoRoot, dir)}:\n${res.stdout}${res.stderr}`;
    if (res.code !== 0) console.error(output);
    expect(res.code, output).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });
});
