#!/usr/bin/env node
// Creates a workspace package skeleton with the project's standard layout.
//   node scripts/new-package.mjs <dir> <@dragonflow/name> "<one-line description>" [--bin name=src/bin.ts]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const [dir, name, description = '', ...rest] = process.argv.slice(2);
if (!dir || !name) {
  console.error('usage: node scripts/new-package.mjs <dir> <@dragonflow/name> "<description>" [--bin name=src/file.ts]');
  process.exit(2);
}
if (existsSync(join(dir, 'package.json'))) {
  console.error(`${dir}/package.json already exists`);
  process.exit(2);
}
const bins = {};
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--bin') {
    const [binName, src] = rest[++i].split('=');
    bins[binName] = './' + src.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js');
  }
}
const up = relative(dir, '.') || '.';
mkdirSync(join(dir, 'src'), { recursive: true });
const pkg = {
  name,
  version: '0.1.0',
  description,
  license: 'Apache-2.0',
  type: 'module',
  exports: {
    '.': {
      '@dragonflow/source': './src/index.ts',
      types: './dist/index.d.ts',
      default: './dist/index.js',
    },
  },
  ...(Object.keys(bins).length ? { bin: bins } : {}),
  files: ['dist'],
  scripts: {
    build: 'tsc -p tsconfig.build.json',
    typecheck: 'tsc -p tsconfig.json',
    lint: 'eslint .',
    test: 'vitest run',
  },
  dependencies: {},
  devDependencies: {},
};
writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify(
    {
      extends: `${up}/tsconfig.base.json`,
      compilerOptions: { noEmit: true, customConditions: ['@dragonflow/source'] },
      include: ['src', 'test', '*.ts'],
    },
    null,
    2,
  ) + '\n',
);
writeFileSync(
  join(dir, 'tsconfig.build.json'),
  JSON.stringify(
    {
      extends: `${up}/tsconfig.base.json`,
      compilerOptions: { rootDir: 'src', outDir: 'dist', incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' },
      include: ['src'],
      exclude: ['src/**/*.test.ts', 'src/**/__tests__/**'],
    },
    null,
    2,
  ) + '\n',
);
writeFileSync(
  join(dir, 'vitest.config.ts'),
  `import { packageTestConfig } from '${up}/vitest.shared.js';\n\nexport default packageTestConfig(import.meta.url);\n`,
);
if (!existsSync(join(dir, 'src/index.ts'))) writeFileSync(join(dir, 'src/index.ts'), 'export {};\n');
if (!existsSync(join(dir, 'README.md'))) {
  writeFileSync(
    join(dir, 'README.md'),
    `# ${name}\n\n${description}\n\nTest it alone: \`pnpm --filter ${name} test\`\n`,
  );
}
console.log(`created ${name} in ${dir}`);
