#!/usr/bin/env node
// Placeholder: the CLI is built in src/cli/.
process.stdout.write('regprune\n');
