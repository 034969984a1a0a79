#!/usr/bin/env node
import { keepYoungGenerationSmall } from './young-generation.js';

// First, before anything else loads: loading the controller's own modules is enough
// to grow V8's young generation to 16 MB (young-generation.ts says why that matters).
const youngGeneration = keepYoungGenerationSmall(process.execArgv, process.env['NODE_OPTIONS']);
const { runCli } = await import('./cli.js');
runCli(youngGeneration);
