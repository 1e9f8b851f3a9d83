#!/usr/bin/env node
// The `regprune` binary: everything lives in runCli, so tests can run it in-process too.
import { runCli } from './run.js';

process.exitCode = await runCli(process.argv.slice(2));
